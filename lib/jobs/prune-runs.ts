import { z } from 'zod';
import { defineJobType } from './define';

export const DEFAULT_RETENTION_DAYS = 30;

/** RUN_RETENTION_DAYS when it is a whole number of days in range, else 30: a typo must not prune everything. */
export function retentionDaysFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.RUN_RETENTION_DAYS?.trim();
  if (!raw || !/^\d+$/.test(raw)) return DEFAULT_RETENTION_DAYS;
  const days = Number(raw);
  return days >= 1 && days <= 3650 ? days : DEFAULT_RETENTION_DAYS;
}

export const prunePayloadSchema = z
  .object({
    olderThanDays: z
      .number()
      .int('olderThanDays must be a whole number')
      .min(1, 'olderThanDays is at least 1')
      .max(3650, 'olderThanDays is at most 3650')
      .optional()
      .describe('Delete finished runs due more than this many days ago; empty = RUN_RETENTION_DAYS (default 30), read at each run'),
    batchSize: z
      .number()
      .int('batchSize must be a whole number')
      .min(1, 'batchSize is at least 1')
      .max(100_000, 'batchSize is at most 100000')
      .default(5000)
      .describe('Runs deleted per statement: smaller batches hold locks for less time'),
    instancesOlderThanDays: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .default(1)
      .describe('Also forget instances not heard from for this many days (stopped or lost)'),
    sessionsOlderThanDays: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .default(1)
      .describe('Also delete sign-in sessions that expired, or were revoked, this many days ago or more'),
  })
  .strict();

const DAY_MS = 86_400_000;

export const pruneRunsJob = defineJobType({
  name: 'prune-runs',
  title: 'Prune old runs',
  description:
    'Retention: deletes finished runs older than a number of days (in batches), instances gone for a day or more, sign-in sessions that ended a day ago or more, and sign-in budgets whose window ended.',
  payloadSchema: prunePayloadSchema,
  examplePayload: { batchSize: 5000, instancesOlderThanDays: 1 },
  async run(payload, ctx) {
    const store = ctx.retention;
    const days = payload.olderThanDays ?? retentionDaysFromEnv();
    const now = await store.now();
    const cutoff = new Date(now.getTime() - days * DAY_MS);
    let total = 0;
    let batches = 0;
    // Batches, oldest first, until one comes back short: each statement stays small and a timeout or shutdown
    // (the signal) stops between batches with the work so far kept.
    for (;;) {
      if (ctx.signal.aborted) {
        ctx.log(`stopped after ${batches} batches (${total} runs deleted): ${String(ctx.signal.reason ?? 'aborted')}`);
        throw new Error('prune-runs interrupted before it finished');
      }
      const deleted = await store.pruneRuns(cutoff, payload.batchSize);
      total += deleted;
      batches += 1;
      if (deleted < payload.batchSize) break;
    }
    ctx.log(
      `deleted ${total} finished runs due before ${cutoff.toISOString()} (${days} days) in ${batches} batch${batches === 1 ? '' : 'es'}`,
    );
    const instanceCutoff = new Date(now.getTime() - payload.instancesOlderThanDays * DAY_MS);
    const instances = await store.pruneInstances(instanceCutoff);
    ctx.log(`forgot ${instances} instance${instances === 1 ? '' : 's'} last seen before ${instanceCutoff.toISOString()}`);
    const sessionCutoff = new Date(now.getTime() - payload.sessionsOlderThanDays * DAY_MS);
    const sessions = await store.pruneSessions(sessionCutoff);
    ctx.log(`deleted ${sessions} session${sessions === 1 ? '' : 's'} expired or revoked before ${sessionCutoff.toISOString()}`);
    // A sign-in budget whose window is over holds nothing the next take needs (it starts a new window).
    const budgets = await store.pruneLoginAttempts(now);
    ctx.log(`deleted ${budgets} sign-in budget${budgets === 1 ? '' : 's'} whose window ended`);
  },
});
