import 'server-only';
import { Prisma } from '../../generated/prisma/client';
import { decodeCursor, isUuid, pageOf } from '../shared/cursor';
import { JOB_PATCH_FIELDS, patchToFields } from '../shared/fields';
import { containsPattern } from '../shared/text';
import {
  DEFAULT_RETRY,
  NameTakenError,
  type Job,
  type JobListQuery,
  type JobPatch,
  type JobStore,
  type JobWithLastRun,
  type NewJob,
  type OutcomeCount,
  type Page,
  type PauseRecord,
} from '../types';
import { closeClaims } from './claims';
import { isPrismaError, type PgDatabase } from './database';
import { prepared } from './prepared';
import { JOB_COLUMNS, pauseColumns, toJob, toJobWithLastRun, type JobRow, type LastRunColumns } from './rows';

/** A JobPatch as Prisma's update input: retry is three columns, pause five. */
function jobData(patch: JobPatch): Prisma.JobUpdateInput {
  return patchToFields(patch, JOB_PATCH_FIELDS, {
    pause: pauseColumns,
    autoPause: (autoPause) => ({ autoPauseAfterFailures: autoPause?.afterFailures ?? null }),
    alerts: (alerts) => ({ alerts: alerts as unknown as Prisma.InputJsonArray }),
    retry: (retry) => ({
      retryMaxAttempts: retry.maxAttempts,
      retryBackoffSeconds: retry.backoffSeconds,
      retryMaxBackoffSeconds: retry.maxBackoffSeconds,
    }),
  }) as Prisma.JobUpdateInput;
}

export function postgresJobs(db: PgDatabase): JobStore {
  return {
    async createJob(job: NewJob): Promise<Job> {
      try {
        const row = await db.prisma.job.create({
          data: {
            name: job.name,
            description: job.description,
            type: job.type,
            payload: job.payload as Prisma.InputJsonObject,
            schedule: job.schedule as unknown as Prisma.InputJsonObject,
            paused: job.paused,
            ...pauseColumns(job.pause ?? null),
            timeoutSeconds: job.timeoutSeconds,
            overlapPolicy: job.overlapPolicy,
            missedPolicy: job.missedPolicy,
            tags: job.tags,
            retryMaxAttempts: (job.retry ?? DEFAULT_RETRY).maxAttempts,
            retryBackoffSeconds: (job.retry ?? DEFAULT_RETRY).backoffSeconds,
            retryMaxBackoffSeconds: (job.retry ?? DEFAULT_RETRY).maxBackoffSeconds,
            concurrencyLimit: job.concurrencyLimit ?? null,
            autoPauseAfterFailures: job.autoPause?.afterFailures ?? null,
            alerts: (job.alerts ?? []) as unknown as Prisma.InputJsonArray,
            nextRunAt: job.nextRunAt,
            anchorAt: job.anchorAt,
          },
        });
        return toJob(row);
      } catch (err) {
        if (isPrismaError(err, 'P2002')) throw new NameTakenError(job.name);
        throw err;
      }
    },

    async getJob(id: string): Promise<Job | null> {
      if (!isUuid(id)) return null;
      const rows = await db.sql<JobRow>(`SELECT ${JOB_COLUMNS.text} FROM jobs j WHERE j.id = $1`, [id]);
      return rows[0] ? toJob(rows[0]) : null;
    },

    async listTags(limit: number): Promise<string[]> {
      const rows = await db.prisma.$queryRaw<Array<{ tag: string }>>`
        SELECT tag FROM (SELECT DISTINCT t AS tag FROM jobs j, unnest(j.tags) t) d ORDER BY tag COLLATE "C" LIMIT ${limit}`;
      return rows.map((r) => r.tag);
    },

    async listJobNames(limit: number): Promise<Array<{ id: string; name: string }>> {
      return db.prisma.$queryRaw<
        Array<{ id: string; name: string }>
      >`SELECT j.id, j.name FROM jobs j ORDER BY j.name COLLATE "C", j.id LIMIT ${limit}`;
    },

    async listJobs(query: JobListQuery): Promise<Page<JobWithLastRun>> {
      const where: Prisma.Sql[] = [];
      if (query.search) where.push(Prisma.sql`j.name ILIKE ${containsPattern(query.search)}`);
      if (query.tag) where.push(Prisma.sql`${query.tag} = ANY (j.tags)`);
      if (query.cursor) {
        const [name, id] = decodeCursor(query.cursor);
        // Binary (code point) order, the same as MongoDB's default, whatever the database's collation.
        where.push(Prisma.sql`(j.name COLLATE "C" > ${name} OR (j.name = ${name} AND j.id > ${id}::uuid))`);
      }
      // The page of jobs first, then each one's last run: a LATERAL join over the whole filtered set before the
      // ORDER BY/LIMIT made the first page of 10,000 jobs cost ~150 ms.
      const rows = await db.prisma.$queryRaw<Array<JobRow & LastRunColumns>>`
        SELECT ${JOB_COLUMNS},
          lr.id AS "lrId", lr.status AS "lrStatus", lr.scheduled_for AS "lrScheduledFor",
          lr.started_at AS "lrStartedAt", lr.finished_at AS "lrFinishedAt", lr.instance_id AS "lrInstanceId"
        FROM (
          SELECT * FROM jobs j
          ${where.length ? Prisma.sql`WHERE ${Prisma.join(where, ' AND ')}` : Prisma.empty}
          ORDER BY j.name COLLATE "C", j.id
          LIMIT ${query.limit + 1}
        ) j
        LEFT JOIN LATERAL (
          SELECT r.id, r.status, r.scheduled_for, r.started_at, r.finished_at, r.instance_id
          FROM runs r WHERE r.job_id = j.id
          ORDER BY r.scheduled_for DESC, r.id DESC
          LIMIT 1
        ) lr ON true
        ORDER BY j.name COLLATE "C", j.id`;
      const jobs: JobWithLastRun[] = rows.map(toJobWithLastRun);
      return pageOf(jobs, query.limit, (j) => [j.name, j.id]);
    },

    async updateJob(id: string, patch: JobPatch): Promise<Job | null> {
      if (!isUuid(id)) return null;
      try {
        const row = await db.prisma.job.update({
          where: { id },
          data: {
            ...jobData(patch),
            // A new (or removed) auto-pause policy counts from zero.
            ...('autoPause' in patch ? { consecutiveFailures: 0 } : {}),
            version: { increment: 1 },
          },
        });
        // After the pause committed: no claim can be made any more (claims lock the row and need it active), and the
        // claims made before it are closed here. A start in between is a start before the pause returned.
        if (patch.paused === true) await closeClaims(db, id, 'skipped: the job was paused before this occurrence started');
        return toJob(row);
      } catch (err) {
        if (isPrismaError(err, 'P2025')) return null;
        if (isPrismaError(err, 'P2002')) throw new NameTakenError(patch.name ?? '');
        throw err;
      }
    },

    async deleteJob(id: string): Promise<boolean> {
      if (!isUuid(id)) return false;
      // Runs stay (no foreign key): they carry job_name, so history survives the job. Claims cannot start without the job
      // (startRun checks it), and are closed so that they do not wait for a takeover.
      const { count } = await db.prisma.job.deleteMany({ where: { id } });
      if (count > 0) await closeClaims(db, id, 'skipped: the job was deleted before this occurrence started');
      return count > 0;
    },

    async advanceJob(id: string, expected: { version: number; nextRunAt: Date }, nextRunAt: Date | null): Promise<boolean> {
      if (!isUuid(id)) return false;
      // updated_at as Prisma's @updatedAt would set it; the version stays (an advance is not an edit).
      const { rowCount } = await db.pool.query(
        prepared('UPDATE jobs SET next_run_at = $1, updated_at = $2 WHERE id = $3 AND version = $4 AND next_run_at = $5', [
          nextRunAt,
          new Date(),
          id,
          expected.version,
          expected.nextRunAt,
        ]),
      );
      return rowCount === 1;
    },

    async listDueJobs(before: Date, limit: number): Promise<Job[]> {
      const rows = await db.prisma.job.findMany({
        where: { paused: false, nextRunAt: { lt: before } },
        orderBy: [{ nextRunAt: 'asc' }, { id: 'asc' }],
        take: limit,
      });
      return rows.map(toJob);
    },

    async recordOutcome(jobId: string, outcome: 'failure' | 'success'): Promise<OutcomeCount | null> {
      if (!isUuid(jobId)) return null;
      // One statement: concurrent outcomes of the job's occurrences each add their one (or reset) under the row lock.
      const rows = await db.sql<{ count: number; after: number | null }>(
        `UPDATE jobs SET consecutive_failures = CASE WHEN $2::boolean THEN consecutive_failures + 1 ELSE 0 END
         WHERE id = $1::uuid AND NOT paused AND auto_pause_after_failures IS NOT NULL
         RETURNING consecutive_failures AS count, auto_pause_after_failures AS after`,
        [jobId, outcome === 'failure'],
      );
      const row = rows[0];
      return row ? { consecutiveFailures: row.count, autoPause: row.after === null ? null : { afterFailures: row.after } } : null;
    },

    async autoPauseJob(id: string, pause: PauseRecord): Promise<Job | null> {
      if (!isUuid(id)) return null;
      // The compare-and-set: the row lock makes concurrent callers wait, and after the first one's commit the others no
      // longer match (paused, count 0).
      const rows = await db.sql<JobRow>(
        `UPDATE jobs j SET paused = true, paused_at = $2, paused_by_type = $3, paused_by_id = $4, paused_by_name = $5,
           pause_note = $6, next_run_at = NULL, consecutive_failures = 0, version = version + 1, updated_at = $7
         WHERE id = $1::uuid AND NOT paused AND auto_pause_after_failures IS NOT NULL
           AND consecutive_failures >= auto_pause_after_failures
         RETURNING ${JOB_COLUMNS.text}`,
        [id, pause.at, pause.by.type, pause.by.id, pause.by.name, pause.note, new Date()],
      );
      const row = rows[0];
      if (!row) return null;
      // As a pause: the claims made before it are closed (none can be made after it).
      await closeClaims(db, id, 'skipped: the job was paused before this occurrence started');
      return toJob(row);
    },
  };
}
