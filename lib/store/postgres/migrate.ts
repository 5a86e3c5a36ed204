import 'server-only';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  getCreateIndexesSQL,
  getCreateLogsIndexesSQL,
  getCreateLogsTableSQL,
  getCreateTableSQL,
  getUpdateTimestampTriggerSQL,
} from '@agendajs/postgres-backend';
import pg from 'pg';
import { logger } from '../../log';

/**
 * Applies prisma/migrations at start-up, the way `prisma migrate deploy` does, without the Prisma CLI at run
 * time. Same bookkeeping table (_prisma_migrations, sha256 checksums) and the same advisory lock key as Prisma's
 * schema engine, so the CLI and every app process exclude each other and `prisma migrate status` agrees.
 */
const PRISMA_ADVISORY_LOCK = 72707369;

export const AGENDA_TABLE = 'agenda_jobs';
export const AGENDA_LOG_TABLE = 'agenda_logs';

/** Prisma's own DDL for the bookkeeping table (copied from what `prisma migrate deploy` creates). */
const MIGRATIONS_TABLE_SQL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export function migrationsDir(): string {
  const fromEnv = process.env.CRONPLANE_MIGRATIONS_DIR?.trim();
  // turbopackIgnore: a variable path would make Next trace (and ship) the whole project.
  if (fromEnv) return resolve(/*turbopackIgnore: true*/ fromEnv);
  return join(process.cwd(), 'prisma', 'migrations');
}

interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

function readMigrations(dir: string): MigrationFile[] {
  if (!existsSync(dir))
    throw new Error(`migrations directory not found: ${dir} (start the app from the project root or set CRONPLANE_MIGRATIONS_DIR)`);
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'migration.sql')))
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

export interface MigrateResult {
  applied: string[];
}

/**
 * Brings the database up to date: pending Prisma migrations, then Agenda's table (created here, under the same
 * lock, because Agenda's own CREATE ... IF NOT EXISTS races when several processes start at once).
 */
export async function migrateDatabase(url: string, dir = migrationsDir()): Promise<MigrateResult> {
  const migrations = readMigrations(dir);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const applied: string[] = [];
  try {
    // Session lock: the first process migrates, the others wait here and then find nothing to do.
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK]);
    try {
      await client.query(MIGRATIONS_TABLE_SQL);
      const { rows } = await client.query<{
        migration_name: string;
        finished_at: Date | null;
        rolled_back_at: Date | null;
        checksum: string;
      }>('SELECT migration_name, finished_at, rolled_back_at, checksum FROM "_prisma_migrations" ORDER BY started_at');
      const failed = rows.find((r) => r.finished_at === null && r.rolled_back_at === null);
      if (failed) {
        throw new Error(
          `migration ${failed.migration_name} failed earlier and needs attention: fix the database, then ` +
            `\`prisma migrate resolve --rolled-back ${failed.migration_name}\` (or --applied)`,
        );
      }
      const done = new Map(
        rows.filter((r) => r.finished_at !== null && r.rolled_back_at === null).map((r) => [r.migration_name, r.checksum]),
      );
      for (const m of migrations) {
        const previous = done.get(m.name);
        if (previous !== undefined) {
          if (previous !== m.checksum)
            logger('store').warn(`migration ${m.name} was edited after it was applied (checksum differs); not re-applied`);
          continue;
        }
        const id = randomUUID();
        await client.query(
          'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)',
          [id, m.checksum, m.name],
        );
        // One transaction per migration: a failure leaves no half-applied schema (PostgreSQL DDL is transactional).
        try {
          await client.query('BEGIN');
          await client.query(m.sql);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          // Recorded like Prisma does (finished_at null, logs set) so `prisma migrate status` shows it.
          await client.query('UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1', [id, String(err)]);
          throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
        }
        await client.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id]);
        applied.push(m.name);
      }
      await ensureAgendaSchema(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK]);
    }
  } finally {
    await client.end();
  }
  return { applied };
}

async function ensureAgendaSchema(client: pg.Client): Promise<void> {
  await client.query(getCreateTableSQL(AGENDA_TABLE));
  for (const sql of getCreateIndexesSQL(AGENDA_TABLE)) await client.query(sql);
  // Ours: the scheduler's batch lock (lockNextJobs) walks only unlocked tickets. Agenda's own index puts every locked
  // ticket (up to the lock limit of every instance) in front of the first lockable one.
  await client.query(
    `CREATE INDEX IF NOT EXISTS "${AGENDA_TABLE}_unlocked_due_idx" ON "${AGENDA_TABLE}" (name, next_run_at, priority DESC)
     WHERE disabled = FALSE AND locked_at IS NULL`,
  );
  await client.query(getUpdateTimestampTriggerSQL(AGENDA_TABLE));
  await client.query(getCreateLogsTableSQL(AGENDA_LOG_TABLE));
  for (const sql of getCreateLogsIndexesSQL(AGENDA_LOG_TABLE)) await client.query(sql);
}
