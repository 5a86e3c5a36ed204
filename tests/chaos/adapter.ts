/**
 * Maps the store's records into the checker's plain input types (checker.ts depends on nothing of lib/store).
 * The run fields being added by the claim-protocol work (rangeEnd, rangeCount; statuses claimed and unknown) are read
 * when present and default to null, so this works on today's store and on the coming one.
 */
import type { Job, Run, RunAttempt, Store } from '../../lib/store/types';
import type { CheckAttempt, CheckDelivery, CheckInput, CheckJob, CheckRun, InstanceEvent } from './checker';

/** A run as the store returns it, with the range fields when the store has them. */
type StoredRun = Run & { rangeEnd?: Date | null; rangeCount?: number | null };

export function toCheckJob(job: Job, pausedAt: Date, createdAt: Date = job.anchorAt): CheckJob {
  return {
    id: job.id,
    name: job.name,
    overlapPolicy: job.overlapPolicy,
    missedPolicy: job.missedPolicy,
    from: createdAt,
    until: pausedAt,
    schedule: job.schedule,
    anchorAt: job.anchorAt,
  };
}

export function toCheckAttempt(attempt: RunAttempt): CheckAttempt {
  return {
    attempt: attempt.attempt,
    instanceId: attempt.instanceId,
    startedAt: attempt.startedAt,
    finishedAt: attempt.finishedAt,
    status: attempt.status,
    error: attempt.error,
  };
}

export function toCheckRun(run: StoredRun, history: RunAttempt[]): CheckRun {
  const rangeEnd = run.rangeEnd instanceof Date ? run.rangeEnd : typeof run.rangeEnd === 'string' ? new Date(run.rangeEnd) : null;
  return {
    id: run.id,
    jobId: run.jobId,
    scheduledFor: run.scheduledFor,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    status: run.status,
    trigger: run.trigger,
    instanceId: run.instanceId,
    attempt: run.attempt,
    error: run.error,
    rangeEnd,
    rangeCount: typeof run.rangeCount === 'number' ? run.rangeCount : null,
    history: history.map(toCheckAttempt),
  };
}

/** Every run of the jobs (all pages) with its attempt history (read only for runs past their first attempt). */
export async function collectRuns(store: Store, jobIds: string[]): Promise<CheckRun[]> {
  const result: CheckRun[] = [];
  for (const jobId of jobIds) {
    let cursor: string | undefined;
    do {
      const page = await store.listRuns({ jobId, limit: 200, cursor });
      for (const run of page.items) {
        const history = run.attempt > 1 ? await store.listRunAttempts(run.id) : [];
        result.push(toCheckRun(run, history));
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }
  return result;
}

/** What a chaos run saves besides the receiver's log, so the checker can be run again on it (recheck.ts). */
export interface SavedInput {
  jobs: CheckJob[];
  runs: CheckRun[];
  lifecycle: InstanceEvent[];
  faults: Array<{ kind: string }>;
}

type Json = Record<string, unknown>;
const date = (v: unknown): Date => new Date(v as string);
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

/** SavedInput as JSON.parse returns it (dates as ISO strings) and the delivery log (JSON lines) back into a CheckInput. */
export function reviveInput(saved: Json, deliveriesJsonl: string): CheckInput {
  const jobs = (saved.jobs as Json[]).map((j): CheckJob => ({
    ...(j as unknown as CheckJob),
    from: date(j.from),
    until: date(j.until),
    ...(j.anchorAt ? { anchorAt: date(j.anchorAt) } : {}),
    ...(Array.isArray(j.occurrences) ? { occurrences: (j.occurrences as string[]).map(date) } : {}),
  }));
  const runs = (saved.runs as Json[]).map((r): CheckRun => ({
    ...(r as unknown as CheckRun),
    scheduledFor: date(r.scheduledFor),
    startedAt: dateOrNull(r.startedAt),
    finishedAt: dateOrNull(r.finishedAt),
    rangeEnd: dateOrNull(r.rangeEnd),
    history: (r.history as Json[]).map((h) => ({
      ...(h as unknown as CheckAttempt),
      startedAt: dateOrNull(h.startedAt),
      finishedAt: dateOrNull(h.finishedAt),
    })),
  }));
  const deliveries = deliveriesJsonl
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CheckDelivery);
  return { jobs, runs, deliveries, lifecycle: saved.lifecycle as InstanceEvent[], faults: saved.faults as Array<{ kind: string }> };
}
