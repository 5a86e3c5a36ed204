import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Instance, Store } from '../../../lib/store/types';
import { at, freshStoreEachTest, T, type Open } from './support';

export function instanceConformance(open: Open): void {
  describe('instances', () => {
    let store: Store;
    freshStoreEachTest(open, (fresh) => ({ store } = fresh));

    it('upsertInstance inserts, then updates in place; listInstances returns them all', T, async () => {
      const a: Instance = {
        id: `host-1:${randomUUID()}`,
        host: 'host-1',
        pid: 4242,
        version: '0.1.0',
        startedAt: at(0, 1),
        lastSeenAt: at(5, 2),
        clockSkewMs: -37,
        stoppedAt: null,
        aliveSince: at(3, 4),
      };
      const b: Instance = { ...a, id: `host-2:${randomUUID()}`, host: 'host-2', pid: 7, clockSkewMs: 12 };
      await store.upsertInstance(a);
      await store.upsertInstance(b);
      const a2: Instance = { ...a, lastSeenAt: at(15, 3), clockSkewMs: 5, stoppedAt: at(16), aliveSince: at(12) };
      await store.upsertInstance(a2);
      const list = await store.listInstances();
      assert.equal(list.length, 2);
      const byId = new Map(list.map((i) => [i.id, i]));
      assert.deepEqual(byId.get(a.id), a2);
      assert.deepEqual(byId.get(b.id), b);
    });
  });
}
