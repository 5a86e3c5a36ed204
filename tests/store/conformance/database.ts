import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Store } from '../../../lib/store/types';
import { freshStoreEachTest, newJob, newRun, T, type ConformanceTarget, type Open } from './support';

export function databaseConformance(open: Open): void {
  describe('migrate', () => {
    let target: ConformanceTarget;
    beforeEach(async () => {
      target = await open();
    });
    afterEach(async () => {
      await target.cleanup();
    });

    it('brings an empty database up to date when several connections migrate at once, and is idempotent', T, async () => {
      const stores = [target.store];
      if (target.another) for (let i = 0; i < 3; i++) stores.push(await target.another());
      // Several calls per store as well: the same process may race itself (instrumentation and a route).
      await Promise.all(stores.flatMap((s) => [s.migrate(), s.migrate()]));
      const job = await stores[1 % stores.length]!.createJob(newJob({ name: 'after-concurrent-migrate' }));
      await target.store.migrate();
      const again = await target.store.getJob(job.id);
      assert.equal(again?.name, 'after-concurrent-migrate', 'a later migrate keeps existing data');
      assert.equal((await target.store.insertRun(newRun(job))) !== null, true);
      assert.equal(await target.store.insertRun(newRun(job)), null, 'uniqueness holds after concurrent migrations');
    });
  });

  describe('the database: migrate, identity, clock, tickets', () => {
    let store: Store;
    freshStoreEachTest(open, (fresh) => ({ store } = fresh));

    it('identifies itself without secrets', T, () => {
      assert.ok(store.kind === 'postgres' || store.kind === 'mongodb');
      assert.ok(store.description.length > 0);
      assert.doesNotMatch(store.description, /:\/\/[^/\s]*:[^@/\s]+@/, 'no password in the description');
    });

    it('now() is the database clock, close to the local clock; ping() resolves', T, async () => {
      const before = Date.now();
      const now = await store.now();
      const after = Date.now();
      assert.ok(now instanceof Date);
      // Same machine in tests: allow scheduling noise, not a different clock.
      assert.ok(
        now.getTime() >= before - 2000 && now.getTime() <= after + 2000,
        `now() ${now.toISOString()} vs local ${new Date(before).toISOString()}`,
      );
      const later = await store.now();
      assert.ok(later.getTime() >= now.getTime(), 'clock moves forward');
      await store.ping();
    });

    it('compactTickets resolves, also when several instances call it at once', T, async () => {
      await store.compactTickets();
      await Promise.all([store.compactTickets(), store.compactTickets(), store.compactTickets()]);
    });
  });
}
