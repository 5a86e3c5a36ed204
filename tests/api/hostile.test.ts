/**
 * Hostile input at every API route, generated with fast-check: malformed and oversized bodies, wrong
 * types, NoSQL/SQL operator injection, invalid cron expressions and time zones, hostile ids and query
 * strings. Every answer must be a 4xx with a clear JSON message (never a 5xx), and what the API's GETs
 * return must be the same before and after the refused requests.
 *
 * Runs against PostgreSQL; and against the MongoDB store too when tests/support/mongo.ts can start its
 * server (HOSTILE_MONGO=0 turns that off). HOSTILE_RUNS sets the runs per property (default 25), which
 * keeps the file under a minute per store; a failure prints fast-check's seed and the shrunk input.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { jobTypeNames } from '../../lib/jobs/registry';
import { cronExpressionError, isValidTimezone } from '../../lib/validation/schedule';
import { startApp, type StartedApp } from '../support/app';
import { startTestPostgres } from '../support/postgres';

const RUNS = Number(process.env.HOSTILE_RUNS ?? '25');
const MONGO_HELPER = new URL('../support/mongo.ts', import.meta.url);

interface Answer {
  status: number;
  contentType: string;
  text: string;
  json: Record<string, unknown> | null;
}

interface Target {
  app: StartedApp;
  stop(): Promise<void>;
}

// ---- generators ---------------------------------------------------------------------------------------

/** Operator injection and SQL fragments, as values of any field. */
const INJECTIONS: unknown[] = [
  { $gt: '' },
  { $ne: null },
  { $where: 'sleep(1000) || true' },
  { $regex: '.*' },
  { $expr: { $eq: [1, 1] } },
  { name: { $ne: null } },
  ["'; drop table \"Job\"; --"],
  [{ $gt: '' }],
  null,
  true,
  1e308,
  -1,
];

const INJECTION_STRINGS = ["'; drop table jobs; --", "' OR '1'='1", 'Robert"); DROP TABLE "Job";--', '%', '_', '.*', '\\', '\u0000', '${7*7}', '{"$ne":null}', '../../etc/passwd'];

const hostileValue = fc.oneof(fc.constantFrom(...INJECTIONS), fc.jsonValue({ maxDepth: 3 }));
/** Anything that is not a non-empty string. */
const notAString = hostileValue.filter((v) => typeof v !== 'string');

const KNOWN_FIELDS = new Set(['name', 'description', 'type', 'payload', 'schedule', 'paused', 'timeoutSeconds', 'overlapPolicy', 'missedPolicy', 'tags']);

const badCron = fc.oneof(
  fc.constantFrom('* * *', '61 * * * *', '* 25 * * *', '* * * * * * *', 'every minute', '*/0 * * * *', '', '   ', "0 0 * * *'; drop table jobs; --", '{"$gt":""}'),
  fc.string({ maxLength: 40 }).filter((s) => cronExpressionError(s) !== null),
);
const badTimezone = fc.oneof(
  fc.constantFrom('Mars/Olympus_Mons', 'UTC+25', '../../etc/passwd', "Europe/Berlin'; drop table jobs; --", '', 'x'.repeat(65)),
  fc.string({ maxLength: 30 }).filter((s) => s.trim() === '' || !isValidTimezone(s.trim())),
);

/** One change that makes a job body invalid, whatever else it holds. */
const invalidMutation: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  notAString.map((name) => ({ name })),
  fc.constantFrom('', '   ', 'a\u0000b', 'tab\there', 'x'.repeat(101)).map((name) => ({ name })),
  fc.oneof(notAString, fc.constantFrom(...INJECTION_STRINGS), fc.string().filter((s) => !jobTypeNames.includes(s))).map((type) => ({ type })),
  badCron.map((expression) => ({ schedule: { kind: 'cron', expression, timezone: 'UTC' } })),
  badTimezone.map((timezone) => ({ schedule: { kind: 'cron', expression: '0 * * * *', timezone } })),
  fc.oneof(notAString.filter((v) => !(v && typeof v === 'object' && !Array.isArray(v))), fc.constantFrom(...INJECTIONS.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)))).map((schedule) => ({ schedule })),
  fc.oneof(notAString, fc.constantFrom(...INJECTION_STRINGS)).map((kind) => ({ schedule: { kind, seconds: 60 } })),
  fc.oneof(notAString, fc.integer({ max: 0 })).filter((s) => !(typeof s === 'number' && s >= 1)).map((seconds) => ({ schedule: { kind: 'interval', seconds } })),
  notAString.map((message) => ({ type: 'log', payload: { message } })),
  fc.oneof(fc.constantFrom(...INJECTIONS.filter((v) => v === null || typeof v !== 'object' || Array.isArray(v))), fc.string(), fc.array(fc.jsonValue(), { maxLength: 3 })).map((payload) => ({ payload })),
  fc.oneof(fc.constantFrom(...INJECTIONS), fc.string(), fc.double(), fc.integer({ max: 0 }), fc.integer({ min: 86_401 })).filter((v) => !(Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 86_400)).map((timeoutSeconds) => ({ timeoutSeconds })),
  fc.oneof(fc.constantFrom(...INJECTIONS), fc.constantFrom(...INJECTION_STRINGS)).filter((v) => v !== 'skip').map((overlapPolicy) => ({ overlapPolicy })),
  fc.oneof(fc.constantFrom(...INJECTIONS.filter((v) => !Array.isArray(v))), fc.constantFrom(...INJECTION_STRINGS)).map((tags) => ({ tags })),
  fc.constantFrom(...INJECTIONS.filter((v) => v !== null && typeof v === 'object')).map((tag) => ({ tags: ['ok', tag] })),
  fc.constantFrom('yes', 1, 0, null, { $ne: false }).map((paused) => ({ paused })),
  fc.tuple(fc.constantFrom('$where', '$set', '__proto__', 'constructor', 'id', 'version', 'nextRunAt', 'anchorAt'), hostileValue).map(([key, value]) => ({ [key]: value })),
  fc.tuple(fc.string({ minLength: 1 }).filter((k) => !KNOWN_FIELDS.has(k)), hostileValue).map(([key, value]) => ({ [key]: value })),
);

function validJob(): Record<string, unknown> {
  return { name: `ok-${randomBytes(4).toString('hex')}`, type: 'log', payload: { message: 'hi' }, schedule: { kind: 'interval', seconds: 3600 }, paused: true };
}

/** JSON text with keys like "__proto__" kept as own properties (object spread would drop or misplace them). */
function withMutations(base: Record<string, unknown>, mutations: Array<Record<string, unknown>>): string {
  const parts = new Map<string, unknown>(Object.entries(base));
  for (const mutation of mutations) for (const key of Object.keys(mutation)) parts.set(key, mutation[key]);
  return `{${[...parts].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`;
}

const mutations = fc.array(invalidMutation, { minLength: 1, maxLength: 3 });

/** Bodies that are not a JSON object, or not JSON at all. */
const notAnObjectBody = fc.oneof(
  fc.jsonValue().filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)).map((v) => JSON.stringify(v)),
  fc.string().filter((s) => {
    try {
      const v: unknown = JSON.parse(s);
      return v === null || typeof v !== 'object' || Array.isArray(v);
    } catch {
      return true;
    }
  }),
  fc.constantFrom('{', '{"name": "x",}', "{'name': 'x'}", '{"a":1}{"b":2}', '\uFEFF{}x', 'null', '[]', '"{}"'),
);

const badContentType = fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'json', 'application/jsonp');

const hostileId = fc
  .oneof(fc.string({ minLength: 1, maxLength: 60 }), fc.constantFrom(...INJECTION_STRINGS.filter((s) => s !== '')), fc.uuid())
  .filter((s) => s.trim() !== '' && s !== '.' && s !== '..');

const hostileQueryValue = fc.oneof(fc.string({ maxLength: 50 }), fc.constantFrom(...INJECTION_STRINGS), fc.constantFrom('-1', '0', '1e9', '201', 'NaN', '1.5', '[object Object]', '{"$gt":""}'));

// ---- the suite, once per store ----------------------------------------------------------------------

async function startOnPostgres(): Promise<Target> {
  const db = await startTestPostgres();
  const app = await startApp({ databaseUrl: db.url, env: { HTTP_JOB_ALLOW: undefined } }).catch(async (err: unknown) => {
    await db.stop();
    throw err;
  });
  return { app, stop: async () => (await app.stop(), await db.stop()) };
}

async function startOnMongo(): Promise<Target> {
  const { startTestMongo } = (await import(MONGO_HELPER.href)) as typeof import('../support/mongo');
  const db = await startTestMongo();
  const app = await startApp({ databaseUrl: db.url, env: { HTTP_JOB_ALLOW: undefined } }).catch(async (err: unknown) => {
    await db.stop();
    throw err;
  });
  return { app, stop: async () => (await app.stop(), await db.stop()) };
}

const stores: Array<{ name: string; start: () => Promise<Target>; optional: boolean }> = [{ name: 'postgres', start: startOnPostgres, optional: false }];
if (process.env.HOSTILE_MONGO !== '0' && existsSync(MONGO_HELPER)) stores.push({ name: 'mongodb', start: startOnMongo, optional: true });

for (const store of stores) {
  describe(`hostile input (${store.name})`, () => {
    let target: Target | null = null;
    let unavailable = '';
    const seeded: Array<{ id: string; name: string; tags: string[] }> = [];

    before(async () => {
      try {
        target = await store.start();
      } catch (err) {
        if (!store.optional) throw err;
        unavailable = err instanceof Error ? err.message.split('\n')[0]! : String(err);
        return;
      }
      const jobs: Array<Record<string, unknown> & { name: string; tags?: string[] }> = [
        { ...validJob(), name: 'alpha report', tags: ['nightly', 'team-a'] },
        { ...validJob(), name: 'Ünïcödé 日本語 🚀 job', tags: ['team-b'] },
        { ...validJob(), name: '100% coverage_check', type: 'http', payload: { url: 'https://example.com/x', headers: { Authorization: 'Bearer seeded-secret-value-1234' } } },
        { ...validJob(), name: 'berlin cron', schedule: { kind: 'cron', expression: '0 2 * * 1-5', timezone: 'Europe/Berlin' }, tags: ['nightly'] },
      ];
      for (const job of jobs) {
        const answer = await call('POST', '/api/jobs', { raw: JSON.stringify(job) });
        assert.equal(answer.status, 201, answer.text);
        seeded.push({ id: String(answer.json?.id), name: job.name, tags: job.tags ?? [] });
      }
    }, { timeout: 180_000 });

    after(async () => {
      await target?.stop();
    }, { timeout: 30_000 });

    function ready(t: TestContext): StartedApp | null {
      if (target) return target.app;
      t.skip(`${store.name} store not available: ${unavailable}`);
      return null;
    }

    async function call(method: string, path: string, options: { raw?: string | Blob | ReadableStream<Uint8Array>; contentType?: string } = {}): Promise<Answer> {
      const app = target!.app;
      const headers: Record<string, string> = { authorization: `Bearer ${app.apiToken}` };
      if (options.raw !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
      const init: RequestInit & { duplex?: 'half' } = { method, headers, body: options.raw, redirect: 'manual', signal: AbortSignal.timeout(20_000) };
      if (options.raw instanceof ReadableStream) init.duplex = 'half';
      const response = await fetch(`${app.baseUrl}${path}`, init);
      const text = await response.text();
      const contentType = response.headers.get('content-type') ?? '';
      let json: Record<string, unknown> | null = null;
      if (contentType.includes('json')) json = JSON.parse(text) as Record<string, unknown>;
      return { status: response.status, contentType, text, json };
    }

    /** 4xx, JSON, a non-empty message, and field issues (if any) that name a path and say what is wrong. */
    function assertRefused(answer: Answer, what: string): void {
      const where = `${what} -> ${answer.status} ${answer.text.slice(0, 300)}`;
      assert.ok(answer.status >= 400 && answer.status < 500, `expected a 4xx: ${where}`);
      assert.ok(answer.json, `expected a JSON answer: ${where}`);
      assert.equal(typeof answer.json.error, 'string', where);
      assert.ok((answer.json.error as string).length > 0, where);
      if (answer.json.issues !== undefined) {
        assert.ok(Array.isArray(answer.json.issues) && answer.json.issues.length > 0, where);
        for (const issue of answer.json.issues as Array<{ path: unknown; message: unknown }>) {
          assert.equal(typeof issue.path, 'string', where);
          assert.ok(typeof issue.message === 'string' && issue.message.length > 0, where);
        }
      }
    }

    /** Everything the API shows: the job list, each job, each job's runs. */
    async function snapshot(): Promise<string> {
      const list = await call('GET', '/api/jobs?limit=200');
      assert.equal(list.status, 200, list.text);
      const jobs = (list.json?.jobs ?? []) as Array<{ id: string }>;
      const parts: unknown[] = [list.json];
      for (const job of jobs) {
        parts.push((await call('GET', `/api/jobs/${job.id}`)).json);
        parts.push((await call('GET', `/api/jobs/${job.id}/runs?limit=200`)).json);
      }
      return JSON.stringify(parts);
    }

    /** Runs a property and checks the API's view of the store did not change. */
    async function unchanged(fn: () => Promise<void>): Promise<void> {
      const before = await snapshot();
      await fn();
      assert.equal(await snapshot(), before, 'a refused request changed the data');
    }

    const pickSeeded = () => fc.integer({ min: 0, max: 3 }).map((i) => seeded[i]!);

    test('POST /api/jobs: invalid jobs (operators, wrong types, bad cron/zones, unknown keys) are 400s with field issues', async (t) => {
      if (!ready(t)) return;
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(mutations, async (changes) => {
            const body = withMutations(validJob(), changes);
            const answer = await call('POST', '/api/jobs', { raw: body });
            assertRefused(answer, `POST ${body.slice(0, 300)}`);
            assert.ok(answer.status === 400, `expected 400 for ${body.slice(0, 300)}, got ${answer.status}`);
          }),
          { numRuns: RUNS * 2 },
        ),
      );
    });

    test('PATCH /api/jobs/{id}: the same invalid changes leave the job as it was', async (t) => {
      if (!ready(t)) return;
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(pickSeeded(), mutations, async (job, changes) => {
            const body = withMutations({}, changes);
            assertRefused(await call('PATCH', `/api/jobs/${job.id}`, { raw: body }), `PATCH ${body.slice(0, 300)}`);
          }),
          { numRuns: RUNS * 2 },
        ),
      );
    });

    test('bodies that are not a JSON object, or not JSON, or not declared as JSON, at POST and PATCH', async (t) => {
      if (!ready(t)) return;
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(pickSeeded(), fc.oneof(notAnObjectBody.map((raw) => ({ raw, contentType: 'application/json' })), fc.record({ raw: fc.string(), contentType: badContentType })), fc.boolean(), async (job, { raw, contentType }, patch) => {
            const answer = patch ? await call('PATCH', `/api/jobs/${job.id}`, { raw, contentType }) : await call('POST', '/api/jobs', { raw, contentType });
            assertRefused(answer, `${patch ? 'PATCH' : 'POST'} (${contentType}) ${JSON.stringify(raw).slice(0, 200)}`);
          }),
          { numRuns: RUNS * 2 },
        ),
      );
    });

    test('oversized and pathological bodies: 413 above 1 MB (even without a Content-Length), 400 for too-deep or too-long values', async (t) => {
      if (!ready(t)) return;
      await unchanged(async () => {
        const big = JSON.stringify({ ...validJob(), description: 'x'.repeat(1_100_000) });
        const answer = await call('POST', '/api/jobs', { raw: big });
        assertRefused(answer, 'POST 1.1 MB');
        assert.equal(answer.status, 413);
        // Streamed without a length: the server must stop reading at the limit.
        const chunk = new TextEncoder().encode(`{"description":"${'y'.repeat(64 * 1024)}`);
        let sent = 0;
        const stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent++ < 40) controller.enqueue(chunk);
            else controller.close();
          },
        });
        const streamed = await call('POST', '/api/jobs', { raw: stream });
        assertRefused(streamed, 'POST streamed 2.5 MB');
        assert.equal(streamed.status, 413);
        assertRefused(await call('POST', '/api/jobs', { raw: '['.repeat(300_000) }), 'POST deep nesting');
        assertRefused(await call('POST', '/api/jobs', { raw: JSON.stringify({ ...validJob(), payload: { message: 'm'.repeat(20_000) } }) }), 'POST long message');
        assertRefused(await call('POST', '/api/jobs', { raw: JSON.stringify({ ...validJob(), tags: Array.from({ length: 500 }, (_, i) => `t${i}`) }) }), 'POST 500 tags');
        const deep = `${'{"a":'.repeat(5_000)}"x"${'}'.repeat(5_000)}`;
        assertRefused(await call('POST', '/api/jobs', { raw: JSON.stringify({ ...validJob(), payload: { message: 'm', extra: 1 } }).replace('"extra":1', `"extra":${deep}`) }), 'POST deep payload');
        assertRefused(await call('POST', '/api/jobs', { raw: new Blob([new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])]) }), 'POST invalid UTF-8');
      });
    });

    test('hostile ids in every job route: 404 (or 405), never a 5xx', async (t) => {
      if (!ready(t)) return;
      const routes: Array<[string, (id: string) => string, string | undefined]> = [
        ['GET', (id) => `/api/jobs/${id}`, undefined],
        ['PATCH', (id) => `/api/jobs/${id}`, '{"name":"renamed"}'],
        ['DELETE', (id) => `/api/jobs/${id}`, undefined],
        ['POST', (id) => `/api/jobs/${id}/pause`, undefined],
        ['POST', (id) => `/api/jobs/${id}/resume`, undefined],
        ['POST', (id) => `/api/jobs/${id}/run`, undefined],
        ['GET', (id) => `/api/jobs/${id}/runs`, undefined],
        ['PUT', (id) => `/api/jobs/${id}`, undefined],
      ];
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(hostileId, fc.integer({ min: 0, max: routes.length - 1 }), async (id, r) => {
            const [method, path, raw] = routes[r]!;
            const url = path(encodeURIComponent(id));
            const answer = await call(method, url, raw === undefined ? {} : { raw });
            assertRefused(answer, `${method} ${url}`);
            assert.ok([404, 405].includes(answer.status), `${method} ${url} -> ${answer.status}`);
          }),
          { numRuns: RUNS * 2 },
        ),
      );
    });

    test('query strings: bad limit/cursor are 400s; search and tag match literally (no LIKE wildcards, regex or operators)', async (t) => {
      if (!ready(t)) return;
      await unchanged(async () => {
        await fc.assert(
          fc.asyncProperty(fc.constantFrom('limit', 'cursor'), hostileQueryValue, fc.boolean(), pickSeeded(), async (param, value, runs, job) => {
            const numeric = /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 200;
            fc.pre(value !== '' && !(param === 'limit' && numeric));
            const path = `${runs ? `/api/jobs/${job.id}/runs` : '/api/jobs'}?${param}=${encodeURIComponent(value)}`;
            assertRefused(await call('GET', path), `GET ${path}`);
          }),
          { numRuns: RUNS * 2 },
        );
        await fc.assert(
          fc.asyncProperty(fc.oneof(fc.constantFrom(...INJECTION_STRINGS, 'REPORT', 'job', '🚀', '日本'), fc.string({ maxLength: 12 })), fc.boolean(), async (value, byTag) => {
            const path = `/api/jobs?${byTag ? 'tag' : 'search'}=${encodeURIComponent(value)}`;
            const answer = await call('GET', path);
            const needle = value.trim();
            if (answer.status !== 200) {
              // Only text a query cannot hold (a NUL, say) may be refused, and then as a 400.
              assertRefused(answer, `GET ${path}`);
              return;
            }
            const names = ((answer.json?.jobs ?? []) as Array<{ name: string }>).map((j) => j.name).sort();
            const expected = seeded
              .filter((j) => (needle === '' ? true : byTag ? j.tags.includes(needle) : j.name.toLowerCase().includes(needle.toLowerCase())))
              .map((j) => j.name)
              .sort();
            assert.deepEqual(names, expected, `GET ${path}`);
          }),
          { numRuns: RUNS * 2 },
        );
      });
    });

    test('unicode names are accepted and read back unchanged (then deleted)', async (t) => {
      if (!ready(t)) return;
      const name = fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
        .map((s) => s.trim())
        .filter((s) => s.length > 0 && s.length <= 100 && /^[^\p{Cc}]+$/u.test(s));
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(name, async (text) => {
            const unique = `${text} ${randomBytes(3).toString('hex')}`;
            const created = await call('POST', '/api/jobs', { raw: JSON.stringify({ ...validJob(), name: unique }) });
            assert.equal(created.status, 201, created.text);
            const id = String(created.json?.id);
            assert.equal((await call('GET', `/api/jobs/${id}`)).json?.name, unique.trim());
            assert.equal((await call('DELETE', `/api/jobs/${id}`)).status, 204);
          }),
          { numRuns: RUNS },
        ),
      );
    });
  });
}
