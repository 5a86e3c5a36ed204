// Dashboard latency at scale: `npm run bench:dashboard -- [options]`
//   --stores postgres,mongodb   which stores (default both)
//   --postgres-url URL          an existing database (default: a fresh one on a private throwaway cluster)
//   --mongo-url URL             an existing database (default: the mongo-java-server test server, started here)
//   --jobs 10000 --runs 1000000 seed size (the seed is idempotent: an already seeded database is reused)
//   --iterations 30             timed calls per measurement (after 3 warm-up calls), bounded by --budget-s each
//   --http / --no-http          also time the pages over HTTP on a `next start` (needs a build in NEXT_DIST_DIR)
// Writes bench/results/dashboard-<date>.json and .md. Target: p95 < 150 ms on the server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');

const { values } = parseArgs({
  options: {
    stores: { type: 'string', default: 'postgres,mongodb' },
    'postgres-url': { type: 'string' },
    'mongo-url': { type: 'string' },
    jobs: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '1000000' },
    iterations: { type: 'string', default: '30' },
    'budget-s': { type: 'string', default: '60' },
    http: { type: 'boolean', default: true },
    // Appended to the file names (dashboard-<date>-<out>.json), e.g. mongo-test-server for a separate run.
    out: { type: 'string', default: '' },
    'no-http': { type: 'boolean', default: false },
    // Internal: one store's measurements in a child process (the store is a process-wide singleton).
    measure: { type: 'string' },
    url: { type: 'string' },
  },
});

const TARGET_MS = 150;
const WARMUP = 3;

export interface Measurement {
  name: string;
  /** What the page calls, for the report. */
  calls: string;
  via: 'service' | 'http';
  n: number;
  p50: number;
  p95: number;
  max: number;
  error?: string;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = (sorted.length - 1) * p;
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

async function time(
  name: string,
  calls: string,
  via: Measurement['via'],
  fn: () => Promise<unknown>,
  iterations: number,
  budgetMs: number,
): Promise<Measurement> {
  const samples: number[] = [];
  try {
    const deadline = Date.now() + budgetMs;
    for (let i = 0; i < WARMUP + iterations; i++) {
      const t = performance.now();
      await fn();
      const ms = performance.now() - t;
      // Past the budget, a slow store gets fewer samples rather than a bench that never ends: warm-up calls are
      // cut short and counted (n in the report says how many calls the figures rest on).
      const late = Date.now() > deadline;
      if (i >= WARMUP || (late && i >= 1)) samples.push(ms);
      if (late && (samples.length >= 3 || i >= 1)) break;
    }
  } catch (err) {
    return { name, calls, via, n: samples.length, p50: NaN, p95: NaN, max: NaN, error: err instanceof Error ? err.message : String(err) };
  }
  samples.sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    name,
    calls,
    via,
    n: samples.length,
    p50: round(percentile(samples, 0.5)),
    p95: round(percentile(samples, 0.95)),
    max: round(samples[samples.length - 1]!),
  };
}

/** Child: seed (idempotent), then time the service calls each page makes, in-process. */
async function measure(kind: string, url: string): Promise<void> {
  const jobs = Number(values.jobs);
  const runs = Number(values.runs);
  const iterations = Number(values.iterations);
  const budgetMs = Number(values['budget-s']) * 1000;
  const log = (line: string) => process.stderr.write(`[${kind}] ${line}\n`);
  const { seed, seedJobName } = await import('../lib/store/seed');
  const seeded = await seed({ jobs, runs, databaseUrl: url, log });
  log(`seeded in ${(seeded.ms / 1000).toFixed(1)} s`);

  process.env.DATABASE_URL = url;
  const { getStore } = await import('../lib/store');
  const { listJobs, listJobNames, listJobTags, getJob, listJobRuns } = await import('../lib/services/jobs');
  const { listRunHistory } = await import('../lib/services/runs');
  const { RunFilterSchema } = await import('../lib/validation/run');
  const { listInstances } = await import('../lib/services/instances');
  const { getRunStats } = await import('../lib/services/stats');
  const store = await getStore();
  const counts = { jobs: (await store.listJobs({ limit: 1, search: 'seed-job-' })).items.length > 0 ? jobs : 0, runs };

  // Cursors deep in the lists, found by walking with the largest page (keyset: depth should not matter). The walk
  // has the measurement budget too: on a store that scans (the MongoDB test server) the labels say how deep it got.
  async function walk(
    pages: number,
    page: (cursor: string | undefined) => Promise<string | null>,
  ): Promise<{ cursor: string | undefined; depth: number }> {
    let cursor: string | undefined;
    let depth = 0;
    const deadline = Date.now() + budgetMs;
    for (let i = 0; i < pages && Date.now() < deadline; i++) {
      const next = await page(cursor);
      if (!next) break;
      cursor = next;
      depth += 200;
    }
    return { cursor, depth };
  }
  const t0 = Date.now();
  const jobsDeep = await walk(25, async (cursor) => (await store.listJobs({ limit: 200, cursor })).nextCursor); // 5,000 jobs in
  const runsDeep = await walk(50, async (cursor) => (await store.listRuns({ limit: 200, cursor })).nextCursor); // 10,000 runs in
  const failedDeep = await walk(10, async (cursor) => (await store.listRuns({ limit: 200, cursor, status: 'failed' })).nextCursor); // 2,000 failed in
  log(`deep cursors in ${Date.now() - t0} ms (jobs ${jobsDeep.depth}, runs ${runsDeep.depth}, failed runs ${failedDeep.depth})`);
  const detailJob = (await store.listJobs({ limit: 1, search: seedJobName(Math.ceil(jobs / 2)) })).items[0];
  if (!detailJob) throw new Error('no seeded job found for the detail page');

  const results: Measurement[] = [];
  const run = async (name: string, calls: string, fn: () => Promise<unknown>) => {
    const m = await time(name, calls, 'service', fn, iterations, budgetMs);
    log(`${name}: p50 ${m.p50} ms, p95 ${m.p95} ms (n=${m.n})${m.error ? ` ERROR ${m.error}` : ''}`);
    results.push(m);
  };
  // As the page: the URL's filters parsed, then three reads at once.
  const runsPage = (query: Record<string, string>, cursor?: string) =>
    Promise.all([listRunHistory(RunFilterSchema.parse(query), { limit: 50, cursor }), listJobNames(500), listInstances()]);

  await run('jobs list, first page', 'listJobs(50) + listJobTags()', () => Promise.all([listJobs({ limit: 50 }), listJobTags()]));
  await run('jobs list, tag filter + search', 'listJobs(50, tag, search) + listJobTags()', () =>
    Promise.all([listJobs({ limit: 50, tag: 'etl', search: '7' }), listJobTags()]),
  );
  await run(`jobs list, page ${jobsDeep.depth / 50 + 1} (cursor)`, `listJobs(50, cursor after ${jobsDeep.depth}) + listJobTags()`, () =>
    Promise.all([listJobs({ limit: 50, cursor: jobsDeep.cursor }), listJobTags()]),
  );
  await run('run history, first page', 'listRunHistory(50) + listJobNames(500) + listInstances()', () => runsPage({}));
  await run(`run history, page ${runsDeep.depth / 50 + 1} (cursor)`, `same, cursor after ${runsDeep.depth} runs`, () =>
    runsPage({}, runsDeep.cursor),
  );
  await run('run history, status=failed, first page', 'same, status filter', () => runsPage({ status: 'failed' }));
  await run(
    `run history, status=failed, page ${failedDeep.depth / 50 + 1} (cursor)`,
    `same, status filter, cursor after ${failedDeep.depth} failed runs`,
    () => runsPage({ status: 'failed' }, failedDeep.cursor),
  );
  await run('run history, job name search', 'same, q="seed-job-00042" (10 jobs)', () => runsPage({ q: 'seed-job-00042' }));
  await run('run history, last 24 h', 'same, range=24h', () => runsPage({ range: '24h' }));
  await run('job detail', 'getJob + listJobRuns(20) + now() + runStats(24h, job)', () =>
    Promise.all([getJob(detailJob.id), listJobRuns(detailJob.id, { limit: 20 }), store.now(), getRunStats('24h', detailJob.id)]),
  );
  await run('job detail, 7 d chart', 'same with runStats(7d, job)', () =>
    Promise.all([getJob(detailJob.id), listJobRuns(detailJob.id, { limit: 20 }), store.now(), getRunStats('7d', detailJob.id)]),
  );
  await run('overview, 24 h (all jobs)', 'runStats(24h) over every run', () => getRunStats('24h'));
  await run('overview, 7 d (all jobs)', 'runStats(7d) over every run', () => getRunStats('7d'));

  await store.close();
  const { closeDispatchClient } = await import('../lib/scheduler/dispatch');
  await closeDispatchClient().catch(() => {});
  process.stdout.write(`RESULT ${JSON.stringify({ kind, counts, detailJobId: detailJob.id, seededMs: seeded.ms, results })}\n`);
}

interface StoreReport {
  kind: string;
  server: string;
  counts: { jobs: number; runs: number };
  detailJobId: string;
  seededMs: number;
  results: Measurement[];
}

function runChild(kind: string, url: string): Promise<StoreReport> {
  return new Promise((resolveChild, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=react-server',
        '--import',
        'tsx',
        join(HERE, 'dashboard.ts'),
        '--measure',
        kind,
        '--url',
        url,
        '--jobs',
        values.jobs,
        '--runs',
        values.runs,
        '--iterations',
        values.iterations,
        '--budget-s',
        values['budget-s'],
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, NODE_OPTIONS: '' },
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) return reject(new Error(`${kind} measurement exited ${code}:\n${out.slice(-2000)}`));
      resolveChild({ ...(JSON.parse(line.slice(7)) as Omit<StoreReport, 'server'>), server: '' });
    });
  });
}

/** The pages over HTTP on a real `next start` (signed in), body fully read: server time plus rendering. */
async function measureHttp(databaseUrl: string, detailJobId: string): Promise<Measurement[]> {
  const { startApp, loginCookie } = await import('../tests/support/app');
  // A reused database keeps the admin of an earlier run (another password): sign in as a fresh viewer instead.
  const { randomBytes } = await import('node:crypto');
  const { hashPassword } = await import('../lib/auth/password');
  const { openStore, resolveDatabase } = await import('../lib/store');
  const username = `bench-${randomBytes(4).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const store = await openStore(resolveDatabase({ ...process.env, DATABASE_URL: databaseUrl }));
  const user = await store.createUser({ username, role: 'viewer', passwordHash: await hashPassword(password) });
  const app = await startApp({ databaseUrl, readyTimeoutMs: 120_000 });
  try {
    const cookie = await loginCookie(app, username, password);
    const iterations = Number(values.iterations);
    const budgetMs = Number(values['budget-s']) * 1000;
    const pages: Array<[string, string]> = [
      ['jobs list', '/jobs'],
      ['jobs list, tag filter', '/jobs?tag=etl'],
      ['run history', '/runs'],
      ['run history, status=failed', '/runs?status=failed'],
      ['run history, job name search', '/runs?q=seed-job-00042'],
      ['job detail', `/jobs/${detailJobId}`],
      ['overview (24 h)', '/overview'],
    ];
    const out: Measurement[] = [];
    for (const [name, path] of pages) {
      const m = await time(
        name,
        `GET ${path}`,
        'http',
        async () => {
          const res = await fetch(`${app.baseUrl}${path}`, {
            headers: { cookie },
            redirect: 'manual',
            signal: AbortSignal.timeout(30_000),
          });
          const body = await res.text();
          if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${body.slice(0, 200)}`);
        },
        iterations,
        budgetMs,
      );
      process.stderr.write(`[http] ${name}: p50 ${m.p50} ms, p95 ${m.p95} ms (n=${m.n})${m.error ? ` ERROR ${m.error}` : ''}\n`);
      out.push(m);
    }
    return out;
  } finally {
    await app.stop();
    await store.deleteUser(user.id);
    await store.close();
  }
}

/** mongo-java-server with room for a million documents (the test helper caps it at 512 MB). */
async function startBenchMongo(): Promise<{ url: string; stop: () => void }> {
  const jar = join(ROOT, 'tools', 'mongo-test-server', 'target', 'mongo-test-server.jar');
  spawnSync('bash', [join(ROOT, 'tools', 'mongo-test-server', 'build.sh')], { stdio: 'inherit', timeout: 600_000 });
  const child: ChildProcess = spawn(
    'java',
    ['-Xmx6g', '-XX:+UseParallelGC', '-jar', jar, '--host', '127.0.0.1', '--port', '0', '--exit-on-stdin-eof'],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const m = /READY (mongodb:\/\/\S+)/.exec(out);
      if (m) resolveUrl(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`mongo-test-server exited ${code}: ${out}`)));
  });
  return { url: `${url}/cronplane_bench`, stop: () => child.pid !== undefined && process.kill(child.pid, 'SIGTERM') };
}

function table(reports: StoreReport[], http: Measurement[] | null): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(
      `### ${r.kind}: ${r.server}`,
      '',
      `${r.counts.jobs.toLocaleString('en')} jobs, ${r.counts.runs.toLocaleString('en')} runs (seed ${(r.seededMs / 1000).toFixed(0)} s, in-process service calls)`,
      '',
    );
    lines.push('| what the page calls | p50 ms | p95 ms | max ms | n | p95 < 150 ms |', '|---|---:|---:|---:|---:|:---:|');
    for (const m of r.results)
      lines.push(
        `| ${m.name} (${m.calls}) | ${m.p50} | ${m.p95} | ${m.max} | ${m.n} | ${m.error ? `error: ${m.error}` : m.p95 < TARGET_MS ? 'yes' : '**no**'} |`,
      );
    lines.push('');
  }
  if (http) {
    lines.push('### pages over HTTP (postgres, `next start`, signed in, whole body read)', '');
    lines.push('| page | p50 ms | p95 ms | max ms | n | p95 < 150 ms |', '|---|---:|---:|---:|---:|:---:|');
    for (const m of http)
      lines.push(
        `| ${m.name} (\`${m.calls}\`) | ${m.p50} | ${m.p95} | ${m.max} | ${m.n} | ${m.error ? `error: ${m.error}` : m.p95 < TARGET_MS ? 'yes' : '**no**'} |`,
      );
    lines.push('');
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const startedAt = new Date();
  // Other work on the machine skews every figure: the 1-minute load average before and after says how much there was.
  const loadBefore = loadavg()[0]!;
  const stores = values.stores
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const reports: StoreReport[] = [];
  let http: Measurement[] | null = null;
  const cleanups: Array<() => Promise<void> | void> = [];
  const machine = {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAvg1mBefore: Math.round(loadBefore * 100) / 100,
    loadAvg1mAfter: NaN,
  };
  const command = `npm run bench:dashboard -- ${process.argv.slice(2).join(' ')}`.trim();
  const date = startedAt.toISOString().slice(0, 10);
  const dir = join(HERE, 'results');
  // Written after every store, so a store that never finishes cannot take the others' figures with it.
  const write = (): string => {
    machine.loadAvg1mAfter = Math.round(loadavg()[0]! * 100) / 100;
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, `dashboard-${date}${values.out ? `-${values.out}` : ''}.json`),
      `${JSON.stringify({ startedAt, command, machine, targetP95Ms: TARGET_MS, reports, http }, null, 2)}\n`,
    );
    const md = [
      `# Dashboard latency at scale (${date})`,
      '',
      `Command: \`${command}\`  `,
      `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; 1-min load average ${machine.loadAvg1mBefore} before, ${machine.loadAvg1mAfter} after (other work on the machine inflates the figures)  `,
      `Target: p95 < ${TARGET_MS} ms on the server. Each measurement: ${WARMUP} warm-up calls, then up to ${values.iterations} timed calls; when a measurement passes ${values['budget-s']} s it stops early (after at least one warm-up and one timed call), so n can be small for a slow store.`,
      '',
      'Service rows time, in-process, exactly the calls the page makes (same Promise.all); HTTP rows time a signed-in GET of the page on `next start` until the whole body is read.',
      '',
      table(reports, http),
    ].join('\n');
    writeFileSync(join(dir, `dashboard-${date}${values.out ? `-${values.out}` : ''}.md`), `${md}\n`);
    return md;
  };
  try {
    if (stores.includes('postgres')) {
      let url = values['postgres-url'];
      let server = 'PostgreSQL at --postgres-url';
      if (!url) {
        const { startTestPostgres } = await import('../tests/support/postgres');
        const pg = await startTestPostgres();
        cleanups.push(() => pg.stop());
        url = pg.url;
        server = 'private PostgreSQL 15 cluster (tests/support/postgres.ts)';
      }
      const report = await runChild('postgres', url);
      report.server = server;
      reports.push(report);
      write();
      if (values.http && !values['no-http']) http = await measureHttp(url, report.detailJobId);
      write();
    }
    if (stores.includes('mongodb')) {
      let url = values['mongo-url'];
      let server = 'MongoDB at --mongo-url';
      if (!url) {
        const mongo = await startBenchMongo();
        cleanups.push(mongo.stop);
        url = mongo.url;
        server = 'mongo-java-server 1.47 test server (in-memory; ignores secondary indexes, so every query scans): NOT a real mongod';
      }
      const report = await runChild('mongodb', url);
      report.server = server;
      reports.push(report);
    }
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
  console.log(write());
}

if (values.measure) {
  await measure(values.measure, values.url ?? '');
  process.exit(0);
} else {
  await main();
  process.exit(0);
}
