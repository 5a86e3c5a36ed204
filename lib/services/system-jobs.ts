import 'server-only';
import { SYSTEM_ACTOR } from '../auth/principal';
import { ConflictError } from '../errors';
import type { JobCreateInput } from '../validation/job';
import { createJob } from './jobs';

export const PRUNE_JOB_NAME = 'system: prune old runs';

/** Built-in jobs every installation has. Ordinary jobs: visible, editable, pausable; deleting one lasts until the next start. */
export function systemJobs(): JobCreateInput[] {
  return [
    {
      name: PRUNE_JOB_NAME,
      description:
        'Retention: deletes finished runs older than RUN_RETENTION_DAYS (default 30) unless olderThanDays is set, and forgets instances gone for a day. Created at start-up when missing.',
      type: 'prune-runs',
      // No olderThanDays: the handler reads RUN_RETENTION_DAYS at each run, so changing the variable needs no edit.
      payload: { batchSize: 5000, instancesOlderThanDays: 1 },
      schedule: { kind: 'cron', expression: '17 3 * * *', timezone: 'UTC' },
      timeoutSeconds: 3600,
      overlapPolicy: 'skip',
      missedPolicy: 'run-once',
      tags: ['system'],
    },
  ];
}

/**
 * Creates the system jobs that are missing. Every instance calls it at start-up: the unique name makes it
 * idempotent across instances (the loser of a race gets "name taken", which is success here).
 * Returns the names it created.
 */
export async function ensureSystemJobs(): Promise<string[]> {
  const created: string[] = [];
  for (const spec of systemJobs()) {
    try {
      await createJob(spec, SYSTEM_ACTOR);
      created.push(spec.name);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  return created;
}
