import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEntry, AuditListQuery, Store } from '../../../lib/store/types';
import { freshStoreEachTest, T, type Open } from './support';

export function auditConformance(open: Open): void {
  describe('audit log', () => {
    let store: Store;
    freshStoreEachTest(open, (fresh) => ({ store } = fresh));

    it('audit log: append stamps database time; listAudit newest first, keyset pages, every filter', T, async () => {
      const before = await store.now();
      const entries: AuditEntry[] = [];
      const actions = ['job.create', 'job.update', 'login.failure'];
      for (let i = 0; i < 14; i++) {
        entries.push(
          await store.appendAudit({
            actorType: i % 4 === 0 ? 'system' : i % 2 ? 'user' : 'token',
            actorId: i % 4 === 0 ? null : `actor-${i % 3}`,
            actorName: i % 4 === 0 ? 'system' : `name-${i % 3}`,
            action: actions[i % 3]!,
            targetType: i % 5 === 0 ? null : 'job',
            targetId: i % 5 === 0 ? null : `job-${i % 2}`,
            targetName: i % 5 === 0 ? null : `Job ${i % 2}`,
            ip: i % 2 ? '10.0.0.1' : null,
            changes:
              i % 3 === 1
                ? { name: { before: 'a.b', after: 'c' }, 'payload.$url': { before: null, after: { nested: [1, 'x', true] } } }
                : null,
          }),
        );
      }
      const after = await store.now();
      for (const e of entries) {
        // Within 1 ms: the database keeps microseconds, and the two drivers (pg for now(), Prisma for the append) round
        // them to milliseconds differently (seen once: an entry 1 ms "before" the earlier now()).
        assert.ok(e.at.getTime() >= before.getTime() - 1 && e.at.getTime() <= after.getTime() + 1, 'database time');
        assert.match(e.id, /^[0-9a-f-]{36}$/);
      }
      assert.deepEqual(entries[1]!.changes, {
        name: { before: 'a.b', after: 'c' },
        'payload.$url': { before: null, after: { nested: [1, 'x', true] } },
      });
      const order = (a: AuditEntry, b: AuditEntry): number => b.at.getTime() - a.at.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
      const all = async (query: Omit<AuditListQuery, 'cursor'>): Promise<AuditEntry[]> => {
        const out: AuditEntry[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 100; pages++) {
          const page = await store.listAudit({ ...query, cursor });
          assert.ok(page.items.length <= query.limit);
          out.push(...page.items);
          if (!page.nextCursor) return out;
          cursor = page.nextCursor;
        }
        throw new Error('pagination did not terminate');
      };
      const mid = entries.slice().sort((a, b) => a.at.getTime() - b.at.getTime())[7]!.at;
      const cases: Array<[Omit<AuditListQuery, 'limit' | 'cursor'>, (e: AuditEntry) => boolean]> = [
        [{}, () => true],
        [{ actorName: 'name-1' }, (e) => e.actorName === 'name-1'],
        [{ action: 'job.update' }, (e) => e.action === 'job.update'],
        [{ targetType: 'job' }, (e) => e.targetType === 'job'],
        [{ targetType: 'job', targetId: 'job-1' }, (e) => e.targetType === 'job' && e.targetId === 'job-1'],
        [{ from: mid }, (e) => e.at.getTime() >= mid.getTime()],
        [{ to: mid }, (e) => e.at.getTime() < mid.getTime()],
        [{ action: 'nothing' }, () => false],
      ];
      for (const [filter, predicate] of cases) {
        const expected = entries.filter(predicate).sort(order);
        for (const limit of [1, 4, 50])
          assert.deepEqual(await all({ ...filter, limit }), expected, `${JSON.stringify(filter)} limit ${limit}`);
      }
      await assert.rejects(store.listAudit({ limit: 5, cursor: 'garbage!' }));
      const s = store as unknown as Record<string, unknown>;
      for (const name of ['updateAudit', 'deleteAudit', 'pruneAudit']) assert.equal(s[name], undefined, 'append-only');
    });
  });
}
