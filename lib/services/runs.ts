import 'server-only';
import { requireRole, type Actor } from '../auth/principal';
import { webhookId } from '../domain';
import { ConflictError, NotFoundError } from '../errors';
import { signsDeliveries } from '../secrets/signing';
import { getStore } from '../store';
import { RUN_STATUSES, type Job, type Page, type Run, type RunAttempt, type RunOutputChunk, type RunStatus } from '../store/types';
import { IdSchema } from '../validation/id';
import { RUN_RANGES, RunCancelSchema, type RunFilter, type RunHistoryQuery } from '../validation/run';
import { recordAudit } from './audit';
import { parseInput } from './jobs';

export interface RunHistory {
  page: Page<Run>;
  /** The effective window (range resolved against the database clock). */
  from: Date | null;
  to: Date | null;
  now: Date;
}

/** Runs across every job, newest first, narrowed by the filters (parsed by RunFilterSchema); keyset paging via `cursor`. */
export async function listRunHistory(filter: RunFilter, paging: { limit: number; cursor?: string }): Promise<RunHistory> {
  const store = await getStore();
  const now = await store.now();
  const from = filter.range ? new Date(now.getTime() - RUN_RANGES[filter.range]) : (filter.from ?? null);
  const to = filter.range ? null : (filter.to ?? null);
  const jobId = filter.job ? IdSchema.safeParse(filter.job) : null;
  // A job filter that is not an id cannot match anything: say so with an empty page, not with every run.
  if (jobId && !jobId.success) return { page: { items: [], nextCursor: null }, from, to, now };
  const page = await store.listRuns({
    limit: paging.limit,
    jobSearch: filter.q,
    cursor: paging.cursor,
    jobId: jobId?.data,
    status: filter.status,
    instanceId: filter.instance,
    from: from ?? undefined,
    to: to ?? undefined,
  });
  return { page, from, to, now };
}

/** GET /api/runs: the run history under the API's strict filters (RunHistoryQuerySchema, the page's names). */
export async function listRunsForApi(query: RunHistoryQuery): Promise<Page<Run>> {
  const { limit, cursor, job, q, instance, status, from, to } = query;
  return (await listRunHistory({ job, q, instance, status, from, to }, { limit, cursor })).page;
}

export interface RunDetail {
  run: Run;
  /** Null when the job has been deleted since (the run keeps its name). */
  job: Job | null;
  /** Every run recorded for the same occurrence (this one included), oldest attempt first. */
  attempts: Run[];
  /** The webhook-id (and Idempotency-Key) every delivery of this occurrence carries; null when its job sends none. */
  webhookId: string | null;
  now: Date;
}

export async function getRunDetail(id: string): Promise<RunDetail> {
  const parsed = IdSchema.safeParse(id);
  if (!parsed.success) throw new NotFoundError('run');
  const store = await getStore();
  const run = await store.getRun(parsed.data);
  if (!run) throw new NotFoundError('run');
  const [job, same, now] = await Promise.all([
    store.getJob(run.jobId),
    // The occurrence is [scheduledFor, scheduledFor + 1 ms): every row a retry may have recorded for it.
    store.listRuns({ limit: 20, jobId: run.jobId, from: run.scheduledFor, to: new Date(run.scheduledFor.getTime() + 1) }),
    store.now(),
  ]);
  const attempts = [...same.items].sort((a, b) => a.attempt - b.attempt || (a.startedAt?.getTime() ?? 0) - (b.startedAt?.getTime() ?? 0));
  // A range record stands for many occurrences, none of them delivered.
  const delivered = job !== null && signsDeliveries(job.type) && run.rangeEnd === null;
  return { run, job, attempts, webhookId: delivered ? webhookId(run.jobId, run.scheduledFor) : null, now };
}

/** One line of a run's attempt history; the current attempt is the last one (finishedAt null while it runs or waits). */
export type RunAttemptRow = Omit<RunAttempt, 'output' | 'finishedAt'> & { finishedAt: Date | null; current: boolean };

/**
 * Every attempt of a run, oldest first: the earlier ones (retried after a failure, or taken over from a crashed
 * instance) from the store's history, then the current one. [] when the run does not exist.
 */
export async function listRunAttempts(id: string): Promise<RunAttemptRow[]> {
  const parsed = IdSchema.safeParse(id);
  if (!parsed.success) return [];
  const store = await getStore();
  const [run, earlier] = await Promise.all([store.getRun(parsed.data), store.listRunAttempts(parsed.data)]);
  if (!run) return [];
  return [
    ...earlier.map(({ output: _output, ...a }) => ({ ...a, current: false })),
    {
      attempt: run.attempt,
      instanceId: run.instanceId,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      status: run.status,
      error: run.error,
      current: true,
    },
  ];
}

/** One attempt with its output excerpt (the API's run detail). */
export type RunAttemptWithOutput = RunAttemptRow & { output: string | null };

export interface RunWithAttempts {
  run: Run;
  /** Every attempt, oldest first, the current one last (see listRunAttempts), each with its output. */
  attempts: RunAttemptWithOutput[];
  /** As RunDetail.webhookId. */
  webhookId: string | null;
}

/** GET /api/runs/{id}: the run, its attempts with their output and its webhook-id. NotFoundError for an unknown or malformed id. */
export async function getRunWithAttempts(id: string): Promise<RunWithAttempts> {
  const parsed = IdSchema.safeParse(id);
  if (!parsed.success) throw new NotFoundError('run');
  const store = await getStore();
  const [run, earlier] = await Promise.all([store.getRun(parsed.data), store.listRunAttempts(parsed.data)]);
  if (!run) throw new NotFoundError('run');
  const job = await store.getJob(run.jobId);
  const delivered = job !== null && signsDeliveries(job.type) && run.rangeEnd === null;
  return {
    run,
    attempts: [
      ...earlier.map((a) => ({ ...a, current: false })),
      {
        attempt: run.attempt,
        instanceId: run.instanceId,
        startedAt: run.startedAt,
        finishedAt: run.finishedAt,
        status: run.status,
        error: run.error,
        output: run.output,
        current: true,
      },
    ],
    webhookId: delivered ? webhookId(run.jobId, run.scheduledFor) : null,
  };
}

/** Runs currently executing on one instance. */
export async function listRunningOn(instanceId: string, limit = 50): Promise<Run[]> {
  const store = await getStore();
  const page = await store.listRuns({ limit, status: 'running', instanceId });
  return page.items;
}

export function isRunStatus(value: string): value is RunStatus {
  return (RUN_STATUSES as readonly string[]).includes(value);
}

/** A run's live output as its page and GET /api/runs/{id}/output show it. */
export interface RunOutputView {
  run: Run;
  /** Claimed, running or waiting to retry: more output may come. */
  live: boolean;
  /** While live, the current attempt's chunks after `afterSeq`; [] once the run ended (its output is final then). */
  chunks: RunOutputChunk[];
}

const LIVE_STATUSES: ReadonlySet<RunStatus> = new Set(['claimed', 'running', 'retrying']);

export async function getRunOutput(id: string, afterSeq = 0): Promise<RunOutputView> {
  const parsed = IdSchema.safeParse(id);
  if (!parsed.success) throw new NotFoundError('run');
  const store = await getStore();
  const [run, chunks] = await Promise.all([store.getRun(parsed.data), store.listRunOutput(parsed.data, afterSeq)]);
  if (!run) throw new NotFoundError('run');
  const live = LIVE_STATUSES.has(run.status);
  // Only the current attempt's: a chunk of an earlier one (not replaced yet) belongs to its attempt's history.
  return { run, live, chunks: live ? chunks.filter((c) => c.attempt === run.attempt) : [] };
}

/** The error text of a run cancelled before it started or while waiting for a retry. */
function cancelledText(by: string, reason: string | null): string {
  return `cancelled by ${by}${reason ? `: ${reason}` : ''}`;
}

/**
 * Cancels a run (operator or admin): a claimed or retrying run is closed 'cancelled' at once (it never starts / gets no
 * further attempt); a running one gets the request, and the instance running it aborts its handler and records
 * 'cancelled' (within 2 s: docs/coordination.md). `input` is { reason?: string } (RunCancelSchema; bad input is a
 * ValidationError and changes nothing). Unknown id: NotFoundError; a run that has ended: ConflictError (409).
 */
export async function cancelRun(id: string, actor: Actor, input: unknown = {}): Promise<{ outcome: 'cancelled' | 'requested'; run: Run }> {
  requireRole(actor.principal, 'operator');
  const parsed = IdSchema.safeParse(id);
  if (!parsed.success) throw new NotFoundError('run');
  const store = await getStore();
  // Unknown id first: a cancel of a run that does not exist is 404 whatever the body says (as a job's pause).
  const before = await store.getRun(parsed.data);
  if (!before) throw new NotFoundError('run');
  const { reason } = parseInput(RunCancelSchema, input);
  const { kind, id: actorId, name } = actor.principal;
  const result = await store.cancelRun(
    parsed.data,
    { at: await store.now(), by: { type: kind, id: actorId, name }, reason },
    cancelledText(name, reason),
  );
  if (result.outcome === 'missing') throw new NotFoundError('run');
  if (result.outcome === 'final') {
    throw new ConflictError(`the run has already ended (${result.run.status}): only claimed, running or retrying runs can be cancelled`);
  }
  await recordAudit(
    actor,
    'run.cancel',
    { type: 'run', id: result.run.id, name: result.run.jobName },
    {
      status: { before: before.status, after: result.outcome === 'cancelled' ? 'cancelled' : 'cancel requested' },
      ...(reason ? { reason: { before: null, after: reason } } : {}),
    },
  );
  return { outcome: result.outcome, run: result.run };
}
