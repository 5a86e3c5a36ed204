/**
 * CRONPLANE_EXAMPLE_JOBS=1 (lib/examples.ts): two instances seeding one empty database together create each example
 * once and say nothing about the names the other took; an example the app refuses (here the self-health-check,
 * whose 127.0.0.1 URL the SSRF guard refuses without HTTP_JOB_ALLOW) is reported at start-up, not swallowed.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

const EXAMPLES = ['every-5-seconds', 'heartbeat', 'nightly-report', 'self-health-check'];

const dbs: TestPostgres[] = [];
const apps: StartedApp[] = [];

after(
  async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await Promise.all(dbs.map((db) => db.stop()));
  },
  { timeout: 30_000 },
);

async function exampleNames(app: StartedApp): Promise<string[]> {
  const res = await fetch(`${app.baseUrl}/api/jobs?limit=100`, { headers: { authorization: `Bearer ${app.apiToken}` } });
  assert.equal(res.status, 200);
  const { jobs } = (await res.json()) as { jobs: Array<{ name: string; tags: string[] }> };
  return jobs
    .filter((j) => j.tags.includes('example'))
    .map((j) => j.name)
    .sort();
}

async function settle(): Promise<void> {
  // Health answers once register() is through; a moment more for log lines to arrive over the pipe.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
}

test(
  "two instances seeding together: every example once, no complaint about the other instance's names",
  { timeout: 120_000 },
  async () => {
    const db = await startTestPostgres();
    dbs.push(db);
    const env = { CRONPLANE_EXAMPLE_JOBS: '1', HTTP_JOB_ALLOW: '127.0.0.1', SCHEDULER_PROCESS_EVERY_MS: '1000' };
    const started = await Promise.all([startApp({ databaseUrl: db.url, env }), startApp({ databaseUrl: db.url, env })]);
    apps.push(...started);
    await settle();
    assert.deepEqual(await exampleNames(started[0]!), EXAMPLES);
    for (const app of started) assert.doesNotMatch(app.logs(), /\[examples\] could not/, app.logs());
  },
);

test('an example the app refuses is reported by name and reason; the others are still created', { timeout: 120_000 }, async () => {
  const db = await startTestPostgres();
  dbs.push(db);
  const app = await startApp({ databaseUrl: db.url, env: { CRONPLANE_EXAMPLE_JOBS: '1', HTTP_JOB_ALLOW: '' } });
  apps.push(app);
  await settle();
  assert.deepEqual(
    await exampleNames(app),
    EXAMPLES.filter((name) => name !== 'self-health-check'),
  );
  assert.match(app.logs(), /\[examples\] could not create the example job "self-health-check": payload\.url: .*HTTP_JOB_ALLOW/);
  assert.match(app.logs(), /\[examples\] created 3 example jobs/);
});
