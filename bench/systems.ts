/** The three systems under test: how each gets its load, and how its records are turned into numbers (SQL). */
import { spawn } from 'node:child_process';
import { PgBoss } from 'pg-boss';
import type pg from 'pg';
import { delay } from './procs';

export interface Measured {
  lagMs: { p50: number | null; p95: number | null; p99: number | null; max: number | null };
  runsPerSecond: number;
  duplicates: number;
  misses: number;
  /** Occurrences due in the window. */
  expected: number;
  /** Share of the window's starts per worker, e.g. "34% / 33% / 33%". */
  workSplit: string;
  /** What the system itself recorded about the misses, where it records anything. */
  detail?: string;
}

export interface Feeder {
  stop(): Promise<void>;
}

export interface SystemDef {
  label: string;
  method: string;
  workerScript: string;
  env: Record<string, string>;
  /** Puts the load in place (jobs created, or a producer running until `until`). */
  begin(opts: { url: string; load: number; until: Date; env: Record<string, string> }): Promise<Feeder>;
  measure(client: pg.Client, opts: { load: number; t0: Date; t1: Date }): Promise<Measured>;
  empty(): Measured;
}

const NO_FEEDER: Feeder = { stop: async () => undefined };

function empty(): Measured {
  return {
    lagMs: { p50: null, p95: null, p99: null, max: null },
    runsPerSecond: NaN,
    duplicates: NaN,
    misses: NaN,
    expected: NaN,
    workSplit: '',
  };
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

async function lagAndSplit(client: pg.Client, startsSql: string, params: unknown[], seconds: number) {
  // startsSql yields (worker, lag_ms) for every start of an occurrence in the window.
  const lag = await client.query(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag_ms) p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY lag_ms) p95,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY lag_ms) p99, max(lag_ms) mx FROM (${startsSql}) s`,
    params,
  );
  const split = await client.query<{ worker: string; n: string }>(
    `SELECT worker, count(*) n FROM (${startsSql}) s GROUP BY worker ORDER BY worker`,
    params,
  );
  const total = split.rows.reduce((a, r) => a + Number(r.n), 0);
  const row = lag.rows[0] as Record<string, unknown>;
  return {
    lagMs: { p50: num(row.p50), p95: num(row.p95), p99: num(row.p99), max: num(row.mx) },
    runsPerSecond: total / seconds,
    workSplit: split.rows.map((r) => `${r.worker.replace(/^.*-/, '#')} ${Math.round((Number(r.n) / total) * 100)}%`).join(', '),
  };
}

const seconds = (t0: Date, t1: Date): number => (t1.getTime() - t0.getTime()) / 1000;

export const SYSTEMS = {
  cronplane: {
    label: 'Cronplane',
    method:
      'tests/support/worker.ts processes (the real scheduler, as instrumentation.ts starts it in `next start`, without the web server), default scheduler settings; K jobs of type log with schedule interval 1 s created through lib/services (createJob). Occurrences are anchorAt + k s per job; the run of an occurrence has trigger schedule, or catch-up when it started past the missed grace (late, in order); lag = runs.started_at - runs.scheduled_for for the runs whose scheduled_for is in the window; Dup. = sum(attempt - 1) over those runs (the (job, scheduledFor) key is unique, so a second execution of one occurrence shows as attempt > 1); Miss = occurrences anchorAt + k s in the window without a started run (skipped/missed rows count as misses).',
    workerScript: 'tests/support/worker.ts',
    env: {},
    async begin({ env }) {
      // Jobs are created by a short-lived process through the service layer (getStore() is per process).
      const child = spawn(process.execPath, ['--conditions=react-server', '--import', 'tsx', 'bench/workers/cronplane-create.ts'], {
        cwd: new URL('..', import.meta.url).pathname,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const code = await Promise.race([
        new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
        delay(120_000).then(() => 'timeout' as const),
      ]);
      if (code !== 0) {
        if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
        throw new Error(`creating the jobs failed (${code}): ${out.slice(-2000)}`);
      }
      return NO_FEEDER;
    },
    async measure(client, { t0, t1 }) {
      // An occurrence started past the missed grace is recorded with trigger 'catch-up' (it ran late, in order): it is
      // still that occurrence's one run, so it counts, with its lag. Run-now runs ('manual') are not occurrences.
      const occurrenceRun = `r.trigger IN ('schedule', 'catch-up')`;
      const inWindow = `SELECT r.* FROM runs r WHERE ${occurrenceRun} AND r.scheduled_for >= $1 AND r.scheduled_for < $2`;
      const started = `${inWindow} AND r.started_at IS NOT NULL AND r.status NOT IN ('skipped', 'missed')`;
      const base = await lagAndSplit(
        client,
        `SELECT r.instance_id AS worker, extract(epoch FROM r.started_at - r.scheduled_for) * 1000 AS lag_ms FROM (${started}) r`,
        [t0, t1],
        seconds(t0, t1),
      );
      const counts = await client.query<{ runs: string; reruns: string | null; expected: string | null }>(
        `SELECT (SELECT count(*) FROM (${started}) s) runs,
                (SELECT sum(attempt - 1) FROM (${started}) s) reruns,
                (SELECT sum(greatest(0, ceil(extract(epoch FROM $2::timestamptz - anchor_at)) - ceil(extract(epoch FROM $1::timestamptz - anchor_at))))
                   FROM jobs) expected`,
        [t0, t1],
      );
      const c = counts.rows[0]!;
      const expected = Number(c.expected ?? 0);
      // Throughput counts every run that started inside the window, whichever occurrence it was for: when the
      // scheduler falls behind, the runs it does start are for older occurrences.
      const startedIn = await client.query<{ n: string }>(
        `SELECT count(*) n FROM runs r WHERE ${occurrenceRun} AND r.started_at >= $1 AND r.started_at < $2`,
        [t0, t1],
      );
      base.runsPerSecond = Number(startedIn.rows[0]!.n) / seconds(t0, t1);
      // The scheduler's own account of occurrences that did not run (e.g. 'missed' once it fell behind by more than its grace).
      const statuses = await client.query<{ status: string; n: string }>(
        `SELECT status, count(*) n FROM (${inWindow}) r WHERE r.started_at IS NULL OR r.status IN ('skipped', 'missed') GROUP BY status ORDER BY status`,
        [t0, t1],
      );
      const late = await client.query<{ n: string }>(`SELECT count(*) n FROM (${started}) s WHERE s.trigger = 'catch-up'`, [t0, t1]);
      const notStarted = statuses.rows.map((r) => `${r.n} ${r.status}`).join(', ');
      const lateRuns = Number(late.rows[0]!.n);
      const detail = [notStarted && `rows not started: ${notStarted}`, lateRuns > 0 && `${lateRuns} started late (catch-up)`]
        .filter(Boolean)
        .join('; ');
      return {
        ...base,
        duplicates: Number(c.reruns ?? 0),
        misses: Math.max(0, expected - Number(c.runs)),
        expected,
        detail,
      };
    },
    empty,
  },
  agenda: {
    label: 'Agenda 6 (defaults)',
    method:
      "agenda@6.2.6 + @agendajs/postgres-backend@3.0.6 with default settings (processEvery 5 s, per-job concurrency 5, maxConcurrency 20); every worker defines bench-0..K-1, one creates them with every('1 second', names). Agenda does not expose a run's due time to the handler, and counts each interval from the previous run's start (run() sets nextRunAt = lastRunAt + 1 s before the handler). So the handler records Agenda's start time (job.attrs.lastRunAt); lag = start - (the same job's previous start + 1 s), i.e. against Agenda's own due time; occurrences are the wall-clock seconds (floor of the start): Miss = (job, second) slots in the window with no start (drift and the 5 s poll both show up here), Dup. = extra starts in one (job, second) slot (two proper runs are at least 1 s apart).",
    workerScript: 'bench/workers/agenda.ts',
    env: {},
    begin: async () => NO_FEEDER,
    async measure(client, { load, t0, t1 }) {
      const starts = `SELECT worker, started_at, extract(epoch FROM started_at - (lag(started_at) OVER (PARTITION BY job ORDER BY started_at) + interval '1 second')) * 1000 AS lag_ms FROM bench_starts`;
      const base = await lagAndSplit(
        client,
        `SELECT worker, lag_ms FROM (${starts}) s WHERE started_at >= $1 AND started_at < $2 AND lag_ms IS NOT NULL`,
        [t0, t1],
        seconds(t0, t1),
      );
      const slots = await client.query<{ covered: string; extra: string | null }>(
        `SELECT count(*) covered, sum(n - 1) extra FROM (
           SELECT job, floor(extract(epoch FROM started_at)) slot, count(*) n FROM bench_starts
           WHERE started_at >= $1 AND started_at < $2 GROUP BY job, slot) s`,
        [t0, t1],
      );
      const expected = load * seconds(t0, t1);
      const s = slots.rows[0]!;
      return { ...base, duplicates: Number(s.extra ?? 0), misses: Math.max(0, expected - Number(s.covered)), expected };
    },
    empty,
  },
  pgboss: {
    label: 'pg-boss 12 (send+startAfter, poll 0.5 s)',
    method:
      'pg-boss@12.38.0. Its schedule() accepts a 6-field (seconds) cron but sends at most one job per 60 s slot (the documented resolution; cron passes every 30 s), so per-second schedules cannot be measured honestly. The fastest honest equivalent is measured instead: the bench process inserts, 2 s ahead, K jobs per second with startAfter = that second (data: job, occurrence); workers use work() with pollingIntervalSeconds 0.5 (its minimum), batchSize 100, burstWhenBatchFull (the defaults, a 2 s poll and one job per fetch, started 3 of ~15 due jobs in a 3 jobs/s smoke test) and record job, occurrence and start. Lag = start - occurrence; Dup./Miss by (job, occurrence) for occurrences in the window. The producer runs in the bench process: its CPU is not in the table.',
    workerScript: 'bench/workers/pgboss.ts',
    env: {},
    async begin({ url, load, until }) {
      const boss = new PgBoss({ connectionString: url, max: 4 });
      boss.on('error', (err: unknown) => console.error(`pg-boss producer: ${err instanceof Error ? err.message : String(err)}`));
      await boss.start();
      let next = Math.ceil(Date.now() / 1000) * 1000 + 1000;
      let running = true;
      let failure: unknown = null;
      const loop = (async () => {
        while (running && next <= until.getTime()) {
          if (next - Date.now() > 2000) {
            await delay(100);
            continue;
          }
          const occurrence = new Date(next).toISOString();
          try {
            await boss.insert(
              'bench',
              Array.from({ length: load }, (_, i) => ({ data: { job: `bench-${i}`, occurrence }, startAfter: new Date(next) })),
            );
          } catch (err) {
            failure ??= err;
          }
          next += 1000;
        }
      })();
      return {
        async stop() {
          running = false;
          await loop;
          await boss.stop({ graceful: false, timeout: 5_000 }).catch(() => undefined);
          if (failure) console.error(`pg-boss producer: an insert failed: ${failure instanceof Error ? failure.message : String(failure)}`);
        },
      };
    },
    async measure(client, { load, t0, t1 }) {
      const starts = `SELECT worker, job, occurrence, extract(epoch FROM started_at - occurrence) * 1000 AS lag_ms FROM bench_starts WHERE occurrence >= $1 AND occurrence < $2`;
      const base = await lagAndSplit(client, `SELECT worker, lag_ms FROM (${starts}) s`, [t0, t1], seconds(t0, t1));
      const occ = await client.query<{ covered: string; extra: string | null }>(
        `SELECT count(*) covered, sum(n - 1) extra FROM (SELECT job, occurrence, count(*) n FROM (${starts}) s GROUP BY job, occurrence) g`,
        [t0, t1],
      );
      const expected = load * seconds(t0, t1);
      const o = occ.rows[0]!;
      const startedIn = await client.query<{ n: string }>(
        `SELECT count(*) n FROM bench_starts WHERE started_at >= $1 AND started_at < $2`,
        [t0, t1],
      );
      base.runsPerSecond = Number(startedIn.rows[0]!.n) / seconds(t0, t1);
      return { ...base, duplicates: Number(o.extra ?? 0), misses: Math.max(0, expected - Number(o.covered)), expected };
    },
    empty,
  },
} satisfies Record<string, SystemDef>;

export type SystemName = keyof typeof SYSTEMS;
