import 'server-only';
import { randomUUID } from 'node:crypto';
import { MongoClient, type AnyBulkWriteOperation } from 'mongodb';
import pg from 'pg';
import { openStore, resolveDatabase, type DatabaseTarget } from './index';

/**
 * Bulk test data for scale checks (scripts/seed.ts, bench/dashboard.ts): `jobs` jobs named seed-job-NNNNNN and
 * `runs` runs spread over them and over the last 30 days. Written straight into the store's tables/collections
 * (server-side INSERT ... SELECT on PostgreSQL, unordered insertMany on MongoDB), not through the Store API, which
 * would take an hour for a million runs. Idempotent per name/occurrence: seeding twice adds nothing.
 *
 * The seeded jobs never fire during a benchmark: they run yearly (cron "0 0 1 1 *"), and 10% are paused.
 */
export interface SeedOptions {
  jobs: number;
  runs: number;
  /** postgres:// or mongodb://; null = DATABASE_URL, or the embedded cluster. */
  databaseUrl: string | null;
  log?: (line: string) => void;
}

export interface SeedResult {
  kind: 'postgres' | 'mongodb';
  jobs: number;
  runs: number;
  ms: number;
}

export const SEED_PREFIX = 'seed-job-';
export const SEED_TAGS = [
  'billing',
  'reports',
  'sync',
  'cleanup',
  'email',
  'etl',
  'monitoring',
  'backup',
  'search',
  'ml',
  'team-a',
  'team-b',
];
const SPAN_MS = 30 * 86_400_000;
const INSTANCES = ['seed-a', 'seed-b', 'seed-c'];

export function seedJobName(n: number): string {
  return `${SEED_PREFIX}${String(n).padStart(6, '0')}`;
}

/** Run k of job n (0-based): how many runs job n gets so that the total is exactly `runs`. */
function runsOf(n: number, jobs: number, runs: number): number {
  return Math.floor(runs / jobs) + (n < runs % jobs ? 1 : 0);
}

export async function seed(options: SeedOptions): Promise<SeedResult> {
  const log = options.log ?? (() => {});
  const target: DatabaseTarget = options.databaseUrl
    ? resolveDatabase({ ...process.env, DATABASE_URL: options.databaseUrl })
    : resolveDatabase();
  // Opening the store migrates the schema (and starts the embedded cluster when there is no URL).
  const store = await openStore(target);
  const started = Date.now();
  try {
    const now = await store.now();
    if (target.kind === 'mongodb') {
      await seedMongo(target.url!, options, now, log);
    } else {
      let url = target.url;
      if (!url) url = (await (await import('./postgres/embedded')).ensureEmbeddedPostgres()).url;
      await seedPostgres(url, options, now, log);
    }
  } finally {
    await store.close();
  }
  return { kind: target.kind, jobs: options.jobs, runs: options.runs, ms: Date.now() - started };
}

async function seedPostgres(url: string, o: SeedOptions, now: Date, log: (line: string) => void): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // Server-side generation: nothing but the statement crosses the wire, so a million rows take seconds.
    let t = Date.now();
    await client.query(
      `INSERT INTO jobs (id, name, description, type, payload, schedule, paused, timeout_seconds, overlap_policy, missed_policy,
                         tags, retry_max_attempts, retry_backoff_seconds, retry_max_backoff_seconds, concurrency_limit,
                         next_run_at, anchor_at, version, created_at, updated_at)
       SELECT gen_random_uuid(), $1 || lpad(n::text, 6, '0'), 'seeded for scale checks', 'log',
              jsonb_build_object('message', 'seeded job ' || n, 'level', 'info'),
              '{"kind":"cron","expression":"0 0 1 1 *","timezone":"UTC"}'::jsonb,
              n % 10 = 0, 300, 'skip', 'run-once',
              ARRAY[($2::text[])[1 + n % $3]]
                || CASE WHEN n % 3 = 0 AND (n / 3) % $3 <> n % $3 THEN ARRAY[($2::text[])[1 + (n / 3) % $3]] ELSE ARRAY[]::text[] END,
              CASE WHEN n % 4 = 0 THEN 3 ELSE 1 END, 10, 600, CASE WHEN n % 5 = 0 THEN 2 ELSE NULL END,
              CASE WHEN n % 10 = 0 THEN NULL ELSE date_trunc('year', $4::timestamptz) + interval '1 year' END,
              $4::timestamptz, 1, $4::timestamptz, $4::timestamptz
       FROM generate_series(1, $5::int) n
       ON CONFLICT (name) DO NOTHING`,
      [SEED_PREFIX, SEED_TAGS, SEED_TAGS.length, now, o.jobs],
    );
    log(`jobs: ${o.jobs} in ${Date.now() - t} ms`);
    // Occurrences are counted back from now, so a second seed would add a second set: check first.
    const existing = Number(
      (await client.query(`SELECT count(*) AS n FROM runs WHERE job_name LIKE $1 || '%'`, [SEED_PREFIX])).rows[0]?.n ?? 0,
    );
    if (existing >= o.runs) {
      log(`runs: ${existing} seeded runs already there, none added`);
      return;
    }
    if (existing > 0) log(`runs: ${existing} seeded runs already there (fewer than ${o.runs}): adding a full set`);
    const perJob = Math.floor(o.runs / o.jobs);
    const extra = o.runs % o.jobs;
    const chunk = Math.max(1, Math.floor(200_000 / Math.max(1, perJob + 1)));
    t = Date.now();
    let done = 0;
    for (let first = 1; first <= o.jobs; first += chunk) {
      const last = Math.min(o.jobs, first + chunk - 1);
      // Job n gets perJob runs (+1 for the first `extra` jobs), evenly spaced over 30 days back from now, offset by
      // n ms so occurrences stay unique; 90% succeed, durations from 20 ms to ~30 s (heavy tail).
      const res = await client.query(
        `WITH j AS (
           SELECT id, name, substring(name from length($1) + 1)::int AS n FROM jobs
           WHERE name >= $1 || lpad($2::text, 6, '0') AND name <= $1 || lpad($3::text, 6, '0') AND name LIKE $1 || '%'
         ), r AS (
           SELECT j.id, j.name, j.n, k,
                  $4::timestamptz - make_interval(secs => (k + 1) * ($5::float8 / ($6 + CASE WHEN j.n <= $7 THEN 1 ELSE 0 END)) / 1000.0)
                    - make_interval(secs => j.n / 1000.0) AS at,
                  abs(hashint8(j.n::bigint * 1000003 + k)) % 1000 AS dice
           FROM j, LATERAL generate_series(0, $6 - 1 + CASE WHEN j.n <= $7 THEN 1 ELSE 0 END) k
         )
         INSERT INTO runs (id, job_id, job_name, scheduled_for, started_at, finished_at, status, trigger, instance_id, attempt, error, output, lease_expires_at)
         SELECT gen_random_uuid(), r.id, r.name, r.at,
                CASE WHEN dice < 980 THEN r.at + make_interval(secs => (dice % 50) / 1000.0) END,
                CASE WHEN dice < 980 THEN r.at + make_interval(secs => (dice % 50) / 1000.0 + 0.02 + power(dice / 1000.0, 8) * 30) END,
                CASE WHEN dice < 900 THEN 'succeeded' WHEN dice < 960 THEN 'failed' WHEN dice < 980 THEN 'timed-out' WHEN dice < 990 THEN 'skipped' ELSE 'missed' END,
                CASE WHEN dice % 50 = 0 THEN 'manual' ELSE 'schedule' END,
                CASE WHEN dice < 980 THEN ($8::text[])[1 + dice % 3] END,
                1,
                CASE WHEN dice >= 900 AND dice < 980 THEN 'seeded failure ' || dice END,
                CASE WHEN dice < 900 THEN 'ok' END,
                NULL
         FROM r
         ON CONFLICT (job_id, scheduled_for) DO NOTHING`,
        [SEED_PREFIX, first, last, now, SPAN_MS, perJob, extra, INSTANCES],
      );
      done += res.rowCount ?? 0;
      log(`runs: ${done} inserted (jobs ${first}-${last}), ${Math.round((Date.now() - t) / 1000)} s`);
    }
    await client.query(
      `INSERT INTO run_job_names (job_id, job_name) SELECT id, name FROM jobs WHERE name LIKE $1 || '%' ON CONFLICT DO NOTHING`,
      [SEED_PREFIX],
    );
    t = Date.now();
    await client.query('ANALYZE jobs; ANALYZE runs; ANALYZE run_job_names');
    log(`analyze: ${Date.now() - t} ms`);
  } finally {
    await client.end();
  }
}

/** Deterministic 0..999 per (job, run): the same mix on both stores. */
function dice(n: number, k: number): number {
  let h = (n * 1000003 + k) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  return (h ^ (h >>> 16)) % 1000;
}

async function seedMongo(url: string, o: SeedOptions, now: Date, log: (line: string) => void): Promise<void> {
  const { databaseName, JOBS, RUNS, RUN_JOB_NAMES } = await import('./mongo');
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 15_000 });
  await client.connect();
  try {
    const db = client.db(databaseName(url));
    const jobsCol = db.collection(JOBS);
    let t = Date.now();
    const nextYear = new Date(Date.UTC(now.getUTCFullYear() + 1, 0, 1));
    for (let first = 1; first <= o.jobs; first += 1000) {
      const ops: AnyBulkWriteOperation[] = [];
      for (let n = first; n < Math.min(o.jobs + 1, first + 1000); n++) {
        const tags = [SEED_TAGS[n % SEED_TAGS.length]!];
        if (n % 3 === 0) tags.push(SEED_TAGS[Math.floor(n / 3) % SEED_TAGS.length]!);
        const id = randomUUID();
        ops.push({
          updateOne: {
            filter: { name: seedJobName(n) },
            update: {
              $setOnInsert: {
                _id: id,
                name: seedJobName(n),
                description: 'seeded for scale checks',
                type: 'log',
                payloadJson: JSON.stringify({ message: `seeded job ${n}`, level: 'info' }),
                schedule: { kind: 'cron', expression: '0 0 1 1 *', timezone: 'UTC' },
                paused: n % 10 === 0,
                timeoutSeconds: 300,
                overlapPolicy: 'skip',
                missedPolicy: 'run-once',
                tags: [...new Set(tags)],
                retry: { maxAttempts: n % 4 === 0 ? 3 : 1, backoffSeconds: 10, maxBackoffSeconds: 600 },
                concurrencyLimit: n % 5 === 0 ? 2 : null,
                nextRunAt: n % 10 === 0 ? null : nextYear,
                anchorAt: now,
                version: 1,
                createdAt: now,
                updatedAt: now,
              },
            },
            upsert: true,
          },
        });
      }
      await jobsCol.bulkWrite(ops, { ordered: false });
    }
    const seeded = await jobsCol
      .find({ name: { $gte: seedJobName(1), $lte: seedJobName(o.jobs) } }, { projection: { _id: 1, name: 1 } })
      .toArray();
    const byN = new Map<number, { id: string; name: string }>();
    for (const d of seeded) byN.set(Number(String(d.name).slice(SEED_PREFIX.length)), { id: String(d._id), name: String(d.name) });
    log(`jobs: ${byN.size} in ${Date.now() - t} ms`);

    type NameDoc = { _id: string; jobId: string; jobName: string };
    const nameOps: AnyBulkWriteOperation<NameDoc>[] = [...byN.values()].map((j) => ({
      updateOne: {
        filter: { _id: JSON.stringify([j.id, j.name]) },
        update: { $setOnInsert: { jobId: j.id, jobName: j.name } },
        upsert: true,
      },
    }));
    if (nameOps.length > 0) await db.collection<NameDoc>(RUN_JOB_NAMES).bulkWrite(nameOps, { ordered: false });

    const runsCol = db.collection(RUNS);
    // Occurrences are counted back from now, so a second seed would add a second set: check first.
    const existing = await runsCol.countDocuments({ jobName: { $gte: SEED_PREFIX, $lt: `${SEED_PREFIX}\uffff` } });
    if (existing >= o.runs) {
      log(`runs: ${existing} seeded runs already there, none added`);
      return;
    }
    t = Date.now();
    let done = 0;
    let batch: Record<string, unknown>[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      try {
        const res = await runsCol.insertMany(batch, { ordered: false });
        done += res.insertedCount;
      } catch (err) {
        // Duplicates (a second seed) are expected; count what went in and go on.
        const inserted = (err as { result?: { insertedCount?: number } }).result?.insertedCount;
        if (inserted === undefined) throw err;
        done += inserted;
      }
      batch = [];
    };
    for (let n = 1; n <= o.jobs; n++) {
      const job = byN.get(n);
      if (!job) continue;
      const count = runsOf(n - 1, o.jobs, o.runs);
      const spacing = SPAN_MS / count;
      for (let k = 0; k < count; k++) {
        const d = dice(n, k);
        const at = new Date(Math.round(now.getTime() - (k + 1) * spacing - n));
        const ran = d < 980;
        const startedAt = ran ? new Date(at.getTime() + (d % 50)) : null;
        const finishedAt = startedAt ? new Date(startedAt.getTime() + 20 + Math.round((d / 1000) ** 8 * 30_000)) : null;
        batch.push({
          _id: randomUUID(),
          jobId: job.id,
          jobName: job.name,
          scheduledFor: at,
          startedAt,
          finishedAt,
          status: d < 900 ? 'succeeded' : d < 960 ? 'failed' : d < 980 ? 'timed-out' : d < 990 ? 'skipped' : 'missed',
          trigger: d % 50 === 0 ? 'manual' : 'schedule',
          instanceId: ran ? INSTANCES[d % 3]! : null,
          attempt: 1,
          error: d >= 900 && d < 980 ? `seeded failure ${d}` : null,
          output: d < 900 ? 'ok' : null,
          leaseExpiresAt: null,
        });
        if (batch.length >= 10_000) {
          await flush();
          if (done % 100_000 < 10_000) log(`runs: ${done} inserted, ${Math.round((Date.now() - t) / 1000)} s`);
        }
      }
    }
    await flush();
    log(`runs: ${done} inserted in ${Math.round((Date.now() - t) / 1000)} s`);
  } finally {
    await client.close();
  }
}
