/**
 * Plain Agenda 6 worker, DEFAULT settings (processEvery 5 s, lockLifetime 10 min, maxConcurrency 20,
 * per-job concurrency 5) on @agendajs/postgres-backend. Every worker defines bench-0..K-1; the one started
 * with BENCH_CREATE=1 also creates them with every('1 second'). The handler records Agenda's own start
 * time (job.attrs.lastRunAt, set by run() just before it) into bench_starts.
 */
import { PostgresBackend } from '@agendajs/postgres-backend';
import { Agenda } from 'agenda';
import pg from 'pg';
import { recordStarts, STARTS_DDL } from '../results-table';

const url = process.env.DATABASE_URL!;
const id = process.env.INSTANCE_ID!;
const jobs = Number(process.env.BENCH_JOBS);
const pool = new pg.Pool({ connectionString: url, max: 5 });
await pool.query(STARTS_DDL);

const agenda = new Agenda({ backend: new PostgresBackend({ connectionString: url }) });
const names = Array.from({ length: jobs }, (_, i) => `bench-${i}`);
for (const name of names) {
  agenda.define(name, async (job) => {
    const startedAt = job.attrs.lastRunAt ?? new Date();
    await recordStarts(pool, [{ job: name, occurrence: null, startedAt }], id);
  });
}
await agenda.start();
if (process.env.BENCH_CREATE === '1') await agenda.every('1 second', names);
process.stdout.write(`READY ${id}\n`);

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  // drain() lets running handlers finish (stop() would close the pool under them).
  void agenda
    .drain()
    .catch(() => undefined)
    .then(() => pool.end())
    .finally(() => process.exit(0));
});
