/**
 * pg-boss 12 worker (work() tuned for due-time work, see below). pg-boss schedules have a one-minute resolution (one job
 * per 60 s slot, see the report), so the bench feeds each per-second occurrence with send()/insert() and
 * startAfter = the occurrence; the handler records the job, its occurrence and the start into bench_starts.
 */
import { PgBoss } from 'pg-boss';
import pg from 'pg';
import { recordStarts, STARTS_DDL } from '../results-table';

export const QUEUE = 'bench';

const url = process.env.DATABASE_URL!;
const id = process.env.INSTANCE_ID!;
const pool = new pg.Pool({ connectionString: url, max: 5 });
await pool.query(STARTS_DDL);

const boss = new PgBoss({ connectionString: url });
boss.on('error', (err: unknown) => console.error(`pg-boss error: ${err instanceof Error ? err.message : String(err)}`));
await boss.start();
await boss.createQueue(QUEUE).catch(() => undefined); // another worker may have created it
// Defaults (poll every 2 s, one job per fetch, no burst) start ~0.5 jobs/s per worker: far below 10/s.
// These are the fastest settings pg-boss allows for due-time work: its minimum poll (0.5 s), a batch per
// fetch, and continuous fetching while batches come back full. NOTIFY does not help: it fires on insert,
// seconds before startAfter.
await boss.work<{ job: string; occurrence: string }>(
  QUEUE,
  { pollingIntervalSeconds: 0.5, batchSize: 100, burstWhenBatchFull: true },
  async (batch) => {
    const startedAt = new Date();
    await recordStarts(
      pool,
      batch.map((j) => ({ job: j.data.job, occurrence: new Date(j.data.occurrence), startedAt })),
      id,
    );
  },
);
process.stdout.write(`READY ${id}\n`);

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void boss
    .stop({ graceful: true, timeout: 10_000 })
    .catch(() => undefined)
    .then(() => pool.end())
    .finally(() => process.exit(0));
});
