import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The process-wide credentials (getCredentials) come from these; set before any auth module runs.
process.env.ADMIN_PASSWORD = 'unit-admin-password';
process.env.API_TOKEN = 'unit-api-token-0123456789';
process.env.SESSION_SECRET = 'unit-session-secret-0123456789abcdef';

const { ensureCredentials, secretEquals } = await import('../../lib/auth/credentials');
const { SESSION_TTL_SECONDS, bearerTokenValid, createSessionToken, verifySessionToken, isHttps } = await import('../../lib/auth/token');
const { requireApiAuth, UnauthorizedError, ForbiddenError } = await import('../../lib/auth/api');
const { LOGIN_MAX_FAILURES, LOGIN_WINDOW_MS, clearLoginFailures, clientIp, loginBlockedFor, recordLoginFailure } = await import(
  '../../lib/auth/rate-limit'
);

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cronplane-auth-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('credentials', () => {
  test('env values win and no file is written', () => {
    const dir = tempDir();
    const logs: string[] = [];
    const c = ensureCredentials({ env: { ADMIN_PASSWORD: 'p', API_TOKEN: 't', SESSION_SECRET: 's'.repeat(20) }, dataDir: dir, log: (m) => logs.push(m) });
    assert.deepEqual(c, { adminPassword: 'p', apiToken: 't', sessionSecret: 's'.repeat(20) });
    assert.throws(() => statSync(join(dir, 'credentials.json')), { code: 'ENOENT' });
    assert.equal(logs.length, 0);
  });

  test('generates once into a mode-600 file, prints only on creation, then reuses it', () => {
    const dir = join(tempDir(), 'nested', '.data');
    const logs: string[] = [];
    const first = ensureCredentials({ env: {}, dataDir: dir, log: (m) => logs.push(m) });
    const file = join(dir, 'credentials.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(logs.length, 1);
    assert.ok(logs[0]?.includes(first.adminPassword) && logs[0].includes(first.apiToken));
    assert.ok(first.adminPassword.length >= 16 && first.apiToken.length >= 32 && first.sessionSecret.length >= 32);
    const second = ensureCredentials({ env: {}, dataDir: dir, log: (m) => logs.push(m) });
    assert.deepEqual(second, first);
    assert.equal(logs.length, 1, 'second start prints nothing');
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), first);
  });

  test('a value from env is used and not printed; the rest comes from the file', () => {
    const dir = tempDir();
    const logs: string[] = [];
    const c = ensureCredentials({ env: { ADMIN_PASSWORD: 'from-env-password' }, dataDir: dir, log: (m) => logs.push(m) });
    assert.equal(c.adminPassword, 'from-env-password');
    const stored = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')) as { apiToken: string };
    assert.equal(c.apiToken, stored.apiToken);
    assert.ok(!logs.join('\n').includes('from-env-password'));
    assert.ok(logs.join('\n').includes(stored.apiToken));
  });

  test('a corrupt file is an error, not silently replaced', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'credentials.json'), '{"adminPassword": ');
    assert.throws(() => ensureCredentials({ env: {}, dataDir: dir, log: () => undefined }), /not valid JSON/);
  });

  test('processes starting at once agree on one set and only one prints it', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const fixture = fileURLToPath(new URL('./fixtures/ensure-credentials.ts', import.meta.url));
    const runOne = () =>
      new Promise<{ credentials: unknown; printed: boolean }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--conditions=react-server', '--import', 'tsx', fixture, dir], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, NODE_OPTIONS: '' },
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d));
        child.stderr.on('data', (d: Buffer) => (err += d));
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${err}`))));
      });
    const results = await Promise.all(Array.from({ length: 6 }, runOne));
    const printedCount = results.filter((r) => r.printed).length;
    assert.equal(printedCount, 1);
    for (const r of results) assert.deepEqual(r.credentials, results[0]?.credentials);
  });

  test('secretEquals compares exactly, whatever the lengths', () => {
    assert.equal(secretEquals('abc', 'abc'), true);
    assert.equal(secretEquals('abc', 'abd'), false);
    assert.equal(secretEquals('abc', 'abcd'), false);
    assert.equal(secretEquals('', 'abc'), false);
  });
});

describe('session tokens', () => {
  const creds = { adminPassword: 'pw', apiToken: 'tok', sessionSecret: 'secret-secret-secret' };

  test('round trip, then expiry after 12 hours', () => {
    const now = Date.UTC(2030, 0, 1);
    const token = createSessionToken('admin', 'admin', now, creds);
    const session = verifySessionToken(token, now + 1000, creds);
    assert.equal(session?.username, 'admin');
    assert.equal(session?.role, 'admin');
    assert.equal(session?.expiresAt, now / 1000 + SESSION_TTL_SECONDS);
    assert.ok(verifySessionToken(token, now + (SESSION_TTL_SECONDS - 1) * 1000, creds));
    assert.equal(verifySessionToken(token, now + SESSION_TTL_SECONDS * 1000, creds), null);
  });

  test('tampering, another secret or a changed password invalidate it', () => {
    const now = Date.now();
    const token = createSessionToken('admin', 'admin', now, creds);
    const [payload, sig] = token.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ u: 'admin', r: 'admin', iat: 0, exp: 4_000_000_000 })).toString('base64url');
    assert.equal(verifySessionToken(`${forged}.${sig}`, now, creds), null);
    assert.equal(verifySessionToken(`${payload}.${sig.slice(0, -2)}`, now, creds), null);
    assert.equal(verifySessionToken(token, now, { ...creds, sessionSecret: 'another-secret-value' }), null);
    assert.equal(verifySessionToken(token, now, { ...creds, adminPassword: 'new-password' }), null);
    for (const junk of ['', '.', 'abc', 'a.b.c', '%%%.%%%']) assert.equal(verifySessionToken(junk, now, creds), null);
  });

  test('bearer token check', () => {
    assert.equal(bearerTokenValid('Bearer tok', creds), true);
    assert.equal(bearerTokenValid('bearer   tok', creds), true);
    assert.equal(bearerTokenValid('Bearer tok2', creds), false);
    assert.equal(bearerTokenValid('Basic tok', creds), false);
    assert.equal(bearerTokenValid('tok', creds), false);
    assert.equal(bearerTokenValid(null, creds), false);
  });

  test('https detection prefers X-Forwarded-Proto', () => {
    assert.equal(isHttps('http://x/', 'https'), true);
    assert.equal(isHttps('https://x/', 'http'), false);
    assert.equal(isHttps('https://x/', null), true);
    assert.equal(isHttps('http://x/', null), false);
  });
});

describe('requireApiAuth', () => {
  const url = 'http://127.0.0.1:1/api/jobs';
  const cookie = () => `other=1; cronplane_session=${createSessionToken('admin', 'admin')}`;

  test('accepts the API token and a session cookie', () => {
    assert.deepEqual(requireApiAuth(new Request(url, { headers: { authorization: `Bearer ${process.env.API_TOKEN}` } })), {
      username: 'api',
      via: 'token',
    });
    assert.equal(requireApiAuth(new Request(url, { headers: { cookie: cookie() } })).via, 'session');
  });

  test('refuses nothing, a wrong token, a wrong token next to a good cookie, a forged cookie', () => {
    assert.throws(() => requireApiAuth(new Request(url)), UnauthorizedError);
    assert.throws(() => requireApiAuth(new Request(url, { headers: { authorization: 'Bearer nope' } })), UnauthorizedError);
    assert.throws(() => requireApiAuth(new Request(url, { headers: { authorization: 'Bearer nope', cookie: cookie() } })), UnauthorizedError);
    assert.throws(() => requireApiAuth(new Request(url, { headers: { cookie: 'cronplane_session=abc.def' } })), UnauthorizedError);
  });

  test('a cookie-authenticated change from another origin is refused', () => {
    const post = (origin: string) =>
      new Request(url, { method: 'POST', headers: { cookie: cookie(), origin, host: '127.0.0.1:1' } });
    assert.throws(() => requireApiAuth(post('http://evil.example')), ForbiddenError);
    assert.throws(() => requireApiAuth(post('null')), ForbiddenError);
    assert.equal(requireApiAuth(post('http://127.0.0.1:1')).via, 'session');
  });
});

describe('login rate limit', () => {
  test(`blocks an address after ${LOGIN_MAX_FAILURES} failures until the window passes`, () => {
    const t0 = 1_000_000;
    const ip = '203.0.113.7';
    clearLoginFailures(ip);
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) {
      assert.equal(loginBlockedFor(ip, t0 + i), 0, `attempt ${i + 1} allowed`);
      recordLoginFailure(ip, t0 + i);
    }
    assert.ok(loginBlockedFor(ip, t0 + 100) > 0);
    assert.equal(loginBlockedFor('203.0.113.8', t0 + 100), 0, 'other addresses unaffected');
    assert.equal(loginBlockedFor(ip, t0 + LOGIN_WINDOW_MS), 0);
    recordLoginFailure(ip, t0 + LOGIN_WINDOW_MS);
    assert.equal(loginBlockedFor(ip, t0 + LOGIN_WINDOW_MS + 1), 0, 'a new window starts from one failure');
    clearLoginFailures(ip);
  });

  test('client address: the nearest X-Forwarded-For hop', () => {
    assert.equal(clientIp(new Headers({ 'x-forwarded-for': '1.1.1.1, 10.0.0.2' })), '10.0.0.2');
    assert.equal(clientIp(new Headers({ 'x-real-ip': '10.0.0.3' })), '10.0.0.3');
    assert.equal(clientIp(new Headers()), 'unknown');
  });
});
