/**
 * What a browser and a hostile site see: security headers on pages and API answers, cross-site server
 * action posts refused, secrets masked in API answers, internal targets refused at the API boundary.
 * A real PostgreSQL, a real `next start` from the build in NEXT_DIST_DIR.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loginCookie, startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

let db: TestPostgres;
let app: StartedApp;
let adminCookie = '';

before(
  async () => {
    db = await startTestPostgres();
    // No HTTP_JOB_ALLOW: the default policy is what is tested here.
    app = await startApp({ databaseUrl: db.url, env: { HTTP_JOB_ALLOW: undefined } });
    adminCookie = await loginCookie(app, 'admin', app.adminPassword);
  },
  { timeout: 120_000 },
);

after(
  async () => {
    await app?.stop();
    await db?.stop();
  },
  { timeout: 30_000 },
);

function sessionCookie(): string {
  return adminCookie;
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, any>; headers: Headers }> {
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${app.apiToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, any>) : {}, headers: response.headers };
}

function assertCommonHeaders(headers: Headers, where: string): void {
  assert.equal(headers.get('x-content-type-options'), 'nosniff', where);
  assert.equal(headers.get('referrer-policy'), 'same-origin', where);
  assert.match(headers.get('permissions-policy') ?? '', /camera=\(\)/, where);
  assert.match(headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, where);
}

describe('security headers', () => {
  test('pages: a nonce CSP without unsafe-inline scripts, used by every inline script of the page', async () => {
    const response = await fetch(`${app.baseUrl}/jobs`, { headers: { cookie: sessionCookie() }, signal: AbortSignal.timeout(15_000) });
    assert.equal(response.status, 200);
    assertCommonHeaders(response.headers, '/jobs');
    const csp = response.headers.get('content-security-policy') ?? '';
    const nonce = /script-src 'self' 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    assert.ok(nonce, csp);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-(inline|eval)/);
    const html = await response.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1] ?? '');
    assert.ok(scripts.length > 0);
    for (const attrs of scripts) assert.ok(attrs.includes(`nonce="${nonce}"`), `script without the nonce: <script${attrs}>`);
    // A fresh nonce per request.
    const again = await fetch(`${app.baseUrl}/jobs`, { headers: { cookie: sessionCookie() }, signal: AbortSignal.timeout(15_000) });
    await again.text();
    assert.notEqual(again.headers.get('content-security-policy'), csp);
  });

  test('the login page, redirects, API answers (also 401s) and static files carry the headers; HSTS only over https', async () => {
    const login = await fetch(`${app.baseUrl}/login`, { signal: AbortSignal.timeout(15_000) });
    assertCommonHeaders(login.headers, '/login');
    assert.equal(login.headers.get('strict-transport-security'), null);
    const html = await login.text();

    const redirect = await fetch(`${app.baseUrl}/jobs`, { redirect: 'manual', signal: AbortSignal.timeout(15_000) });
    assert.equal(redirect.status, 307);
    assertCommonHeaders(redirect.headers, 'redirect');

    for (const [path, headers] of [
      ['/api/jobs', { authorization: `Bearer ${app.apiToken}` }],
      ['/api/jobs', {}],
      ['/api/health', {}],
    ] as const) {
      const response = await fetch(`${app.baseUrl}${path}`, { headers, signal: AbortSignal.timeout(15_000) });
      await response.text();
      assertCommonHeaders(response.headers, path);
      assert.equal(response.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
    }

    const asset = /(\/_next\/static\/[^"]+\.js)/.exec(html)?.[1];
    assert.ok(asset, 'the login page loads a script');
    const file = await fetch(`${app.baseUrl}${asset}`, { signal: AbortSignal.timeout(15_000) });
    await file.arrayBuffer();
    assert.equal(file.headers.get('x-content-type-options'), 'nosniff');

    const https = await fetch(`${app.baseUrl}/login`, { headers: { 'x-forwarded-proto': 'https' }, signal: AbortSignal.timeout(15_000) });
    await https.text();
    assert.match(https.headers.get('strict-transport-security') ?? '', /max-age=\d+/);
  });

  test("unusual methods: unknown ones 501, TRACE 405 with the resource's Allow, methods a page does not take 405; the headers, no stack trace", async () => {
    // fetch cannot send TRACE (the Fetch standard forbids it, which is also why Next answered it with a 500).
    const send = (method: string, path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: Headers; text: string }>((resolve, reject) => {
        const request = httpRequest(`${app.baseUrl}${path}`, { method, headers, agent: false, timeout: 15_000 }, (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            const all = new Headers();
            for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') all.set(name, value);
            resolve({ status: response.statusCode ?? 0, headers: all, text });
          });
        });
        request.on('error', reject);
        request.end();
      });
    const logBefore = app.logs().length;
    const cases: Array<[string, string, Record<string, string>, number, string | null]> = [];
    for (const path of ['/', '/jobs', '/login', '/no/such/page', '/api/jobs', '/api/health', '/api/session', '/api/nope']) {
      for (const auth of [{}, { cookie: sessionCookie() }, { authorization: `Bearer ${app.apiToken}` }] as Array<Record<string, string>>) {
        const traceAllow =
          path === '/api/jobs' ? 'GET, POST' : path === '/api/health' ? 'GET' : path === '/api/session' ? 'GET, POST, DELETE' : null;
        if (path === '/api/nope') cases.push(['TRACE', path, auth, 404, null]);
        else cases.push(['TRACE', path, auth, 405, path.startsWith('/api/') ? traceAllow : 'GET, HEAD, POST']);
        cases.push(['PROPFIND', path, auth, 501, null]);
        if (!path.startsWith('/api/'))
          for (const method of ['PUT', 'PATCH', 'DELETE', 'OPTIONS']) cases.push([method, path, auth, 405, 'GET, HEAD, POST']);
      }
    }
    for (const [method, path, headers, status, allow] of cases) {
      const answer = await send(method, path, headers);
      const where = `${method} ${path} ${Object.keys(headers).join()}`;
      assert.equal(answer.status, status, `${where}: ${answer.text.slice(0, 200)}`);
      assertCommonHeaders(answer.headers, where);
      assert.equal(answer.headers.get('x-frame-options'), 'DENY', where);
      assert.equal(answer.headers.get('allow'), allow, where);
      const expected = status === 501 ? /not implemented/ : status === 404 ? /no such endpoint/ : /not allowed/;
      if (path.startsWith('/api/')) assert.match(JSON.parse(answer.text).error, expected, where);
      else assert.match(answer.text, expected, where);
    }
    const trace = await send('TRACE', '/login', { 'x-forwarded-proto': 'https' });
    assert.match(trace.headers.get('strict-transport-security') ?? '', /max-age=\d+/);
    // Routed methods still work, and API routes keep their own 405 with the route's Allow.
    assert.equal((await send('GET', '/login')).status, 200);
    const put = await send('PUT', '/api/health');
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET');
    // OPTIONS lists what the route really takes (Next's own answer listed its 405 stubs too).
    const options = await send('OPTIONS', '/api/jobs');
    assert.equal(options.status, 204);
    assert.equal(options.headers.get('allow'), 'GET, POST, HEAD, OPTIONS');
    const log = app.logs().slice(logBefore);
    assert.doesNotMatch(log, /HTTP method is unsupported|TypeError|\n\s+at /, log);
  });
});

describe('sign-in next', () => {
  test('only a same-origin path survives; a CR/LF in it is no longer a 500', async () => {
    const go = async (next: string) => {
      const response = await fetch(`${app.baseUrl}/login?next=${encodeURIComponent(next)}`, {
        headers: { cookie: sessionCookie() },
        redirect: 'manual',
        signal: AbortSignal.timeout(15_000),
      });
      await response.text();
      return { status: response.status, location: response.headers.get('location') };
    };
    for (const next of [
      '/\r\n/evil.example',
      '/jobs\r\nSet-Cookie: x=1',
      '/\t/evil.example',
      '/\\\t/evil.example',
      '/\\evil.example',
      '//evil.example',
      '/%2F%2Fevil.example',
      '/.//evil.example',
      'https://evil.example',
    ]) {
      const answer = await go(next);
      assert.equal(answer.status, 307, JSON.stringify(next));
      assert.equal(new URL(answer.location ?? '', app.baseUrl).href, `${app.baseUrl}/`, JSON.stringify(next));
    }
    const kept = await go('/jobs?tag=x');
    assert.equal(kept.status, 307);
    assert.equal(new URL(kept.location ?? '', app.baseUrl).href, `${app.baseUrl}/jobs?tag=x`);
  });
});

describe('cross-site requests', () => {
  function actionId(name: string): string {
    const manifest = JSON.parse(
      readFileSync(join(process.env.NEXT_DIST_DIR || '.next', 'server', 'server-reference-manifest.json'), 'utf8'),
    ) as {
      node: Record<string, { exportedName?: string }>;
    };
    const id = Object.entries(manifest.node).find(([, entry]) => entry.exportedName === name)?.[0];
    assert.ok(id, `server action ${name} in the build`);
    return id;
  }

  async function callPause(jobId: string, origin: string): Promise<number> {
    const response = await fetch(`${app.baseUrl}/jobs/${jobId}`, {
      method: 'POST',
      headers: {
        cookie: sessionCookie(),
        origin,
        'next-action': actionId('pauseJobAction'),
        'content-type': 'text/plain;charset=UTF-8',
        accept: 'text/x-component',
      },
      body: JSON.stringify([jobId]),
      redirect: 'manual',
      signal: AbortSignal.timeout(15_000),
    });
    await response.text();
    return response.status;
  }

  test('a server action posted from another origin does nothing; the same call from our origin works', async () => {
    const job = await api('POST', '/api/jobs', {
      name: `csrf-${randomBytes(3).toString('hex')}`,
      type: 'log',
      payload: { message: 'x' },
      schedule: { kind: 'interval', seconds: 3600 },
    });
    assert.equal(job.status, 201);
    const status = await callPause(job.json.id, 'http://evil.example');
    assert.ok(status >= 400, `cross-site action answered ${status}`);
    assert.equal((await api('GET', `/api/jobs/${job.json.id}`)).json.paused, false, 'the cross-site post paused the job');
    await callPause(job.json.id, app.baseUrl);
    assert.equal((await api('GET', `/api/jobs/${job.json.id}`)).json.paused, true, 'the same-origin post did not pause the job');
  });

  test('cookie-authenticated API mutations from another origin get 403', async () => {
    const response = await fetch(`${app.baseUrl}/api/jobs`, {
      method: 'POST',
      headers: { cookie: sessionCookie(), origin: 'http://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'csrf-api', type: 'log', payload: { message: 'x' }, schedule: { kind: 'interval', seconds: 60 } }),
      signal: AbortSignal.timeout(15_000),
    });
    assert.equal(response.status, 403);
    assert.equal((await api('GET', '/api/jobs?search=csrf-api')).json.jobs.length, 0);
  });

  test('the Origin must match in scheme, host and port: the same host over https:// or on another port gets 403', async () => {
    const post = async (origin: string, name: string) => {
      const response = await fetch(`${app.baseUrl}/api/jobs`, {
        method: 'POST',
        headers: { cookie: sessionCookie(), origin, 'content-type': 'application/json' },
        body: JSON.stringify({ name, type: 'log', payload: { message: 'x' }, schedule: { kind: 'interval', seconds: 60 }, paused: true }),
        signal: AbortSignal.timeout(15_000),
      });
      await response.text();
      return response.status;
    };
    const port = Number(new URL(app.baseUrl).port);
    assert.equal(await post(app.baseUrl.replace(/^http:/, 'https:'), 'csrf-scheme'), 403);
    assert.equal(await post(`http://127.0.0.1:${port + 1}`, 'csrf-port'), 403);
    for (const name of ['csrf-scheme', 'csrf-port']) assert.equal((await api('GET', `/api/jobs?search=${name}`)).json.jobs.length, 0, name);
    assert.equal(await post(app.baseUrl, 'same-origin-ok'), 201);
  });
});

describe('job payloads at the API', () => {
  test('internal targets are refused with a field message on payload.url', async () => {
    for (const url of [
      'http://127.0.0.1:8080/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/',
      'http://localhost/',
      'http://10.0.0.7/',
    ]) {
      const answer = await api('POST', '/api/jobs', {
        name: `ssrf-${randomBytes(3).toString('hex')}`,
        type: 'http',
        payload: { url },
        schedule: { kind: 'interval', seconds: 60 },
      });
      assert.equal(answer.status, 400, url);
      const issue = (answer.json.issues as Array<{ path: string; message: string }>).find((i) => i.path === 'payload.url');
      assert.match(issue?.message ?? '', /HTTP_JOB_ALLOW/, url);
    }
  });

  test('header values with CR, LF or another control character: 400 at the header field on create and on edit, nothing saved', async () => {
    const name = `crlf-${randomBytes(3).toString('hex')}`;
    const job = (headers: Record<string, string>) => ({
      name,
      type: 'http',
      payload: { url: 'https://example.com/hook', headers },
      schedule: { kind: 'interval', seconds: 3600 },
      paused: true,
    });
    for (const value of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'bell\u0007']) {
      for (const header of ['X-Trace', 'Authorization']) {
        const answer = await api('POST', '/api/jobs', job({ [header]: value }));
        assert.equal(answer.status, 400, JSON.stringify(value));
        assert.deepEqual(answer.json.issues, [
          {
            path: `payload.headers.${header}`,
            message: 'header value must not contain control characters (line breaks CR or LF, NUL, ...); a tab is allowed',
          },
        ]);
      }
    }
    assert.equal((await api('GET', `/api/jobs?search=${name}`)).json.jobs.length, 0);
    const created = await api('POST', '/api/jobs', job({ 'X-Trace': 'a\tb', Authorization: 'Bearer abcdefghijklmnop1234' }));
    assert.equal(created.status, 201);
    const edited = await api('PATCH', `/api/jobs/${created.json.id}`, {
      type: 'http',
      payload: { url: 'https://example.com/hook', headers: { 'X-Trace': 'ok\r\nX-Injected: 1', Authorization: '••••1234' } },
    });
    assert.equal(edited.status, 400);
    assert.deepEqual(
      edited.json.issues.map((issue: { path: string }) => issue.path),
      ['payload.headers.X-Trace'],
    );
    assert.deepEqual((await api('GET', `/api/jobs/${created.json.id}`)).json.payload.headers, {
      'X-Trace': 'a\tb',
      Authorization: '••••1234',
    });
    await api('DELETE', `/api/jobs/${created.json.id}`);
  });

  test('secret headers are masked in every answer and kept when the masked value is sent back', async () => {
    const created = await api('POST', '/api/jobs', {
      name: `secret-${randomBytes(3).toString('hex')}`,
      type: 'http',
      payload: { url: 'https://example.com/hook', headers: { Authorization: 'Bearer abcdefghijklmnop1234', Cookie: 'sid=xyz' } },
      schedule: { kind: 'interval', seconds: 3600 },
      paused: true,
    });
    assert.equal(created.status, 201);
    const expected = { Authorization: '••••1234', Cookie: '••••' };
    assert.deepEqual(created.json.payload.headers, expected);
    assert.deepEqual((await api('GET', `/api/jobs/${created.json.id}`)).json.payload.headers, expected);
    const listed = (await api('GET', `/api/jobs?search=${encodeURIComponent(created.json.name)}`)).json.jobs[0];
    assert.deepEqual(listed.payload.headers, expected);
    const edited = await api('PATCH', `/api/jobs/${created.json.id}`, {
      type: 'http',
      payload: { ...created.json.payload, body: 'changed' },
    });
    assert.equal(edited.status, 200);
    assert.deepEqual(edited.json.payload.headers, expected);
    const page = await fetch(`${app.baseUrl}/jobs/${created.json.id}/edit`, {
      headers: { cookie: sessionCookie() },
      signal: AbortSignal.timeout(15_000),
    });
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.ok(!html.includes('abcdefghijklmnop') && !html.includes('sid=xyz'), 'the edit page shows a secret');
    const detail = await (
      await fetch(`${app.baseUrl}/jobs/${created.json.id}`, { headers: { cookie: sessionCookie() }, signal: AbortSignal.timeout(15_000) })
    ).text();
    assert.ok(!detail.includes('abcdefghijklmnop') && !detail.includes('sid=xyz'), 'the job page shows a secret');
    assert.ok(!detail.includes('enc:v1:'), 'the job page shows ciphertext');
  });
});
