/**
 * Sign-in limits under concurrency (issue #13, finding 1), through the real sign-in service (lib/services/login.ts,
 * what POST /api/session and the /login form call), on two store instances on one database: two connections, as two
 * app instances would have. The service's getStore() alternates between them, so concurrent attempts race through
 * both. Before the fix the limits were checked before the password was hashed and the failure recorded after it, so
 * parallel guesses all passed the check (100 parallel sign-ins: 99 wrong passwords checked, and the right one let in).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Store, StoreKind } from '../../lib/store/types';
import { startTestMongo } from '../support/mongo';
import { startTestPostgres } from '../support/postgres';

process.env.ADMIN_PASSWORD = 'limits-admin-password';
process.env.API_TOKEN = 'limits-api-token-0123456789';
process.env.SESSION_SECRET = 'limits-session-secret-0123456789abcdef';

const { openStore } = await import('../../lib/store');
const { hashPassword } = await import('../../lib/auth/password');
const { LOGIN_MAX_FAILURES, LOGIN_WINDOW_MS } = await import('../../lib/auth/rate-limit');
const { LOCK_MINUTES, LOCK_THRESHOLD, login } = await import('../../lib/services/login');

type LoginResult = Awaited<ReturnType<typeof login>>;

const STORE_KEY = Symbol.for('cronplane.store');
const PARALLEL = 100;

/** getStore() (lib/store/index.ts) reads the process's store from globalThis: hand out the two instances in turn. */
function alternate(stores: Store[]): () => void {
  let next = 0;
  Object.defineProperty(globalThis, STORE_KEY, {
    configurable: true,
    get: () => Promise.resolve(stores[next++ % stores.length]!),
    set: () => undefined,
  });
  return () => {
    delete (globalThis as Record<symbol, unknown>)[STORE_KEY];
  };
}

function byStatus(results: LoginResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.ok ? 200 : r.status] = (counts[r.ok ? 200 : r.status] ?? 0) + 1;
  return counts;
}

const attempt = (username: string, password: string, ip: string) => login({ username, password, ip, userAgent: 'limits-test' });

const kinds: Array<{ kind: StoreKind; start: () => Promise<{ url: string; stop(): Promise<void> }> }> = [
  { kind: 'postgres', start: startTestPostgres },
  { kind: 'mongodb', start: startTestMongo },
];

for (const { kind, start } of kinds) {
  describe(`sign-in limits hold under concurrency, across two store instances (${kind})`, () => {
    let db: { url: string; stop(): Promise<void> };
    let stores: Store[] = [];
    let restore: () => void = () => undefined;

    before(
      async () => {
        db = await start();
        stores = [await openStore({ kind, url: db.url }), await openStore({ kind, url: db.url })];
        restore = alternate(stores);
      },
      { timeout: 120_000 },
    );

    after(
      async () => {
        restore();
        await Promise.all(stores.map((s) => s.close()));
        await db?.stop();
      },
      { timeout: 30_000 },
    );

    test(
      `${PARALLEL} parallel wrong passwords for one account, from as many addresses: ${LOCK_THRESHOLD} are checked, the rest get 429; then the right one is refused`,
      { timeout: 300_000 },
      async () => {
        const password = 'the-right-password-1';
        const user = await stores[0]!.createUser({ username: 'victim', role: 'viewer', passwordHash: await hashPassword(password) });
        const results = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => attempt('victim', `wrong-${i}`, `198.51.100.${i}`)));
        assert.deepEqual(
          byStatus(results),
          { 401: LOCK_THRESHOLD, 429: PARALLEL - LOCK_THRESHOLD },
          `only ${LOCK_THRESHOLD} wrong passwords may be checked`,
        );
        for (const r of results) {
          if (r.ok || r.status !== 429) continue;
          assert.match(r.error, /locked/);
          assert.ok(r.retryAfterSeconds > 0 && r.retryAfterSeconds <= LOCK_MINUTES * 60, `Retry-After ${r.retryAfterSeconds}`);
        }
        const stored = (await stores[1]!.getUser(user.id))!;
        assert.equal(stored.failedLogins, LOCK_THRESHOLD);
        assert.ok(stored.lockedUntil && stored.lockedUntil.getTime() > Date.now() + (LOCK_MINUTES - 1) * 60_000, 'locked for 15 minutes');

        const right = await attempt('victim', password, '198.51.100.200');
        assert.equal(right.ok, false, 'the right password is refused while locked');
        assert.equal(!right.ok && right.status, 429);

        const failures = await stores[0]!.listAudit({ limit: 500, action: 'login.failure', targetId: user.id });
        const reasons: Record<string, number> = {};
        for (const e of failures.items) {
          const reason = String((e.changes as { reason?: { after?: unknown } } | null)?.reason?.after);
          reasons[reason] = (reasons[reason] ?? 0) + 1;
        }
        assert.deepEqual(reasons, {
          'wrong password': LOCK_THRESHOLD - 1,
          'wrong password, account locked': 1,
          locked: PARALLEL - LOCK_THRESHOLD + 1,
        });
      },
    );

    test(
      `${PARALLEL} parallel sign-ins from one address: ${LOGIN_MAX_FAILURES} are checked, the rest get 429; then the right password from there is refused`,
      { timeout: 300_000 },
      async () => {
        const password = 'the-right-password-2';
        await stores[0]!.createUser({ username: 'owner', role: 'viewer', passwordHash: await hashPassword(password) });
        const ip = '203.0.113.50';
        // Unknown users: no account lock-out applies, only the address's budget (each still costs a full hash).
        const results = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => attempt(`nobody-${i}`, 'whatever-password', ip)));
        assert.deepEqual(
          byStatus(results),
          { 401: LOGIN_MAX_FAILURES, 429: PARALLEL - LOGIN_MAX_FAILURES },
          `only ${LOGIN_MAX_FAILURES} attempts may be checked`,
        );
        for (const r of results) {
          if (r.ok || r.status !== 429) continue;
          assert.match(r.error, /Too many failed sign-in attempts/);
          assert.ok(r.retryAfterSeconds > 0 && r.retryAfterSeconds <= LOGIN_WINDOW_MS / 1000, `Retry-After ${r.retryAfterSeconds}`);
        }
        const right = await attempt('owner', password, ip);
        assert.equal(!right.ok && right.status, 429, 'the right password from that address is refused');
        const elsewhere = await attempt('owner', password, '203.0.113.51');
        assert.equal(elsewhere.ok, true, 'from another address it works');
      },
    );

    test('a successful sign-in gives its attempt back: it does not use up the address budget', { timeout: 120_000 }, async () => {
      const password = 'the-right-password-3';
      await stores[0]!.createUser({ username: 'regular', role: 'viewer', passwordHash: await hashPassword(password) });
      const ip = '203.0.113.60';
      for (let i = 0; i < 3; i++) assert.equal((await attempt('regular', password, ip)).ok, true, `sign-in ${i + 1}`);
      for (let i = 0; i < LOGIN_MAX_FAILURES - 1; i++) {
        const wrong = await attempt(`stranger-${i}`, 'whatever-password', ip);
        assert.equal(!wrong.ok && wrong.status, 401, `failure ${i + 1}`);
      }
      assert.equal((await attempt('regular', password, ip)).ok, true, 'after 9 failures and 4 successes');
      const tenth = await attempt('stranger-x', 'whatever-password', ip);
      assert.equal(!tenth.ok && tenth.status, 401, 'failure 10');
      const limited = await attempt('regular', password, ip);
      assert.equal(!limited.ok && limited.status, 429, 'the 10th failure used the budget up');
    });
  });
}
