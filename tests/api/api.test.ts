/**
 * The REST API end to end: a real PostgreSQL, a real `next start` from the build in NEXT_DIST_DIR.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

let db: TestPostgres;
let app: StartedApp;

before(
  async () => {
    db = await startTestPostgres();
    app = await startApp({ databaseUrl: db.url });
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

interface CallOptions {
  body?: unknown;
  /** Raw body text (sent as is). */
  raw?: string;
  token?: string | null;
  headers?: Record<string, string>;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // Tests read fields of many shapes; each assertion checks what it reads.
  json: Record<string, any>;
}

async function call(method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? app.apiToken : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !('content-type' in headers)) headers['content-type'] = 'application/json';
  const response = await fetch(`${app.baseUrl}${path}`, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  let json: Record<string, any> = {};
  if (text && (response.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(text) as Record<string, any>;
  return { status: response.status, headers: response.headers, text, json };
}

function expectStatus(answer: Answer, status: number): void {
  assert.equal(answer.status, status, `expected ${status}, got ${answer.status}: ${answer.text.slice(0, 500)}`);
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let counter = 0;
function logJob(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    name: `job ${counter} ${randomUUID().slice(0, 8)}`,
    type: 'log',
    payload: { message: 'hello' },
    schedule: { kind: 'interval', seconds: 3600 },
    ...overrides,
  };
}

async function createJob(overrides: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const answer = await call('POST', '/api/jobs', { body: logJob(overrides) });
  expectStatus(answer, 201);
  return answer.json;
}

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('health', () => {
  test('public: only the status a load balancer needs; no instance, host, PID, store or data directory', async () => {
    const answer = await call('GET', '/api/health', { token: null });
    expectStatus(answer, 200);
    assert.deepEqual(answer.json, { status: 'ok' });
    for (const key of ['instanceId', 'store', 'scheduler', 'dispatch', 'error', 'host', 'hostname', 'pid', 'dataDir'])
      assert.equal(key in answer.json, false, `no ${key} without credentials`);
    assert.ok(!answer.text.includes(app.instanceId), 'the instance id (host name and PID) is not in it');
  });

  test('with credentials (a token of any role, or a session): the details, leaking no secret; wrong ones are a 401', async () => {
    const created = await call('POST', '/api/tokens', { body: { name: 'health viewer', role: 'viewer' } });
    expectStatus(created, 201);
    const viewerToken = created.json.secret as string;
    const signedIn = await fetch(`${app.baseUrl}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: app.adminPassword }),
    });
    assert.equal(signedIn.status, 200);
    const cookie = (signedIn.headers.get('set-cookie') ?? '').split(';')[0]!;
    for (const [label, options] of [
      ['API_TOKEN', {}],
      ['a viewer token', { token: viewerToken }],
      ['a session', { token: null, headers: { cookie } }],
    ] as Array<[string, CallOptions]>) {
      const answer = await call('GET', '/api/health', options);
      expectStatus(answer, 200);
      assert.equal(answer.json.status, 'ok', label);
      assert.equal(answer.json.instanceId, app.instanceId, label);
      assert.match(answer.json.store, /postgres/, label);
      assert.equal(typeof answer.json.scheduler, 'string', label);
      assert.ok('dispatch' in answer.json, label);
      const password = new URL(db.url).password;
      for (const secret of [app.apiToken, app.adminPassword, db.url, ...(password ? [password] : [])]) {
        assert.ok(!answer.text.includes(secret), 'health must not reveal secrets');
      }
    }
    const wrong = await call('GET', '/api/health', { token: `cpt_${'A'.repeat(43)}` });
    expectStatus(wrong, 401);
    assert.equal('instanceId' in wrong.json, false);
  });

  test('a database that is down answers 503 degraded, not a crash', { timeout: 120_000 }, async () => {
    const dead = await startTestPostgres();
    const deadApp = await startApp({ databaseUrl: dead.url, env: { SCHEDULER_DISABLED: '1' } });
    try {
      await dead.stop(); // drops the database under the running app
      const answer = await waitFor('health to degrade', async () => {
        const a = await fetch(`${deadApp.baseUrl}/api/health`, { signal: AbortSignal.timeout(15_000) });
        return a.status === 503 ? a : null;
      });
      assert.deepEqual(await answer.json(), { status: 'degraded' }, 'the public answer: only the status');
      // With the env token (which needs no database): the details, the error without the URL.
      const detailed = await fetch(`${deadApp.baseUrl}/api/health`, { headers: { authorization: `Bearer ${deadApp.apiToken}` } });
      assert.equal(detailed.status, 503);
      const body = (await detailed.json()) as Record<string, unknown>;
      assert.equal(body.status, 'degraded');
      assert.equal(body.instanceId, deadApp.instanceId);
      assert.equal(body.error, 'database unreachable');
      assert.ok(!JSON.stringify(body).includes(dead.url));
      // The API says "unavailable" rather than failing opaquely, and the process is still up.
      const jobs = await fetch(`${deadApp.baseUrl}/api/jobs`, { headers: { authorization: `Bearer ${deadApp.apiToken}` } });
      assert.ok(jobs.status === 503 || jobs.status === 500, `jobs answered ${jobs.status}`);
      assert.equal((await fetch(`${deadApp.baseUrl}/api/health`)).status, 503);
    } finally {
      await deadApp.stop();
    }
  });
});

describe('authentication', () => {
  const protectedRoutes: Array<[string, string]> = [
    ['GET', '/api/jobs'],
    ['POST', '/api/jobs'],
    ['GET', `/api/jobs/${randomUUID()}`],
    ['PATCH', `/api/jobs/${randomUUID()}`],
    ['DELETE', `/api/jobs/${randomUUID()}`],
    ['POST', `/api/jobs/${randomUUID()}/pause`],
    ['POST', `/api/jobs/${randomUUID()}/resume`],
    ['POST', `/api/jobs/${randomUUID()}/run`],
    ['GET', `/api/jobs/${randomUUID()}/runs`],
    ['GET', '/api/instances'],
    ['GET', '/api/openapi.json'],
    ['GET', '/api/nope'],
  ];

  test('every protected route: 401 {"error":"unauthorized"} without a token, with a wrong one, with another scheme', async () => {
    for (const [method, path] of protectedRoutes) {
      for (const headers of [
        {} as Record<string, string>,
        { authorization: `Bearer ${app.apiToken}x` },
        { authorization: `Basic ${app.apiToken}` },
      ]) {
        const answer = await call(method, path, { token: null, headers, body: method === 'GET' ? undefined : {} });
        expectStatus(answer, 401);
        assert.deepEqual(answer.json, { error: 'unauthorized' }, `${method} ${path}`);
        assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer/);
      }
    }
  });

  test('a forged session cookie is not a session', async () => {
    const answer = await call('GET', '/api/jobs', { token: null, headers: { cookie: 'cronplane_session=eyJ1IjoiYWRtaW4ifQ.AAAA' } });
    expectStatus(answer, 401);
  });
});

describe('jobs', () => {
  test('create: 201 with the full job JSON and a Location', async () => {
    const answer = await call('POST', '/api/jobs', {
      body: {
        name: '  nightly report  ',
        description: 'sends the report',
        type: 'http',
        payload: { url: 'http://127.0.0.1:9/report', method: 'POST', body: '{}' },
        schedule: { kind: 'cron', expression: '0 3 * * *', timezone: 'Europe/Berlin' },
        tags: ['reports', 'nightly'],
        timeoutSeconds: 60,
        overlapPolicy: 'queue-one',
        missedPolicy: 'skip',
      },
    });
    expectStatus(answer, 201);
    const job = answer.json;
    assert.deepEqual(Object.keys(job).sort(), [
      'alerts',
      'autoPause',
      'concurrencyLimit',
      'createdAt',
      'description',
      'id',
      'missedPolicy',
      'name',
      'nextRunAt',
      'overlapPolicy',
      'pause',
      'paused',
      'payload',
      'retry',
      'schedule',
      'signingSecret',
      'tags',
      'timeoutSeconds',
      'type',
      'updatedAt',
    ]);
    // An http job's delivery signing secret (Standard Webhooks format: 32 random bytes), in this answer only.
    assert.match(job.signingSecret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(job.name, 'nightly report');
    assert.equal(job.type, 'http');
    // Defaults of the type's payload schema are filled in.
    assert.deepEqual(job.payload, { url: 'http://127.0.0.1:9/report', method: 'POST', body: '{}', headers: {}, timeoutSeconds: 30 });
    assert.deepEqual(job.schedule, { kind: 'cron', expression: '0 3 * * *', timezone: 'Europe/Berlin' });
    assert.deepEqual(job.tags, ['reports', 'nightly']);
    assert.equal(job.paused, false);
    assert.equal(job.pause, null);
    assert.equal(job.timeoutSeconds, 60);
    assert.equal(job.overlapPolicy, 'queue-one');
    assert.equal(job.missedPolicy, 'skip');
    for (const field of ['createdAt', 'updatedAt', 'nextRunAt']) assert.match(job[field], ISO, field);
    // 03:00 in Berlin is 01:00 or 02:00 UTC.
    assert.match(job.nextRunAt, /T0[12]:00:00\.000Z$/);
    assert.ok(new Date(job.nextRunAt).getTime() > Date.now());
    assert.equal(answer.headers.get('location'), `/api/jobs/${job.id}`);

    const fetched = await call('GET', `/api/jobs/${job.id}`);
    expectStatus(fetched, 200);
    const { signingSecret: _shownOnce, ...rest } = job;
    assert.deepEqual(fetched.json, rest, 'the job as created, without its signing secret');
  });

  test('defaults for optional fields', async () => {
    const job = await createJob({ schedule: { kind: 'cron', expression: '*/5 * * * *' } });
    assert.equal(job.description, '');
    assert.deepEqual(job.tags, []);
    assert.equal(job.timeoutSeconds, 300);
    assert.equal(job.overlapPolicy, 'skip');
    assert.equal(job.missedPolicy, 'run-once');
    assert.deepEqual(job.schedule, { kind: 'cron', expression: '*/5 * * * *', timezone: 'UTC' });
    assert.deepEqual(job.payload, { message: 'hello', level: 'info' });
  });

  test('list: by name, search, tag, pagination with nextCursor', async () => {
    const prefix = `list-${randomUUID().slice(0, 6)}`;
    for (const [suffix, tags] of [
      ['c', ['blue']],
      ['a', ['red']],
      ['b', ['red', 'blue']],
    ] as const) {
      await createJob({ name: `${prefix}-${suffix}`, tags });
    }
    const all = await call('GET', `/api/jobs?search=${prefix.toUpperCase()}`);
    expectStatus(all, 200);
    assert.deepEqual(
      all.json.jobs.map((j: { name: string }) => j.name),
      [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`],
    );
    assert.equal(all.json.nextCursor, null);
    assert.ok('lastRun' in all.json.jobs[0]);

    const red = await call('GET', `/api/jobs?search=${prefix}&tag=red`);
    assert.deepEqual(
      red.json.jobs.map((j: { name: string }) => j.name),
      [`${prefix}-a`, `${prefix}-b`],
    );

    const first = await call('GET', `/api/jobs?search=${prefix}&limit=2`);
    assert.equal(first.json.jobs.length, 2);
    assert.equal(typeof first.json.nextCursor, 'string');
    const second = await call('GET', `/api/jobs?search=${prefix}&limit=2&cursor=${encodeURIComponent(first.json.nextCursor)}`);
    assert.deepEqual(
      second.json.jobs.map((j: { name: string }) => j.name),
      [`${prefix}-c`],
    );
    assert.equal(second.json.nextCursor, null);
  });

  test('list: bad query parameters are 400 issues', async () => {
    for (const query of ['limit=0', 'limit=x', 'limit=201']) {
      const answer = await call('GET', `/api/jobs?${query}`);
      expectStatus(answer, 400);
      assert.equal(answer.json.issues[0].path, 'limit');
    }
    const cursor = await call('GET', '/api/jobs?cursor=not-a-cursor');
    expectStatus(cursor, 400);
    assert.equal(cursor.json.issues[0].path, 'cursor');
  });

  test('patch: changes fields, keeps the rest, validates the merged job', async () => {
    const job = await createJob();
    const answer = await call('PATCH', `/api/jobs/${job.id}`, {
      body: { description: 'now with words', schedule: { kind: 'interval', seconds: 60 } },
    });
    expectStatus(answer, 200);
    assert.equal(answer.json.description, 'now with words');
    assert.deepEqual(answer.json.schedule, { kind: 'interval', seconds: 60 });
    assert.equal(answer.json.name, job.name);
    assert.ok(new Date(answer.json.updatedAt) >= new Date(job.updatedAt));
    const next = new Date(answer.json.nextRunAt).getTime();
    assert.ok(next > Date.now() && next <= Date.now() + 61_000, 'next run within the new interval');

    // Type and payload come together (the payload is checked against the type in the body), and a new type needs a
    // payload of that type.
    const typeOnly = await call('PATCH', `/api/jobs/${job.id}`, { body: { type: 'http' } });
    expectStatus(typeOnly, 400);
    assert.deepEqual(
      typeOnly.json.issues.map((i: { path: string }) => i.path),
      ['payload'],
    );
    const payloadOnly = await call('PATCH', `/api/jobs/${job.id}`, { body: { payload: { message: 'hi' } } });
    expectStatus(payloadOnly, 400);
    assert.deepEqual(
      payloadOnly.json.issues.map((i: { path: string }) => i.path),
      ['type'],
    );
    const otherType = await call('PATCH', `/api/jobs/${job.id}`, { body: { type: 'http', payload: { message: 'hi' } } });
    expectStatus(otherType, 400);
    assert.ok(otherType.json.issues.some((i: { path: string }) => i.path === 'payload.url'));
    const unknownField = await call('PATCH', `/api/jobs/${job.id}`, { body: { paused: true } });
    expectStatus(unknownField, 400);
  });

  test('pause and resume', async () => {
    const job = await createJob();
    const paused = await call('POST', `/api/jobs/${job.id}/pause`);
    expectStatus(paused, 200);
    assert.equal(paused.json.paused, true);
    assert.equal(paused.json.nextRunAt, null);
    const resumed = await call('POST', `/api/jobs/${job.id}/resume`);
    expectStatus(resumed, 200);
    assert.equal(resumed.json.paused, false);
    assert.match(resumed.json.nextRunAt, ISO);
  });

  test('run now: 202, then the run appears in /runs with the run JSON', { timeout: 60_000 }, async () => {
    const job = await createJob({ payload: { message: 'ran by hand' } });
    const answer = await call('POST', `/api/jobs/${job.id}/run`);
    expectStatus(answer, 202);
    assert.equal(answer.json.jobId, job.id);
    assert.match(answer.json.scheduledFor, ISO);
    const run = await waitFor(
      'the manual run to finish',
      async () => {
        const runs = await call('GET', `/api/jobs/${job.id}/runs`);
        expectStatus(runs, 200);
        return runs.json.runs.find((r: { status: string }) => r.status !== 'running') as Record<string, any> | undefined;
      },
      40_000,
    );
    assert.deepEqual(Object.keys(run).sort(), [
      'attempt',
      'cancel',
      'durationMs',
      'error',
      'finishedAt',
      'id',
      'instanceId',
      'jobId',
      'jobName',
      'output',
      'rangeCount',
      'rangeEnd',
      'scheduledFor',
      'startedAt',
      'status',
      'trigger',
    ]);
    assert.equal(run.status, 'succeeded', `run: ${JSON.stringify(run)}`);
    assert.equal(run.trigger, 'manual');
    assert.equal(run.jobId, job.id);
    assert.equal(run.jobName, job.name);
    assert.equal(run.scheduledFor, answer.json.scheduledFor);
    assert.equal(run.instanceId, app.instanceId);
    assert.match(run.output, /ran by hand/);
    assert.equal(run.rangeEnd, null, 'one occurrence, not a range');
    assert.equal(run.rangeCount, null);
    assert.equal(run.durationMs, new Date(run.finishedAt).getTime() - new Date(run.startedAt).getTime());

    const bad = await call('GET', `/api/jobs/${job.id}/runs?limit=-1`);
    expectStatus(bad, 400);
    assert.equal(bad.json.issues[0].path, 'limit');
  });

  test('delete: 204, then 404 everywhere', async () => {
    const job = await createJob();
    const answer = await call('DELETE', `/api/jobs/${job.id}`);
    expectStatus(answer, 204);
    assert.equal(answer.text, '');
    expectStatus(await call('GET', `/api/jobs/${job.id}`), 404);
    expectStatus(await call('DELETE', `/api/jobs/${job.id}`), 404);
  });

  test('409 when the name is taken (create and rename)', async () => {
    const a = await createJob();
    const b = await createJob();
    const dup = await call('POST', '/api/jobs', { body: logJob({ name: a.name }) });
    expectStatus(dup, 409);
    assert.match(dup.json.error, /already exists/);
    const rename = await call('PATCH', `/api/jobs/${b.id}`, { body: { name: a.name } });
    expectStatus(rename, 409);
  });

  test('404 for unknown and malformed ids on every job route', async () => {
    for (const id of [randomUUID(), 'not-an-id', '1', "x'; drop table jobs; --"]) {
      const p = `/api/jobs/${encodeURIComponent(id)}`;
      for (const [method, path, body] of [
        ['GET', p],
        ['PATCH', p, { description: 'x' }],
        ['DELETE', p],
        ['POST', `${p}/pause`],
        ['POST', `${p}/resume`],
        ['POST', `${p}/run`],
        ['GET', `${p}/runs`],
      ] as Array<[string, string, unknown?]>) {
        const answer = await call(method, path, { body });
        expectStatus(answer, 404);
        assert.equal(answer.json.error, 'job not found', `${method} ${path}`);
      }
    }
  });
});

describe('invalid input: 400 with field issues, never a 500', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['missing name', { name: undefined }, 'name'],
    ['blank name', { name: '   ' }, 'name'],
    ['bad cron', { schedule: { kind: 'cron', expression: '61 * * * *' } }, 'schedule.expression'],
    ['cron with too few fields', { schedule: { kind: 'cron', expression: '* *' } }, 'schedule.expression'],
    ['unknown timezone', { schedule: { kind: 'cron', expression: '* * * * *', timezone: 'Mars/Olympus' } }, 'schedule.timezone'],
    ['interval 0', { schedule: { kind: 'interval', seconds: 0 } }, 'schedule.seconds'],
    ['interval not whole', { schedule: { kind: 'interval', seconds: 1.5 } }, 'schedule.seconds'],
    ['unknown schedule kind', { schedule: { kind: 'sometimes' } }, 'schedule.kind'],
    ['bad once date', { schedule: { kind: 'once', at: 'tomorrow' } }, 'schedule.at'],
    ['bad type', { type: 'shell' }, 'type'],
    ['payload invalid for the type', { type: 'http', payload: { url: 'ftp://example.com' } }, 'payload.url'],
    ['payload missing a field', { payload: {} }, 'payload.message'],
    ['payload unknown field', { payload: { message: 'x', extra: 1 } }, 'payload'],
    ['payload not an object', { payload: 'hello' }, 'payload'],
    ['name of the wrong JSON type', { name: 42 }, 'name'],
    ['paused of the wrong JSON type', { paused: 'yes' }, 'paused'],
    ['tags of the wrong JSON type', { tags: 'a,b' }, 'tags'],
    ['timeout out of range', { timeoutSeconds: 0 }, 'timeoutSeconds'],
    ['unknown policy', { overlapPolicy: 'sometimes' }, 'overlapPolicy'],
    ['unknown field', { colour: 'blue' }, ''],
  ];
  for (const [title, overrides, path] of cases) {
    test(title, async () => {
      const answer = await call('POST', '/api/jobs', { body: logJob(overrides) });
      expectStatus(answer, 400);
      assert.equal(answer.json.error, 'invalid input');
      assert.ok(Array.isArray(answer.json.issues) && answer.json.issues.length > 0);
      const issue = answer.json.issues.find((i: { path: string }) => i.path === path);
      assert.ok(issue, `expected an issue at "${path}", got ${JSON.stringify(answer.json.issues)}`);
      assert.equal(typeof issue.message, 'string');
      assert.ok(issue.message.length > 0);
    });
  }

  test('the unknown field is named in the message', async () => {
    const answer = await call('POST', '/api/jobs', { body: logJob({ colour: 'blue' }) });
    assert.match(JSON.stringify(answer.json.issues), /colour/);
  });

  test('malformed JSON', async () => {
    const answer = await call('POST', '/api/jobs', { raw: '{"name": "x",' });
    expectStatus(answer, 400);
    assert.match(answer.json.error, /^malformed JSON/);
  });

  test('wrong content type', async () => {
    const answer = await call('POST', '/api/jobs', { raw: JSON.stringify(logJob()), headers: { 'content-type': 'text/plain' } });
    expectStatus(answer, 400);
    assert.match(answer.json.error, /Content-Type must be application\/json/);
    // The shape of every 400 (the document's ValidationError).
    assert.deepEqual(answer.json.issues, [{ path: '', message: answer.json.error }]);
    const form = await call('POST', '/api/jobs', { raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectStatus(form, 400);
  });

  test('body that is not an object, or empty', async () => {
    for (const raw of ['[]', '"job"', 'null', '17', '']) {
      const answer = await call('POST', '/api/jobs', { raw });
      expectStatus(answer, 400);
    }
    const patch = await createJob();
    expectStatus(await call('PATCH', `/api/jobs/${patch.id}`, { raw: '[1]' }), 400);
  });

  test('bodies over 1 MB: 413', async () => {
    const answer = await call('POST', '/api/jobs', { body: logJob({ description: 'x'.repeat(1024 * 1024) }) });
    expectStatus(answer, 413);
    assert.match(answer.json.error, /larger than/);
  });
});

describe('methods', () => {
  test('unsupported methods: 405 with Allow', async () => {
    const id = randomUUID();
    for (const [method, path, allow] of [
      ['PUT', '/api/jobs', 'GET, POST'],
      ['DELETE', '/api/jobs', 'GET, POST'],
      ['PUT', `/api/jobs/${id}`, 'GET, PATCH, DELETE'],
      ['POST', `/api/jobs/${id}`, 'GET, PATCH, DELETE'],
      ['GET', `/api/jobs/${id}/run`, 'POST'],
      ['DELETE', `/api/jobs/${id}/pause`, 'POST'],
      ['POST', `/api/jobs/${id}/runs`, 'GET'],
      ['POST', '/api/instances', 'GET'],
      ['POST', '/api/health', 'GET'],
    ] as const) {
      const answer = await call(method, path);
      expectStatus(answer, 405);
      assert.equal(answer.headers.get('allow'), allow, `${method} ${path}`);
      assert.match(answer.json.error, /not allowed/);
    }
  });

  test('unknown endpoints under /api: JSON 404', async () => {
    const answer = await call('GET', '/api/jobz');
    expectStatus(answer, 404);
    assert.match(answer.json.error, /no such endpoint/);
  });
});

describe('instances', () => {
  test('lists this instance with its heartbeat', { timeout: 30_000 }, async () => {
    const me = await waitFor('this instance to register', async () => {
      const answer = await call('GET', '/api/instances');
      expectStatus(answer, 200);
      return (answer.json.instances as Array<Record<string, any>>).find((i) => i.id === app.instanceId);
    });
    assert.match(me.lastSeenAt, ISO);
    assert.match(me.startedAt, ISO);
    assert.equal(me.pid, app.pid);
    assert.equal(me.state, 'live');
    assert.equal(me.stoppedAt, null);
  });
});

describe('OpenAPI', () => {
  test('a valid 3.1 document listing every route, with bodies, responses and bearer security', async () => {
    const answer = await call('GET', '/api/openapi.json');
    expectStatus(answer, 200);
    const doc = JSON.parse(answer.text) as Record<string, any>;
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(typeof doc.info.title, 'string');
    const expected: Record<string, string[]> = {
      '/api/health': ['get'],
      '/api/openapi.json': ['get'],
      '/api/jobs': ['get', 'post'],
      '/api/jobs/{id}': ['delete', 'get', 'patch'],
      '/api/jobs/{id}/pause': ['post'],
      '/api/jobs/{id}/resume': ['post'],
      '/api/jobs/{id}/run': ['post'],
      '/api/jobs/{id}/runs': ['get'],
      '/api/runs/{id}/output': ['get'],
      '/api/jobs/{id}/signing-secret/reveal': ['post'],
      '/api/jobs/{id}/signing-secret/rotate': ['post'],
      '/api/runs': ['get'],
      '/api/runs/{id}': ['get'],
      '/api/runs/{id}/cancel': ['post'],
      '/api/instances': ['get'],
      '/api/events': ['get'],
      '/api/users': ['get', 'post'],
      '/api/users/{id}': ['delete', 'patch'],
      '/api/users/{id}/sessions': ['delete'],
      '/api/tokens': ['get', 'post'],
      '/api/tokens/{id}': ['delete'],
      '/api/session': ['delete', 'get', 'post'],
      '/api/audit': ['get'],
      '/api/channels': ['get', 'post'],
      '/api/channels/{id}': ['delete', 'get', 'patch'],
      '/api/channels/{id}/test': ['post'],
      '/api/channels/{id}/signing-secret/reveal': ['post'],
      '/api/alerts': ['get'],
      '/api/alerts/defaults': ['get', 'put'],
    };
    assert.deepEqual(Object.keys(doc.paths).sort(), Object.keys(expected).sort());
    const operationIds = new Set<string>();
    for (const [path, methods] of Object.entries(expected)) {
      assert.deepEqual(Object.keys(doc.paths[path]).sort(), methods, path);
      for (const method of methods) {
        const op = doc.paths[path][method];
        assert.ok(op.operationId && !operationIds.has(op.operationId), `${method} ${path} operationId`);
        operationIds.add(op.operationId);
        assert.ok(Object.keys(op.responses).length > 0);
        assert.ok(['viewer', 'operator', 'admin', null].includes(op['x-required-role']), `${method} ${path} x-required-role`);
        if (path.includes('{id}')) assert.ok(op.parameters.some((p: { name: string; in: string }) => p.name === 'id' && p.in === 'path'));
      }
    }
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', description: 'API_TOKEN' });
    assert.deepEqual(doc.paths['/api/health'].get.security, []);
    assert.deepEqual(doc.paths['/api/session'].post.security, []);
    assert.ok(doc.security.some((s: Record<string, unknown>) => 'bearerAuth' in s));

    // Every $ref resolves.
    const refs = answer.text.match(/"\$ref":"[^"]+"/g) ?? [];
    assert.ok(refs.length > 5);
    for (const ref of refs) {
      const name = ref.slice('"$ref":"#/components/schemas/'.length, -1);
      assert.ok(doc.components.schemas[name], `${ref} resolves`);
    }

    // Generated from the zod schemas the API validates with.
    // The body is one variant per job type, told apart by `type`, each referring to its type's payload schema.
    const create = doc.components.schemas.JobCreate;
    assert.equal(create.discriminator.propertyName, 'type');
    // Other job types (e.g. the scheduler's maintenance jobs) may join: the two user-facing ones must be there.
    for (const type of ['http', 'log']) {
      const name = `JobCreate_${type}`;
      assert.equal(create.discriminator.mapping[type], `#/components/schemas/${name}`, type);
      assert.ok(
        create.oneOf.some((v: { $ref: string }) => v.$ref === `#/components/schemas/${name}`),
        type,
      );
      const variant = doc.components.schemas[name];
      assert.deepEqual([...variant.required].sort(), ['name', 'payload', 'schedule', 'type'], type);
      assert.equal(variant.additionalProperties, false);
      assert.equal(variant.properties.type.const, type);
      assert.equal(variant.properties.payload.$ref, `#/components/schemas/Payload_${type}`);
      assert.equal(variant.properties.schedule.oneOf.length, 3);
      assert.equal(variant.properties.timeoutSeconds.maximum, 86400);
    }
    assert.equal(doc.paths['/api/jobs'].post.requestBody.content['application/json'].schema.$ref, '#/components/schemas/JobCreate');
    assert.ok(doc.paths['/api/jobs'].post.responses['201']);
    assert.ok(doc.paths['/api/jobs'].post.responses['400']);
    assert.ok(doc.paths['/api/jobs/{id}/run'].post.responses['202']);
    assert.ok(doc.paths['/api/jobs/{id}'].delete.responses['204']);
    assert.deepEqual(doc.paths['/api/jobs'].get.parameters.map((p: { name: string }) => p.name).sort(), [
      'cursor',
      'limit',
      'search',
      'tag',
    ]);
    assert.ok(doc.components.schemas.Payload_http.properties.url);
    const run = doc.components.schemas.RunList.properties.runs.items;
    assert.ok(['durationMs', 'scheduledFor', 'instanceId', 'attempt'].every((k) => k in run.properties));
  });
});
