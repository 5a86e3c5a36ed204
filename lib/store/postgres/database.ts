import 'server-only';
import { PrismaPg } from '@prisma/adapter-pg';
import pg, { type QueryResultRow } from 'pg';
import { Prisma, PrismaClient } from '../../generated/prisma/client';
import type { DatabaseLifecycle } from '../types';
import { migrateDatabase } from './migrate';
import { prepared } from './prepared';
import { toDate } from './rows';
import { logger } from '../../log';

/**
 * One PostgreSQL database as every part of the store uses it: Prisma, and the pool under it. Query styles (see
 * docs/stores.md): named statements on the pool (`sql`) for the scheduler's hot path, Prisma everywhere else.
 */
export class PgDatabase {
  readonly prisma: PrismaClient;
  /**
   * Shared with Prisma (one set of connections). The scheduler's per-occurrence statements (getJob, advanceJob,
   * insertRun, countActiveRuns, updateRun) go through it as plain SQL: measured in-process, a Prisma model query cost
   * ~1.3 ms of CPU, $queryRaw ~0.5 ms, the same statement on the pool ~0.12 ms, and at 100 occurrences/s Prisma was
   * about 40 % of an instance's CPU.
   */
  readonly pool: pg.Pool;

  constructor(readonly url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 10 });
    // An idle connection dropped by a database restart must not become an uncaught exception; the pool replaces it.
    this.pool.on('error', (err) => logger('store').error({ err: err.message }, 'idle database connection lost'));
    this.prisma = new PrismaClient({ adapter: new PrismaPg(this.pool) });
  }

  /**
   * A named (prepared) statement: each connection parses and plans the text once instead of on every call. The
   * scheduler's per-occurrence statements are short, so parsing and planning were a large share of the database's CPU.
   */
  async sql<T>(text: string, values: unknown[]): Promise<T[]> {
    return (await this.pool.query<QueryResultRow>(prepared(text, values))).rows as T[];
  }

  /** The database server's clock. */
  async now(): Promise<Date> {
    // clock_timestamp(), not now(): now() is the start of the transaction.
    const rows = await this.prisma.$queryRaw<Array<{ now: Date }>>`SELECT clock_timestamp() AS now`;
    return toDate(rows[0]!.now)!;
  }
}

export function isPrismaError(err: unknown, code: string): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === code;
}

/** A unique violation from a raw query (Prisma wraps it: P2010 with the database's code 23505 in meta) or a model query. */
export function isUniqueViolation(err: unknown): boolean {
  if (isPrismaError(err, 'P2002')) return true;
  return (
    err instanceof Prisma.PrismaClientKnownRequestError &&
    /23505|unique constraint/i.test(`${JSON.stringify(err.meta ?? {})} ${err.message}`)
  );
}

export function postgresLifecycle(db: PgDatabase, description: string): DatabaseLifecycle {
  return {
    kind: 'postgres',
    description,

    async migrate(): Promise<void> {
      const { applied } = await migrateDatabase(db.url);
      if (applied.length > 0) logger('store').info(`applied migrations: ${applied.join(', ')}`);
    },

    async close(): Promise<void> {
      await db.prisma.$disconnect();
      await db.pool.end();
    },

    now: () => db.now(),

    async ping(): Promise<void> {
      await db.prisma.$queryRaw`SELECT 1`;
    },
  };
}
