/**
 * Hostile input at every API route (the table below is checked against app/api, so a new route without an entry
 * fails), generated with fast-check: malformed and oversized bodies, wrong types, NoSQL/SQL operator injection,
 * invalid cron expressions and time zones, control characters and lone surrogates, hostile ids, paths, query
 * strings, methods and credentials. Every refused request must be a 4xx with a clear JSON message (never a 5xx),
 * and must leave the store as it was: the jobs and their runs, the users and tokens as the API shows them, and the
 * number of users, tokens, sessions and audit entries in the database.
 *
 * Runs against PostgreSQL and against MongoDB (tests/support/mongo.ts: MONGODB_URL or the MongoDB-wire test
 * server); both are required: a store that cannot start fails the suite. HOSTILE_RUNS sets the runs per property
 * (default 25); a failure prints fast-check's seed and the shrunk input.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { jobTypeNames } from '../../lib/jobs/registry';
import { cronExpressionError, isValidTimezone } from '../../lib/validation/schedule';
import { loginCookie, startApp, type StartedApp } from '../support/app';
import { startTestMongo } from '../support/mongo';
import { startTestPostgres } from '../support/postgres';

const RUNS = Number(process.env.HOSTILE_RUNS ?? '25');
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Answer {
  status: number;
  contentType: string;
  text: string;
  json: Record<string, unknown> | null;
}

/** Row counts straight from the database: what the API does not show (sessions, the audit log's size). */
type Counts = Record<'users' | 'api_tokens' | 'sessions' | 'audit_log' | 'jobs' | 'runs' | 'alert_channels', number>;
const COUNTED = ['users', 'api_tokens', 'sessions', 'audit_log', 'jobs', 'runs', 'alert_channels'] as const;

interface Target {
  app: StartedApp;
  counts(): Promise<Counts>;
  /** Every job's signing secret as stored (ciphertext and dates): what the API shows only through reveal, which audits. */
  signingSecrets(): Promise<string>;
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
  ['\'; drop table "Job"; --'],
  [{ $gt: '' }],
  null,
  true,
  1e308,
  -1,
];

const INJECTION_STRINGS = [
  "'; drop table jobs; --",
  "' OR '1'='1",
  'Robert"); DROP TABLE "Job";--',
  '%',
  '_',
  '.*',
  '\\',
  '\u0000',
  '${7*7}',
  '{"$ne":null}',
  '../../etc/passwd',
];

const hostileValue = fc.oneof(fc.constantFrom(...INJECTIONS), fc.jsonValue({ maxDepth: 3 }));
/** Anything that is not a non-empty string. */
const notAString = hostileValue.filter((v) => typeof v !== 'string');

const KNOWN_FIELDS = new Set([
  'alerts',
  'name',
  'description',
  'type',
  'payload',
  'schedule',
  'paused',
  'timeoutSeconds',
  'overlapPolicy',
  'missedPolicy',
  'tags',
  'autoPause',
]);

const badCron = fc.oneof(
  fc.constantFrom(
    '* * *',
    '61 * * * *',
    '* 25 * * *',
    '* * * * * * *',
    'every minute',
    '*/0 * * * *',
    '',
    '   ',
    "0 0 * * *'; drop table jobs; --",
    '{"$gt":""}',
  ),
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
  fc
    .oneof(
      notAString,
      fc.constantFrom(...INJECTION_STRINGS),
      fc.string().filter((s) => !jobTypeNames.includes(s)),
    )
    .map((type) => ({ type })),
  badCron.map((expression) => ({ schedule: { kind: 'cron', expression, timezone: 'UTC' } })),
  badTimezone.map((timezone) => ({ schedule: { kind: 'cron', expression: '0 * * * *', timezone } })),
  fc
    .oneof(
      notAString.filter((v) => !(v && typeof v === 'object' && !Array.isArray(v))),
      fc.constantFrom(...INJECTIONS.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))),
    )
    .map((schedule) => ({ schedule })),
  fc.oneof(notAString, fc.constantFrom(...INJECTION_STRINGS)).map((kind) => ({ schedule: { kind, seconds: 60 } })),
  fc
    .oneof(notAString, fc.integer({ max: 0 }))
    .filter((s) => !(typeof s === 'number' && s >= 1))
    .map((seconds) => ({ schedule: { kind: 'interval', seconds } })),
  notAString.map((message) => ({ type: 'log', payload: { message } })),
  fc
    .oneof(
      fc.constantFrom(...INJECTIONS.filter((v) => v === null || typeof v !== 'object' || Array.isArray(v))),
      fc.string(),
      fc.array(fc.jsonValue(), { maxLength: 3 }),
    )
    .map((payload) => ({ payload })),
  fc
    .oneof(fc.constantFrom(...INJECTIONS), fc.string(), fc.double(), fc.integer({ max: 0 }), fc.integer({ min: 86_401 }))
    .filter((v) => !(Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 86_400))
    .map((timeoutSeconds) => ({ timeoutSeconds })),
  fc
    .oneof(fc.constantFrom(...INJECTIONS), fc.constantFrom(...INJECTION_STRINGS))
    .filter((v) => v !== 'skip')
    .map((overlapPolicy) => ({ overlapPolicy })),
  fc
    .oneof(fc.constantFrom(...INJECTIONS.filter((v) => !Array.isArray(v))), fc.constantFrom(...INJECTION_STRINGS))
    .map((tags) => ({ tags })),
  fc.constantFrom(...INJECTIONS.filter((v) => v !== null && typeof v === 'object')).map((tag) => ({ tags: ['ok', tag] })),
  fc.constantFrom('yes', 1, 0, null, { $ne: false }).map((paused) => ({ paused })),
  // autoPause: { afterFailures: 1-100 } or null.
  fc
    .oneof(
      fc
        .oneof(
          fc.integer({ max: 0 }),
          fc.integer({ min: 101 }),
          fc.double({ noNaN: true }).filter((v) => !Number.isInteger(v)),
          fc.constantFrom(...INJECTIONS),
          fc.constantFrom(...INJECTION_STRINGS),
        )
        .map((afterFailures) => ({ afterFailures })),
      fc.constantFrom(...INJECTIONS.filter((v) => v !== null)),
      fc.constantFrom(...INJECTION_STRINGS),
    )
    .map((autoPause) => ({ autoPause })),
  // Alert rules: not a list, too many, broken rules, and a channelId that names no channel (checked in the store).
  fc
    .oneof(fc.constantFrom(...INJECTIONS.filter((v) => !Array.isArray(v))), fc.constantFrom(...INJECTION_STRINGS))
    .map((alerts) => ({ alerts })),
  fc
    .oneof(
      fc.constantFrom(...INJECTIONS),
      fc.constantFrom<Record<string, unknown>>(
        { on: ['failure'] },
        { channelId: 'c', on: [] },
        { channelId: 'c', on: ['failure', 'failure'] },
        { channelId: 'c', on: ['instance-lost'] },
        { channelId: 'c', on: ['nope'] },
        { channelId: 'c', on: ['slow'] },
        { channelId: 'c', on: ['slow'], slowAfterSeconds: 0 },
        { channelId: 'c', on: ['slow'], slowAfterSeconds: 604_801 },
        { channelId: 'c', on: ['failure'], slowAfterSeconds: 30 },
        { channelId: 'c', on: ['failure'], throttleSeconds: -1 },
        { channelId: 'c', on: ['failure'], throttleSeconds: 86_401 },
        { channelId: 'c', on: ['failure'], throttleSeconds: 1.5 },
        { channelId: 'c', on: ['failure'], extra: true },
        { channelId: { $ne: null }, on: ['failure'] },
      ),
      fc.uuid().map((channelId) => ({ channelId, on: ['failure'] })),
    )
    .map((rule) => ({ alerts: [rule] })),
  fc.constant({ alerts: Array.from({ length: 11 }, () => ({ channelId: 'c', on: ['failure'] })) }),
  fc
    .tuple(fc.constantFrom('$where', '$set', '__proto__', 'constructor', 'id', 'version', 'nextRunAt', 'anchorAt'), hostileValue)
    .map(([key, value]) => ({ [key]: value })),
  fc
    .tuple(
      fc.string({ minLength: 1 }).filter((k) => !KNOWN_FIELDS.has(k)),
      hostileValue,
    )
    .map(([key, value]) => ({ [key]: value })),
);

function validJob(): Record<string, unknown> {
  return {
    name: `ok-${randomBytes(4).toString('hex')}`,
    type: 'log',
    payload: { message: 'hi' },
    schedule: { kind: 'interval', seconds: 3600 },
    paused: true,
  };
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
  fc
    .jsonValue()
    .filter((v) => v === null || typeof v !== 'object' || Array.isArray(v))
    .map((v) => JSON.stringify(v)),
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

const badContentType = fc.constantFrom(
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'json',
  'application/jsonp',
);

const hostileId = fc
  .oneof(fc.string({ minLength: 1, maxLength: 60 }), fc.constantFrom(...INJECTION_STRINGS.filter((s) => s !== '')), fc.uuid())
  .filter((s) => s.trim() !== '' && s !== '.' && s !== '..');

const hostileQueryValue = fc.oneof(
  fc.string({ maxLength: 50 }),
  fc.constantFrom(...INJECTION_STRINGS),
  fc.constantFrom('-1', '0', '1e9', '201', 'NaN', '1.5', '[object Object]', '{"$gt":""}'),
);

/** Text with one character the database cannot store or a name must not hold: C0/C1 controls, DEL, lone surrogates. */
const BAD_CHARACTERS = ['\u0000', '\u0001', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u009f', '\ud800', '\udfff'];
const withBadCharacter = fc
  .tuple(fc.string({ maxLength: 10 }), fc.constantFrom(...BAD_CHARACTERS), fc.string({ maxLength: 10 }))
  .map(([a, c, b]) => `${a}x${c}x${b}`);
/** The same without lone surrogates, which a URL cannot carry (percent-encoding turns them into U+FFFD). */
const withControlCharacter = fc
  .tuple(
    fc.string({ maxLength: 10 }),
    fc.constantFrom(...BAD_CHARACTERS.filter((c) => !/[\ud800-\udfff]/.test(c))),
    fc.string({ maxLength: 10 }),
  )
  .map(([a, c, b]) => `${a}x${c}x${b}`);

const ROLES = ['admin', 'operator', 'viewer'];
const notARole = fc
  .oneof(
    hostileValue,
    fc.constantFrom(...INJECTION_STRINGS),
    fc.constantFrom('Admin', 'ADMIN', ' admin', 'root', 'superuser', ''),
    fc.string(),
  )
  .filter((v) => !ROLES.includes(v as string));
const USERNAME_OK = /^[\p{L}\p{N}._@-]+$/u;
const badUsername = fc
  .oneof(
    notAString,
    withBadCharacter,
    fc.constantFrom(...INJECTION_STRINGS),
    fc.constantFrom('', '   ', 'x'.repeat(65), 'a b', 'a/b', '<script>'),
    fc.string(),
  )
  .filter((v) => typeof v !== 'string' || v.trim() === '' || v.trim().length > 64 || !USERNAME_OK.test(v.trim()));
const badPassword = fc.oneof(notAString, fc.string({ maxLength: 9 }), fc.constant('p'.repeat(513)));

/** One change that makes a user-create body invalid. */
const invalidUserCreate: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  badUsername.map((username) => ({ username })),
  badPassword.map((password) => ({ password })),
  notARole.map((role) => ({ role })),
  fc
    .tuple(fc.constantFrom('__proto__', 'constructor', '$set', 'id', 'passwordHash', 'disabled', 'failedLogins'), hostileValue)
    .map(([key, value]) => ({ [key]: value })),
);
/** One change that makes a user-update body invalid (an empty update would be valid: at least one of these). */
const invalidUserUpdate: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  notARole.map((role) => ({ role })),
  fc
    .oneof(hostileValue, fc.constantFrom('true', 'false', 0, 1))
    .filter((v) => typeof v !== 'boolean')
    .map((disabled) => ({ disabled })),
  badPassword.map((password) => ({ password })),
  fc
    .tuple(fc.constantFrom('__proto__', 'username', 'passwordHash', 'lockedUntil', 'failedLogins', '$set'), hostileValue)
    .map(([key, value]) => ({ [key]: value })),
);
/** One change that makes a token-create body invalid. */
const invalidTokenCreate: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.oneof(notAString, withBadCharacter, fc.constantFrom('', '   ', 'x'.repeat(101))).map((name) => ({ name })),
  notARole.map((role) => ({ role })),
  fc
    .tuple(fc.constantFrom('__proto__', 'tokenHash', 'prefix', 'secret', 'revokedAt', '$where'), hostileValue)
    .map(([key, value]) => ({ [key]: value })),
);

/** Sign-in bodies that cannot be a sign-in: a missing or non-string field, an empty one, a control character in the name. */
const malformedSignIn: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ username: notAString, password: fc.string({ minLength: 1 }) }),
  fc.record({ username: fc.constantFrom('admin', 'someone'), password: fc.oneof(notAString, fc.constant('')) }),
  fc.record({ username: withBadCharacter.filter((u) => u.trim() !== ''), password: fc.string({ minLength: 1 }) }),
  fc.record({ username: fc.constantFrom('', '   ', '\t'), password: fc.string({ minLength: 1 }) }),
  fc.record({ password: fc.string({ minLength: 1 }) }),
  fc.record({ username: fc.constantFrom('admin') }),
);

/** Header values a client can send (printable ASCII) that are no credential of ours. */
const junkHeader = fc.oneof(
  fc.string({ minLength: 1, maxLength: 80 }),
  // Header values cannot carry C0 control characters.
  // eslint-disable-next-line no-control-regex
  fc.constantFrom(...INJECTION_STRINGS.filter((s) => !/[\u0000-\u001f]/.test(s) && s !== '')),
);
const hostileAuth: fc.Arbitrary<Record<string, string>> = fc.oneof(
  junkHeader.map((v) => ({ authorization: v })),
  junkHeader.map((v) => ({ authorization: `Bearer ${v.replace(/\s/g, '') || 'x'}` })),
  fc
    .constantFrom(
      'Basic YWRtaW46YWRtaW4=',
      'Bearer',
      'Bearer  ',
      `Bearer ${'x'.repeat(600)}`,
      'Bearer cpt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      'Digest x',
    )
    .map((v) => ({ authorization: v })),
  junkHeader.map((v) => ({ cookie: `cronplane_session=${v.replace(/[;\s]/g, '') || 'x'}` })),
  fc
    .string({ minLength: 43, maxLength: 43, unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') })
    .map((secret) => ({ cookie: `cronplane_session=${secret}.${'A'.repeat(43)}` })),
  fc.constant({ cookie: 'cronplane_session=' }),
  fc.constant({}),
);

/** Dates PostgreSQL refuses or that are no ISO-8601 at all (nothing here starts like YYYY-MM-DD with a valid date). */
const badDate = fc.oneof(
  fc.constantFrom(
    '-010000-01-01',
    '+275760-09-13',
    '+010000-01-01T00:00:00Z',
    '99999-01-01',
    '10000-01-01',
    '0000-01-01',
    '-000001-01-01',
    '2024-02-30',
    '2023-02-29',
    '2024-13-01',
    '2024-00-10',
    '2024-01-01T24:00',
    '2024-01-01T23:60',
    '2024-01-01 10:00',
    '0',
    '1e12',
    '-1',
    'NaN',
    'Infinity',
    'yesterday',
    '1 Jan 2024',
    'Jan 1, 2024',
    '2024/01/01',
    'now()',
    "2024-01-01'; drop table audit_log; --",
  ),
  fc.integer({ min: 10_000, max: 275_760 }).map((y) => `+${String(y).padStart(6, '0')}-01-01T00:00:00Z`),
  fc.integer({ min: 1, max: 271_821 }).map((y) => `-${String(y).padStart(6, '0')}-01-01`),
  fc.string({ maxLength: 30 }).filter((v) => v.trim() !== '' && !/^\s*\d{4}-\d{2}-\d{2}/.test(v)),
);
const MIN_DATE = new Date('0001-01-01T00:00:00.000Z');
const MAX_DATE = new Date('9999-12-31T23:59:59.999Z');
const goodDate = fc.date({ min: MIN_DATE, max: MAX_DATE, noInvalidDate: true }).map((d) => d.toISOString());
const base64url = (text: string) => Buffer.from(text).toString('base64url');
/** Cursors nobody made: a time outside years 1-9999 or no time at all, a non-uuid, not JSON, not base64url. */
const badTimeCursor = fc.oneof(
  fc
    .tuple(fc.oneof(badDate, fc.string()), fc.uuid())
    .filter(([key]) => !/^\d{4}-\d{2}-\d{2}/.test(key))
    .map((key) => base64url(JSON.stringify(key))),
  fc.tuple(goodDate, fc.string({ maxLength: 40 })).map((key) => base64url(JSON.stringify(key))),
  fc
    .jsonValue({ maxDepth: 2 })
    .filter((v) => !Array.isArray(v))
    .map((v) => base64url(JSON.stringify(v))),
  fc.string({ minLength: 1, maxLength: 60 }),
  fc.constantFrom('%%%', 'A', 'AAAAA', 'x'.repeat(501), base64url('["2024-01-01T00:00:00.000Z"]'), base64url('not json')),
);

/** Query parameters no route reads. */
const ignoredQuery = fc
  .array(
    fc.tuple(
      // `run` is GET /api/events' (a run whose live output to watch).
      fc.string({ minLength: 1, maxLength: 12 }).filter((key) => key !== 'run'),
      fc.oneof(hostileQueryValue, withControlCharacter),
    ),
    {
      minLength: 1,
      maxLength: 4,
    },
  )
  .map((pairs) => new URLSearchParams(pairs).toString());

// ---- every route, checked against app/api -----------------------------------------------------------------------

// ---- alert channels: valid bodies per type, and one invalid change of a field ---------------------------------------

/** Targets the SSRF guard refuses when saved (the apps here run without HTTP_JOB_ALLOW), and URLs that are none. */
const badChannelUrl = fc.oneof(
  notAString,
  fc.constantFrom(
    'http://169.254.169.254/latest/meta-data/',
    'http://localhost/x',
    'http://127.0.0.1:8080/x',
    'http://[::1]/x',
    'http://10.0.0.1/x',
    'http://[::ffff:127.0.0.1]/x',
    'ftp://example.com/x',
    'javascript:alert(1)',
    'file:///etc/passwd',
    'not a url',
    '',
    '••••abcd',
    'https://example.com/x?••••',
    `https://example.com/${'x'.repeat(2100)}`,
  ),
  fc.constantFrom(...INJECTION_STRINGS),
);
const badEmailAddress = fc.oneof(
  notAString,
  fc.constantFrom(
    '',
    'no-at-sign',
    'a@',
    '@b',
    'a b@example.com',
    'a@exa mple.com',
    'a@example.com\r\nBcc: x@evil.test',
    'Näme <a@example.com>',
  ),
  fc.constantFrom(...INJECTION_STRINGS),
);
const validChannel = (type: string): Record<string, unknown> => {
  const name = `ch-${randomBytes(4).toString('hex')}`;
  if (type === 'email') return { name, type, config: { host: 'smtp.example.invalid', from: 'a@example.com', to: ['b@example.com'] } };
  return { name, type, config: { url: `https://hooks.example.invalid/${type}` } };
};
/** One invalid change: the field path the issue must name, and the body with it. */
const invalidChannelCreate: fc.Arbitrary<{ field: string; body: Record<string, unknown> }> = fc.oneof(
  fc.tuple(fc.constantFrom('webhook', 'slack'), badChannelUrl).map(([type, url]) => {
    const body = validChannel(type);
    return { field: 'config.url', body: { ...body, config: { url } } };
  }),
  fc.tuple(fc.constantFrom('from', 'to'), badEmailAddress).map(([field, value]) => {
    const body = validChannel('email');
    const config = { ...(body.config as Record<string, unknown>), [field]: field === 'to' ? [value] : value };
    return { field: field === 'to' ? 'config.to.0' : 'config.from', body: { ...body, config } };
  }),
  fc
    .tuple(
      fc.constantFrom('port', 'security', 'host', 'username', 'password', 'to'),
      fc.oneof(hostileValue, fc.constantFrom(0, 65_536, -1, 1.5, '25', 'TLS', 'none', '', 'a b', 'x\ny', [], 'x'.repeat(1100))),
    )
    .filter(([field, value]) => {
      // Values that are valid for the field are no test of it.
      if (field === 'port') return !(typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65_535);
      if (field === 'security') return !['tls', 'starttls', 'opportunistic'].includes(value as string);
      if (field === 'to') return !(Array.isArray(value) && value.length > 0);
      if (field === 'host') return typeof value !== 'string' || !/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(value);
      return typeof value !== 'string' || value === '' || value.length > 256 || /\p{Cc}/u.test(value);
    })
    .map(([field, value]) => {
      const body = validChannel('email');
      return { field: `config.${field}`, body: { ...body, config: { ...(body.config as Record<string, unknown>), [field]: value } } };
    }),
  fc
    .oneof(notAString, fc.constantFrom('', '   ', 'x'.repeat(101)), withBadCharacter)
    .map((name) => ({ field: 'name', body: { ...validChannel('slack'), name } })),
  fc
    .oneof(hostileValue, fc.constantFrom(0, -1, 1.5, '10', 1_000_001))
    .filter((v) => v !== null && !(typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 1_000_000))
    .map((dailyCap) => ({ field: 'dailyCap', body: { ...validChannel('slack'), dailyCap } })),
  fc
    .oneof(hostileValue, fc.constantFrom('Webhook', 'sms', 'pagerduty', ''))
    .filter((t) => !['webhook', 'slack', 'email'].includes(t as string))
    .map((type) => ({ field: 'type', body: { ...validChannel('slack'), type } })),
  fc
    .constantFrom('extra', '__proto__', 'signingSecret', 'id', 'createdAt')
    .map((key) => ({ field: key, body: { ...validChannel('webhook'), [key]: 'x' } })),
  fc.constantFrom('headers', '$where', 'secret').map((key) => ({
    field: `config.${key}`,
    body: { ...validChannel('webhook'), config: { url: 'https://hooks.example.invalid/x', [key]: 'x' } },
  })),
);

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
type Method = (typeof METHODS)[number];

/** Route pattern -> the methods it answers. `{id}` stands for a path parameter. */
const ROUTES: Record<string, Method[]> = {
  '/api/session': ['GET', 'POST', 'DELETE'],
  '/api/users': ['GET', 'POST'],
  '/api/users/{id}': ['PATCH', 'DELETE'],
  '/api/users/{id}/sessions': ['DELETE'],
  '/api/tokens': ['GET', 'POST'],
  '/api/tokens/{id}': ['DELETE'],
  '/api/audit': ['GET'],
  '/api/alerts': ['GET'],
  '/api/alerts/defaults': ['GET', 'PUT'],
  '/api/instances': ['GET'],
  '/api/events': ['GET'],
  '/api/health': ['GET'],
  '/api/openapi.json': ['GET'],
  '/api/jobs': ['GET', 'POST'],
  '/api/jobs/{id}': ['GET', 'PATCH', 'DELETE'],
  '/api/jobs/{id}/pause': ['POST'],
  '/api/jobs/{id}/resume': ['POST'],
  '/api/jobs/{id}/run': ['POST'],
  '/api/jobs/{id}/runs': ['GET'],
  '/api/jobs/{id}/signing-secret/reveal': ['POST'],
  '/api/jobs/{id}/signing-secret/rotate': ['POST'],
  '/api/runs': ['GET'],
  '/api/runs/{id}': ['GET'],
  '/api/runs/{id}/output': ['GET'],
  '/api/channels': ['GET', 'POST'],
  '/api/channels/{id}': ['GET', 'PATCH', 'DELETE'],
  '/api/channels/{id}/test': ['POST'],
  '/api/channels/{id}/signing-secret/reveal': ['POST'],
  '/api/runs/{id}/cancel': ['POST'],
  '/api/{...path}': ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
};
/** Public without credentials: README and docs/security.md say so. */
const PUBLIC = new Set(['GET /api/health', 'POST /api/session']);

function routesOnDisk(): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name === 'route.ts') {
        const segments = relative(join(ROOT, 'app'), dir).split(sep);
        found.push(`/${segments.map((s) => s.replace(/^\[\.\.\.(\w+)\]$/, '{...$1}').replace(/^\[(\w+)\]$/, '{$1}')).join('/')}`);
      }
    }
  };
  walk(join(ROOT, 'app', 'api'));
  return found.sort();
}

// ---- the suite, once per store ----------------------------------------------------------------------------------

async function startOnPostgres(): Promise<Target> {
  const db = await startTestPostgres();
  const app = await startApp({ databaseUrl: db.url, env: { HTTP_JOB_ALLOW: undefined } }).catch(async (err: unknown) => {
    await db.stop();
    throw err;
  });
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  return {
    app,
    async counts() {
      const row = (await client.query(`SELECT ${COUNTED.map((t) => `(SELECT count(*)::int FROM ${t}) AS ${t}`).join(', ')}`))
        .rows[0] as Counts;
      return row;
    },
    async signingSecrets() {
      const { rows } = await client.query('SELECT * FROM job_signing_secrets ORDER BY job_id');
      return JSON.stringify(rows);
    },
    stop: async () => (await client.end(), await app.stop(), await db.stop()),
  };
}

async function startOnMongo(): Promise<Target> {
  const db = await startTestMongo();
  const app = await startApp({ databaseUrl: db.url, env: { HTTP_JOB_ALLOW: undefined } }).catch(async (err: unknown) => {
    await db.stop();
    throw err;
  });
  const client = new MongoClient(db.url);
  await client.connect();
  return {
    app,
    async counts() {
      const entries = await Promise.all(COUNTED.map(async (name) => [name, await client.db().collection(name).countDocuments()] as const));
      return Object.fromEntries(entries) as Counts;
    },
    async signingSecrets() {
      return JSON.stringify(await client.db().collection('job_signing_secrets').find().sort({ _id: 1 }).toArray());
    },
    stop: async () => (await client.close(), await app.stop(), await db.stop()),
  };
}

// Both stores, both required: a MongoDB leg that cannot start fails (it used to skip itself).
const stores: Array<{ name: string; start: () => Promise<Target> }> = [
  { name: 'postgres', start: startOnPostgres },
  { name: 'mongodb', start: startOnMongo },
];

test('the route table below covers every route under app/api', () => {
  assert.deepEqual(routesOnDisk(), Object.keys(ROUTES).sort());
});

for (const store of stores) {
  describe(`hostile input (${store.name})`, () => {
    let target: Target;
    const seeded: Array<{ id: string; name: string; tags: string[] }> = [];
    const seedUser = {
      id: '',
      username: `seed-user-${randomBytes(3).toString('hex')}`,
      password: `pw-${randomBytes(12).toString('base64url')}`,
    };
    let seedTokenId = '';
    /** A viewer's bearer token. */
    let seedTokenSecret = '';
    let seedCookie = '';
    /** A webhook channel with a secret in its URL's query string. */
    let seedChannelId = '';
    /** A finished run (of a run-now of the first seeded job): its cancel is a 409 whatever is asked. */
    let seedRunId = '';

    before(
      async () => {
        target = await store.start();
        const jobs: Array<Record<string, unknown> & { name: string; tags?: string[] }> = [
          { ...validJob(), name: 'alpha report', tags: ['nightly', 'team-a'] },
          { ...validJob(), name: 'Ünïcödé 日本語 🚀 job', tags: ['team-b'] },
          {
            ...validJob(),
            name: '100% coverage_check',
            type: 'http',
            payload: { url: 'https://example.com/x', headers: { Authorization: 'Bearer seeded-secret-value-1234' } },
          },
          {
            ...validJob(),
            name: 'berlin cron',
            schedule: { kind: 'cron', expression: '0 2 * * 1-5', timezone: 'Europe/Berlin' },
            tags: ['nightly'],
          },
        ];
        for (const job of jobs) {
          const answer = await call('POST', '/api/jobs', { raw: JSON.stringify(job) });
          assert.equal(answer.status, 201, answer.text);
          seeded.push({ id: String(answer.json?.id), name: job.name, tags: job.tags ?? [] });
        }
        const user = await call('POST', '/api/users', {
          raw: JSON.stringify({ username: seedUser.username, password: seedUser.password, role: 'viewer' }),
        });
        assert.equal(user.status, 201, user.text);
        seedUser.id = String(user.json?.id);
        const token = await call('POST', '/api/tokens', { raw: JSON.stringify({ name: 'seed token', role: 'viewer' }) });
        assert.equal(token.status, 201, token.text);
        seedTokenId = String(token.json?.id);
        seedTokenSecret = String(token.json?.secret);
        seedCookie = await loginCookie(target.app, seedUser.username, seedUser.password);
        const channel = await call('POST', '/api/channels', {
          raw: JSON.stringify({
            name: 'seed channel',
            type: 'webhook',
            config: { url: 'https://hooks.example.invalid/in?token=seed-channel-secret' },
          }),
        });
        assert.equal(channel.status, 201, channel.text);
        seedChannelId = String(channel.json?.id);
        assert.equal((await call('POST', `/api/jobs/${seeded[0]!.id}/run`)).status, 202);
        for (let i = 0; i < 300 && !seedRunId; i++) {
          const runs = (await call('GET', `/api/jobs/${seeded[0]!.id}/runs?limit=1`)).json?.runs as Array<{ id: string; status: string }>;
          if (runs[0] && runs[0].status === 'succeeded') seedRunId = runs[0].id;
          else await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.ok(seedRunId, 'a finished run to try cancels on');
      },
      { timeout: 180_000 },
    );

    after(
      async () => {
        await target?.stop();
      },
      { timeout: 30_000 },
    );

    interface CallOptions {
      raw?: string | Blob | ReadableStream<Uint8Array>;
      contentType?: string;
      /** Replaces the admin bearer token (e.g. hostile credentials, or {} for none). */
      headers?: Record<string, string>;
    }

    async function call(method: string, path: string, options: CallOptions = {}): Promise<Answer> {
      const app = target.app;
      const headers: Record<string, string> = options.headers ?? { authorization: `Bearer ${app.apiToken}` };
      if (options.raw !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
      const init: RequestInit & { duplex?: 'half' } = {
        method,
        headers,
        body: options.raw,
        redirect: 'manual',
        signal: AbortSignal.timeout(20_000),
      };
      if (options.raw instanceof ReadableStream) init.duplex = 'half';
      const controller = new AbortController();
      const response = await fetch(`${app.baseUrl}${path}`, { ...init, signal: AbortSignal.any([init.signal!, controller.signal]) });
      const contentType = response.headers.get('content-type') ?? '';
      if (contentType.startsWith('text/event-stream')) {
        // The live stream never ends: its status and type are the answer.
        controller.abort();
        return { status: response.status, contentType, text: '', json: null };
      }
      const text = await response.text();
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

    function issuePaths(answer: Answer): string[] {
      return ((answer.json?.issues ?? []) as Array<{ path: string }>).map((i) => i.path);
    }

    /**
     * Everything the API shows of the store (the job list, each job, each job's runs, the users, the tokens) and the
     * row counts the API does not show (sessions, audit entries; users, tokens, jobs, runs too).
     */
    async function snapshot(): Promise<{ view: string; counts: Counts }> {
      const list = await call('GET', '/api/jobs?limit=200');
      assert.equal(list.status, 200, list.text);
      const jobs = (list.json?.jobs ?? []) as Array<{ id: string }>;
      const parts: unknown[] = [list.json];
      for (const job of jobs) {
        parts.push((await call('GET', `/api/jobs/${job.id}`)).json);
        parts.push((await call('GET', `/api/jobs/${job.id}/runs?limit=200`)).json);
      }
      for (const path of ['/api/users', '/api/tokens', '/api/channels', `/api/channels/${seedChannelId}`]) {
        const answer = await call('GET', path);
        assert.equal(answer.status, 200, answer.text);
        parts.push(answer.json);
      }
      parts.push(await target.signingSecrets());
      return { view: JSON.stringify(parts), counts: await target.counts() };
    }

    /**
     * Runs a property and checks the store did not change. `audited` says how many audit entries the property
     * wrote on purpose (sign-in failures are audited by design); nothing else may differ.
     */
    async function unchanged(fn: () => Promise<void>, audited: () => number = () => 0): Promise<void> {
      const before = await snapshot();
      await fn();
      const after = await snapshot();
      assert.equal(after.view, before.view, 'a refused request changed the data');
      assert.deepEqual(
        after.counts,
        { ...before.counts, audit_log: before.counts.audit_log + audited() },
        'a refused request changed what the database holds',
      );
    }

    /** A route that takes an id: method, path for an (encoded) id, raw body or none. */
    type IdRoute = [string, (id: string) => string, string | undefined];
    /** Every id the arbitrary yields, at every route: refused with a 404 (or 405), and the store unchanged. */
    function idsRefused(routes: IdRoute[], ids: fc.Arbitrary<string>): Promise<void> {
      return unchanged(() =>
        fc.assert(
          fc.asyncProperty(ids, fc.integer({ min: 0, max: routes.length - 1 }), async (id, r) => {
            const [method, path, raw] = routes[r]!;
            const url = path(encodeURIComponent(id));
            const answer = await call(method, url, raw === undefined ? {} : { raw });
            assertRefused(answer, `${method} ${url}`);
            assert.ok([404, 405].includes(answer.status), `${method} ${url} -> ${answer.status}`);
          }),
          { numRuns: RUNS * 2 },
        ),
      );
    }

    const pickSeeded = () => fc.integer({ min: 0, max: 3 }).map((i) => seeded[i]!);
    /** A different client address for each sign-in attempt, so the per-address limit does not turn them into 429s. */
    const someAddress = () => `198.18.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    test('POST /api/jobs: invalid jobs (operators, wrong types, bad cron/zones, unknown keys) are 400s with field issues', async () => {
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

    test('PATCH /api/jobs/{id}: the same invalid changes leave the job as it was', async () => {
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

    test('bodies that are not a JSON object, or not JSON, or not declared as JSON, at POST and PATCH', async () => {
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(
            pickSeeded(),
            fc.oneof(
              notAnObjectBody.map((raw) => ({ raw, contentType: 'application/json' })),
              fc.record({ raw: fc.string(), contentType: badContentType }),
            ),
            fc.boolean(),
            async (job, { raw, contentType }, patch) => {
              const answer = patch
                ? await call('PATCH', `/api/jobs/${job.id}`, { raw, contentType })
                : await call('POST', '/api/jobs', { raw, contentType });
              assertRefused(answer, `${patch ? 'PATCH' : 'POST'} (${contentType}) ${JSON.stringify(raw).slice(0, 200)}`);
            },
          ),
          { numRuns: RUNS * 2 },
        ),
      );
    });

    test('oversized and pathological bodies: 413 above 1 MB (even without a Content-Length), 400 for too-deep or too-long values', async () => {
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
        assertRefused(
          await call('POST', '/api/jobs', { raw: JSON.stringify({ ...validJob(), payload: { message: 'm'.repeat(20_000) } }) }),
          'POST long message',
        );
        assertRefused(
          await call('POST', '/api/jobs', { raw: JSON.stringify({ ...validJob(), tags: Array.from({ length: 500 }, (_, i) => `t${i}`) }) }),
          'POST 500 tags',
        );
        const deep = `${'{"a":'.repeat(5_000)}"x"${'}'.repeat(5_000)}`;
        assertRefused(
          await call('POST', '/api/jobs', {
            raw: JSON.stringify({ ...validJob(), payload: { message: 'm', extra: 1 } }).replace('"extra":1', `"extra":${deep}`),
          }),
          'POST deep payload',
        );
        assertRefused(
          await call('POST', '/api/jobs', { raw: new Blob([new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])]) }),
          'POST invalid UTF-8',
        );
      });
    });

    test('hostile ids in every job route: 404 (or 405), never a 5xx', async () => {
      const routes: IdRoute[] = [
        ['GET', (id) => `/api/jobs/${id}`, undefined],
        ['PATCH', (id) => `/api/jobs/${id}`, '{"name":"renamed"}'],
        ['DELETE', (id) => `/api/jobs/${id}`, undefined],
        ['POST', (id) => `/api/jobs/${id}/pause`, undefined],
        ['POST', (id) => `/api/jobs/${id}/resume`, undefined],
        ['POST', (id) => `/api/jobs/${id}/run`, undefined],
        ['GET', (id) => `/api/jobs/${id}/runs`, undefined],
        ['POST', (id) => `/api/jobs/${id}/signing-secret/reveal`, undefined],
        ['POST', (id) => `/api/jobs/${id}/signing-secret/rotate`, '{"graceSeconds":60}'],
        ['POST', (id) => `/api/jobs/${id}/signing-secret/rotate`, undefined],
        ['PUT', (id) => `/api/jobs/${id}`, undefined],
      ];
      await idsRefused(routes, hostileId);
    });

    test('POST /api/jobs/{id}/signing-secret/rotate: bad bodies (not JSON, not an object, wrong types, graceSeconds out of 0..604800, unknown keys) are 400s; the secret stays', async () => {
      const http = () => seeded[2]!;
      const badGrace = fc
        .oneof(
          notAString,
          fc.constantFrom('86400', '', '1e3', -1, 604_801, 1e9, 0.5, 86_399.9, Number.MAX_SAFE_INTEGER + 2, -0.1),
          fc.integer({ max: -1 }),
          fc.integer({ min: 604_801 }),
          fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)),
        )
        .filter((v) => !(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 604_800));
      const badBody = fc.oneof(
        badGrace.map((graceSeconds) => ({ raw: withMutations({ graceSeconds }, []), contentType: 'application/json', field: true })),
        fc
          .tuple(
            fc.oneof(
              fc.constantFrom('secret', 'signingSecret', 'previousSecret', '__proto__', '$set', 'grace', 'GraceSeconds'),
              fc.string({ minLength: 1 }).filter((k) => k !== 'graceSeconds'),
            ),
            hostileValue,
          )
          .map(([key, value]) => ({
            raw: withMutations({ graceSeconds: 60, [key]: value }, []),
            contentType: 'application/json',
            field: false,
          })),
        // An empty body is a rotation with the defaults, so only bodies with something in them.
        notAnObjectBody.filter((raw) => raw.trim() !== '').map((raw) => ({ raw, contentType: 'application/json', field: false })),
        fc
          .record({ raw: fc.string({ minLength: 1 }).filter((raw) => raw.trim() !== ''), contentType: badContentType })
          .map((b) => ({ ...b, field: false })),
      );
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(badBody, async ({ raw, contentType, field }) => {
            const path = `/api/jobs/${http().id}/signing-secret/rotate`;
            const answer = await call('POST', path, { raw, contentType });
            assertRefused(answer, `POST ${path} (${contentType}) ${raw.slice(0, 200)}`);
            assert.equal(answer.status, 400, `POST ${path} ${raw.slice(0, 200)} -> ${answer.status}`);
            if (field) assert.deepEqual([...new Set(issuePaths(answer))], ['graceSeconds'], raw.slice(0, 200));
          }),
          { numRuns: RUNS * 3 },
        ),
      );
    });

    test('POST /api/jobs/{id}/pause: bad bodies (a note that is not a string, too long, with a control character or a lone surrogate; unknown keys; not a JSON object) are 400s; nothing paused or audited', async () => {
      const badNote = fc.oneof(
        notAString.filter((v) => v !== null),
        withBadCharacter,
        fc.integer({ min: 501, max: 5000 }).map((n) => 'n'.repeat(n)),
        fc.string({ minLength: 501, maxLength: 700 }).filter((note) => note.trim().length > 500),
      );
      const badBody = fc.oneof(
        badNote.map((note) => ({ raw: withMutations({ note }, []), contentType: 'application/json', field: true })),
        fc
          .tuple(
            fc.oneof(
              fc.constantFrom('reason', 'paused', 'pause', '__proto__', '$set', 'Note', 'by', 'at'),
              fc.string({ minLength: 1 }).filter((k) => k !== 'note'),
            ),
            hostileValue,
          )
          .map(([key, value]) => ({ raw: withMutations({ note: 'ok', [key]: value }, []), contentType: 'application/json', field: false })),
        notAnObjectBody.filter((raw) => raw.trim() !== '').map((raw) => ({ raw, contentType: 'application/json', field: false })),
        fc
          .record({ raw: fc.string({ minLength: 1 }).filter((raw) => raw.trim() !== ''), contentType: badContentType })
          .map((b) => ({ ...b, field: false })),
      );
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(badBody, pickSeeded(), async ({ raw, contentType, field }, job) => {
            const path = `/api/jobs/${job.id}/pause`;
            const answer = await call('POST', path, { raw, contentType });
            assertRefused(answer, `POST ${path} (${contentType}) ${raw.slice(0, 200)}`);
            assert.equal(answer.status, 400, `POST ${path} ${raw.slice(0, 200)} -> ${answer.status}`);
            if (field) assert.deepEqual([...new Set(issuePaths(answer))], ['note'], raw.slice(0, 200));
          }),
          { numRuns: RUNS * 3 },
        ),
      );
    });

    test('hostile ids at POST /api/runs/{id}/cancel: 404 (or 405), never a 5xx', async () => {
      await idsRefused(
        [
          ['POST', (id) => `/api/runs/${id}/cancel`, undefined],
          ['POST', (id) => `/api/runs/${id}/cancel`, '{"reason":"why"}'],
          ['GET', (id) => `/api/runs/${id}/cancel`, undefined],
        ],
        hostileId,
      );
    });

    test('POST /api/runs/{id}/cancel: bad bodies (a reason that is not a string, too long, with a control character or a lone surrogate; unknown keys; not a JSON object) are 400s; a finished run is a 409; a viewer 403; nothing changed or audited', async () => {
      const path = `/api/runs/${seedRunId}/cancel`;
      const badReason = fc.oneof(
        notAString.filter((v) => v !== null),
        withBadCharacter,
        fc.integer({ min: 501, max: 5000 }).map((n) => 'r'.repeat(n)),
        fc.string({ minLength: 501, maxLength: 700 }).filter((reason) => reason.trim().length > 500),
      );
      const badBody = fc.oneof(
        badReason.map((reason) => ({ raw: withMutations({ reason }, []), contentType: 'application/json', field: true })),
        fc
          .tuple(
            fc.oneof(
              fc.constantFrom('note', 'status', 'cancel', '__proto__', '$set', 'Reason', 'by', 'at'),
              fc.string({ minLength: 1 }).filter((k) => k !== 'reason'),
            ),
            hostileValue,
          )
          .map(([key, value]) => ({
            raw: withMutations({ reason: 'ok', [key]: value }, []),
            contentType: 'application/json',
            field: false,
          })),
        notAnObjectBody.filter((raw) => raw.trim() !== '').map((raw) => ({ raw, contentType: 'application/json', field: false })),
        fc
          .record({ raw: fc.string({ minLength: 1 }).filter((raw) => raw.trim() !== ''), contentType: badContentType })
          .map((b) => ({ ...b, field: false })),
      );
      // The viewer token's last use is recorded (at most once a minute): record it now, so the requests below change nothing.
      assert.equal((await call('GET', '/api/jobs', { headers: { authorization: `Bearer ${seedTokenSecret}` } })).status, 200);
      await unchanged(async () => {
        await fc.assert(
          fc.asyncProperty(badBody, async ({ raw, contentType, field }) => {
            const answer = await call('POST', path, { raw, contentType });
            assertRefused(answer, `POST ${path} (${contentType}) ${raw.slice(0, 200)}`);
            assert.equal(answer.status, 400, `POST ${path} ${raw.slice(0, 200)} -> ${answer.status}`);
            if (field) assert.deepEqual([...new Set(issuePaths(answer))], ['reason'], raw.slice(0, 200));
          }),
          { numRuns: RUNS * 3 },
        );
        for (const raw of [undefined, '{}', '{"reason":"stop it"}', '{"reason":null}']) {
          const finished = await call('POST', path, raw === undefined ? {} : { raw });
          assertRefused(finished, `cancel a finished run ${raw ?? ''}`);
          assert.equal(finished.status, 409, finished.text);
          assert.match(String(finished.json?.error), /already ended \(succeeded\)/);
        }
        const viewers: Array<Record<string, string>> = [
          { authorization: `Bearer ${seedTokenSecret}` },
          { cookie: seedCookie, origin: target.app.baseUrl },
        ];
        for (const headers of viewers) {
          const answer = await call('POST', path, { headers, raw: '{"reason":"viewer"}' });
          assertRefused(answer, 'viewer cancel');
          assert.equal(answer.status, 403, answer.text);
        }
      });
    });

    test('signing secret routes: a viewer gets 403 (token or cookie), a job that is not http 409; nothing revealed, rotated or audited', async () => {
      const log = seeded[0]!;
      const http = seeded[2]!;
      // The token's last use is recorded (at most once a minute): record it now, so the requests below change nothing.
      assert.equal((await call('GET', '/api/jobs', { headers: { authorization: `Bearer ${seedTokenSecret}` } })).status, 200);
      await unchanged(async () => {
        for (const action of ['reveal', 'rotate']) {
          const viewers: Array<Record<string, string>> = [
            { authorization: `Bearer ${seedTokenSecret}` },
            { cookie: seedCookie, origin: target.app.baseUrl },
          ];
          for (const headers of viewers) {
            for (const raw of [undefined, '{"graceSeconds":0}']) {
              const answer = await call('POST', `/api/jobs/${http.id}/signing-secret/${action}`, { headers, raw });
              assertRefused(answer, `viewer ${action}`);
              assert.equal(answer.status, 403, `viewer ${action} -> ${answer.status} ${answer.text}`);
              assert.doesNotMatch(answer.text, /whsec_/);
            }
          }
          const notHttp = await call('POST', `/api/jobs/${log.id}/signing-secret/${action}`);
          assertRefused(notHttp, `${action} a log job`);
          assert.equal(notHttp.status, 409, notHttp.text);
          assert.match(String(notHttp.json?.error), /only http jobs/);
        }
      });
    });

    test('query strings: bad limit/cursor are 400s; search and tag match literally (no LIKE wildcards, regex or operators)', async () => {
      await unchanged(async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom('limit', 'cursor'),
            hostileQueryValue,
            fc.boolean(),
            pickSeeded(),
            async (param, value, runs, job) => {
              const numeric = /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 200;
              fc.pre(value !== '' && !(param === 'limit' && numeric));
              const path = `${runs ? `/api/jobs/${job.id}/runs` : '/api/jobs'}?${param}=${encodeURIComponent(value)}`;
              assertRefused(await call('GET', path), `GET ${path}`);
            },
          ),
          { numRuns: RUNS * 2 },
        );
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(fc.constantFrom(...INJECTION_STRINGS, 'REPORT', 'job', '🚀', '日本'), fc.string({ maxLength: 12 })),
            fc.boolean(),
            async (value, byTag) => {
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
                .filter((j) =>
                  needle === '' ? true : byTag ? j.tags.includes(needle) : j.name.toLowerCase().includes(needle.toLowerCase()),
                )
                .map((j) => j.name)
                .sort();
              assert.deepEqual(names, expected, `GET ${path}`);
            },
          ),
          { numRuns: RUNS * 2 },
        );
      });
    });

    test('unicode names are accepted and read back unchanged (then deleted)', async () => {
      const name = fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
        .map((s) => s.trim())
        .filter((s) => s.length > 0 && s.length <= 100 && /^[^\p{Cc}]+$/u.test(s));
      let runs = 0;
      await unchanged(
        () =>
          fc.assert(
            fc.asyncProperty(name, async (text) => {
              runs += 1;
              const unique = `${text} ${randomBytes(3).toString('hex')}`;
              const created = await call('POST', '/api/jobs', { raw: JSON.stringify({ ...validJob(), name: unique }) });
              assert.equal(created.status, 201, created.text);
              const id = String(created.json?.id);
              assert.equal((await call('GET', `/api/jobs/${id}`)).json?.name, unique.trim());
              assert.equal((await call('DELETE', `/api/jobs/${id}`)).status, 204);
            }),
            { numRuns: RUNS },
          ),
        // Each run creates and deletes a job: two audit entries, on purpose.
        () => 2 * runs,
      );
    });

    // ---- sign-in and session --------------------------------------------------------------------------------------

    test('POST /api/session: malformed sign-ins (wrong types, empty fields, control characters, not JSON) are 400s that write nothing', async () => {
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(
            fc.oneof(
              malformedSignIn.map((body) => ({ raw: withMutations(body, []), contentType: 'application/json' })),
              notAnObjectBody.map((raw) => ({ raw, contentType: 'application/json' })),
              fc.record({ raw: fc.string(), contentType: badContentType }),
            ),
            async ({ raw, contentType }) => {
              const answer = await call('POST', '/api/session', { raw, contentType, headers: { 'x-forwarded-for': someAddress() } });
              assertRefused(answer, `POST /api/session (${contentType}) ${JSON.stringify(raw).slice(0, 200)}`);
              assert.equal(answer.status, 400, `POST /api/session ${JSON.stringify(raw).slice(0, 200)} -> ${answer.status}`);
            },
          ),
          { numRuns: RUNS * 2 },
        ),
      );
    });

    test('POST /api/session: injection strings as credentials are just wrong credentials (401, one audited failure each, no session)', async () => {
      const known = [seedUser.username, 'admin'].map((u) => u.toLowerCase());
      const username = fc
        .oneof(
          fc.constantFrom(...INJECTION_STRINGS),
          fc.constantFrom("admin' --", 'admin" OR "1"="1', '{"$gt":""}', '*', '.*', 'ADMIN%', 'admin_'),
          fc.string({ minLength: 1, maxLength: 40 }),
        )
        .filter((u) => u.trim() !== '' && !/\p{Cc}/u.test(u) && !known.includes(u.trim().toLowerCase()));
      const password = fc.oneof(fc.constantFrom(...INJECTION_STRINGS.filter((p) => p !== '')), fc.string({ minLength: 1, maxLength: 40 }));
      let attempts = 0;
      await unchanged(
        () =>
          fc.assert(
            fc.asyncProperty(username, password, async (u, p) => {
              attempts += 1;
              const answer = await call('POST', '/api/session', {
                raw: JSON.stringify({ username: u, password: p }),
                headers: { 'x-forwarded-for': someAddress() },
              });
              assertRefused(answer, `sign in as ${JSON.stringify(u)}`);
              assert.equal(answer.status, 401, `sign in as ${JSON.stringify(u)} -> ${answer.status}`);
              assert.equal(answer.json?.error, 'Wrong username or password.');
            }),
            // Each attempt costs a full scrypt check (the same time as a wrong password).
            { numRuns: Math.max(5, Math.ceil(RUNS / 2)) },
          ),
        () => attempts,
      );
    });

    test('GET and DELETE /api/session with hostile credentials: 401 JSON, the session and the store untouched', async () => {
      await unchanged(async () => {
        await fc.assert(
          fc.asyncProperty(hostileAuth, fc.constantFrom('GET', 'DELETE'), async (headers, method) => {
            const answer = await call(method, '/api/session', { headers });
            assertRefused(answer, `${method} /api/session ${JSON.stringify(headers).slice(0, 200)}`);
            assert.equal(answer.status, 401);
          }),
          { numRuns: RUNS * 2 },
        );
        // The live session still answers (the properties above did not sign it out).
        const me = await call('GET', '/api/session', { headers: { cookie: seedCookie } });
        assert.equal(me.status, 200, me.text);
        assert.equal(me.json?.name, seedUser.username);
      });
    });

    test('every route refuses hostile credentials with 401 JSON (public routes excepted), never a 5xx', async () => {
      const calls = Object.entries(ROUTES).flatMap(([pattern, methods]) =>
        methods.filter((m) => !PUBLIC.has(`${m} ${pattern}`)).map((method) => [method, pattern] as const),
      );
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...calls),
            hostileAuth,
            fc.option(fc.jsonValue({ maxDepth: 2 })),
            async ([method, pattern], headers, body) => {
              const path = pattern.replace('{id}', seeded[0]!.id).replace('{...path}', 'no-such-thing');
              const answer = await call(
                method,
                path,
                body === null || method === 'GET' ? { headers } : { headers, raw: JSON.stringify(body) },
              );
              assertRefused(answer, `${method} ${path} ${JSON.stringify(headers).slice(0, 200)}`);
              assert.equal(answer.status, 401, `${method} ${path} -> ${answer.status}`);
            },
          ),
          { numRuns: RUNS * 2 },
        ),
      );
    });

    // ---- users and tokens -----------------------------------------------------------------------------------------

    test('POST /api/users, PATCH /api/users/{id}, POST /api/tokens: invalid bodies are 400s with field issues', async () => {
      const validUser = () => ({
        username: `u-${randomBytes(4).toString('hex')}`,
        password: `pw-${randomBytes(9).toString('base64url')}`,
        role: 'viewer',
      });
      const validToken = () => ({ name: `t-${randomBytes(4).toString('hex')}`, role: 'viewer' });
      const cases = fc.oneof(
        fc
          .array(invalidUserCreate, { minLength: 1, maxLength: 3 })
          .map((changes) => ({ method: 'POST', path: '/api/users', raw: withMutations(validUser(), changes) })),
        fc
          .array(invalidUserUpdate, { minLength: 1, maxLength: 3 })
          .map((changes) => ({ method: 'PATCH', path: `/api/users/${seedUser.id}`, raw: withMutations({}, changes) })),
        fc
          .array(invalidTokenCreate, { minLength: 1, maxLength: 3 })
          .map((changes) => ({ method: 'POST', path: '/api/tokens', raw: withMutations(validToken(), changes) })),
      );
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(cases, async ({ method, path, raw }) => {
            const answer = await call(method, path, { raw });
            assertRefused(answer, `${method} ${path} ${raw.slice(0, 300)}`);
            assert.equal(answer.status, 400, `${method} ${path} ${raw.slice(0, 300)} -> ${answer.status}`);
            assert.ok(Array.isArray(answer.json?.issues), `field issues for ${raw.slice(0, 200)}`);
          }),
          { numRuns: RUNS * 3 },
        ),
      );
    });

    test('users and tokens: bodies that are not a JSON object, not JSON, or not declared as JSON', async () => {
      const targets = [
        ['POST', '/api/users'],
        ['PATCH', `/api/users/${seedUser.id}`],
        ['POST', '/api/tokens'],
      ] as const;
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...targets),
            fc.oneof(
              notAnObjectBody.map((raw) => ({ raw, contentType: 'application/json' })),
              fc.record({ raw: fc.string(), contentType: badContentType }),
            ),
            async ([method, path], { raw, contentType }) => {
              assertRefused(
                await call(method, path, { raw, contentType }),
                `${method} ${path} (${contentType}) ${JSON.stringify(raw).slice(0, 200)}`,
              );
            },
          ),
          { numRuns: RUNS * 2 },
        ),
      );
    });

    test('hostile ids in every user and token route: 404 (or 405), never a 5xx', async () => {
      const routes: IdRoute[] = [
        ['PATCH', (id) => `/api/users/${id}`, '{"role":"viewer"}'],
        ['DELETE', (id) => `/api/users/${id}`, undefined],
        ['DELETE', (id) => `/api/users/${id}/sessions`, undefined],
        ['DELETE', (id) => `/api/tokens/${id}`, undefined],
        ['GET', (id) => `/api/users/${id}`, undefined],
        ['POST', (id) => `/api/tokens/${id}`, undefined],
        ['PUT', (id) => `/api/users/${id}/sessions`, undefined],
      ];
      await idsRefused(
        routes,
        fc.oneof(hostileId, fc.constant(randomUUID())).filter((id) => id !== seedUser.id && id !== seedTokenId),
      );
    });

    // ---- live output ------------------------------------------------------------------------------------------------

    test('GET /api/runs/{id}/output: hostile ids are 404s; a bad `after` is a 400 naming it; GET /api/events with a `run` that is no id is a 400 naming it', async () => {
      await idsRefused([['GET', (id) => `/api/runs/${id}/output`, undefined]], fc.oneof(hostileId, fc.constant(randomUUID())));
      const badAfter = hostileQueryValue.filter((v) => v !== '' && !(/^\d{1,10}$/.test(v) && Number(v) <= 2_147_483_647));
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(fc.oneof(badAfter, withControlCharacter), fc.boolean(), async (value, real) => {
            const path = `/api/runs/${real ? randomUUID() : 'not-an-id'}/output?${new URLSearchParams({ after: value })}`;
            const answer = await call('GET', path);
            assertRefused(answer, `GET ${path}`);
            assert.equal(answer.status, 400, `GET ${path} -> ${answer.status}`);
            assert.deepEqual(issuePaths(answer), ['after'], `GET ${path}`);
          }),
          { numRuns: RUNS * 2 },
        ),
      );
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(
            fc
              .oneof(hostileId, withControlCharacter)
              .filter((v) => v !== '' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)),
            async (value) => {
              const path = `/api/events?${new URLSearchParams({ run: value })}`;
              const answer = await call('GET', path);
              assertRefused(answer, `GET ${path}`);
              assert.equal(answer.status, 400, `GET ${path} -> ${answer.status}`);
              assert.deepEqual(issuePaths(answer), ['run'], `GET ${path}`);
            },
          ),
          { numRuns: RUNS },
        ),
      );
      const watching = await call('GET', `/api/events?run=${randomUUID()}`);
      assert.equal(watching.status, 200);
      assert.match(watching.contentType, /^text\/event-stream/);
    });

    // ---- alert channels ----------------------------------------------------------------------------------------------

    test('POST /api/channels and PATCH /api/channels/{id}: invalid channels (SSRF targets, bad URLs and addresses, operators, unknown keys) are 400s naming the field; nothing saved', async () => {
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(invalidChannelCreate, fc.boolean(), async ({ field, body }, asPatch) => {
            // A change carries the channel's type with its config; the seeded channel is a webhook.
            const patchable = asPatch && body.type === 'webhook' && field !== 'type' && field !== 'name';
            const method = patchable ? 'PATCH' : 'POST';
            const path = patchable ? `/api/channels/${seedChannelId}` : '/api/channels';
            const { name: _name, ...rest } = body;
            const raw = JSON.stringify(patchable ? rest : body);
            const answer = await call(method, path, { raw });
            assertRefused(answer, `${method} ${path} ${raw.slice(0, 300)}`);
            assert.equal(answer.status, 400, `${method} ${path} ${raw.slice(0, 300)} -> ${answer.status} ${answer.text.slice(0, 300)}`);
            const paths = issuePaths(answer);
            assert.ok(
              paths.some((p) => p === field || p.startsWith(`${field}.`) || field.startsWith(`${p}.`) || (p === '' && field !== '')),
              `${raw.slice(0, 200)}: issues at ${paths.join(', ')}, expected ${field}`,
            );
            assert.doesNotMatch(answer.text, /seed-channel-secret/);
          }),
          { numRuns: RUNS * 4 },
        ),
      );
    });

    test('channels: hostile ids are 404s (or 405s); bodies that are not JSON objects are refused; a viewer gets 403 and names only', async () => {
      const routes: IdRoute[] = [
        ['GET', (id) => `/api/channels/${id}`, undefined],
        ['PATCH', (id) => `/api/channels/${id}`, '{"name":"x"}'],
        ['DELETE', (id) => `/api/channels/${id}`, undefined],
        ['POST', (id) => `/api/channels/${id}/test`, undefined],
        ['POST', (id) => `/api/channels/${id}/signing-secret/reveal`, undefined],
        ['PUT', (id) => `/api/channels/${id}`, undefined],
      ];
      await idsRefused(
        routes,
        fc.oneof(hostileId, fc.constant(randomUUID())).filter((id) => id !== seedChannelId),
      );
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(
            fc.constantFrom(['POST', '/api/channels'], ['PATCH', `/api/channels/${seedChannelId}`]),
            fc.oneof(
              notAnObjectBody.map((raw) => ({ raw, contentType: 'application/json' })),
              fc.record({ raw: fc.string(), contentType: badContentType }),
            ),
            async ([method, path], { raw, contentType }) => {
              assertRefused(await call(method, path, { raw, contentType }), `${method} ${path} (${contentType}) ${raw.slice(0, 200)}`);
            },
          ),
          { numRuns: RUNS },
        ),
      );
      // The token's last use is recorded (at most once a minute): record it now, so the requests below change nothing.
      assert.equal((await call('GET', '/api/jobs', { headers: { authorization: `Bearer ${seedTokenSecret}` } })).status, 200);
      await unchanged(async () => {
        const viewers: Array<Record<string, string>> = [
          { authorization: `Bearer ${seedTokenSecret}` },
          { cookie: seedCookie, origin: target.app.baseUrl },
        ];
        for (const headers of viewers) {
          const list = await call('GET', '/api/channels', { headers });
          assert.equal(list.status, 200, list.text);
          assert.deepEqual(Object.keys((list.json?.channels as Array<Record<string, unknown>>)[0]!).sort(), ['id', 'name', 'type']);
          for (const [method, path, raw] of [
            ['POST', '/api/channels', JSON.stringify(validChannel('slack'))],
            ['PATCH', `/api/channels/${seedChannelId}`, '{"name":"taken over"}'],
            ['DELETE', `/api/channels/${seedChannelId}`, undefined],
            ['POST', `/api/channels/${seedChannelId}/test`, undefined],
            ['POST', `/api/channels/${seedChannelId}/signing-secret/reveal`, undefined],
          ] as const) {
            const answer = await call(method, path, { headers, raw });
            assertRefused(answer, `viewer ${method} ${path}`);
            assert.equal(answer.status, 403, `viewer ${method} ${path} -> ${answer.status} ${answer.text}`);
            assert.doesNotMatch(answer.text, /whsec_|seed-channel-secret/);
          }
        }
      });
    });

    // ---- the audit log's query string -------------------------------------------------------------------------------

    test('GET /api/audit: dates outside years 1-9999 or not ISO-8601, crafted cursors, bad limits and control characters are 400s naming the parameter', async () => {
      const bad = fc.oneof(
        fc.tuple(fc.constantFrom('from', 'to'), badDate),
        fc.tuple(fc.constant('cursor'), badTimeCursor),
        fc.tuple(
          fc.constant('limit'),
          hostileQueryValue.filter((v) => v.trim() !== '' && !(/^\d{1,4}$/.test(v) && Number(v) >= 1 && Number(v) <= 200)),
        ),
        fc.tuple(fc.constantFrom('actor', 'action', 'targetType', 'targetId'), withControlCharacter),
        fc.tuple(fc.constantFrom('actor', 'targetId'), fc.constant('x'.repeat(201))),
      );
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(bad, async ([param, value]) => {
            const path = `/api/audit?${new URLSearchParams({ [param]: value })}`;
            const answer = await call('GET', path);
            assertRefused(answer, `GET ${path}`);
            assert.equal(answer.status, 400, `GET ${path} -> ${answer.status}`);
            assert.deepEqual(issuePaths(answer), [param], `GET ${path}`);
          }),
          { numRuns: RUNS * 3 },
        ),
      );
    });

    test('GET /api/audit: any date in years 1-9999, well-formed cursors and plain filters are answered (200), filters matched literally', async () => {
      const ok = fc.oneof(
        fc.tuple(fc.constantFrom('from', 'to'), goodDate),
        fc.tuple(
          fc.constant('cursor'),
          fc.tuple(goodDate, fc.uuid()).map((key) => base64url(JSON.stringify(key))),
        ),
        fc.tuple(
          fc.constantFrom('actor', 'action', 'targetType', 'targetId'),
          fc.oneof(
            fc.constantFrom(...INJECTION_STRINGS.filter((s) => !/\p{Cc}/u.test(s) && s !== '')),
            fc.string({ minLength: 1, maxLength: 30 }),
          ),
        ),
      );
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(ok, async ([param, value]) => {
            fc.pre(value.trim() !== '');
            const path = `/api/audit?${new URLSearchParams({ [param]: value })}`;
            const answer = await call('GET', path);
            assert.equal(answer.status, 200, `GET ${path} -> ${answer.status} ${answer.text.slice(0, 300)}`);
            const entries = (answer.json?.entries ?? []) as Array<Record<string, unknown>>;
            const fields: Record<string, string> = { actor: 'actorName', action: 'action', targetType: 'targetType', targetId: 'targetId' };
            const field = fields[param];
            if (field)
              assert.ok(
                entries.every((e) => e[field] === value.trim()),
                `GET ${path}: only exact matches`,
              );
          }),
          { numRuns: RUNS * 2 },
        ),
      );
    });

    // ---- the run history's query string and a run's id ---------------------------------------------------------------

    const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    const RUN_STATUS_NAMES = [
      'claimed',
      'running',
      'succeeded',
      'failed',
      'timed-out',
      'skipped',
      'missed',
      'abandoned',
      'unknown',
      'retrying',
    ];

    /** Runs to filter: a run now of two seeded jobs, waited for (before any snapshot, so the counts stay put after). */
    async function someRuns(): Promise<Array<Record<string, any>>> {
      for (const job of seeded.slice(0, 2)) assert.equal((await call('POST', `/api/jobs/${job.id}/run`)).status, 202);
      const deadline = Date.now() + 30_000;
      for (;;) {
        const runs = ((await call('GET', '/api/runs?limit=200')).json?.runs ?? []) as Array<Record<string, any>>;
        const done = runs.filter((r) => !['claimed', 'running', 'retrying'].includes(r.status));
        if (done.length >= 2 && done.length === runs.length) return runs;
        assert.ok(Date.now() < deadline, `runs did not finish: ${JSON.stringify(runs)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }

    test('GET /api/runs: bad dates, to before from, crafted cursors, bad limits, unknown statuses, job ids that are not ids and control characters are 400s naming the parameter', async () => {
      const bad = fc.oneof(
        fc.tuple(fc.constantFrom('from', 'to'), badDate).map(([param, value]) => [param, { [param]: value }] as const),
        fc
          .tuple(goodDate, goodDate)
          .filter(([a, b]) => a !== b)
          .map(([a, b]) => ['to', { from: a > b ? a : b, to: a > b ? b : a }] as const),
        badTimeCursor.map((value) => ['cursor', { cursor: value }] as const),
        hostileQueryValue
          .filter((v) => v.trim() !== '' && !(/^\d{1,4}$/.test(v) && Number(v) >= 1 && Number(v) <= 200))
          .map((value) => ['limit', { limit: value }] as const),
        hostileQueryValue.filter((v) => v !== '' && !RUN_STATUS_NAMES.includes(v)).map((value) => ['status', { status: value }] as const),
        hostileId.filter((v) => !UUID.test(v)).map((value) => ['job', { job: value }] as const),
        fc
          .tuple(fc.constantFrom('instance', 'q'), fc.oneof(withControlCharacter, fc.constant('x'.repeat(201))))
          .map(([param, value]) => [param, { [param]: value }] as const),
      );
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(bad, async ([param, query]) => {
            const path = `/api/runs?${new URLSearchParams(query)}`;
            const answer = await call('GET', path);
            assertRefused(answer, `GET ${path}`);
            assert.equal(answer.status, 400, `GET ${path} -> ${answer.status}`);
            assert.deepEqual(issuePaths(answer), [param], `GET ${path}`);
          }),
          { numRuns: RUNS * 3 },
        ),
      );
    });

    test('GET /api/runs: any window in years 1-9999, well-formed cursors, any status or id and plain text are answered (200); each lists exactly the runs it names (text literally)', async () => {
      const all = await someRuns();
      const names = new Map(seeded.map((j) => [j.id, j.name]));
      const ok = fc.oneof(
        fc.tuple(goodDate, goodDate).map(([a, b]) => ({ from: a < b ? a : b, to: a < b ? b : a })),
        fc.tuple(goodDate, fc.uuid()).map((key) => ({ cursor: base64url(JSON.stringify(key)) })),
        fc.constantFrom(...RUN_STATUS_NAMES).map((status) => ({ status })),
        fc.oneof(fc.uuid(), fc.constantFrom(...seeded.map((j) => j.id))).map((job) => ({ job })),
        fc
          .tuple(
            fc.constantFrom('instance', 'q'),
            fc.oneof(
              fc.constantFrom(
                ...INJECTION_STRINGS.filter((s) => !/\p{Cc}/u.test(s) && s.trim() !== ''),
                'ALPHA',
                'report',
                '日本',
                '%',
                '_',
              ),
              fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim() !== '' && !/\p{Cc}/u.test(s)),
            ),
          )
          .map(([param, value]) => ({ [param]: value })),
      );
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(ok, async (query: Record<string, string>) => {
            const path = `/api/runs?${new URLSearchParams({ ...query, limit: '200' })}`;
            const answer = await call('GET', path);
            assert.equal(answer.status, 200, `GET ${path} -> ${answer.status} ${answer.text.slice(0, 300)}`);
            if (query.cursor) return;
            const got = ((answer.json?.runs ?? []) as Array<Record<string, any>>).map((r) => r.id);
            const needle = (query.q ?? query.instance ?? '').trim();
            const expected = all
              .filter((r) => {
                if (query.from && (r.scheduledFor < query.from || r.scheduledFor >= query.to!)) return false;
                if (query.status && r.status !== query.status) return false;
                if (query.job && r.jobId !== query.job) return false;
                if (query.instance !== undefined && r.instanceId !== needle) return false;
                if (query.q !== undefined) {
                  const haystacks = [r.jobName, names.get(r.jobId) ?? ''].map((n: string) => n.toLowerCase());
                  if (!haystacks.some((n) => n.includes(needle.toLowerCase()))) return false;
                }
                return true;
              })
              .map((r) => r.id);
            assert.deepEqual(got, expected, `GET ${path}`);
          }),
          { numRuns: RUNS * 3 },
        ),
      );
    });

    test('hostile ids in GET /api/runs/{id}: 404 (or 405), never a 5xx', async () => {
      await idsRefused(
        [
          ['GET', (id) => `/api/runs/${id}`, undefined],
          ['PATCH', (id) => `/api/runs/${id}`, '{}'],
        ],
        hostileId,
      );
    });

    // ---- routes without input, methods, unknown paths ---------------------------------------------------------------

    test('routes that read no query ignore a hostile one: the same answer as without it', async () => {
      const plain = ['/api/users', '/api/tokens', '/api/openapi.json', '/api/session'];
      await unchanged(async () => {
        const expected = new Map<string, string>();
        for (const path of plain) expected.set(path, (await call('GET', path)).text);
        await fc.assert(
          fc.asyncProperty(fc.constantFrom(...plain, '/api/instances', '/api/health', '/api/events'), ignoredQuery, async (path, query) => {
            const answer = await call('GET', `${path}?${query}`);
            assert.equal(answer.status, 200, `GET ${path}?${query} -> ${answer.status} ${answer.text.slice(0, 200)}`);
            if (expected.has(path)) assert.equal(answer.text, expected.get(path), `GET ${path}?${query}`);
            if (path === '/api/events') assert.match(answer.contentType, /^text\/event-stream/);
            if (path === '/api/instances') assert.ok(Array.isArray(answer.json?.instances));
            if (path === '/api/health') assert.equal(answer.json?.status, 'ok');
          }),
          { numRuns: RUNS * 2 },
        );
      });
    });

    test('every route answers a method it does not take with 405 JSON and an Allow header', async () => {
      const calls = Object.entries(ROUTES).flatMap(([pattern, methods]) =>
        METHODS.filter((m) => !methods.includes(m)).map((method) => [method, pattern, methods] as const),
      );
      assert.ok(calls.length > 30);
      await unchanged(() =>
        fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...calls),
            fc.option(fc.jsonValue({ maxDepth: 2 })),
            async ([method, pattern, allowed], body) => {
              const path = pattern.replace(
                '{id}',
                pattern.startsWith('/api/users') ? seedUser.id : pattern.startsWith('/api/tokens') ? seedTokenId : seeded[1]!.id,
              );
              const answer = await call(method, path, body === null || method === 'GET' ? {} : { raw: JSON.stringify(body) });
              assertRefused(answer, `${method} ${path}`);
              assert.equal(answer.status, 405, `${method} ${path} -> ${answer.status}`);
              assert.deepEqual(answer.json?.error, `method ${method} not allowed; use ${allowed.join(', ')}`);
            },
          ),
          { numRuns: RUNS * 2 },
        ),
      );
    });

    test('unknown /api paths are 404 JSON for every method; malformed percent-escapes are 400 JSON (the router answered 500)', async () => {
      const known = new Set([
        'session',
        'users',
        'tokens',
        'audit',
        'instances',
        'events',
        'health',
        'openapi.json',
        'jobs',
        'runs',
        'channels',
      ]);
      const segment = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s !== '.' && s !== '..');
      const unknownPath = fc
        .array(segment, { minLength: 1, maxLength: 4 })
        .filter((segments) => !known.has(segments[0]!))
        .map((segments) => `/api/${segments.map(encodeURIComponent).join('/')}`);
      const malformed = fc
        .tuple(
          fc.constantFrom('', 'jobs/', 'users/', 'tokens/', 'nope/'),
          fc.constantFrom('%', '%E0%A4%A', '%C0%AE', '%FF', '%ZZ', 'a%', '%%', '%D8%00'),
          fc.constantFrom('', '/x'),
        )
        .map(([a, b, c]) => `/api/${a}${b}${c}`);
      await unchanged(async () => {
        await fc.assert(
          fc.asyncProperty(unknownPath, fc.constantFrom(...METHODS), async (path, method) => {
            const answer = await call(method, path, method === 'GET' ? {} : { raw: '{}' });
            assertRefused(answer, `${method} ${path}`);
            assert.equal(answer.status, 404, `${method} ${path} -> ${answer.status}`);
            assert.match(String(answer.json?.error), /^no such endpoint: /);
          }),
          { numRuns: RUNS * 2 },
        );
        await fc.assert(
          fc.asyncProperty(malformed, fc.constantFrom(...METHODS), async (path, method) => {
            const answer = await call(method, path);
            assertRefused(answer, `${method} ${path}`);
            assert.equal(answer.status, 400, `${method} ${path} -> ${answer.status}`);
          }),
          { numRuns: RUNS * 2 },
        );
        for (const method of METHODS) {
          const bare = await call(method, '/api');
          assertRefused(bare, `${method} /api`);
          assert.equal(bare.status, 404);
        }
        // Pages too: a malformed escape is a 400, not the router's 500.
        const page = await fetch(`${target.app.baseUrl}/jobs/%E0%A4%A`, { headers: { cookie: seedCookie }, redirect: 'manual' });
        assert.equal(page.status, 400, await page.text());
      });
    });
  });
}
