import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createPostgresStore } from '../../lib/store/postgres';
import type { Store } from '../../lib/store/types';
import { startTestPostgres } from '../support/postgres';
import { storeConformance } from './conformance';

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

// What compactTickets is for: the dead rows every ticket leaves behind (insert, lock, update, delete) are reclaimed
// at once rather than at autovacuum's next visit. The table's emptied pages are cut off by the VACUUM.
describe('postgres: compactTickets', () => {
  it('reclaims the dead rows of deleted tickets', async () => {
    const db = await startTestPostgres();
    const store = await createPostgresStore(db.url, 'postgres (test)');
    const client = new pg.Client({ connectionString: db.url });
    try {
      await store.migrate();
      await client.connect();
      await client.query(`INSERT INTO agenda_jobs (name, next_run_at, data) SELECT 't', now(), jsonb_build_object('i', i) FROM generate_series(1, 5000) i`);
      await client.query('DELETE FROM agenda_jobs');
      const pages = async (): Promise<number> =>
        Number((await client.query<{ n: string }>("SELECT pg_relation_size('agenda_jobs') / current_setting('block_size')::int AS n")).rows[0]!.n);
      const before = await pages();
      assert.ok(before > 10, `${before} pages of dead rows`);
      await store.compactTickets();
      assert.equal(await pages(), 0, 'the dead rows are gone and the empty pages cut off');
    } finally {
      await client.end();
      await store.close();
      await db.stop();
    }
  });
});
