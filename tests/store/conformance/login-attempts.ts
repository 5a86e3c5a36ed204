import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LoginAttemptGrant, Store } from '../../../lib/store/types';
import { freshStoreEachTest, T, type ConformanceTarget, type Open } from './support';

type Granted = Extract<LoginAttemptGrant, { granted: true }>;
type Refused = Extract<LoginAttemptGrant, { granted: false }>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function loginAttemptConformance(open: Open): void {
  describe('sign-in budgets (login attempts)', () => {
    let target: ConformanceTarget;
    let store: Store;
    freshStoreEachTest(open, (fresh) => {
      target = fresh;
      store = fresh.store;
    });

    it('of many concurrent first takes of a new key, on two clients, exactly `max` are granted, in one window', T, async () => {
      const other = target.another ? await target.another() : store;
      const limit = { max: 10, windowMs: 3_600_000 };
      const before = await store.now();
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? other : store).takeLoginAttempt('ip:a', limit)));
      const grants = results.filter((r): r is Granted => r.granted);
      const refusals = results.filter((r): r is Refused => !r.granted);
      assert.deepEqual(
        grants.map((g) => g.attempts).sort((a, b) => a - b),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        'ten grants, each attempt counted once',
      );
      const start = grants[0]!.windowStart.getTime();
      for (const g of grants) {
        assert.equal(g.windowStart.getTime(), start, 'one window');
        assert.equal(g.windowEnds.getTime() - start, limit.windowMs);
      }
      assert.ok(start >= before.getTime() - 1, 'the window starts at the first take (database time)');
      assert.equal(refusals.length, 30);
      for (const r of refusals) {
        assert.equal(r.retryAt.getTime(), start + limit.windowMs, 'the next attempt is possible when the window ends');
        assert.ok(r.retryAfterMs > 0 && r.retryAfterMs <= limit.windowMs, `retryAfterMs ${r.retryAfterMs}`);
      }
      assert.equal((await other.takeLoginAttempt('ip:a', limit)).granted, false, 'still refused');
      const b = await store.takeLoginAttempt('ip:b', limit);
      assert.ok(b.granted && b.attempts === 1, 'another key has its own budget');
    });

    it('a window that ended starts again from one; a returned attempt can be taken again, only in its own window', T, async () => {
      const limit = { max: 2, windowMs: 1500 };
      const first = await store.takeLoginAttempt('ip:c', limit);
      assert.ok(first.granted && first.attempts === 1);
      const second = await store.takeLoginAttempt('ip:c', limit);
      assert.ok(second.granted && second.attempts === 2);
      const refused = await store.takeLoginAttempt('ip:c', limit);
      assert.ok(!refused.granted && refused.retryAfterMs <= limit.windowMs);

      assert.equal(await store.returnLoginAttempt('ip:c', first.windowStart), true, 'a success gives its attempt back');
      const third = await store.takeLoginAttempt('ip:c', limit);
      assert.ok(third.granted && third.attempts === 2, 'and it can be taken again');
      assert.equal((await store.takeLoginAttempt('ip:c', limit)).granted, false);
      assert.equal(await store.returnLoginAttempt('ip:unknown', first.windowStart), false);

      await sleep(refused.retryAfterMs + 100);
      const next = await store.takeLoginAttempt('ip:c', limit);
      assert.ok(next.granted && next.attempts === 1, 'a new window starts from this attempt');
      assert.ok(next.windowStart.getTime() > first.windowStart.getTime());
      assert.equal(
        await store.returnLoginAttempt('ip:c', first.windowStart),
        false,
        "an ended window's attempt is not given back to the next",
      );
      assert.equal(await store.returnLoginAttempt('ip:c', next.windowStart), true);
      assert.equal(await store.returnLoginAttempt('ip:c', next.windowStart), false, 'nothing left to give back');
    });

    it('prune deletes the budgets whose window ended before the cut-off', T, async () => {
      assert.equal((await store.takeLoginAttempt('ip:old', { max: 1, windowMs: 1 })).granted, true);
      assert.equal((await store.takeLoginAttempt('ip:live', { max: 1, windowMs: 3_600_000 })).granted, true);
      await sleep(20);
      assert.equal(await store.pruneLoginAttempts(await store.now()), 1);
      assert.equal(await store.pruneLoginAttempts(await store.now()), 0);
      assert.equal((await store.takeLoginAttempt('ip:live', { max: 1, windowMs: 3_600_000 })).granted, false, 'the live one stays');
      assert.equal((await store.takeLoginAttempt('ip:old', { max: 1, windowMs: 3_600_000 })).granted, true);
    });
  });
}
