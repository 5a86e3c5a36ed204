import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, scryptSync } from 'node:crypto';
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
const {
  SESSION_TTL_SECONDS,
  bearerToken,
  bearerTokenValid,
  createSessionCookie,
  hashApiToken,
  isHttps,
  newApiTokenSecret,
  sessionIdOf,
  verifySessionCookie,
} = await import('../../lib/auth/token');
const { assertSameOrigin, requireApiAuth, UnauthorizedError, ForbiddenError } = await import('../../lib/auth/api');
const { hasRole, requireRole } = await import('../../lib/auth/principal');
const { SCRYPT_N, hashPassword, needsRehash, verifyPassword } = await import('../../lib/auth/password');
const { addressBudgetKey, clientIp } = await import('../../lib/auth/rate-limit');

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
    const c = ensureCredentials({
      env: { ADMIN_PASSWORD: 'p', API_TOKEN: 't', SESSION_SECRET: 's'.repeat(20) },
      dataDir: dir,
      log: (m) => logs.push(m),
    });
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
    const fixture = fileURLToPath(new URL('./ensure-credentials.ts', import.meta.url));
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

describe('session cookies', () => {
  const creds = { adminPassword: 'pw', apiToken: 'tok', sessionSecret: 'secret-secret-secret' };

  test('a signed random secret; the store id is its hash, never the cookie itself', () => {
    const a = createSessionCookie(creds);
    const b = createSessionCookie(creds);
    assert.notEqual(a.value, b.value);
    assert.equal(verifySessionCookie(a.value, creds), a.id);
    assert.equal(a.id, sessionIdOf(a.value.split('.')[0]!));
    assert.ok(!a.value.includes(a.id), 'the id is not in the cookie');
    assert.ok(a.value.split('.')[0]!.length >= 43, '256 bits of secret');
  });

  test('tampering or another signing secret invalidate it', () => {
    const { value } = createSessionCookie(creds);
    const [secret, sig] = value.split('.') as [string, string];
    const other = createSessionCookie(creds).value.split('.')[0]!;
    assert.equal(verifySessionCookie(`${other}.${sig}`, creds), null);
    assert.equal(verifySessionCookie(`${secret}.${sig.slice(0, -2)}`, creds), null);
    assert.equal(verifySessionCookie(value, { ...creds, sessionSecret: 'another-secret-value' }), null);
    for (const junk of ['', '.', 'abc', 'a.b.c', '%%%.%%%', `${'x'.repeat(300)}.${sig}`])
      assert.equal(verifySessionCookie(junk, creds), null);
  });

  test('only the canonical spelling of the signature is accepted (one cookie, one spelling)', () => {
    const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // A cookie whose signature has a "-" or "_" (a "+"/"/" spelling differs), found in a few tries.
    let cookie = createSessionCookie(creds);
    while (!/[-_]/.test(cookie.value.split('.')[1]!)) cookie = createSessionCookie(creds);
    const [secret, sig] = cookie.value.split('.') as [string, string];
    assert.equal(verifySessionCookie(`${secret}.${sig}`, creds), cookie.id);
    const last = A.indexOf(sig.at(-1)!);
    const variants = [
      `${sig}=`,
      `${sig}==`,
      sig.replace(/-/g, '+').replace(/_/g, '/'),
      `${sig.slice(0, 10)}!${sig.slice(10)}`,
      `${sig.slice(0, 10)}%${sig.slice(10)}`,
      `${sig.slice(0, 10)}\t${sig.slice(10)}`,
      // The two unused low bits of the last character: the same bytes, another spelling.
      ...[1, 2, 3].map((bits) => `${sig.slice(0, -1)}${A[last ^ bits]}`),
      Buffer.from(sig, 'base64url').toString('base64'),
    ];
    for (const variant of variants) {
      assert.deepEqual(Buffer.from(variant, 'base64url'), Buffer.from(sig, 'base64url'), `${variant} decodes the same`);
      assert.equal(verifySessionCookie(`${secret}.${variant}`, creds), null, variant);
    }
  });

  test('bearer token parsing and the env token check', () => {
    assert.equal(bearerToken('Bearer tok'), 'tok');
    assert.equal(bearerToken('bearer   tok '), 'tok');
    assert.equal(bearerToken('Basic tok'), null);
    assert.equal(bearerToken('tok'), null);
    assert.equal(bearerToken(null), null);
    assert.equal(bearerTokenValid('Bearer tok', creds), true);
    assert.equal(bearerTokenValid('Bearer tok2', creds), false);
  });

  test('API tokens: high-entropy, prefixed, stored as sha256', () => {
    const t = newApiTokenSecret();
    assert.match(t, /^cpt_[A-Za-z0-9_-]{43}$/);
    assert.match(hashApiToken(t), /^[0-9a-f]{64}$/);
    assert.notEqual(hashApiToken(t), hashApiToken(newApiTokenSecret()));
  });

  test('https detection prefers X-Forwarded-Proto', () => {
    assert.equal(isHttps('http://x/', 'https'), true);
    assert.equal(isHttps('https://x/', 'http'), false);
    assert.equal(isHttps('https://x/', null), true);
    assert.equal(isHttps('http://x/', null), false);
  });

  test(`cookies live ${SESSION_TTL_SECONDS / 3600} hours`, () => {
    assert.equal(SESSION_TTL_SECONDS, 12 * 3600);
  });
});

/** A hash in the stored format made with other parameters (older releases used N=2^15). */
function legacyHash(password: string, n: number, r = 8, p = 1): string {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize('NFC'), salt, 32, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 });
  return `scrypt$${n}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

describe('passwords', () => {
  test("scrypt at OWASP's minimum (N=2^17, r=8, p=1): salted, verifies only the right password, parameters in the hash", async () => {
    assert.equal(SCRYPT_N, 2 ** 17);
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    assert.notEqual(a, b, 'salted');
    assert.match(a, /^scrypt\$131072\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.equal(await verifyPassword('correct horse battery', a), true);
    assert.equal(await verifyPassword('correct horse batterY', a), false);
    assert.equal(await verifyPassword('', a), false);
    assert.equal(needsRehash(a), false, 'a current hash stays');
    // Tampered rows: no scrypt run asking for gigabytes, no non-power-of-two N.
    for (const junk of [
      '',
      'scrypt$1$1$1$x$y',
      'bcrypt$x',
      `scrypt$${2 ** 30}$8$1$AAAA$${'A'.repeat(43)}`,
      `scrypt$${2 ** 18}$16$1$AAAA$${'A'.repeat(43)}`,
      `scrypt$100000$8$1$AAAA$${'A'.repeat(43)}`,
    ]) {
      assert.equal(await verifyPassword('x', junk), false, junk);
    }
  });

  test('hashes made with older parameters still verify, and are due for a rehash', async () => {
    for (const old of [legacyHash('old password 1', 2 ** 15), legacyHash('old password 1', 2 ** 14, 8, 2)]) {
      assert.equal(await verifyPassword('old password 1', old), true, old.slice(0, 20));
      assert.equal(await verifyPassword('old password 2', old), false);
      assert.equal(needsRehash(old), true);
    }
  });
});

describe('roles', () => {
  const p = (role: 'admin' | 'operator' | 'viewer') => ({ kind: 'user' as const, id: null, name: role, role });
  test('admin > operator > viewer; requireRole throws 403 below', () => {
    assert.equal(hasRole(p('admin'), 'operator'), true);
    assert.equal(hasRole(p('operator'), 'operator'), true);
    assert.equal(hasRole(p('operator'), 'admin'), false);
    assert.equal(hasRole(p('viewer'), 'viewer'), true);
    assert.equal(hasRole(p('viewer'), 'operator'), false);
    assert.throws(
      () => requireRole(p('viewer'), 'operator'),
      (err: unknown) =>
        err instanceof ForbiddenError && err.status === 403 && err.message === 'this needs the operator role; you are a viewer',
    );
    assert.throws(() => requireRole(p('operator'), 'admin'), { message: 'this needs the admin role; you are an operator' });
    assert.doesNotThrow(() => requireRole(p('admin'), 'admin'));
  });
});

describe('requireApiAuth', () => {
  const url = 'http://127.0.0.1:1/api/jobs';

  test('the env API_TOKEN is an admin token', async () => {
    const principal = await requireApiAuth(new Request(url, { headers: { authorization: `Bearer ${process.env.API_TOKEN}` } }));
    assert.deepEqual(principal, { kind: 'token', id: null, name: 'API_TOKEN', role: 'admin' });
  });

  // Cases that need no database; unknown and revoked tokens, live and revoked sessions: tests/api/roles.test.ts.
  test('refuses nothing, a malformed authorization, a forged cookie', async () => {
    await assert.rejects(requireApiAuth(new Request(url)), UnauthorizedError);
    await assert.rejects(requireApiAuth(new Request(url, { headers: { authorization: 'Basic abc' } })), UnauthorizedError);
    await assert.rejects(requireApiAuth(new Request(url, { headers: { cookie: 'cronplane_session=abc.def' } })), UnauthorizedError);
  });

  test('a state change from another origin is refused', () => {
    const post = (origin: string) => new Request(url, { method: 'POST', headers: { origin, host: '127.0.0.1:1' } });
    assert.throws(() => assertSameOrigin(post('http://evil.example')), ForbiddenError);
    assert.throws(() => assertSameOrigin(post('null')), ForbiddenError);
    assert.doesNotThrow(() => assertSameOrigin(post('http://127.0.0.1:1')));
    assert.doesNotThrow(
      () => assertSameOrigin(new Request(url, { headers: { origin: 'http://evil.example', host: '127.0.0.1:1' } })),
      'GET is safe',
    );
  });

  test('the origin must match in scheme, host and port, not host only', () => {
    const post = (origin: string, headers: Record<string, string> = {}, at = url) =>
      new Request(at, { method: 'POST', headers: { origin, host: '127.0.0.1:1', ...headers } });
    // Same host, another scheme or port.
    assert.throws(() => assertSameOrigin(post('https://127.0.0.1:1')), ForbiddenError);
    assert.throws(() => assertSameOrigin(post('http://127.0.0.1:2')), ForbiddenError);
    assert.throws(() => assertSameOrigin(post('http://127.0.0.1')), ForbiddenError);
    assert.throws(() => assertSameOrigin(post('ftp://127.0.0.1:1')), ForbiddenError);
    assert.throws(() => assertSameOrigin(post('not an origin')), ForbiddenError);
    // Behind a TLS-terminating proxy (X-Forwarded-Proto: https): the http:// page of the same host is another origin.
    const tls = { host: 'cron.example.com', 'x-forwarded-proto': 'https' };
    assert.doesNotThrow(() => assertSameOrigin(post('https://cron.example.com', tls)));
    assert.throws(() => assertSameOrigin(post('http://cron.example.com', tls)), ForbiddenError);
    assert.throws(() => assertSameOrigin(post('https://cron.example.com:8443', tls)), ForbiddenError);
    // Default ports and letter case compare as browsers do; X-Forwarded-Host names the host when a proxy sets it.
    assert.doesNotThrow(() => assertSameOrigin(post('https://cron.example.com', { ...tls, host: 'Cron.Example.com:443' })));
    assert.doesNotThrow(() =>
      assertSameOrigin(post('https://cron.example.com', { ...tls, host: '10.0.0.5:3000', 'x-forwarded-host': 'cron.example.com' })),
    );
    assert.throws(() => assertSameOrigin(post('https://cron.example.com', { ...tls, host: 'cron.example.com/evil' })), ForbiddenError);
    // Without X-Forwarded-Proto the request's own scheme counts.
    assert.doesNotThrow(() =>
      assertSameOrigin(post('https://cron.example.com', { host: 'cron.example.com' }, 'https://cron.example.com/api/jobs')),
    );
    assert.throws(
      () => assertSameOrigin(post('http://cron.example.com', { host: 'cron.example.com' }, 'https://cron.example.com/api/jobs')),
      ForbiddenError,
    );
    assert.doesNotThrow(() => assertSameOrigin(post('http://[::1]:1', { host: '[::1]:1' })));
  });
});

describe('login rate limit', () => {
  // The budgets themselves are in the store (tests/store/conformance/login-attempts.ts, tests/services/login-limits.test.ts).
  test('an address budget key has a fixed length and names no address', () => {
    const key = addressBudgetKey('203.0.113.7');
    assert.match(key, /^ip:[\w-]{43}$/);
    assert.equal(key.includes('203.0.113.7'), false);
    assert.equal(addressBudgetKey('203.0.113.7'), key, 'the same address, the same budget');
    assert.notEqual(addressBudgetKey('203.0.113.8'), key);
    assert.equal(addressBudgetKey('x'.repeat(100_000)).length, key.length, 'a huge forged X-Forwarded-For too');
  });

  test('client address: the nearest X-Forwarded-For hop', () => {
    assert.equal(clientIp(new Headers({ 'x-forwarded-for': '1.1.1.1, 10.0.0.2' })), '10.0.0.2');
    assert.equal(clientIp(new Headers({ 'x-real-ip': '10.0.0.3' })), '10.0.0.3');
    assert.equal(clientIp(new Headers()), 'unknown');
  });
});
