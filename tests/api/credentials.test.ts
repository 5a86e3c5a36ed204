/**
 * Generated credentials in real apps: two instances started at once with no ADMIN_PASSWORD / API_TOKEN /
 * SESSION_SECRET share one .data/credentials.json, print it once, and both accept its token and sessions.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

let db: TestPostgres | undefined;
const apps: StartedApp[] = [];
const dataDir = mkdtempSync(join(tmpdir(), 'cronplane-creds-'));

after(
  async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await db?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  },
  { timeout: 30_000 },
);

test('two instances, no configured secrets: one generated set, printed once, accepted by both', { timeout: 120_000 }, async () => {
  db = await startTestPostgres();
  const env = {
    ADMIN_PASSWORD: undefined,
    API_TOKEN: undefined,
    SESSION_SECRET: undefined,
    CRONPLANE_DATA_DIR: dataDir,
    SCHEDULER_DISABLED: '1',
  };
  apps.push(...(await Promise.all([startApp({ databaseUrl: db.url, env }), startApp({ databaseUrl: db.url, env })])));
  const [a, b] = apps as [StartedApp, StartedApp];

  // Both hit an authenticated route at the same moment, whether or not start-up already created the file.
  const unauth = await Promise.all([a, b].map((app) => fetch(`${app.baseUrl}/api/jobs`)));
  assert.deepEqual(
    unauth.map((r) => r.status),
    [401, 401],
  );

  const file = join(dataDir, 'credentials.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const stored = JSON.parse(readFileSync(file, 'utf8')) as { adminPassword: string; apiToken: string; sessionSecret: string };
  for (const app of [a, b]) {
    const ok = await fetch(`${app.baseUrl}/api/jobs`, { headers: { authorization: `Bearer ${stored.apiToken}` } });
    assert.equal(ok.status, 200);
  }
  const printed = a.logs().split(stored.apiToken).length - 1 + (b.logs().split(stored.apiToken).length - 1);
  assert.equal(printed, 1, 'the token is printed exactly once across both instances');
  assert.ok((a.logs() + b.logs()).includes(stored.adminPassword));
  assert.ok(!(a.logs() + b.logs()).includes(stored.sessionSecret), 'the session secret is never printed');
});
