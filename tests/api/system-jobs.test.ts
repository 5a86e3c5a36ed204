/**
 * Start-up creates the built-in retention job as an ordinary, visible job — once, even when two
 * instances start together — and CRONPLANE_SYSTEM_JOBS=0 leaves it out.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

const dbs: TestPostgres[] = [];
const apps: StartedApp[] = [];

after(
  async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await Promise.all(dbs.map((db) => db.stop()));
  },
  { timeout: 30_000 },
);

interface JobList {
  jobs: Array<{ name: string; type: string; tags: string[]; paused: boolean; nextRunAt: string | null; schedule: { kind: string } }>;
}

async function jobNames(app: StartedApp): Promise<JobList['jobs']> {
  const res = await fetch(`${app.baseUrl}/api/jobs?limit=200`, { headers: { authorization: `Bearer ${app.apiToken}` } });
  assert.equal(res.status, 200);
  return ((await res.json()) as JobList).jobs;
}

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    value = await read();
  }
  return value;
}

test('two instances starting together create the prune-runs system job exactly once', { timeout: 120_000 }, async () => {
  const db = await startTestPostgres();
  dbs.push(db);
  const env = { CRONPLANE_SYSTEM_JOBS: '1' };
  apps.push(...(await Promise.all([startApp({ databaseUrl: db.url, env }), startApp({ databaseUrl: db.url, env })])));
  const [a, b] = apps.slice(-2) as [StartedApp, StartedApp];

  const jobs = await waitFor(
    () => jobNames(a),
    (list) => list.length > 0,
    15_000,
  );
  const system = jobs.filter((job) => job.type === 'prune-runs');
  assert.equal(system.length, 1, `one prune-runs job, got ${JSON.stringify(jobs.map((j) => j.name))}`);
  const [prune] = system;
  assert.ok(prune?.tags.includes('system'));
  assert.equal(prune?.paused, false);
  assert.equal(prune?.schedule.kind, 'cron');
  assert.ok(prune?.nextRunAt && Date.parse(prune.nextRunAt) > Date.now(), 'scheduled in the future');
  // The other instance sees the same single job.
  assert.deepEqual((await jobNames(b)).filter((job) => job.type === 'prune-runs').length, 1);
});

test('CRONPLANE_SYSTEM_JOBS=0: no system job is created', { timeout: 120_000 }, async () => {
  const db = await startTestPostgres();
  dbs.push(db);
  const app = await startApp({ databaseUrl: db.url, env: { CRONPLANE_SYSTEM_JOBS: '0' } });
  apps.push(app);
  // Start-up has finished once health answers; give the tail of register() a moment anyway.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  assert.deepEqual(await jobNames(app), []);
});
