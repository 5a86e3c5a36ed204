/**
 * Unusual methods: which are refused and how (lib/http-methods.ts), and the Node server's guard for the ones Next cannot
 * represent as a fetch Request (lib/method-guard.ts), against a plain http.Server whose handler builds a Request as
 * Next does. The same against a real `next start`: tests/api/security.test.ts.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { API_ROUTES, apiOptions, apiRouteMethods, methodRefusal } from '@/lib/http-methods';
import { openApiDocument } from '@/lib/api/openapi';
import { guardUnsupportedMethods } from '@/lib/method-guard';

describe('methodRefusal', () => {
  test('routed methods pass on /api (the routes answer their own 405s); pages take GET, HEAD and POST', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE']) {
      assert.equal(methodRefusal(method, '/api/jobs'), null, method);
      assert.equal(methodRefusal(method, '/api'), null, method);
    }
    for (const method of ['GET', 'HEAD', 'POST']) assert.equal(methodRefusal(method, '/jobs'), null, method);
  });

  test('routed methods a page does not take: 405 with Allow', () => {
    for (const method of ['PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      for (const path of ['/', '/jobs', '/login', '/no/such/page']) {
        const refusal = methodRefusal(method, path);
        assert.equal(refusal?.status, 405, `${method} ${path}`);
        assert.equal(refusal?.allow, 'GET, HEAD, POST');
        assert.match(refusal?.contentType ?? '', /^text\/plain/);
      }
    }
  });

  test('methods no route implements and no standard defines: 501 everywhere, JSON under /api', () => {
    for (const method of ['TRACK', 'PROPFIND', 'MKCOL', 'LOCK', 'SEARCH', 'trace', undefined]) {
      const page = methodRefusal(method, '/jobs');
      assert.equal(page?.status, 501, `${method} /jobs`);
      assert.equal(page?.allow, undefined);
      const api = methodRefusal(method, '/api/jobs', () => ['GET', 'POST']);
      assert.equal(api?.status, 501, `${method} /api/jobs`);
      assert.match(api?.contentType ?? '', /^application\/json/);
      assert.match(JSON.parse(api?.body ?? '{}').error, /not implemented/);
    }
  });

  test("TRACE and QUERY, standard methods no resource takes: 405 with the resource's Allow (a page's, an API route's), 404 where no route is", () => {
    const query = methodRefusal('QUERY', '/api/jobs/x/runs');
    assert.equal(query?.status, 405);
    assert.equal(query?.allow, 'GET');
    assert.equal(methodRefusal('QUERY', '/jobs')?.status, 405);
    const page = methodRefusal('TRACE', '/jobs');
    assert.equal(page?.status, 405);
    assert.equal(page?.allow, 'GET, HEAD, POST');
    assert.match(page?.body ?? '', /not allowed/);
    const routes = (path: string) => (path === '/api/jobs' ? ['GET', 'POST'] : null);
    const api = methodRefusal('TRACE', '/api/jobs', routes);
    assert.equal(api?.status, 405);
    assert.equal(api?.allow, 'GET, POST');
    assert.deepEqual(JSON.parse(api?.body ?? '{}'), { error: 'method TRACE not allowed; use GET, POST' });
    const missing = methodRefusal('TRACE', '/api/nope', routes);
    assert.equal(missing?.status, 404);
    assert.equal(missing?.allow, undefined);
    assert.match(JSON.parse(missing?.body ?? '{}').error, /no such endpoint/);
  });

  test("the API's routes are the document's paths with their methods (the document's are the route files')", () => {
    const documented = Object.fromEntries(
      Object.entries(openApiDocument().paths as Record<string, Record<string, unknown>>).map(([path, item]) => [
        path,
        Object.keys(item).map((method) => method.toUpperCase()),
      ]),
    );
    assert.deepEqual(API_ROUTES, documented);
  });

  test("OPTIONS on the API: 204 with the route's real Allow (not its 405 stubs), 404 for an unknown path; nothing else", () => {
    assert.deepEqual(apiOptions('OPTIONS', '/api/jobs/x'), { status: 204, allow: 'GET, PATCH, DELETE, HEAD, OPTIONS', body: null });
    assert.deepEqual(apiOptions('OPTIONS', '/api/tokens/x'), { status: 204, allow: 'DELETE, OPTIONS', body: null });
    assert.equal(apiOptions('OPTIONS', '/api/nope')?.status, 404);
    assert.equal(apiOptions('GET', '/api/jobs'), null);
    assert.equal(apiOptions('OPTIONS', '/jobs'), null);
  });

  test("the API's routes by path: every path template, trailing slash or not", () => {
    assert.deepEqual(apiRouteMethods('/api/jobs'), ['GET', 'POST']);
    assert.deepEqual(apiRouteMethods('/api/jobs/'), ['GET', 'POST']);
    assert.deepEqual(apiRouteMethods('/api/jobs/0f1e/runs'), ['GET']);
    assert.deepEqual(apiRouteMethods('/api/jobs/x'), ['GET', 'PATCH', 'DELETE']);
    assert.deepEqual(apiRouteMethods('/api/health'), ['GET']);
    assert.equal(apiRouteMethods('/api/nope'), null);
    assert.equal(apiRouteMethods('/api/jobs/a/b/c'), null);
  });
});

describe('the server guard', () => {
  let server: http.Server;
  let port = 0;
  const failures: string[] = [];

  before(async () => {
    guardUnsupportedMethods();
    guardUnsupportedMethods(); // idempotent
    // What Next does with every request: a fetch Request (it throws for TRACE and TRACK), then the app.
    server = http.createServer((req, res) => {
      try {
        new Request(`http://localhost${req.url}`, { method: req.method });
        res.end(`routed ${req.method}`);
      } catch (err) {
        failures.push(String(err));
        res.statusCode = 500;
        res.end('Internal Server Error');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function send(method: string, path: string, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
    return new Promise((resolve, reject) => {
      const request = http.request({ host: '127.0.0.1', port, method, path, agent: false }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text }));
      });
      request.on('error', reject);
      request.end(body);
    });
  }

  test("TRACE: 405 with the resource's Allow and the security headers, never reaching the handler (Node itself answers TRACK with 400)", async () => {
    for (const method of ['TRACE']) {
      for (const [path, body] of [
        ['/', undefined],
        ['/jobs', 'a body'],
        ['/api/jobs', undefined],
        ['/api/health', '{}'],
        ['/_next/static/x.js', undefined],
        ['/x?y=1', undefined],
      ] as const) {
        const answer = await send(method, path, body);
        assert.equal(answer.status, 405, `${method} ${path}`);
        assert.equal(answer.headers.allow, path === '/api/jobs' ? 'GET, POST' : path === '/api/health' ? 'GET' : 'GET, HEAD, POST');
        assert.equal(answer.headers['x-content-type-options'], 'nosniff');
        assert.equal(answer.headers['x-frame-options'], 'DENY');
        assert.equal(answer.headers['referrer-policy'], 'same-origin');
        assert.match(String(answer.headers['content-security-policy']), /frame-ancestors 'none'/);
        assert.equal(answer.headers['cache-control'], 'no-store');
        if (path.startsWith('/api/'))
          assert.deepEqual(JSON.parse(answer.text), { error: `method ${method} not allowed; use ${answer.headers.allow}` });
        else assert.equal(answer.text, `method ${method} not allowed; use GET, HEAD, POST.`);
      }
    }
    assert.deepEqual(failures, []);
  });

  test('other methods go on to the server as before', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PROPFIND']) {
      const answer = await send(method, '/jobs');
      assert.equal(answer.status, 200, method);
      assert.equal(answer.text, `routed ${method}`);
    }
  });
});
