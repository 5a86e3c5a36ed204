/**
 * Auth on every page and every API route, table-driven, with the tables checked against the file system so a new
 * page or route without an entry fails here:
 * - every dashboard page without a session, or with a forged cookie, redirects to the login; with a signed-out
 *   (revoked) session it does too, which only the page's own requireSession can catch (the proxy checks signatures);
 * - every API route and method without credentials is a 401, except what README says is public: /api/health and
 *   /api/session (sign-in; its GET and DELETE authenticate themselves);
 * - every real handler refuses a well-formed but unknown token, and a revoked session cookie, with a 401.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { loginCookie, startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
type Method = (typeof METHODS)[number];

/** Files named `name` under app/, as URL patterns: route groups dropped, "[id]" kept. */
function routesOnDisk(name: 'page.tsx' | 'route.ts'): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name === name) {
        const segments = relative(join(ROOT, 'app'), dir)
          .split(sep)
          .filter((s) => s !== '' && !/^\(.*\)$/.test(s));
        found.set(`/${segments.join('/')}`, path);
      }
    }
  };
  walk(join(ROOT, 'app'));
  return found;
}

/** Every dashboard page. "/" itself redirects on to the jobs list. */
const PAGES = [
  '/',
  '/overview',
  '/jobs',
  '/jobs/new',
  '/jobs/[id]',
  '/jobs/[id]/edit',
  '/jobs/[id]/delete',
  '/runs',
  '/runs/[id]',
  '/instances',
  '/audit',
  '/alerts',
  '/settings/alerts',
  '/settings/tokens',
  '/settings/channels',
  '/settings/users',
];
/** Pages anyone may see. */
const PUBLIC_PAGES = ['/login'];

/** Every API route (pattern), and the methods it really handles (the others answer 405 once authenticated). */
const API: Record<string, Method[]> = {
  '/api/alerts': ['GET'],
  '/api/alerts/defaults': ['GET', 'PUT'],
  '/api/audit': ['GET'],
  '/api/channels': ['GET', 'POST'],
  '/api/channels/[id]': ['GET', 'PATCH', 'DELETE'],
  '/api/channels/[id]/signing-secret/reveal': ['POST'],
  '/api/channels/[id]/test': ['POST'],
  '/api/events': ['GET'],
  '/api/health': ['GET'],
  '/api/instances': ['GET'],
  '/api/jobs': ['GET', 'POST'],
  '/api/jobs/[id]': ['GET', 'PATCH', 'DELETE'],
  '/api/jobs/[id]/pause': ['POST'],
  '/api/jobs/[id]/resume': ['POST'],
  '/api/jobs/[id]/run': ['POST'],
  '/api/jobs/[id]/runs': ['GET'],
  '/api/jobs/[id]/signing-secret/reveal': ['POST'],
  '/api/jobs/[id]/signing-secret/rotate': ['POST'],
  '/api/openapi.json': ['GET'],
  '/api/runs': ['GET'],
  '/api/runs/[id]': ['GET'],
  '/api/runs/[id]/output': ['GET'],
  '/api/runs/[id]/cancel': ['POST'],
  '/api/session': ['GET', 'POST', 'DELETE'],
  '/api/tokens': ['GET', 'POST'],
  '/api/tokens/[id]': ['DELETE'],
  '/api/users': ['GET', 'POST'],
  '/api/users/[id]': ['PATCH', 'DELETE'],
  '/api/users/[id]/sessions': ['DELETE'],
  // Any other /api path: 404 once authenticated.
  '/api/[...path]': ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
};

let db: TestPostgres;
let app: StartedApp;
let ids: Record<'job' | 'run' | 'user' | 'token' | 'channel', string>;

function concrete(pattern: string): string {
  return pattern
    .replace('/jobs/[id]', `/jobs/${ids.job}`)
    .replace('/runs/[id]', `/runs/${ids.run}`)
    .replace('/users/[id]', `/users/${ids.user}`)
    .replace('/tokens/[id]', `/tokens/${ids.token}`)
    .replace('/channels/[id]', `/channels/${ids.channel}`)
    .replace('[...path]', 'no/such/route');
}

async function request(path: string, method: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${app.baseUrl}${path}`, {
    method,
    headers: { ...(method === 'GET' || method === 'DELETE' ? {} : { 'content-type': 'application/json' }), ...headers },
    body: method === 'GET' || method === 'DELETE' ? undefined : '{}',
    redirect: 'manual',
    signal: AbortSignal.timeout(15_000),
  });
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${app.apiToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

function assertLoginRedirect(response: Response, path: string, withNext: boolean): void {
  assert.ok([302, 303, 307, 308].includes(response.status), `${path}: expected a redirect to the login, got ${response.status}`);
  const location = new URL(response.headers.get('location') ?? '', app.baseUrl);
  assert.equal(location.pathname, '/login', `${path} redirects to ${location.pathname}`);
  if (withNext && path !== '/') assert.equal(location.searchParams.get('next'), path, `${path}: back after signing in`);
}

before(
  async () => {
    db = await startTestPostgres();
    app = await startApp({ databaseUrl: db.url, env: { SCHEDULER_PROCESS_EVERY_MS: '200' } });
    const job = await api<{ id: string }>('POST', '/api/jobs', {
      name: 'auth probe',
      type: 'log',
      payload: { message: 'x' },
      schedule: { kind: 'interval', seconds: 86_400 },
    });
    await api('POST', `/api/jobs/${job.id}/run`);
    let run: { id: string } | undefined;
    for (let i = 0; i < 100 && !run; i++) {
      run = (await api<{ runs: Array<{ id: string }> }>('GET', `/api/jobs/${job.id}/runs?limit=1`)).runs[0];
      if (!run) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(run, 'a run to look at');
    const user = await api<{ id: string }>('POST', '/api/users', {
      username: 'probe-viewer',
      password: 'probe-password-123456',
      role: 'viewer',
    });
    const token = await api<{ id: string }>('POST', '/api/tokens', { name: 'probe token', role: 'viewer' });
    // Never sent to: no request here gets past authentication.
    const channel = await api<{ id: string }>('POST', '/api/channels', {
      name: 'probe channel',
      type: 'slack',
      config: { url: 'https://hooks.example.invalid/services/T0/B0/probe' },
    });
    ids = { job: job.id, run: run.id, user: user.id, token: token.id, channel: channel.id };
  },
  { timeout: 120_000 },
);

after(async () => {
  await app?.stop();
  await db?.stop();
});

describe('the tables cover the app', () => {
  test('every page under app/ is in the page table (or public)', () => {
    assert.deepEqual([...routesOnDisk('page.tsx').keys()].sort(), [...PAGES, ...PUBLIC_PAGES].sort());
  });

  test('every route handler under app/api is in the API table, with the methods it handles', () => {
    const onDisk = routesOnDisk('route.ts');
    assert.deepEqual([...onDisk.keys()].sort(), Object.keys(API).sort());
    for (const [pattern, file] of onDisk) {
      if (pattern === '/api/[...path]') continue;
      const source = readFileSync(file, 'utf8');
      const handled = METHODS.filter((m) => new RegExp(`export const ${m} = apiRoute`).test(source));
      assert.deepEqual(handled, API[pattern], `${pattern}: the methods with a real handler`);
    }
  });
});

describe('pages', () => {
  test('without a session: every page redirects to the login, with the way back', async () => {
    for (const pattern of PAGES) {
      const path = concrete(pattern);
      assertLoginRedirect(await request(path, 'GET'), path, true);
    }
  });

  test('with a forged session cookie: the same', async () => {
    for (const pattern of PAGES) {
      const path = concrete(pattern);
      assertLoginRedirect(await request(path, 'GET', { cookie: 'cronplane_session=forged.value' }), path, true);
    }
  });

  test('the login page itself is public', async () => {
    assert.equal((await request('/login', 'GET')).status, 200);
  });

  test('with a session that was signed out (its cookie still correctly signed): every page still sends to the login', async () => {
    const cookie = await loginCookie(app, 'admin', app.adminPassword);
    // Signed in, the pages answer (a sanity check of the probe itself).
    for (const pattern of PAGES.filter((p) => p !== '/')) {
      const response = await request(concrete(pattern), 'GET', { cookie });
      assert.equal(response.status, 200, `${pattern} signed in`);
      await response.body?.cancel();
    }
    const out = await fetch(`${app.baseUrl}/api/session`, { method: 'DELETE', headers: { cookie, origin: app.baseUrl } });
    assert.equal(out.status, 204);
    for (const pattern of PAGES) {
      const path = concrete(pattern);
      let response = await request(path, 'GET', { cookie });
      if (path === '/') {
        // The home page renders nothing: it sends everyone on to the jobs list, which checks the session.
        assert.equal(response.headers.get('location') && new URL(response.headers.get('location')!, app.baseUrl).pathname, '/jobs');
        response = await request('/jobs', 'GET', { cookie });
      }
      assertLoginRedirect(response, path, false);
    }
  });
});

describe('API routes', () => {
  test('without credentials: 401 for every route and method, but the public ones', async () => {
    for (const pattern of Object.keys(API)) {
      const path = concrete(pattern);
      for (const method of METHODS) {
        const response = await request(path, method);
        const status = response.status;
        const body = await response.text();
        if (pattern === '/api/health') {
          assert.equal(status, method === 'GET' ? 200 : 405, `${method} ${path}`);
        } else if (pattern === '/api/session') {
          // POST is the sign-in itself (here: refused input); the others need a caller.
          const expected = method === 'POST' ? [400, 403, 415] : method === 'GET' || method === 'DELETE' ? [401] : [405];
          assert.ok(expected.includes(status), `${method} ${path}: ${status} ${body}`);
        } else {
          assert.equal(status, 401, `${method} ${path}: ${status} ${body}`);
          assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="cronplane"');
          assert.deepEqual(JSON.parse(body), { error: 'unauthorized' });
        }
      }
    }
  });

  test('a well-formed but unknown bearer token: 401 from every real handler', async () => {
    const authorization = `Bearer cpt_${'A'.repeat(43)}`;
    for (const [pattern, methods] of Object.entries(API)) {
      // /api/health is public, but credentials it is given are checked (they unlock its details).
      if (pattern === '/api/[...path]') continue;
      for (const method of methods) {
        if (pattern === '/api/session' && method === 'POST') continue; // the sign-in
        const response = await request(concrete(pattern), method, { authorization, origin: app.baseUrl });
        assert.equal(response.status, 401, `${method} ${pattern}: ${response.status} ${await response.text()}`);
      }
    }
  });

  test('a signed-out session cookie: 401 from every real handler', async () => {
    const cookie = await loginCookie(app, 'admin', app.adminPassword);
    const out = await fetch(`${app.baseUrl}/api/session`, { method: 'DELETE', headers: { cookie, origin: app.baseUrl } });
    assert.equal(out.status, 204);
    for (const [pattern, methods] of Object.entries(API)) {
      // /api/health is public, but credentials it is given are checked (they unlock its details).
      if (pattern === '/api/[...path]') continue;
      for (const method of methods) {
        if (pattern === '/api/session' && method === 'POST') continue;
        const response = await request(concrete(pattern), method, { cookie, origin: app.baseUrl });
        assert.equal(response.status, 401, `${method} ${pattern}: ${response.status} ${await response.text()}`);
      }
    }
    // The API token still works: the probe did not just break the app.
    assert.equal((await fetch(`${app.baseUrl}/api/jobs`, { headers: { authorization: `Bearer ${app.apiToken}` } })).status, 200);
  });
});
