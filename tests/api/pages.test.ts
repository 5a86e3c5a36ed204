/**
 * Every dashboard page checks the session itself. The layout's check is not enough: Next renders a layout and its
 * page side by side, so a page that relied on it answered a revoked session with a redirect to /login whose body
 * still carried the page's data (job names, instance ids); proxy.ts checks only the cookie's signature. A real
 * PostgreSQL and a real `next start`; the cookies belong to admins, so only the session check stands in the way.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loginCookie, startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

let db: TestPostgres;
let app: StartedApp;
let sql: pg.Client;

const marker = randomBytes(4).toString('hex');
const jobName = `pages-secret-job-${marker}`;
const tokenName = `pages-secret-token-${marker}`;
let jobId = '';
let runId = '';
let adminCookie = '';

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${app.apiToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function adminUser(): Promise<{ id: string; username: string; cookie: string }> {
  const username = `pages-admin-${randomBytes(3).toString('hex')}`;
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  const created = await api('POST', '/api/users', { username, password, role: 'admin' });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  return { id: String(created.json.id), username, cookie: await loginCookie(app, username, password) };
}

/** Each page with what only its rendered content holds (data, not the static title). */
function pages(): Array<{ path: string; shows: string[] }> {
  return [
    { path: '/overview', shows: ['data-testid="runs-chart"'] },
    { path: '/jobs', shows: [jobName] },
    { path: `/jobs/${jobId}`, shows: [jobName] },
    { path: `/jobs/${jobId}/edit`, shows: [jobName] },
    { path: `/jobs/${jobId}/delete`, shows: [jobName] },
    { path: '/jobs/new', shows: ['schedule.kind'] },
    { path: '/runs', shows: [jobName, app.instanceId] },
    { path: `/runs/${runId}`, shows: [jobName, app.instanceId] },
    { path: '/instances', shows: [app.instanceId] },
    { path: '/audit', shows: [jobName] },
    { path: '/settings/users', shows: ['pages-admin-'] },
    { path: '/settings/tokens', shows: [tokenName] },
  ];
}

async function get(path: string, cookie: string): Promise<{ status: number; location: string | null; body: string }> {
  const response = await fetch(`${app.baseUrl}${path}`, { headers: { cookie }, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
  return { status: response.status, location: response.headers.get('location'), body: await response.text() };
}

before(
  async () => {
    db = await startTestPostgres();
    app = await startApp({ databaseUrl: db.url });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    const job = await api('POST', '/api/jobs', {
      name: jobName,
      type: 'log',
      payload: { message: 'hi' },
      schedule: { kind: 'interval', seconds: 3600 },
      paused: true,
    });
    assert.equal(job.status, 201, JSON.stringify(job.json));
    jobId = String(job.json.id);
    assert.equal((await api('POST', `/api/jobs/${jobId}/run`)).status, 202);
    assert.equal((await api('POST', '/api/tokens', { name: tokenName, role: 'viewer' })).status, 201);
    const deadline = Date.now() + 30_000;
    while (!runId && Date.now() < deadline) {
      const runs = (await api('GET', `/api/jobs/${jobId}/runs`)).json.runs as Array<{ id: string; status: string }>;
      if (runs[0] && runs[0].status !== 'running') runId = runs[0].id;
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(runId, 'the run-now run finished');
    adminCookie = (await adminUser()).cookie;
  },
  { timeout: 120_000 },
);

after(
  async () => {
    await sql?.end();
    await app?.stop();
    await db?.stop();
  },
  { timeout: 30_000 },
);

describe('dashboard pages refuse sessions that are no longer valid', () => {
  test('a live admin session sees every page with its data (so the checks below can fail)', { timeout: 60_000 }, async () => {
    for (const page of pages()) {
      const answer = await get(page.path, adminCookie);
      assert.equal(answer.status, 200, `${page.path}: ${answer.status} ${answer.location ?? ''}`);
      for (const text of page.shows) assert.ok(answer.body.includes(text), `${page.path} shows ${text}`);
    }
  });

  const cases: Array<{ what: string; spoil: (user: { id: string }) => Promise<void> }> = [
    {
      what: 'a revoked session (End sessions)',
      spoil: async (user) => assert.equal((await api('DELETE', `/api/users/${user.id}/sessions`)).status, 200),
    },
    {
      what: 'an expired session',
      spoil: async (user) => {
        await sql.query(`UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE user_id = $1`, [user.id]);
      },
    },
    {
      // Disabling through the API also revokes the sessions; here the session stays live and only the user changes.
      what: "a disabled user's live session",
      spoil: async (user) => {
        const changed = await sql.query(`UPDATE users SET disabled = true WHERE id = $1`, [user.id]);
        assert.equal(changed.rowCount, 1);
        const live = await sql.query(
          `SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()`,
          [user.id],
        );
        assert.equal(live.rows[0].n, 1, 'the session itself is still live');
      },
    },
  ];

  for (const { what, spoil } of cases) {
    test(`${what}: every page redirects to /login and shows none of its data`, { timeout: 60_000 }, async () => {
      const user = await adminUser();
      // Live first: the same cookie does read the pages.
      assert.ok((await get('/instances', user.cookie)).body.includes(app.instanceId));
      await spoil(user);
      for (const page of pages()) {
        const answer = await get(page.path, user.cookie);
        assert.ok([302, 303, 307].includes(answer.status), `${page.path}: expected a redirect, got ${answer.status}`);
        assert.equal(new URL(answer.location ?? '', app.baseUrl).pathname, '/login', `${page.path} redirects to /login`);
        for (const secret of [jobName, app.instanceId, tokenName, ...page.shows]) {
          assert.ok(!answer.body.includes(secret), `${page.path} with ${what} leaked ${secret} in its body`);
        }
      }
    });
  }
});
