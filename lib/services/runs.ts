import 'server-only';
import { z } from 'zod';
import { NotFoundError } from '../errors';
import { getStore } from '../store';
import { RUN_STATUSES, type Job, type Page, type Run, type RunAttempt, type RunStatus } from '../store/types';
import { parseIsoDate } from '../validation/date';
import { IdSchema } from '../validation/job';
import { isSingleLineText } from '../validation/text';

/** Quick time windows for the run history, counted back from the database clock at each read. */
export const RUN_RANGES = { '15m': 15 * 60_000, '1h': 3600_000, '6h': 6 * 3600_000, '24h': 24 * 3600_000, '7d': 7 * 24 * 3600_000 } as const;
export type RunRange = keyof typeof RUN_RANGES;

const optionalText = z
  .string()
  .trim()
  .max(200)
  // A NUL would be a database error, not "no match" (shared rules: lib/validation/text.ts).
  .refine(isSingleLineText)
  .optional()
  .transform((v) => (v ? v : undefined));
/** ISO-8601 within years 1-9999 (lib/validation/date.ts): `new Date` took "-010000-01-01", which PostgreSQL refuses. */
const optionalDate = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (!v) return undefined;
    const date = parseIsoDate(v);
    if (!date) {
      ctx.addIssue({ code: 'custom', message: 'not a date-time' });
      return z.NEVER;
    }
    return date;
  });

/**
 * The run-history filters as they arrive in the URL. Unknown or malformed values are dropped, not fatal: a `q` or
 * `instance` with a control character is dropped too, so none reaches the database.
 */
export const RunFilterSchema = z.object({
  // Not an id (too long, control characters, ...): listRunHistory answers an empty page, not every run.
  job: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v.slice(0, 100) : undefined)),
  /** Case-insensitive substring of the job name (current, or as recorded on the run). */
  q: optionalText.catch(undefined),
  status: z.enum(RUN_STATUSES).optional().catch(undefined),
  instance: optionalText.catch(undefined),
  range: z
    .enum(Object.keys(RUN_RANGES) as [RunRange, ...RunRange[]])
    .optional()
    .catch(undefined),
  from: optionalDate.catch(undefined),
  to: optionalDate.catch(undefined),
});
export type RunFilter = z.output<typeof RunFilterSchema>;

export interface RunHistory {
  page: Page<Run>;
  /** The effective window (range resolved against the database clock). */
  from: Date | null;
  to: Date | null;
  now: Date;
}

/** Runs across every job, newest first, narrowed by the filters; keyset paging via `cursor`. */
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

export interface RunDetail {
  run: Run;
  /** Null when the job has been deleted since (the run keeps its name). */
  job: Job | null;
  /** Every run recorded for the same occurrence (this one included), oldest attempt first. */
  attempts: Run[];
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
  return { run, job, attempts, now };
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

/** Runs currently executing on one instance. */
export async function listRunningOn(instanceId: string, limit = 50): Promise<Run[]> {
  const store = await getStore();
  const page = await store.listRuns({ limit, status: 'running', instanceId });
  return page.items;
}

export function isRunStatus(value: string): value is RunStatus {
  return (RUN_STATUSES as readonly string[]).includes(value);
}
