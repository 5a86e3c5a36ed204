import 'server-only';
import type { Actor } from '../auth/principal';
import { AppError } from '../errors';
import { JobPauseSchema } from '../validation/job';
import { deleteJob, parseInput, pauseJob, resumeJob } from './jobs';

export const BULK_ACTIONS = ['pause', 'resume', 'delete'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

/** The most jobs one bulk request may touch: one service call each, so this bounds the request's time. */
export const BULK_LIMIT = 200;

export interface BulkResult {
  action: BulkAction;
  succeeded: string[];
  failed: Array<{ id: string; error: string }>;
}

/** A bulk command's options: pause takes the same optional note as a single pause ({ note }, JobPauseSchema). */
export interface BulkOptions {
  note?: unknown;
}

const run: Record<BulkAction, (id: string, actor: Actor, options: BulkOptions) => Promise<unknown>> = {
  pause: (id, actor, { note }) => pauseJob(id, actor, note === undefined ? {} : { note }),
  resume: resumeJob,
  delete: deleteJob,
};

/**
 * Applies one command to each job through the ordinary service calls (so each gets the same checks, tickets and
 * audit as a single command, and the actor's role is checked per job). One job failing does not stop the others: the result says which did not go through.
 * Runs one job at a time: the calls share the store's connection pool with the scheduler.
 */
export async function bulkJobs(action: BulkAction, ids: readonly string[], actor: Actor, options: BulkOptions = {}): Promise<BulkResult> {
  if (!(BULK_ACTIONS as readonly string[]).includes(action)) throw new AppError(`unknown bulk action "${String(action)}"`, 400);
  const unique = [...new Set(ids)];
  if (unique.length > BULK_LIMIT) throw new AppError(`at most ${BULK_LIMIT} jobs at once`, 400);
  // A bad note is refused once, before any job is touched (a ValidationError), not once per job.
  if (action === 'pause' && options.note !== undefined) parseInput(JobPauseSchema, { note: options.note });
  const result: BulkResult = { action, succeeded: [], failed: [] };
  for (const id of unique) {
    try {
      await run[action](id, actor, options);
      result.succeeded.push(id);
    } catch (err) {
      result.failed.push({ id, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return result;
}
