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
