/**
 * README's first command end to end: `next start` with NO DATABASE_URL (the embedded PostgreSQL cluster) and the
 * example jobs on, with `npm run demo`'s settings (scripts/demo.sh: CRONPLANE_EXAMPLE_JOBS=1, PORT, HTTP_JOB_ALLOW
 * letting the self-health-check example call the app). The cluster lives in a temp CRONPLANE_DATA_DIR on a free
 * EMBEDDED_PG_PORT, so a developer's own .data/ and running demo (port 54329) are never touched; it is stopped and
 * removed at the end.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runningPid, runningPort, stopCluster, stopClusterSync } from '../../lib/store/postgres/cluster';
import { embeddedPaths } from '../../lib/store/postgres/embedded';
import { startApp, type StartedApp } from '../support/app';
import { freePort } from '../support/postgres';

const EXAMPLES = ['every-5-seconds', 'heartbeat', 'nightly-report', 'self-health-check'];

interface JobJson {
  id: string;
  name: string;
  type: string;
  tags: string[];
}
interface RunJson {
  id: string;
  status: string;
  trigger: string;
  output: string | null;
  error: string | null;
}

/** Running, not a zombie (an exited daemon may wait for a reaper in a container). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('the embedded default (no DATABASE_URL) with the example jobs, as `npm run demo` runs it', { timeout: 400_000 }, () => {
  const base = mkdtempSync(join(tmpdir(), 'cronplane-embedded-app-'));
  // mkdtemp makes it 0700; a root-run app starts PostgreSQL as "postgres", which must reach the data dir inside.
  chmodSync(base, 0o755);
  const dataDir = join(base, 'data');
  const pgDataDir = embeddedPaths(base, { CRONPLANE_DATA_DIR: dataDir }).dataDir;
  const apps: StartedApp[] = [];
  let appPort = 0;
  let pgPort = 0;
  let app: StartedApp;

  const env = (): Record<string, string | undefined> => ({
    CRONPLANE_DATA_DIR: dataDir,
    EMBEDDED_PG_PORT: String(pgPort),
    // scripts/demo.sh's settings.
    CRONPLANE_EXAMPLE_JOBS: '1',
    PORT: String(appPort),
    HTTP_JOB_ALLOW: `127.0.0.1:${appPort}`,
    // As in a demo: the built-in system job too (startApp leaves it out by default).
    CRONPLANE_SYSTEM_JOBS: '1',
    // The cluster and the credentials come from the data dir, not from the test runner's environment.
    SECRETS_KEY: undefined,
  });

  async function start(extra: Record<string, string | undefined> = {}, port = appPort): Promise<StartedApp> {
    const started = await startApp({ databaseUrl: null, port, env: { ...env(), ...extra }, readyTimeoutMs: 120_000 });
    apps.push(started);
    return started;
  }

  async function api<T>(target: StartedApp, path: string, init: RequestInit = {}): Promise<T> {
    const response = await fetch(`${target.baseUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${target.apiToken}`, ...init.headers },
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    assert.ok(response.ok, `${init.method ?? 'GET'} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  }

  const jobs = async (target: StartedApp) => (await api<{ jobs: JobJson[] }>(target, '/api/jobs?limit=100')).jobs;
  const runsOf = async (target: StartedApp, id: string) => (await api<{ runs: RunJson[] }>(target, `/api/jobs/${id}/runs?limit=100`)).runs;

  /** The safety net: whatever a failed test left, no app and no postmaster survive, and the temp dir goes. */
  function cleanUp(): void {
    const pid = runningPid(pgDataDir);
    try {
      stopClusterSync(pgDataDir, 'immediate');
    } catch {
      // killed below
    }
    if (pid !== null && processAlive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(base, { recursive: true, force: true });
  }

  before(async () => {
    pgPort = await freePort();
    appPort = await freePort();
  });

  after(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    cleanUp();
  });

  test('starts the private cluster in CRONPLANE_DATA_DIR on EMBEDDED_PG_PORT; start-up and /api/health name it', async () => {
    app = await start();
    const health = await api<{ status: string; store: string; scheduler: string }>(app, '/api/health');
    assert.equal(health.status, 'ok');
    assert.equal(health.scheduler, 'running');
    assert.equal(health.store, `postgres (embedded cluster in ${pgDataDir})`);
    const logs = app.logs();
    assert.match(logs, new RegExp(`\\[db\\] created the embedded PostgreSQL cluster in ${escape(pgDataDir)}`), logs);
    assert.match(logs, new RegExp(`\\[db\\] embedded PostgreSQL started on 127\\.0\\.0\\.1:${pgPort} `), logs);
    assert.ok(logs.includes(`[store] using postgres (embedded cluster in ${pgDataDir})`), `start-up prints the store in use:\n${logs}`);
    // The cluster really is there, listening on the configured port, its generated password beside it.
    const pid = runningPid(pgDataDir);
    assert.ok(pid !== null && processAlive(pid), 'a postmaster runs on the temp data dir');
    assert.equal(runningPort(pgDataDir), pgPort);
    assert.ok(existsSync(join(dataDir, 'pg-password')));
  });

  test('creates every example job into the empty database, and they run', async () => {
    const list = await waitFor(
      'the example jobs',
      () => jobs(app),
      (l) => l.filter((j) => j.tags.includes('example')).length >= EXAMPLES.length,
      20_000,
    );
    const examples = list.filter((j) => j.tags.includes('example'));
    assert.deepEqual(examples.map((j) => j.name).sort(), EXAMPLES);
    assert.ok(
      list.some((j) => j.type === 'prune-runs'),
      'and the system job after them',
    );
    assert.ok(app.logs().includes(`[examples] created ${EXAMPLES.length} example jobs`), app.logs());
    assert.doesNotMatch(app.logs(), /\[examples\] could not/);

    const byName = new Map(examples.map((j) => [j.name, j]));
    // The weekday 02:00 report is hours away: run it now. The others run on their schedules (10 s, 5 s, 30 s).
    await api(app, `/api/jobs/${byName.get('nightly-report')!.id}/run`, { method: 'POST' });
    for (const name of EXAMPLES) {
      const wanted = name === 'nightly-report' ? 'manual' : 'schedule';
      const runs = await waitFor(
        `a succeeded ${wanted} run of ${name}`,
        () => runsOf(app, byName.get(name)!.id),
        (r) => r.some((run) => run.status === 'succeeded' && run.trigger === wanted),
        60_000,
      );
      if (name === 'self-health-check') {
        // The SSRF guard let it through with the demo's HTTP_JOB_ALLOW, and the app answered itself.
        const done = runs.find((run) => run.status === 'succeeded')!;
        assert.match(done.output ?? '', new RegExp(`GET http://127\\.0\\.0\\.1:${appPort}/api/health -> 200`));
      }
    }
  });

  test('keeps its data across a restart of the app and of the cluster', async () => {
    const before = await jobs(app);
    const heartbeat = before.find((j) => j.name === 'heartbeat')!;
    const runsBefore = await runsOf(app, heartbeat.id);
    assert.ok(runsBefore.length > 0);
    await app.stop();
    // The cluster outlives the app; stop it too so the next start reads everything back from disk.
    assert.equal(await stopCluster(pgDataDir, 'fast'), true);
    assert.equal(runningPid(pgDataDir), null);

    app = await start();
    const logs = app.logs();
    assert.ok(!logs.includes('[db] created the embedded PostgreSQL cluster'), 'the existing cluster is reused, not re-created');
    assert.match(logs, new RegExp(`\\[db\\] embedded PostgreSQL started on 127\\.0\\.0\\.1:${pgPort} `));
    assert.ok(!logs.includes('[examples] created'), 'a restart does not create the examples again');
    const afterRestart = await jobs(app);
    assert.deepEqual(afterRestart.map((j) => j.id).sort(), before.map((j) => j.id).sort());
    const runIds = new Set((await runsOf(app, heartbeat.id)).map((r) => r.id));
    for (const run of runsBefore.filter((r) => r.status !== 'running' && r.status !== 'claimed'))
      assert.ok(runIds.has(run.id), `run ${run.id} survived the restart`);
    // And the scheduler carries on where it stopped.
    await waitFor(
      'a new heartbeat run',
      () => runsOf(app, heartbeat.id),
      (r) => r.some((run) => !runIds.has(run.id) && run.status === 'succeeded'),
      30_000,
    );
  });

  test('a web-only instance (SCHEDULER_DISABLED=1) reuses the running cluster and prints the store in use too', async () => {
    const web = await start({ SCHEDULER_DISABLED: '1', INSTANCE_ID: 'web-only' }, await freePort());
    const logs = web.logs();
    assert.ok(logs.includes(`[store] using postgres (embedded cluster in ${pgDataDir})`), `start-up prints the store in use:\n${logs}`);
    assert.ok(logs.includes('[scheduler] disabled'), logs);
    assert.ok(!logs.includes('[db] embedded PostgreSQL started'), 'the running cluster is reused');
    const health = await api<{ store: string; scheduler: string }>(web, '/api/health');
    assert.equal(health.scheduler, 'disabled');
    assert.equal(health.store, `postgres (embedded cluster in ${pgDataDir})`);
    assert.equal((await jobs(web)).length, (await jobs(app)).length);
    await web.stop();
  });

  test('afterwards the cluster is stopped (by its PID) and its directory removed', async () => {
    await Promise.all(apps.map((a) => a.stop()));
    const pid = runningPid(pgDataDir);
    assert.ok(pid !== null, 'the cluster outlives the app');
    process.kill(pid, 'SIGINT'); // PostgreSQL's fast shutdown
    await waitFor(
      'the postmaster to exit',
      async () => processAlive(pid),
      (alive) => !alive,
      30_000,
    );
    rmSync(base, { recursive: true, force: true });
    assert.equal(existsSync(base), false);
  });
});
