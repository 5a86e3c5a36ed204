import 'server-only';
import { requireRole, type Actor } from '../auth/principal';
import { ConflictError, NotFoundError, ValidationError, toFieldIssues } from '../errors';
import { firstOccurrence } from '../schedule';
import { cancelTickets, enqueueManualRun, enqueueOccurrence } from '../scheduler/dispatch';
import { keepMaskedSecrets, maskPayload, revealPayload, sealPayload } from '../secrets';
import { ensureSigningSecret, signsDeliveries } from '../secrets/signing';
import { checkAlertChannels } from './alert-rules';
import { diffFields, recordAudit } from './audit';
import { getStore } from '../store';
import { NameTakenError, type Job, type JobPatch, type JobWithLastRun, type Page, type PauseRecord, type Run } from '../store/types';
import { IdSchema } from '../validation/id';
import { JobCreateSchema, JobPauseSchema, JobUpdateSchema, type JobSpec } from '../validation/job';
import type { z } from 'zod';
import { errorMessage, logger } from '../log';

/** Parses with a zod schema, throwing a ValidationError with field-level issues. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error.issues));
  return parsed.data;
}

function parseId(id: string): string {
  const parsed = IdSchema.safeParse(id);
  if (!parsed.success) throw new NotFoundError('job');
  return parsed.data;
}

function nameTaken(err: unknown): never {
  if (err instanceof NameTakenError) throw new ConflictError(err.message);
  throw err;
}

/**
 * Secret payload values (lib/secrets) are encrypted in the store and never leave this layer in clear:
 * every job returned here has them masked. Only the scheduler decrypts, for the handler.
 */
function masked<T extends Job>(job: T): T {
  return { ...job, payload: maskPayload(job.type, job.payload) };
}

/**
 * Mutations take the acting principal and check its role here (operator at least), so a route or action that
 * forgets cannot skip it; the app itself passes SYSTEM_ACTOR (an admin). Every change is appended to the audit log,
 * with secrets masked (diffs are taken of masked jobs).
 */
function authorize(actor: Actor): void {
  requireRole(actor.principal, 'operator');
}

const AUDITED_FIELDS = [
  'name',
  'description',
  'type',
  'payload',
  'schedule',
  'paused',
  'timeoutSeconds',
  'overlapPolicy',
  'missedPolicy',
  'tags',
  'retry',
  'concurrencyLimit',
  'autoPause',
  'alerts',
  // The pause's note (who and when are the entry's own actor and time).
  'pauseNote',
] as const;

/** A job as the audit log compares it: its fields, and its pause note beside them. */
function audited(job: Job | null): Record<string, unknown> | null {
  return job ? { ...job, pauseNote: job.pause?.note ?? null } : null;
}

async function auditJob(actor: Actor, action: string, before: Job | null, after: Job | null, target: Job): Promise<void> {
  const changes = diffFields(audited(before), audited(after), AUDITED_FIELDS);
  await recordAudit(actor, action, { type: 'job', id: target.id, name: target.name }, changes);
}

export async function listJobs(query: { limit: number; cursor?: string; search?: string; tag?: string }): Promise<Page<JobWithLastRun>> {
  // Pages pass the search box straight through: a NUL would be a database error, not "no match".
  for (const key of ['search', 'tag'] as const) {
    if (/\p{Cc}/u.test(query[key] ?? '')) throw new ValidationError([{ path: key, message: `${key} must not contain control characters` }]);
  }
  const store = await getStore();
  const page = await store.listJobs(query);
  return { ...page, items: page.items.map(masked) };
}

/** The stored job, secrets still encrypted: for this module only. */
async function loadJob(id: string): Promise<Job> {
  const store = await getStore();
  const job = await store.getJob(parseId(id));
  if (!job) throw new NotFoundError('job');
  return job;
}

export async function getJob(id: string): Promise<Job> {
  return masked(await loadJob(id));
}

export async function createJob(input: unknown, actor: Actor): Promise<Job> {
  return (await createJobWithSigningSecret(input, actor)).job;
}

/**
 * Creates a job; one whose type signs its deliveries (http) gets its signing secret at once, returned in clear this
 * once (POST /api/jobs answers it). A crash in between leaves the job without one: it is made when first needed.
 */
export async function createJobWithSigningSecret(input: unknown, actor: Actor): Promise<{ job: Job; signingSecret: string | null }> {
  authorize(actor);
  const spec: JobSpec = parseInput(JobCreateSchema, input);
  await checkAlertChannels(spec.alerts, 'alerts');
  // A masked value cannot be a new secret: refuse it instead of saving "••••".
  const payload = sealPayload(spec.type, keepMaskedSecrets(spec.type, spec.payload, null));
  const store = await getStore();
  const now = await store.now();
  const job = await store
    .createJob({
      ...spec,
      payload,
      pause: spec.paused ? pauseRecord(actor, now, null) : null,
      anchorAt: now,
      nextRunAt: spec.paused ? null : firstOccurrence(spec.schedule, now, now),
    })
    .catch(nameTaken);
  const signing = signsDeliveries(job.type) ? await ensureSigningSecret(store, job.id) : null;
  await enqueueOccurrence(job);
  const result = masked(job);
  await auditJob(actor, 'job.create', null, result, result);
  return { job: result, signingSecret: signing?.secret ?? null };
}

export async function updateJob(id: string, input: unknown, actor: Actor): Promise<Job> {
  authorize(actor);
  const patch = parseInput(JobUpdateSchema, input);
  const current = await loadJob(id);
  const type = patch.type ?? current.type;
  const sameType = type === current.type;
  const currentPayload = revealPayload(current.type, current.payload);
  // An edit sends back the masked secrets it was shown: those keep the stored values.
  const payload = patch.payload ? keepMaskedSecrets(type, patch.payload, sameType ? currentPayload : null) : undefined;
  // The merged job must be valid as a whole: a new type needs a payload of that type.
  const merged = parseInput(JobCreateSchema, {
    name: patch.name ?? current.name,
    description: patch.description ?? current.description,
    type,
    payload: payload ?? (sameType ? currentPayload : {}),
    schedule: patch.schedule ?? current.schedule,
    paused: current.paused,
    timeoutSeconds: patch.timeoutSeconds ?? current.timeoutSeconds,
    overlapPolicy: patch.overlapPolicy ?? current.overlapPolicy,
    missedPolicy: patch.missedPolicy ?? current.missedPolicy,
    tags: patch.tags ?? current.tags,
    retry: patch.retry ?? current.retry,
    concurrencyLimit: patch.concurrencyLimit !== undefined ? patch.concurrencyLimit : current.concurrencyLimit,
    autoPause: patch.autoPause !== undefined ? patch.autoPause : current.autoPause,
    alerts: patch.alerts ?? current.alerts,
  });
  if (patch.alerts) await checkAlertChannels(patch.alerts, 'alerts');
  const store = await getStore();
  const storePatch: JobPatch = { ...merged, payload: sealPayload(merged.type, merged.payload) };
  if (patch.schedule) {
    // A new schedule starts counting from now; the pending occurrence is replaced.
    const now = await store.now();
    storePatch.anchorAt = now;
    storePatch.nextRunAt = current.paused ? null : firstOccurrence(merged.schedule, now, now);
  }
  const job = await store.updateJob(current.id, storePatch).catch(nameTaken);
  if (!job) throw new NotFoundError('job');
  // A job switched to http gets its secret now rather than at its first delivery (it keeps the one it had, if any).
  if (!sameType && signsDeliveries(job.type)) await ensureSigningSecret(store, job.id);
  if (patch.schedule) await enqueueOccurrence(job);
  const result = masked(job);
  await auditJob(actor, 'job.update', masked(current), result, result);
  return result;
}

export async function deleteJob(id: string, actor: Actor): Promise<void> {
  authorize(actor);
  const store = await getStore();
  const jobId = parseId(id);
  const before = await store.getJob(jobId);
  const deleted = await store.deleteJob(jobId);
  if (!deleted || !before) throw new NotFoundError('job');
  await dropTickets(jobId);
  await auditJob(actor, 'job.delete', masked(before), null, before);
}

/** Best effort: a ticket left behind is harmless (checked against the job row when it fires), so a failure only logs. */
async function dropTickets(jobId: string, only?: { scheduledFor: Date }): Promise<void> {
  await cancelTickets(jobId, only).catch((err: unknown) => {
    logger('jobs').warn({ jobId, err: errorMessage(err) }, 'could not remove pending tickets');
  });
}

/** The pause record of a pause by `actor` at `at`: the actor as the audit log records it. */
function pauseRecord(actor: Actor, at: Date, note: string | null): PauseRecord {
  const { kind, id, name } = actor.principal;
  return { at, by: { type: kind, id, name }, note };
}

/**
 * Pauses the job, recording when, by whom and the optional note of `input` ({ note?: string }, JobPauseSchema; a bad
 * note is a ValidationError and changes nothing). A job already paused is returned as it is (its pause record kept).
 */
export async function pauseJob(id: string, actor: Actor, input: unknown = {}): Promise<Job> {
  authorize(actor);
  const { note } = parseInput(JobPauseSchema, input);
  const current = await loadJob(id);
  if (current.paused) return masked(current);
  const store = await getStore();
  const pause = pauseRecord(actor, await store.now(), note);
  const job = await store.updateJob(current.id, { paused: true, pause, nextRunAt: null });
  if (!job) throw new NotFoundError('job');
  // Only the paused occurrence's schedule tickets: a run-now queued meanwhile still runs, and a resume racing this
  // pause enqueues a different occurrence (re-anchored at now), whose ticket must survive.
  if (current.nextRunAt) await dropTickets(job.id, { scheduledFor: current.nextRunAt });
  await auditJob(actor, 'job.pause', current, job, job);
  return masked(job);
}

export async function resumeJob(id: string, actor: Actor): Promise<Job> {
  authorize(actor);
  const current = await loadJob(id);
  if (!current.paused) return masked(current);
  const store = await getStore();
  const now = await store.now();
  // Occurrences that fell due while paused are not owed: the next one is counted from now.
  const anchorAt = current.schedule.kind === 'interval' ? now : current.anchorAt;
  const next =
    current.schedule.kind === 'once'
      ? (current.nextRunAt ?? (new Date(current.schedule.at) > now ? new Date(current.schedule.at) : null))
      : firstOccurrence(current.schedule, now, anchorAt);
  const job = await store.updateJob(current.id, { paused: false, pause: null, anchorAt, nextRunAt: next });
  if (!job) throw new NotFoundError('job');
  await enqueueOccurrence(job);
  await auditJob(actor, 'job.resume', current, job, job);
  return masked(job);
}

/** Queues an extra run of the job right now, outside its schedule. Works while paused, too. */
export async function runJobNow(id: string, actor: Actor): Promise<{ job: Job; scheduledFor: Date }> {
  authorize(actor);
  const job = await loadJob(id);
  const store = await getStore();
  const scheduledFor = await store.now();
  await enqueueManualRun(job, scheduledFor);
  await recordAudit(
    actor,
    'job.run',
    { type: 'job', id: job.id, name: job.name },
    { scheduledFor: { before: null, after: scheduledFor.toISOString() } },
  );
  return { job: masked(job), scheduledFor };
}

export async function listJobRuns(id: string, query: { limit: number; cursor?: string }): Promise<Page<Run>> {
  const job = await loadJob(id);
  const store = await getStore();
  return store.listRuns({ ...query, jobId: job.id });
}

/** Ids and names of the first `limit` jobs by name, for pickers (the run history's job filter): no runs read. */
export async function listJobNames(limit: number): Promise<Array<{ id: string; name: string }>> {
  const store = await getStore();
  return store.listJobNames(limit);
}

/** Every tag in use (for the jobs list's tag filter), in code point order; bounded so a tag explosion cannot flood the page. */
export async function listJobTags(limit = 200): Promise<string[]> {
  const store = await getStore();
  return store.listTags(limit);
}
