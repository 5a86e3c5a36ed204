import 'server-only';
import type { Store, StoreKind } from './types';

export interface DatabaseTarget {
  kind: StoreKind;
  /** Null for the embedded default: the private PostgreSQL cluster under .data/ gives its URL once started. */
  url: string | null;
}

/** DATABASE_URL picks the store by its scheme; no DATABASE_URL means the embedded PostgreSQL cluster. */
export function resolveDatabase(env: Partial<Record<string, string>> = process.env): DatabaseTarget {
  const url = env.DATABASE_URL?.trim();
  if (!url) return { kind: 'postgres', url: null };
  const colon = url.indexOf(':');
  // Never echo the URL itself: it may hold a password.
  if (colon <= 0) throw new Error('DATABASE_URL is not a URL: use postgres://, postgresql://, mongodb:// or mongodb+srv://');
  const scheme = url.slice(0, colon).toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return { kind: 'postgres', url };
  if (scheme === 'mongodb' || scheme === 'mongodb+srv') return { kind: 'mongodb', url };
  throw new Error(`DATABASE_URL has an unsupported scheme "${scheme}": use postgres://, postgresql://, mongodb:// or mongodb+srv://`);
}

const STORE_KEY = Symbol.for('cronplane.store');
type StoreGlobal = typeof globalThis & { [STORE_KEY]?: Promise<Store> };

/**
 * The process-wide store, opened and migrated once. Kept on globalThis because Next may load this
 * module more than once (instrumentation and route bundles) while they share one process.
 */
export function getStore(): Promise<Store> {
  const g = globalThis as StoreGlobal;
  g[STORE_KEY] ??= openStore(resolveDatabase()).catch((err: unknown) => {
    delete g[STORE_KEY];
    throw err;
  });
  return g[STORE_KEY];
}

export async function openStore(target: DatabaseTarget): Promise<Store> {
  let store: Store;
  if (target.kind === 'mongodb') {
    const { createMongoStore } = await import('./mongo');
    store = await createMongoStore(target.url!);
  } else if (target.url) {
    const { createPostgresStore } = await import('./postgres');
    store = await createPostgresStore(target.url, 'postgres');
  } else {
    const { ensureEmbeddedPostgres } = await import('./postgres/embedded');
    const embedded = await ensureEmbeddedPostgres();
    const { createPostgresStore } = await import('./postgres');
    store = await createPostgresStore(embedded.url, `postgres (embedded cluster in ${embedded.dataDir})`);
  }
  await store.migrate();
  return store;
}
