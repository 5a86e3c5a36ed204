import 'server-only';
import { ConflictError, ValidationError } from './errors';
import { createJob } from './services/jobs';
import { getStore } from './store';
import type { JobCreateInput } from './validation/job';
import { SYSTEM_ACTOR } from './auth/principal';
import { logger } from './log';

/** A few jobs that show what the scheduler does, created only into an empty database. */
export function exampleJobs(port: string): JobCreateInput[] {
  return [
    {
      name: 'heartbeat',
      description: 'Writes a line every 10 seconds: the simplest way to watch the cluster share work.',
      type: 'log',
      payload: { message: 'still alive', level: 'info' },
      schedule: { kind: 'interval', seconds: 10 },
      tags: ['example'],
    },
    {
      name: 'every-5-seconds',
      description: 'A cron schedule with a seconds field.',
      type: 'log',
      payload: { message: 'tick', level: 'info' },
      schedule: { kind: 'cron', expression: '*/5 * * * * *', timezone: 'UTC' },
      tags: ['example'],
    },
    {
      name: 'self-health-check',
      description: "Calls this dashboard's own health endpoint and records the status code.",
      type: 'http',
      payload: { method: 'GET', url: `http://127.0.0.1:${port}/api/health`, headers: {}, timeoutSeconds: 10, expectedStatus: 200 },
      schedule: { kind: 'interval', seconds: 30 },
      tags: ['example'],
    },
    {
      name: 'nightly-report',
      description: 'Weekdays at 02:00 Berlin time.',
      type: 'log',
      payload: { message: 'nightly report done', level: 'info' },
      schedule: { kind: 'cron', expression: '0 0 2 * * 1-5', timezone: 'Europe/Berlin' },
      tags: ['example'],
    },
  ];
}

/** Creates the example jobs when the store has no job at all (so a restart never re-creates deleted ones). */
export async function seedExampleJobs(port: string): Promise<number> {
  const store = await getStore();
  const existing = await store.listJobs({ limit: 1 });
  if (existing.items.length > 0) return 0;
  let created = 0;
  for (const job of exampleJobs(port)) {
    try {
      await createJob(job, SYSTEM_ACTOR);
      created += 1;
    } catch (err) {
      // Another instance seeding at the same moment took the name: fine. Anything else is worth saying.
      if (err instanceof ConflictError) continue;
      logger('examples').error(`could not create the example job "${job.name}": ${describeError(err)}`);
    }
  }
  return created;
}

function describeError(err: unknown): string {
  if (err instanceof ValidationError && err.issues.length > 0)
    return err.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  return err instanceof Error ? err.message : String(err);
}
