import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createPostgresStore } from '../../lib/store/postgres';
import type { Store } from '../../lib/store/types';
import { restartTestPostgresServer, startTestPostgres, type TestPostgres } from '../support/postgres';
import { storeConformance } from './conformance';
import { newJob, newRun } from './conformance/support';

storeConformance('postgres', async () => {
  const db = await startTestPostgres();
  const stores: Store[] = [await createPostgresStore(db.url, 'postgres (test)')];
  return {
    store: stores[0]!,
    another: async () => {
      const store = await createPostgresStore(db.url, 'postgres (test)');
      stores.push(store);
      return store;
    },
    async cleanup() {
      await Promise.all(stores.map((s) => s.close()));
      await db.stop();
    },
  };
});

/** A fresh database with a migrated store and a plain client on it, all closed and dropped after `fn`. */
async function withMigratedStore(fn: (store: Store, client: pg.Client, db: TestPostgres) => Promise<void>): Promise<void> {
  const db = await startTestPostgres();
  const store = await createPostgresStore(db.url, 'postgres (test)');
  const client = new pg.Client({ connectionString: db.url });
  try {
    await store.migrate();
    await client.connect();
    await fn(store, client, db);
  } finally {
    await client.end();
    await store.close();
    await db.stop();
  }
}

// Starts sort as they happened across instances: startRun records the database's time of its write, whatever the
// instance's clock estimate says (two estimates a few ms apart made two runs of a skip job each believe it started first).
describe('postgres: startRun records the database time', () => {
  it("the start is the write's database time, not the instance's estimate", () =>
    withMigratedStore(async (store) => {
      const at = (s: number): Date => new Date(Date.parse('2020-01-01T00:00:00.000Z') + s * 1000);
      const job = await store.createJob(newJob({ nextRunAt: at(60), anchorAt: at(0) }));
      const claimed = await store.claimOccurrence({
        jobId: job.id,
        expected: { version: job.version, nextRunAt: at(60) },
        nextRunAt: at(120),
        runs: [newRun(job, { scheduledFor: at(60), status: 'claimed', instanceId: 'a', leaseExpiresAt: new Date(Date.now() + 60_000) })],
      });
      assert.equal(claimed.outcome, 'claimed');
      if (claimed.outcome !== 'claimed') return;
      const before = await store.now();
      // An estimate a minute off: recorded anyway as the database's time.
      const started = await store.startRun(claimed.run, 'a', {
        at: new Date(before.getTime() - 60_000),
        queued: false,
        leaseExpiresAt: new Date(Date.now() + 60_000),
        trigger: 'schedule',
      });
      const after = await store.now();
      assert.equal(started.outcome, 'started');
      if (started.outcome !== 'started') return;
      const t = started.run.startedAt!.getTime();
      assert.ok(
        t >= before.getTime() && t <= after.getTime(),
        `${started.run.startedAt!.toISOString()} within [${before.toISOString()}, ${after.toISOString()}]`,
      );
    }));
});

// The claim deletes the ticket that fired it in its own statement (one round trip less per occurrence), whatever the
// outcome, and only that ticket.
describe('postgres: claimOccurrence deletes the fired ticket', () => {
  it('claimed, stale or taken: the named ticket is gone, the others stay; without a ticket nothing is deleted', () =>
    withMigratedStore(async (store, client) => {
      const at = (s: number): Date => new Date(Date.parse('2020-01-01T00:00:00.000Z') + s * 1000);
      const ticket = async (): Promise<string> =>
        (await client.query<{ id: string }>(`INSERT INTO agenda_jobs (name, next_run_at, data) VALUES ('t', now(), '{}') RETURNING id`))
          .rows[0]!.id;
      const exists = async (id: string): Promise<boolean> =>
        (await client.query('SELECT 1 FROM agenda_jobs WHERE id = $1', [id])).rowCount === 1;
      const job = await store.createJob(newJob({ nextRunAt: at(60), anchorAt: at(0) }));
      const claim = (ticketId: string | undefined, scheduledFor: Date, next: Date) =>
        store.claimOccurrence({
          jobId: job.id,
          expected: { version: job.version, nextRunAt: scheduledFor },
          nextRunAt: next,
          runs: [newRun(job, { scheduledFor, status: 'claimed', instanceId: 'a', leaseExpiresAt: new Date(Date.now() + 60_000) })],
          ...(ticketId === undefined ? {} : { ticketId }),
        });
      const bystander = await ticket();
      const first = await ticket();
      const claimed = await claim(first, at(60), at(120));
      assert.equal(claimed.outcome, 'claimed');
      assert.equal(claimed.ticketDeleted, true);
      assert.equal(await exists(first), false);
      // A second ticket for the same occurrence (the pointer has moved on): stale, and its ticket goes too.
      const duplicate = await ticket();
      const stale = await claim(duplicate, at(60), at(120));
      assert.deepEqual(stale, { outcome: 'stale', ticketDeleted: true });
      assert.equal(await exists(duplicate), false);
      // No ticket named, or one that is not a ticket id: nothing deleted, nothing reported.
      const next = await claim(undefined, at(120), at(180));
      assert.equal(next.outcome, 'claimed');
      assert.equal(next.ticketDeleted, undefined);
      assert.deepEqual(await claim('not-a-uuid', at(180), at(240)).then((r) => [r.outcome, r.ticketDeleted]), ['claimed', undefined]);
      assert.equal(await exists(bystander), true);
    }));
});

// What compactTickets is for: the dead rows every ticket leaves behind (insert, lock, update, delete) are reclaimed
// at once rather than at autovacuum's next visit. The table's emptied pages are cut off by the VACUUM.
describe('postgres: compactTickets', () => {
  it('reclaims the dead rows of deleted tickets', () =>
    withMigratedStore(async (store, client) => {
      await client.query(
        `INSERT INTO agenda_jobs (name, next_run_at, data) SELECT 't', now(), jsonb_build_object('i', i) FROM generate_series(1, 5000) i`,
      );
      await client.query('DELETE FROM agenda_jobs');
      const pages = async (): Promise<number> =>
        Number(
          (await client.query<{ n: string }>("SELECT pg_relation_size('agenda_jobs') / current_setting('block_size')::int AS n")).rows[0]!
            .n,
        );
      const before = await pages();
      assert.ok(before > 10, `${before} pages of dead rows`);
      await store.compactTickets();
      assert.equal(await pages(), 0, 'the dead rows are gone and the empty pages cut off');
    }));
});

// The audit log's filters by target type alone and by target id alone read their own index in keyset order: measured
// from PostgreSQL's per-index scan counters around the store's own query, on a log large enough that a sequential scan
// would be the planner's choice without them.
describe('postgres: audit filters use an index', () => {
  it('target type alone and target id alone scan their indexes, never the table', () =>
    withMigratedStore(async (_store, client, db) => {
      await client.query(`
        INSERT INTO audit_log (id, at, actor_type, actor_name, action, target_type, target_id, target_name)
        SELECT gen_random_uuid(), now() - i * interval '1 second', 'user', 'admin', 'job.update',
               (ARRAY['job', 'user', 'token'])[1 + i % 3], 'target-' || (i % 500), 'n'
        FROM generate_series(1, 30000) i`);
      await client.query('ANALYZE audit_log');
      const counters = async (): Promise<Record<string, number>> => {
        const { rows } = await client.query<{ name: string; scans: string }>(
          `SELECT indexrelname AS name, idx_scan AS scans FROM pg_stat_user_indexes WHERE relname = 'audit_log'
           UNION ALL SELECT 'seq', seq_scan FROM pg_stat_user_tables WHERE relname = 'audit_log'`,
        );
        return Object.fromEntries(rows.map((r) => [r.name, Number(r.scans)]));
      };
      const settled = async (before: Record<string, number>, index: string): Promise<Record<string, number>> => {
        for (let i = 0; i < 40; i++) {
          const now = await counters();
          if (now[index]! > before[index]!) return now;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return counters();
      };
      for (const [query, index] of [
        [{ targetType: 'token' }, 'audit_target_type_newest_idx'],
        [{ targetId: 'target-7' }, 'audit_target_id_newest_idx'],
      ] as const) {
        const before = await counters();
        // A store of its own: closing it ends its connections, and an ending backend reports its statistics at once
        // (an idle one only every 10 s).
        const reader = await createPostgresStore(db.url, 'postgres (test)');
        const page = await reader.listAudit({ ...query, limit: 20 });
        await reader.close();
        assert.equal(page.items.length, 20);
        const after = await settled(before, index);
        assert.ok(after[index]! > before[index]!, `${JSON.stringify(query)} used ${index}`);
        assert.equal(after.seq, before.seq, `${JSON.stringify(query)} did not scan the table`);
      }
    }));
});

describe('postgres: the cancel listener after a database restart', () => {
  it('reconnects on its own: a cancel made after the restart reaches it within 2 s', { timeout: 90_000 }, () =>
    withMigratedStore(async (store, client, db) => {
      client.on('error', () => undefined); // the restart cuts this plain client off too
      const watcher = await createPostgresStore(db.url, 'postgres (watcher)');
      const seen: string[] = [];
      const stop = await watcher.watchCancelRequests((id) => seen.push(id));
      try {
        await restartTestPostgresServer(1_000);
        // The store's pool replaces its dead connections on use: retry until the database answers again.
        let job: Awaited<ReturnType<Store['createJob']>> | null = null;
        for (let i = 0; i < 40 && !job; i++) {
          job = await store.createJob(newJob()).catch(() => null);
          if (!job) await new Promise((resolve) => setTimeout(resolve, 250));
        }
        assert.ok(job, 'the database is back');
        const running = (await store.insertRun(newRun(job, { startedAt: new Date(), leaseExpiresAt: new Date(Date.now() + 60_000) })))!;
        // The listener retries every 500 ms: give it a moment more than that to be back, then the bound applies.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        const sent = Date.now();
        const result = await store.cancelRun(
          running.id,
          { at: new Date(), by: { type: 'user', id: null, name: 'ops' }, reason: null },
          'x',
        );
        assert.equal(result.outcome, 'requested');
        while (!seen.includes(running.id) && Date.now() - sent < 2_000) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.ok(seen.includes(running.id), 'the notification arrived after the restart');
      } finally {
        await stop();
        await watcher.close().catch(() => undefined);
      }
    }),
  );
});
