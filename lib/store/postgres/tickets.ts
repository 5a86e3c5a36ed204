import 'server-only';
import { PostgresBackend } from '@agendajs/postgres-backend';
import type { AgendaBackend, JobParameters } from 'agenda';
import type { Pool, QueryResultRow } from 'pg';
import type { BatchLockingRepository, TicketStore } from '../types';
import type { PgDatabase } from './database';
import { AGENDA_LOG_TABLE, AGENDA_TABLE } from './migrate';
import { prepared, prepareParameterisedQueries } from './prepared';

// Agenda's tickets on PostgreSQL: its backend (its own pool, every parameterised statement named), the batch locking
// the scheduler's queue filling uses (lockNextJobs), and the housekeeping of its table (compactTickets).
export function postgresTickets(db: PgDatabase): TicketStore {
  return {
    createAgendaBackend(): AgendaBackend {
      // Its table is created by migrate() under the migration lock; Agenda's own CREATE IF NOT EXISTS races
      // between processes starting together.
      const backend = new PostgresBackend({
        connectionString: db.url,
        tableName: AGENDA_TABLE,
        logTableName: AGENDA_LOG_TABLE,
        ensureSchema: false,
      });
      // The backend's repository is a PostgresJobRepository; JobRepository (its declared type) has neither method.
      const repository = backend.repository as unknown as { getPool(): Pool; rowToJob(row: QueryResultRow): JobParameters };
      const pool = repository.getPool();
      prepareParameterisedQueries(pool);
      const batchLocking: BatchLockingRepository = {
        // getNextJobToRun's conditions and order, for up to `limit` rows in one statement.
        async lockNextJobs(name, nextScanAt, lockDeadline, limit, lastModifiedBy) {
          const { rows } = await pool.query<QueryResultRow>(
            prepared(
              // Two scans instead of Agenda's OR: the due unlocked tickets through their own partial index (which
              // skips the locked ones), and the rare expired locks through the locked_at index. Up to 2 x limit rows;
              // the caller hands back what exceeds its lock limit.
              `WITH fresh AS (
                 SELECT id FROM "${AGENDA_TABLE}"
                 WHERE name = $2 AND disabled = FALSE AND locked_at IS NULL AND next_run_at <= $3
                 ORDER BY next_run_at ASC NULLS LAST, priority DESC
                 LIMIT $6
                 FOR UPDATE SKIP LOCKED
               ), expired AS (
                 SELECT id FROM "${AGENDA_TABLE}"
                 WHERE name = $2 AND disabled = FALSE AND locked_at <= $4
                 ORDER BY next_run_at ASC NULLS LAST, priority DESC
                 LIMIT $6
                 FOR UPDATE SKIP LOCKED
               )
               UPDATE "${AGENDA_TABLE}" t SET locked_at = $1, last_modified_by = $5
               WHERE t.id IN (SELECT id FROM expired UNION SELECT id FROM fresh)
               RETURNING t.*`,
              [new Date(), name, nextScanAt, lockDeadline, lastModifiedBy ?? null, limit],
            ),
          );
          return rows.map((row) => repository.rowToJob(row));
        },
      };
      Object.assign(repository, batchLocking);
      return backend;
    },

    async compactTickets(): Promise<void> {
      // Outside any transaction (VACUUM cannot run in one): a plain pool query is its own statement.
      // ANALYZE too: the table turns over every few seconds, and with stale statistics the planner estimated 2 rows
      // where the lock query read 900.
      await db.pool.query(`VACUUM (ANALYZE, SKIP_LOCKED) "${AGENDA_TABLE}"`);
    },
  };
}
