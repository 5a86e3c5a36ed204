import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { UsernameTakenError, type Store } from '../../../lib/store/types';
import { at, freshStoreEachTest, T, time, type ConformanceTarget, type Open } from './support';

export function identityConformance(open: Open): void {
  describe('identity: users, sessions, API tokens', () => {
    let target: ConformanceTarget;
    let store: Store;
    freshStoreEachTest(open, (fresh) => {
      target = fresh;
      store = fresh.store;
    });

    it('users: case-insensitive unique usernames, lookups, ordered list, update, delete, count', T, async () => {
      assert.equal(await store.countUsers(), 0);
      const alice = await store.createUser({ username: 'Alice', role: 'admin', passwordHash: 'h1' });
      assert.match(alice.id, /^[0-9a-f-]{36}$/);
      assert.equal(alice.username, 'Alice');
      assert.equal(alice.role, 'admin');
      assert.equal(alice.disabled, false);
      assert.equal(alice.failedLogins, 0);
      assert.equal(alice.lockedUntil, null);
      assert.ok(alice.createdAt instanceof Date && alice.updatedAt instanceof Date);
      assert.deepEqual(await store.getUser(alice.id), alice);
      assert.deepEqual(await store.getUserByUsername('aLICE'), alice);
      assert.equal(await store.getUserByUsername('alic'), null);
      assert.equal(await store.getUser(randomUUID()), null);
      assert.equal(await store.getUser('nope'), null);
      await assert.rejects(store.createUser({ username: 'ALICE', role: 'viewer', passwordHash: 'x' }), (err: unknown) => {
        assert.ok(err instanceof UsernameTakenError);
        assert.equal(err.username, 'ALICE');
        return true;
      });
      const raced = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => store.createUser({ username: i % 2 ? 'bob' : 'BOB', role: 'viewer', passwordHash: 'x' })),
      );
      assert.equal(raced.filter((r) => r.status === 'fulfilled').length, 1, 'one of the concurrent creates wins');
      for (const r of raced) if (r.status === 'rejected') assert.ok(r.reason instanceof UsernameTakenError);
      const carol = await store.createUser({ username: 'carol', role: 'operator', passwordHash: 'h3', disabled: true });
      assert.equal(carol.disabled, true);
      assert.equal(await store.countUsers(), 3);
      assert.deepEqual(
        (await store.listUsers()).map((u) => u.username.toLowerCase()),
        ['alice', 'bob', 'carol'],
      );

      const updated = await store.updateUser(alice.id, {
        role: 'viewer',
        passwordHash: 'h1b',
        disabled: true,
        failedLogins: 2,
        lockedUntil: at(5),
      });
      assert.ok(updated);
      assert.equal(updated.role, 'viewer');
      assert.equal(updated.passwordHash, 'h1b');
      assert.equal(updated.disabled, true);
      assert.equal(updated.failedLogins, 2);
      assert.equal(time(updated.lockedUntil), time(at(5)));
      assert.equal(updated.username, 'Alice', 'kept');
      assert.equal(time(updated.createdAt), time(alice.createdAt));
      assert.ok(updated.updatedAt.getTime() >= alice.updatedAt.getTime());
      assert.deepEqual(await store.getUser(alice.id), updated);
      await assert.rejects(store.updateUser(alice.id, { username: 'Carol' }), UsernameTakenError);
      assert.equal((await store.updateUser(alice.id, { username: 'ALICE' }))?.username, 'ALICE', 'its own name in another case is fine');
      assert.equal((await store.getUserByUsername('alice'))?.id, alice.id);
      assert.equal(await store.updateUser(randomUUID(), { role: 'admin' }), null);

      const session = await store.createSession({ userId: carol.id, expiresAt: at(1000), ip: null, userAgent: null });
      assert.equal(await store.deleteUser(carol.id), true);
      assert.equal(await store.deleteUser(carol.id), false);
      assert.equal(await store.getUser(carol.id), null);
      assert.equal(await store.getSession(session.id), null, "the user's sessions go with it");
      assert.equal(await store.countUsers(), 2);
      assert.ok(await store.createUser({ username: 'Carol', role: 'viewer', passwordHash: 'x' }), 'the name is free again');
    });

    it(
      'takeUserLoginAttempt: of many concurrent takes on two clients exactly `threshold` are granted, the one reaching it locks',
      T,
      async () => {
        const user = await store.createUser({ username: 'dave', role: 'operator', passwordHash: 'h' });
        const other = target.another ? await target.another() : store;
        const lock = { threshold: 5, lockMs: 3_600_000 };
        const before = await store.now();
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) => (i % 2 ? other : store).takeUserLoginAttempt(user.id, lock)),
        );
        const after = await store.now();
        const grants = results.flatMap((r) => (r?.granted ? [r.user] : []));
        assert.deepEqual(
          grants.map((u) => u.failedLogins).sort((a, b) => a - b),
          [1, 2, 3, 4, 5],
          'five grants, each attempt counted once',
        );
        for (const u of grants) if (u.failedLogins < 5) assert.equal(u.lockedUntil, null, 'below the threshold: no lock');
        const locking = grants.find((u) => u.failedLogins === 5)!;
        assert.ok(locking.lockedUntil, 'the fifth take locks');
        const until = locking.lockedUntil.getTime();
        // (1 ms of slack: the database rounds to milliseconds.)
        assert.ok(
          until >= before.getTime() + lock.lockMs - 1 && until <= after.getTime() + lock.lockMs + 1,
          'for lockMs from then (database time)',
        );
        const refusals = results.flatMap((r) => (r && !r.granted ? [r] : []));
        assert.equal(refusals.length, 35);
        for (const r of refusals) {
          assert.equal(r.lockedUntil.getTime(), until);
          assert.ok(r.retryAfterMs > 0 && r.retryAfterMs <= lock.lockMs, `retryAfterMs ${r.retryAfterMs}`);
        }
        const stored = (await store.getUser(user.id))!;
        assert.equal(stored.failedLogins, 5, 'refused takes change nothing');
        assert.equal(stored.lockedUntil?.getTime(), until);

        const reset = await store.recordLoginSuccess(user.id);
        assert.equal(reset?.failedLogins, 0);
        assert.equal(reset?.lockedUntil, null);
        assert.deepEqual(await store.getUser(user.id), reset);
        const again = await store.takeUserLoginAttempt(user.id, lock);
        assert.ok(again?.granted, 'a success lifts the lock');
        assert.equal(again.user.failedLogins, 1);
        assert.equal(await store.takeUserLoginAttempt(randomUUID(), lock), null);
        assert.equal(await store.takeUserLoginAttempt('nope', lock), null);
        assert.equal(await store.recordLoginSuccess(randomUUID()), null);
        const once = await store.takeUserLoginAttempt(
          (await store.createUser({ username: 'dora', role: 'viewer', passwordHash: 'h' })).id,
          { threshold: 1, lockMs: 60_000 },
        );
        assert.ok(once?.granted && once.user.lockedUntil, 'threshold 1 locks on the first take');
      },
    );

    it('takeUserLoginAttempt: after a lock expires one take is granted and locks again; an admin reset lifts a lock', T, async () => {
      const user = await store.createUser({ username: 'dave', role: 'operator', passwordHash: 'h' });
      const lock = { threshold: 2, lockMs: 1500 };
      assert.equal((await store.takeUserLoginAttempt(user.id, lock))?.granted, true);
      const second = await store.takeUserLoginAttempt(user.id, lock);
      assert.ok(second?.granted && second.user.lockedUntil);
      const refused = await store.takeUserLoginAttempt(user.id, lock);
      assert.ok(refused && !refused.granted);
      await new Promise((resolve) => setTimeout(resolve, refused.retryAfterMs + 100));
      const third = await store.takeUserLoginAttempt(user.id, lock);
      assert.ok(third?.granted, 'the lock has expired');
      assert.equal(third.user.failedLogins, 3);
      assert.ok(third.user.lockedUntil && third.user.lockedUntil.getTime() > second.user.lockedUntil.getTime(), 'and locks again');
      assert.equal((await store.takeUserLoginAttempt(user.id, lock))?.granted, false);
      await store.updateUser(user.id, { failedLogins: 0, lockedUntil: null });
      const lifted = await store.takeUserLoginAttempt(user.id, lock);
      assert.ok(lifted?.granted);
      assert.equal(lifted.user.failedLogins, 1);
    });

    it('sessions: create, get, touch (never backwards), revoke one or all of a user, prune', T, async () => {
      const user = await store.createUser({ username: 'erin', role: 'viewer', passwordHash: 'h' });
      const other = await store.createUser({ username: 'frank', role: 'viewer', passwordHash: 'h' });
      const before = await store.now();
      const s1 = await store.createSession({ userId: user.id, expiresAt: at(1000), ip: '127.0.0.1', userAgent: 'test/1.0' });
      assert.ok(s1.id.length >= 32, 'a generated id is long and random');
      assert.equal(s1.userId, user.id);
      assert.equal(s1.revokedAt, null);
      assert.equal(time(s1.lastSeenAt), time(s1.createdAt));
      assert.ok(s1.createdAt.getTime() >= before.getTime() - 1000, 'database time');
      assert.deepEqual(await store.getSession(s1.id), s1);
      const expired = new Date(before.getTime() - 3_600_000);
      const s2 = await store.createSession({ id: 'my-own-session-id', userId: user.id, expiresAt: expired, ip: null, userAgent: null });
      assert.equal(s2.id, 'my-own-session-id');
      await assert.rejects(
        store.createSession({ id: 'my-own-session-id', userId: user.id, expiresAt: at(10), ip: null, userAgent: null }),
        'ids are unique',
      );
      const s3 = await store.createSession({ userId: other.id, expiresAt: at(1000), ip: null, userAgent: null });

      const future = new Date(s1.createdAt.getTime() + 60_000);
      assert.equal(await store.touchSession(s1.id, future), true);
      assert.equal(time((await store.getSession(s1.id))!.lastSeenAt), time(future));
      assert.equal(await store.touchSession(s1.id, new Date(s1.createdAt.getTime() - 3_600_000)), true);
      assert.equal(time((await store.getSession(s1.id))!.lastSeenAt), time(future), 'an older touch does not move it back');
      assert.equal(await store.touchSession('unknown', future), false);

      assert.equal(await store.revokeSession(s1.id), true);
      const revoked = (await store.getSession(s1.id))!;
      assert.ok(revoked.revokedAt instanceof Date);
      assert.equal(await store.revokeSession(s1.id), false, 'already revoked');
      assert.equal(time((await store.getSession(s1.id))!.revokedAt), time(revoked.revokedAt), 'first revocation time kept');
      assert.equal(await store.revokeSession('unknown'), false);
      assert.equal(await store.revokeUserSessions(user.id), 1, 's2 only: s1 was revoked already');
      assert.ok((await store.getSession(s2.id))!.revokedAt instanceof Date);
      assert.equal((await store.getSession(s3.id))!.revokedAt, null, "another user's session stays");
      assert.equal(await store.revokeUserSessions(randomUUID()), 0);

      // s2 expired an hour ago; s1 was revoked just now; s3 neither.
      assert.equal(await store.pruneSessions(new Date(expired.getTime() + 1)), 1);
      assert.equal(await store.getSession(s2.id), null);
      assert.ok(await store.getSession(s1.id));
      assert.equal(await store.pruneSessions(new Date(revoked.revokedAt!.getTime() + 1)), 1, 'revoked before the cut-off');
      assert.equal(await store.getSession(s1.id), null);
      assert.ok(await store.getSession(s3.id));
    });

    it('API tokens: create, find by hash (unique), list newest first, revoke once, touch forward only', T, async () => {
      const t1 = await store.createApiToken({ name: 'ci', role: 'operator', tokenHash: 'hash-1', prefix: 'cp_ab', createdBy: 'alice' });
      assert.match(t1.id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(
        { ...t1, id: '', createdAt: null },
        {
          id: '',
          name: 'ci',
          role: 'operator',
          tokenHash: 'hash-1',
          prefix: 'cp_ab',
          createdAt: null,
          createdBy: 'alice',
          lastUsedAt: null,
          revokedAt: null,
        },
      );
      assert.ok(t1.createdAt instanceof Date);
      const t2 = await store.createApiToken({ name: 'bot', role: 'viewer', tokenHash: 'hash-2', prefix: 'cp_cd', createdBy: null });
      await assert.rejects(
        store.createApiToken({ name: 'dup', role: 'viewer', tokenHash: 'hash-1', prefix: 'x', createdBy: null }),
        'hashes are unique',
      );
      assert.deepEqual(await store.getApiTokenByHash('hash-1'), t1);
      assert.equal(await store.getApiTokenByHash('hash-3'), null);
      const listed = await store.listApiTokens();
      const expected = [t1, t2].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
      assert.deepEqual(listed, expected);

      const used = new Date(t1.createdAt.getTime() + 5000);
      assert.equal(await store.touchApiToken(t1.id, used), true);
      assert.equal(time((await store.getApiTokenByHash('hash-1'))!.lastUsedAt), time(used));
      assert.equal(await store.touchApiToken(t1.id, new Date(t1.createdAt.getTime() - 3_600_000)), true);
      assert.equal(time((await store.getApiTokenByHash('hash-1'))!.lastUsedAt), time(used), 'never backwards');
      assert.equal(await store.touchApiToken(randomUUID(), used), false);
      assert.equal(await store.revokeApiToken(t1.id), true);
      assert.ok((await store.getApiTokenByHash('hash-1'))!.revokedAt instanceof Date, 'a revoked token is still found, marked');
      assert.equal(await store.revokeApiToken(t1.id), false);
      assert.equal(await store.revokeApiToken(randomUUID()), false);
      assert.equal((await store.getApiTokenByHash('hash-2'))!.revokedAt, null);
    });
  });
}
