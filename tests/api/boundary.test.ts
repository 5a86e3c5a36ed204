/**
 * Input the database cannot store, refused at the zod boundary (lib/validation) with a 400 instead of failing in
 * PostgreSQL with a 500: NUL characters (22021 in text, "unsupported Unicode escape sequence" in jsonb), lone
 * surrogates, dates outside years 1-9999 (timestamptz) and crafted paging cursors. Regression tests for each case
 * found, first on the schemas, then through a real `next start` on PostgreSQL (API routes, the sign-in server
 * action, and the pages that take the same input from their URL).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { AuditQuerySchema } from '../../lib/validation/audit';
import { NameCursorSchema, TimeCursorSchema, decodeCursorKey } from '../../lib/validation/cursor';
import { MAX_DATE_MS, MIN_DATE_MS, parseIsoDate } from '../../lib/validation/date';
import { JobCreateSchema, JobUpdateSchema } from '../../lib/validation/job';
import { OnceScheduleSchema } from '../../lib/validation/schedule';
import { findUnstorableText } from '../../lib/validation/text';
import { LoginUsernameSchema } from '../../lib/validation/session';
import { UsernameSchema } from '../../lib/validation/user';
import { loginCookie, startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';
import { callAction } from './fixtures/actions';

/** A cursor exactly as lib/store/shared/cursor.ts makes one. */
const cursorOf = (key: string, id: string = randomUUID()) => Buffer.from(JSON.stringify([key, id])).toString('base64url');
const job = (extra: Record<string, unknown> = {}) => ({
  name: `b-${randomBytes(4).toString('hex')}`,
  type: 'log',
  payload: { message: 'hi' },
  schedule: { kind: 'interval', seconds: 3600 },
  paused: true,
  ...extra,
});
const issuesOf = (result: { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string }> } }) =>
  (result.error?.issues ?? []).map((i) => `${i.path.map(String).join('.')}: ${i.message}`);

describe('dates: ISO-8601 only, years 1-9999', () => {
  test('the forms PostgreSQL refused, and new Date leniency, are refused', () => {
    for (const text of [
      '-010000-01-01',
      '+275760-09-13',
      '+010000-01-01T00:00:00Z',
      '10000-01-01',
      '99999-01-01',
      '0000-01-01',
      '0',
      '1',
      '1e12',
      'yesterday',
      '1 Jan 2024',
      'Jan 1, 2024',
      '2024/01/01',
      '2024-1-1',
      '2024-01-01 10:00',
      '2023-02-29',
      '2024-04-31',
      '2024-13-01',
      '2024-01-01T24:00',
      '2024-01-01T10:60',
      '2024-01-01T10:00:60Z',
      '2024-01-01T10:00+24:00',
      '2024-01-01Z',
      ' 2024-01-01',
      '0001-01-01T00:00:00+00:01',
      '9999-12-31T23:59:59.999-00:01',
    ]) {
      assert.equal(parseIsoDate(text), null, text);
    }
  });

  test('ISO dates and date-times are read exactly (no offset = UTC), bounds included', () => {
    const cases: Array<[string, string]> = [
      ['2024-02-29', '2024-02-29T00:00:00.000Z'],
      ['2024-01-01T10:00', '2024-01-01T10:00:00.000Z'],
      ['2024-01-01t10:00:05z', '2024-01-01T10:00:05.000Z'],
      ['2024-01-01T10:00:00.123456+02:00', '2024-01-01T08:00:00.123Z'],
      ['2024-01-01T10:00:00-0530', '2024-01-01T15:30:00.000Z'],
      ['0001-01-01', '0001-01-01T00:00:00.000Z'],
      ['0050-06-01T00:00:00Z', '0050-06-01T00:00:00.000Z'],
      ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
    ];
    for (const [text, iso] of cases) assert.equal(parseIsoDate(text)?.toISOString(), iso, text);
    assert.equal(new Date(MIN_DATE_MS).toISOString(), '0001-01-01T00:00:00.000Z');
    assert.equal(new Date(MAX_DATE_MS).toISOString(), '9999-12-31T23:59:59.999Z');
  });

  test('the audit filter and a one-off schedule use it', () => {
    const refused = AuditQuerySchema.safeParse({ from: '-010000-01-01', to: '+275760-09-13' });
    assert.deepEqual(
      issuesOf(refused).map((i) => i.split(':')[0]),
      ['from', 'to'],
    );
    assert.match(issuesOf(refused)[0]!, /between years 1 and 9999/);
    assert.equal(AuditQuerySchema.parse({ from: '2024-01-01' }).from?.toISOString(), '2024-01-01T00:00:00.000Z');
    assert.equal(OnceScheduleSchema.safeParse({ kind: 'once', at: '0000-01-01T00:00:00Z' }).success, false);
    assert.equal(OnceScheduleSchema.safeParse({ kind: 'once', at: '2030-01-01T09:00:00+02:00' }).success, true);
  });
});

describe('cursors', () => {
  test("the stores' own cursors pass", () => {
    assert.equal(TimeCursorSchema.safeParse(cursorOf(new Date().toISOString())).success, true);
    assert.equal(NameCursorSchema.safeParse(cursorOf('Ünïcödé 日本語 🚀 job')).success, true);
    assert.deepEqual(decodeCursorKey(cursorOf('x', '00000000-0000-4000-8000-000000000000')), ['x', '00000000-0000-4000-8000-000000000000']);
  });

  test('crafted ones are refused: times the database refuses, names with NUL, junk', () => {
    for (const at of ['-010000-01-01T00:00:00.000Z', '+275760-09-13T00:00:00.000Z', '0000-01-01T00:00:00.000Z', 'not a date', '1e12']) {
      assert.equal(TimeCursorSchema.safeParse(cursorOf(at)).success, false, at);
    }
    for (const name of ['a\u0000b', 'tab\there', '\ud800', 'x'.repeat(201)])
      assert.equal(NameCursorSchema.safeParse(cursorOf(name)).success, false, JSON.stringify(name));
    for (const junk of [
      '',
      '%%%',
      'a',
      cursorOf('x', 'not-a-uuid'),
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from([0xff, 0xfe]).toString('base64url'),
      'A'.repeat(501),
    ]) {
      assert.equal(NameCursorSchema.safeParse(junk).success, false, junk);
      assert.equal(TimeCursorSchema.safeParse(junk).success, false, junk);
    }
  });
});

describe('text the database cannot store', () => {
  test('usernames: no control characters (C0, DEL, C1) or lone surrogates at sign-in; new users stricter still', () => {
    for (const name of ['a\u0000b', '\u0000', 'a\u0001', 'a\tb', 'a\nb', 'a\u007fb', 'a\u0085b', 'a\ud800b', '\udc00']) {
      assert.equal(LoginUsernameSchema.safeParse(name).success, false, JSON.stringify(name));
      assert.equal(UsernameSchema.safeParse(name).success, false, JSON.stringify(name));
    }
    assert.equal(LoginUsernameSchema.parse('  Jürgen.日本@x  '), 'Jürgen.日本@x');
  });

  test('jobs: NUL or a lone surrogate anywhere (description, payload values and keys, nested) is a field issue', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ description: 'a\u0000b' }, 'description'],
      [{ payload: { message: 'a\u0000b' } }, 'payload.message'],
      [{ payload: { message: 'a\ud800b' } }, 'payload.message'],
      [{ name: 'a\udc00' }, 'name'],
      [{ type: 'http', payload: { url: 'https://example.com/', headers: { 'X-A': 'v\u0000' } } }, 'payload.headers.X-A'],
      [{ type: 'http', payload: { url: 'https://example.com/', body: '\u0000' } }, 'payload.body'],
      [{ payload: { message: 'm', ['k\u0000']: 1 } }, 'payload.k\u0000'],
      [{ payload: { message: 'm', deep: [{ x: ['\u0000'] }] } }, 'payload.deep.0.x.0'],
    ];
    for (const [change, path] of cases) {
      const result = JobCreateSchema.safeParse(job(change));
      assert.equal(result.success, false, JSON.stringify(change));
      assert.ok(
        issuesOf(result).some((i) => i.startsWith(`${path}: `)),
        `${JSON.stringify(change)} -> ${issuesOf(result).join('; ')}`,
      );
    }
    assert.equal(JobUpdateSchema.safeParse({ description: '\u0000' }).success, false);
    assert.equal(JobUpdateSchema.safeParse({ payload: { message: '\u0000' } }).success, false);
    // Newlines and tabs are fine in a description or a message, and emoji (surrogate pairs) anywhere.
    assert.equal(JobCreateSchema.safeParse(job({ description: 'line 1\n\tline 2 🚀', payload: { message: 'a\nb 🚀' } })).success, true);
    assert.equal(findUnstorableText({ a: ['ok', { b: 'ok 🚀' }] }), null);
  });
});

// ---- through the app --------------------------------------------------------------------------------------------

let db: TestPostgres;
let app: StartedApp;
let sql: pg.Client;
let cookie = '';
let jobId = '';

interface Answer {
  status: number;
  text: string;
  json: { error?: unknown; issues?: Array<{ path: string; message: string }> } & Record<string, unknown>;
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${app.apiToken}` },
): Promise<Answer> {
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  return { status: response.status, text, json: (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : {} };
}

function refused(answer: Answer, status: number, path: string | null, pattern: RegExp, what: string): void {
  assert.equal(answer.status, status, `${what}: ${answer.status} ${answer.text.slice(0, 300)}`);
  const messages =
    path === null ? [String(answer.json.error)] : (answer.json.issues ?? []).filter((i) => i.path === path).map((i) => i.message);
  assert.ok(
    messages.some((m) => pattern.test(m)),
    `${what}: ${answer.text.slice(0, 300)}`,
  );
}

async function counts(): Promise<string> {
  const rows = await sql.query(
    `SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM jobs) AS jobs, (SELECT count(*) FROM sessions) AS sessions, (SELECT count(*) FROM api_tokens) AS tokens, (SELECT count(*) FROM audit_log) AS audit`,
  );
  return JSON.stringify(rows.rows[0]);
}

describe('through the app (PostgreSQL)', () => {
  before(
    async () => {
      db = await startTestPostgres();
      app = await startApp({ databaseUrl: db.url, env: { SCHEDULER_DISABLED: '1' } });
      sql = new pg.Client({ connectionString: db.url });
      await sql.connect();
      cookie = await loginCookie(app, 'admin', app.adminPassword);
      const created = await call('POST', '/api/jobs', job());
      assert.equal(created.status, 201, created.text);
      jobId = String(created.json.id);
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

  test('POST /api/session: a NUL or other control character in the username is a 400 and writes nothing', async () => {
    const before = await counts();
    for (const username of ['a\u0000b', 'admin\u0000', '\u0001admin', 'ad\u007fmin']) {
      const answer = await call('POST', '/api/session', { username, password: 'whatever-password' }, { 'x-forwarded-for': '198.51.100.7' });
      refused(answer, 400, null, /username must not contain control characters/, JSON.stringify(username));
    }
    assert.equal(await counts(), before, 'no audit entry, no session');
  });

  test('the sign-in server action: the same message on the form, not an error', async () => {
    const answer = await callAction(app.baseUrl, '/login', 'login', [
      { error: null },
      { form: { username: 'a\u0000b', password: 'whatever-password' } },
    ]);
    assert.equal(answer.status, 200, answer.text.slice(0, 300));
    assert.match(answer.text, /The username must not contain control characters\./);
    // The action itself works (so the call above reached it): the right password signs in and redirects.
    const ok = await callAction(app.baseUrl, '/login', 'login', [
      { error: null },
      { form: { username: 'admin', password: app.adminPassword } },
    ]);
    assert.equal(ok.status, 200);
    assert.ok(ok.redirect?.startsWith('/'), `redirected: ${ok.redirect}`);
  });

  test('GET /api/audit: out-of-range and non-ISO from/to are 400s naming the parameter', async () => {
    for (const [param, value] of [
      ['from', '-010000-01-01'],
      ['to', '+275760-09-13'],
      ['from', '99999-01-01'],
      ['to', '0000-01-01'],
      ['from', '0'],
      ['from', '1 Jan 2024'],
      ['to', '2024-02-30'],
    ]) {
      refused(
        await call('GET', `/api/audit?${param}=${encodeURIComponent(value!)}`),
        400,
        param!,
        /between years 1 and 9999/,
        `${param}=${value}`,
      );
    }
    assert.equal((await call('GET', '/api/audit?from=0001-01-01&to=9999-12-31T23:59:59.999Z')).status, 200);
  });

  test('crafted cursors: a time outside years 1-9999 (audit, runs) or a name with NUL (jobs) is a 400', async () => {
    for (const path of ['/api/audit', `/api/jobs/${jobId}/runs`]) {
      for (const at of ['-010000-01-01T00:00:00.000Z', '+275760-09-13T00:00:00.000Z']) {
        refused(await call('GET', `${path}?cursor=${cursorOf(at)}`), 400, 'cursor', /invalid cursor/, `${path} cursor ${at}`);
      }
      assert.equal(
        (await call('GET', `${path}?cursor=${cursorOf(new Date().toISOString())}`)).status,
        200,
        `${path}: a well-formed cursor`,
      );
    }
    refused(await call('GET', `/api/jobs?cursor=${cursorOf('a\u0000')}`), 400, 'cursor', /invalid cursor/, 'jobs cursor with NUL');
    assert.equal((await call('GET', `/api/jobs?cursor=${cursorOf('a')}`)).status, 200);
  });

  test('jobs: NUL in description, payload values and keys, lone surrogates are 400s with the field; nothing is saved', async () => {
    const before = await counts();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ description: 'a\u0000b' }, 'description'],
      [{ payload: { message: 'a\u0000b' } }, 'payload.message'],
      [{ payload: { message: 'a\ud800b' } }, 'payload.message'],
      [{ type: 'http', payload: { url: 'https://example.com/', headers: { 'X-A': 'a\u0000b' } } }, 'payload.headers.X-A'],
      [{ type: 'http', payload: { url: 'https://example.com/', body: 'a\u0000b' } }, 'payload.body'],
    ];
    for (const [change, path] of cases) {
      refused(await call('POST', '/api/jobs', job(change)), 400, path, /NUL|Unicode/, `POST ${JSON.stringify(change)}`);
      // A payload comes with its type (the job is a log job).
      const patch = 'payload' in change ? { type: 'log', ...change } : change;
      if (!('type' in change))
        refused(await call('PATCH', `/api/jobs/${jobId}`, patch), 400, path, /NUL|Unicode/, `PATCH ${JSON.stringify(patch)}`);
    }
    assert.equal(await counts(), before);
  });

  test('http jobs: credentials in the URL are a 400 on payload.url pointing to a secret header', async () => {
    const before = await counts();
    const answer = await call('POST', '/api/jobs', job({ type: 'http', payload: { url: 'https://alice:hunter2-secret@example.com/' } }));
    refused(answer, 400, 'payload.url', /must not contain a user name or password.*Authorization/, 'userinfo');
    assert.doesNotMatch(answer.text, /alice|hunter2/, 'the answer does not echo the credentials');
    assert.equal(await counts(), before);
  });

  test('users and tokens: control characters and lone surrogates in names are 400s', async () => {
    const before = await counts();
    refused(
      await call('POST', '/api/users', { username: 'a\u0000b', password: 'long-enough-password', role: 'viewer' }),
      400,
      'username',
      /letters, digits/,
      'username NUL',
    );
    refused(await call('POST', '/api/tokens', { name: 'a\u0000b', role: 'viewer' }), 400, 'name', /control characters/, 'token NUL');
    refused(await call('POST', '/api/tokens', { name: 'a\ud800b', role: 'viewer' }), 400, 'name', /Unicode/, 'token lone surrogate');
    assert.equal(await counts(), before);
  });

  test('pages take the same input from their URL: no error page', async () => {
    const page = async (path: string) => {
      const response = await fetch(`${app.baseUrl}${path}`, {
        headers: { cookie },
        redirect: 'manual',
        signal: AbortSignal.timeout(30_000),
      });
      return { status: response.status, body: await response.text() };
    };
    const audit = await page('/audit?from=-010000-01-01');
    assert.equal(audit.status, 200);
    assert.match(audit.body, /from: from must be an ISO-8601 date/);
    for (const path of [
      '/runs?from=-010000-01-01&to=%2B275760-09-13',
      `/runs?cursor=${cursorOf('-010000-01-01T00:00:00.000Z')}`,
      '/runs?instance=a%00b&q=a%00b',
      `/jobs?cursor=${cursorOf('a\u0000')}`,
      '/jobs?q=a%00b&tag=a%00b',
      `/jobs/${jobId}?cursor=${cursorOf('+275760-09-13T00:00:00.000Z')}`,
      `/audit?cursor=${cursorOf('-010000-01-01T00:00:00.000Z')}`,
    ]) {
      const answer = await page(path);
      assert.equal(answer.status, 200, `${path}: ${answer.status}`);
      assert.doesNotMatch(answer.body, /Something went wrong/, path);
    }
  });
});
