import 'server-only';
import { isUuid } from '../shared/cursor';
import type { SigningSecret, SigningSecretStore } from '../types';
import type { PgDatabase } from './database';
import { toDate } from './rows';

// Signing secrets on PostgreSQL: job_signing_secrets, one row per job (ON DELETE CASCADE with it). Plain statements on
// the pool: getSigningSecret runs once per http delivery.

interface SigningSecretRow {
  jobId: string;
  secret: string;
  createdAt: Date;
  previousSecret: string | null;
  previousUntil: Date | null;
}

const COLUMNS = `job_id AS "jobId", secret, created_at AS "createdAt", previous_secret AS "previousSecret", previous_until AS "previousUntil"`;

function toSigningSecret(row: SigningSecretRow): SigningSecret {
  return {
    jobId: row.jobId,
    secret: row.secret,
    createdAt: toDate(row.createdAt)!,
    previousSecret: row.previousSecret,
    previousUntil: toDate(row.previousUntil),
  };
}

/** The job was deleted between our check and our insert: the foreign key refused the row. */
function isForeignKeyViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23503';
}

export function postgresSigningSecrets(db: PgDatabase): SigningSecretStore {
  const get = async (jobId: string): Promise<SigningSecret | null> => {
    const rows = await db.sql<SigningSecretRow>(`SELECT ${COLUMNS} FROM job_signing_secrets WHERE job_id = $1`, [jobId]);
    return rows[0] ? toSigningSecret(rows[0]) : null;
  };

  return {
    async getSigningSecret(jobId: string): Promise<SigningSecret | null> {
      return isUuid(jobId) ? get(jobId) : null;
    },

    async createSigningSecret(jobId: string, secret: string): Promise<SigningSecret | null> {
      if (!isUuid(jobId)) return null;
      try {
        // ON CONFLICT DO NOTHING: a concurrent creator's row stands, and is what both callers read back.
        await db.sql(
          `INSERT INTO job_signing_secrets (job_id, secret, created_at)
           SELECT j.id, $2, clock_timestamp() FROM jobs j WHERE j.id = $1
           ON CONFLICT (job_id) DO NOTHING`,
          [jobId, secret],
        );
      } catch (err) {
        if (isForeignKeyViolation(err)) return null;
        throw err;
      }
      return get(jobId);
    },

    async rotateSigningSecret(jobId: string, expected: string, next: string, previousUntil: Date): Promise<SigningSecret | null> {
      if (!isUuid(jobId)) return null;
      // One UPDATE is the compare-and-set: a concurrent rotation re-checks `secret = $2` after the first commits, and misses.
      const rows = await db.sql<SigningSecretRow>(
        `UPDATE job_signing_secrets
         SET previous_secret = secret, previous_until = $4, secret = $3, created_at = clock_timestamp()
         WHERE job_id = $1 AND secret = $2
         RETURNING ${COLUMNS}`,
        [jobId, expected, next, previousUntil],
      );
      return rows[0] ? toSigningSecret(rows[0]) : null;
    },

    async listJobsWithoutSigningSecret(type: string, limit: number): Promise<string[]> {
      const rows = await db.sql<{ id: string }>(
        `SELECT j.id FROM jobs j
         WHERE j.type = $1 AND NOT EXISTS (SELECT 1 FROM job_signing_secrets s WHERE s.job_id = j.id)
         ORDER BY j.id LIMIT $2`,
        [type, limit],
      );
      return rows.map((r) => r.id);
    },
  };
}
