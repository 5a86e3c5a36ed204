// Prisma CLI configuration (generate, migrate dev/deploy/status/diff). No native engines can be downloaded
// here, so the schema engine runs in JS mode through @prisma/adapter-pg. Prisma does not read .env when this
// file exists: export DATABASE_URL=postgres://... before `prisma migrate ...` (generate needs no database).
import { defineConfig } from 'prisma/config';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';

// The adapter rejects column types name (19) and "char" (18) and their arrays, which the schema engine's own
// catalog queries return (prisma/orm#27403): report them as text / text[] instead.
const TEXT = 25;
const TEXT_ARRAY = 1009;
const AS_TEXT: Record<number, number> = { 18: TEXT, 19: TEXT, 1002: TEXT_ARRAY, 1003: TEXT_ARRAY };

function patchFields<R>(result: R): R {
  const results = Array.isArray(result) ? result : [result];
  for (const r of results as Array<{ fields?: Array<{ dataTypeID: number }> } | null | undefined>) {
    for (const field of r?.fields ?? []) field.dataTypeID = AS_TEXT[field.dataTypeID] ?? field.dataTypeID;
  }
  return result;
}

class CatalogFriendlyClient extends pg.Client {
  // pg's Client.query has many overloads (promise and callback forms; Pool uses the callback form).
  override query(...args: unknown[]): never {
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      const callback = last as (err: unknown, res: unknown) => void;
      args[args.length - 1] = (err: unknown, res: unknown) => callback(err, err ? res : patchFields(res));
    }
    const out = (super.query as (...a: unknown[]) => unknown)(...args);
    if (out && typeof (out as Promise<unknown>).then === 'function') return (out as Promise<unknown>).then(patchFields) as never;
    return out as never;
  }
}

function adapterFromEnv(): PrismaPg {
  const raw = process.env.DATABASE_URL;
  if (!raw) throw new Error('set DATABASE_URL=postgres://user:password@host:port/database for prisma migrate commands');
  const url = new URL(raw);
  // Separate fields, not a connectionString: the adapter creates the shadow database by overriding `database`,
  // which a connectionString would silently win over (the shadow would become the main database).
  return new PrismaPg({
    host: url.hostname,
    port: url.port ? Number(url.port) : 5432,
    database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    Client: CatalogFriendlyClient,
    // The adapter drops the shadow database while its pool still holds an idle connection; PostgreSQL waits
    // up to 5 s for it to go away, so close idle connections quickly.
    idleTimeoutMillis: 200,
  });
}

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  adapter: async () => adapterFromEnv(),
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
