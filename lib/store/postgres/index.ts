import 'server-only';
import { randomUUID } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import { PostgresBackend } from '@agendajs/postgres-backend';
import pg, { type QueryResultRow } from 'pg';
import type { AgendaBackend, JobParameters } from 'agenda';
import type { BatchLockingRepository } from '../../scheduler/queue-filling';
import { bucketMillis, decodeCursor, decodeRunCursor, isUuid, newSessionId, pageOf, usernameKey } from '../common';
import { Prisma, PrismaClient } from '../../generated/prisma/client';
import type { MissedPolicy, OverlapPolicy } from '../../validation/job';
import type { Schedule } from '../../validation/schedule';
import {
  DEFAULT_RETRY,
  NameTakenError,
  UsernameTakenError,
  type ApiToken,
  type AuditEntry,
  type AuditListQuery,
  type InstanceRunCount,
  type NewApiToken,
  type NewAuditEntry,
  type NewSession,
  type NewUser,
  type RunStatsBucket,
  type RunStatsQuery,
  type Session,
  type User,
  type UserPatch,
  type UserRole,
  type Instance,
  type Job,
  type JobListQuery,
  type JobPatch,
  type JobWithLastRun,
  type JsonObject,
  type NewJob,
  type NewRun,
  type Page,
  type Run,
  type RunAttempt,
  type RunListQuery,
  type RunOwner,
  type ClaimResult,
  type HeldRun,
  type OccurrenceClaim,
  type RunStart,
  type StartResult,
  type RunPatch,
  type RunClaim,
  type RunRetry,
  type RunTakeover,
  type RunStatus,
  type RunTrigger,
  type Store,
  RUN_STATUSES,
} from '../types';
import { AGENDA_LOG_TABLE, AGENDA_TABLE, migrateDatabase } from './migrate';
import { prepared, prepareParameterisedQueries } from './prepared';

/** Column list shared by Prisma-typed rows and raw SQL (aliased to the model's field names). */
type JobRow = Prisma.JobModel;
type RunRow = Prisma.RunModel;
type InstanceRow = Prisma.InstanceModel;
type UserRow = Prisma.UserModel;
type SessionRow = Prisma.SessionModel;
type ApiTokenRow = Prisma.ApiTokenModel;
type AuditRow = Prisma.AuditEntryModel;

const JOB_COLUMNS = Prisma.sql`j.id, j.name, j.description, j.type, j.payload, j.schedule, j.paused,
  j.timeout_seconds AS "timeoutSeconds", j.overlap_policy AS "overlapPolicy", j.missed_policy AS "missedPolicy",
  j.tags, j.retry_max_attempts AS "retryMaxAttempts", j.retry_backoff_seconds AS "retryBackoffSeconds",
  j.retry_max_backoff_seconds AS "retryMaxBackoffSeconds", j.concurrency_limit AS "concurrencyLimit", j.next_run_at AS "nextRunAt", j.anchor_at AS "anchorAt", j.version,
  j.created_at AS "createdAt", j.updated_at AS "updatedAt"`;

const RUN_COLUMNS = Prisma.sql`r.id, r.job_id AS "jobId", r.job_name AS "jobName", r.scheduled_for AS "scheduledFor",
  r.started_at AS "startedAt", r.finished_at AS "finishedAt", r.status, r.trigger, r.instance_id AS "instanceId",
  r.attempt, r.error, r.output, r.lease_expires_at AS "leaseExpiresAt", r.range_end AS "rangeEnd", r.range_count AS "rangeCount"`;

/** RunPatch fields and their columns, for the plain-SQL updateRun. */
const RUN_PATCH_COLUMNS: Record<keyof RunPatch, string> = {
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  status: 'status',
  instanceId: 'instance_id',
  attempt: 'attempt',
  error: 'error',
  output: 'output',
  leaseExpiresAt: 'lease_expires_at',
};

const USER_COLUMNS = Prisma.sql`u.id, u.username, u.username_key AS "usernameKey", u.role, u.password_hash AS "passwordHash",
  u.disabled, u.failed_logins AS "failedLogins", u.locked_until AS "lockedUntil", u.created_at AS "createdAt", u.updated_at AS "updatedAt"`;

const SESSION_COLUMNS = Prisma.sql`s.id, s.user_id AS "userId", s.created_at AS "createdAt", s.expires_at AS "expiresAt",
  s.revoked_at AS "revokedAt", s.last_seen_at AS "lastSeenAt", s.ip, s.user_agent AS "userAgent"`;

const AUDIT_COLUMNS = Prisma.sql`a.id, a.at, a.actor_type AS "actorType", a.actor_id AS "actorId", a.actor_name AS "actorName",
  a.action, a.target_type AS "targetType", a.target_id AS "targetId", a.target_name AS "targetName", a.ip, a.changes`;

function toDate(value: Date | string | null): Date | null {
  if (value === null) return null;
  return value instanceof Date ? value : new Date(value);
}

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    type: row.type,
    payload: (row.payload ?? {}) as JsonObject,
    // Written only from validated input (lib/validation), so the stored shape is a Schedule.
    schedule: row.schedule as unknown as Schedule,
    paused: row.paused,
    timeoutSeconds: row.timeoutSeconds,
    overlapPolicy: row.overlapPolicy as OverlapPolicy,
    missedPolicy: row.missedPolicy as MissedPolicy,
    tags: row.tags ?? [],
    retry: { maxAttempts: row.retryMaxAttempts, backoffSeconds: row.retryBackoffSeconds, maxBackoffSeconds: row.retryMaxBackoffSeconds },
    concurrencyLimit: row.concurrencyLimit,
    nextRunAt: toDate(row.nextRunAt),
    anchorAt: toDate(row.anchorAt)!,
    version: row.version,
    createdAt: toDate(row.createdAt)!,
    updatedAt: toDate(row.updatedAt)!,
  };
}

function toRun(row: RunRow): Run {
  return {
    id: row.id,
    jobId: row.jobId,
    jobName: row.jobName,
    scheduledFor: toDate(row.scheduledFor)!,
    startedAt: toDate(row.startedAt),
    finishedAt: toDate(row.finishedAt),
    status: row.status as RunStatus,
    trigger: row.trigger as RunTrigger,
    instanceId: row.instanceId,
    attempt: row.attempt,
    error: row.error,
    output: row.output,
    leaseExpiresAt: toDate(row.leaseExpiresAt),
    rangeEnd: toDate(row.rangeEnd),
    rangeCount: row.rangeCount,
  };
}

function toInstance(row: InstanceRow): Instance {
  return {
    id: row.id,
    host: row.host,
    pid: row.pid,
    version: row.version,
    startedAt: row.startedAt,
    lastSeenAt: row.lastSeenAt,
    clockSkewMs: row.clockSkewMs,
    stoppedAt: row.stoppedAt,
    aliveSince: row.aliveSince,
  };
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    role: row.role as UserRole,
    passwordHash: row.passwordHash,
    disabled: row.disabled,
    failedLogins: row.failedLogins,
    lockedUntil: toDate(row.lockedUntil),
    createdAt: toDate(row.createdAt)!,
    updatedAt: toDate(row.updatedAt)!,
  };
}

function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    userId: row.userId,
    createdAt: toDate(row.createdAt)!,
    expiresAt: toDate(row.expiresAt)!,
    revokedAt: toDate(row.revokedAt),
    lastSeenAt: toDate(row.lastSeenAt)!,
    ip: row.ip,
    userAgent: row.userAgent,
  };
}

function toApiToken(row: ApiTokenRow): ApiToken {
  return {
    id: row.id,
    name: row.name,
    role: row.role as UserRole,
    tokenHash: row.tokenHash,
    prefix: row.prefix,
    createdAt: toDate(row.createdAt)!,
    createdBy: row.createdBy,
    lastUsedAt: toDate(row.lastUsedAt),
    revokedAt: toDate(row.revokedAt),
  };
}

function toAudit(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    at: toDate(row.at)!,
    actorType: row.actorType as AuditEntry['actorType'],
    actorId: row.actorId,
    actorName: row.actorName,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId,
    targetName: row.targetName,
    ip: row.ip,
    changes: (row.changes ?? null) as AuditEntry['changes'],
  };
}

function jobData(patch: JobPatch): Prisma.JobUpdateInput {
  const data: Prisma.JobUpdateInput = {};
  if (patch.name !== undefined) data.name = patch.name;
  if (patch.description !== undefined) data.description = patch.description;
  if (patch.type !== undefined) data.type = patch.type;
  if (patch.payload !== undefined) data.payload = patch.payload as Prisma.InputJsonObject;
  if (patch.schedule !== undefined) data.schedule = patch.schedule as unknown as Prisma.InputJsonObject;
  if (patch.paused !== undefined) data.paused = patch.paused;
  if (patch.timeoutSeconds !== undefined) data.timeoutSeconds = patch.timeoutSeconds;
  if (patch.overlapPolicy !== undefined) data.overlapPolicy = patch.overlapPolicy;
  if (patch.missedPolicy !== undefined) data.missedPolicy = patch.missedPolicy;
  if (patch.tags !== undefined) data.tags = patch.tags;
  if (patch.retry !== undefined) {
    data.retryMaxAttempts = patch.retry.maxAttempts;
    data.retryBackoffSeconds = patch.retry.backoffSeconds;
    data.retryMaxBackoffSeconds = patch.retry.maxBackoffSeconds;
  }
  if (patch.concurrencyLimit !== undefined) data.concurrencyLimit = patch.concurrencyLimit;
  if (patch.nextRunAt !== undefined) data.nextRunAt = patch.nextRunAt;
  if (patch.anchorAt !== undefined) data.anchorAt = patch.anchorAt;
  return data;
}

function isPrismaError(err: unknown, code: string): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === code;
}

/** A unique violation from a raw query (Prisma wraps it: P2010 with the database's code 23505 in meta) or a model query. */
function isUniqueViolation(err: unknown): boolean {
  if (isPrismaError(err, 'P2002')) return true;
  return err instanceof Prisma.PrismaClientKnownRequestError && /23505|unique constraint/i.test(`${JSON.stringify(err.meta ?? {})} ${err.message}`);
}

/** LIKE pattern matching `text` literally anywhere. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

interface LastRunColumns {
  lrId: string | null;
  lrStatus: string | null;
  lrScheduledFor: Date | null;
  lrStartedAt: Date | null;
  lrFinishedAt: Date | null;
  lrInstanceId: string | null;
}

class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly prisma: PrismaClient;
  /**
   * Shared with Prisma (one set of connections). The scheduler's per-occurrence statements (getJob, advanceJob,
   * insertRun, countActiveRuns, updateRun) go through it as plain SQL: measured in-process, a Prisma model query cost
   * ~1.3 ms of CPU, $queryRaw ~0.5 ms, the same statement on the pool ~0.12 ms, and at 100 occurrences/s Prisma was
   * about 40 % of an instance's CPU.
   */
  private readonly pool: pg.Pool;

  constructor(
    private readonly url: string,
    readonly description: string,
  ) {
    this.pool = new pg.Pool({ connectionString: url, max: 10 });
    // An idle connection dropped by a database restart must not become an uncaught exception; the pool replaces it.
    this.pool.on('error', (err) => console.error(`[store] idle database connection lost: ${err.message}`));
    this.prisma = new PrismaClient({ adapter: new PrismaPg(this.pool) });
  }

  /**
   * A named (prepared) statement: each connection parses and plans the text once instead of on every call. The
   * scheduler's per-occurrence statements are short, so parsing and planning were a large share of the database's CPU.
   */
  private async sql<T>(text: string, values: unknown[]): Promise<T[]> {
    return (await this.pool.query<QueryResultRow>(prepared(text, values))).rows as T[];
  }

  createAgendaBackend(): AgendaBackend {
    // Its table is created by migrate() under the migration lock; Agenda's own CREATE IF NOT EXISTS races
    // between processes starting together.
    const backend = new PostgresBackend({ connectionString: this.url, tableName: AGENDA_TABLE, logTableName: AGENDA_LOG_TABLE, ensureSchema: false });
    // The backend's repository is a PostgresJobRepository; JobRepository (its declared type) has neither method.
    const repository = backend.repository as unknown as { getPool(): pg.Pool; rowToJob(row: QueryResultRow): JobParameters };
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
  }

  async compactTickets(): Promise<void> {
    // Outside any transaction (VACUUM cannot run in one): a plain pool query is its own statement.
    // ANALYZE too: the table turns over every few seconds, and with stale statistics the planner estimated 2 rows
    // where the lock query read 900.
    await this.pool.query(`VACUUM (ANALYZE, SKIP_LOCKED) "${AGENDA_TABLE}"`);
  }

  async migrate(): Promise<void> {
    const { applied } = await migrateDatabase(this.url);
    if (applied.length > 0) console.info(`[store] applied migrations: ${applied.join(', ')}`);
  }

  async close(): Promise<void> {
    await this.prisma.$disconnect();
    await this.pool.end();
  }

  async now(): Promise<Date> {
    // clock_timestamp(), not now(): now() is the start of the transaction.
    const rows = await this.prisma.$queryRaw<Array<{ now: Date }>>`SELECT clock_timestamp() AS now`;
    return toDate(rows[0]!.now)!;
  }

  async ping(): Promise<void> {
    await this.prisma.$queryRaw`SELECT 1`;
  }

  async createJob(job: NewJob): Promise<Job> {
    try {
      const row = await this.prisma.job.create({
        data: {
          name: job.name,
          description: job.description,
          type: job.type,
          payload: job.payload as Prisma.InputJsonObject,
          schedule: job.schedule as unknown as Prisma.InputJsonObject,
          paused: job.paused,
          timeoutSeconds: job.timeoutSeconds,
          overlapPolicy: job.overlapPolicy,
          missedPolicy: job.missedPolicy,
          tags: job.tags,
          retryMaxAttempts: (job.retry ?? DEFAULT_RETRY).maxAttempts,
          retryBackoffSeconds: (job.retry ?? DEFAULT_RETRY).backoffSeconds,
          retryMaxBackoffSeconds: (job.retry ?? DEFAULT_RETRY).maxBackoffSeconds,
          concurrencyLimit: job.concurrencyLimit ?? null,
          nextRunAt: job.nextRunAt,
          anchorAt: job.anchorAt,
        },
      });
      return toJob(row);
    } catch (err) {
      if (isPrismaError(err, 'P2002')) throw new NameTakenError(job.name);
      throw err;
    }
  }

  async getJob(id: string): Promise<Job | null> {
    if (!isUuid(id)) return null;
    const rows = await this.sql<JobRow>(`SELECT ${JOB_COLUMNS.text} FROM jobs j WHERE j.id = $1`, [id]);
    return rows[0] ? toJob(rows[0]) : null;
  }

  async listTags(limit: number): Promise<string[]> {
    const rows = await this.prisma.$queryRaw<Array<{ tag: string }>>`
      SELECT tag FROM (SELECT DISTINCT t AS tag FROM jobs j, unnest(j.tags) t) d ORDER BY tag COLLATE "C" LIMIT ${limit}`;
    return rows.map((r) => r.tag);
  }

  async listJobNames(limit: number): Promise<Array<{ id: string; name: string }>> {
    return this.sql<{ id: string; name: string }>('SELECT j.id, j.name FROM jobs j ORDER BY j.name COLLATE "C", j.id LIMIT $1', [limit]);
  }

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
    const rows = await this.prisma.$queryRaw<Array<JobRow & LastRunColumns>>`
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
    const jobs: JobWithLastRun[] = rows.map((row) => ({
      ...toJob(row),
      lastRun:
        row.lrId === null
          ? null
          : {
              id: row.lrId,
              status: row.lrStatus as RunStatus,
              scheduledFor: toDate(row.lrScheduledFor)!,
              startedAt: toDate(row.lrStartedAt),
              finishedAt: toDate(row.lrFinishedAt),
              instanceId: row.lrInstanceId,
            },
    }));
    return pageOf(jobs, query.limit, (j) => [j.name, j.id]);
  }

  async updateJob(id: string, patch: JobPatch): Promise<Job | null> {
    if (!isUuid(id)) return null;
    try {
      const row = await this.prisma.job.update({ where: { id }, data: { ...jobData(patch), version: { increment: 1 } } });
      // After the pause committed: no claim can be made any more (claims lock the row and need it active), and the
      // claims made before it are closed here. A start in between is a start before the pause returned.
      if (patch.paused === true) await this.closeClaims(id, 'skipped: the job was paused before this occurrence started');
      return toJob(row);
    } catch (err) {
      if (isPrismaError(err, 'P2025')) return null;
      if (isPrismaError(err, 'P2002')) throw new NameTakenError(patch.name ?? '');
      throw err;
    }
  }

  async deleteJob(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    // Runs stay (no foreign key): they carry job_name, so history survives the job. Claims cannot start without the job
    // (startRun checks it), and are closed so that they do not wait for a takeover.
    const { count } = await this.prisma.job.deleteMany({ where: { id } });
    if (count > 0) await this.closeClaims(id, 'skipped: the job was deleted before this occurrence started');
    return count > 0;
  }

  async advanceJob(id: string, expected: { version: number; nextRunAt: Date }, nextRunAt: Date | null): Promise<boolean> {
    if (!isUuid(id)) return false;
    // updated_at as Prisma's @updatedAt would set it; the version stays (an advance is not an edit).
    const { rowCount } = await this.pool.query(
      prepared('UPDATE jobs SET next_run_at = $1, updated_at = $2 WHERE id = $3 AND version = $4 AND next_run_at = $5', [
        nextRunAt,
        new Date(),
        id,
        expected.version,
        expected.nextRunAt,
      ]),
    );
    return rowCount === 1;
  }

  async listDueJobs(before: Date, limit: number): Promise<Job[]> {
    const rows = await this.prisma.job.findMany({
      where: { paused: false, nextRunAt: { lt: before } },
      orderBy: [{ nextRunAt: 'asc' }, { id: 'asc' }],
      take: limit,
    });
    return rows.map(toJob);
  }

  async claimOccurrence(claim: OccurrenceClaim): Promise<ClaimResult> {
    const [own, ...more] = claim.runs;
    if (!own || !isUuid(claim.jobId)) return { outcome: 'stale' };
    const records = [own, ...more];
    // One statement: the job row is locked at the expected version and occurrence (a concurrent claim waits, then finds
    // it moved), the occurrence's record is inserted (the unique key), the other records only if that one was, and the
    // pointer moves only if it was: a claim is never in memory alone, and a pointer never moves past an unrecorded
    // occurrence. (job, name) for listRuns' jobSearch in the same statement.
    const rows = await this.sql<RunRow & { matched: number }>(
      `WITH j AS (
         SELECT id FROM jobs WHERE id = $1::uuid AND version = $2::int AND next_run_at = $3::timestamptz AND NOT paused FOR UPDATE
       ), v AS (
         SELECT * FROM unnest($6::uuid[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[],
           $12::text[], $13::int[], $14::text[], $15::text[], $16::timestamptz[], $17::timestamptz[], $18::int[])
           WITH ORDINALITY AS v(id, scheduled_for, started_at, finished_at, status, trigger, instance_id, attempt, error, output,
             lease_expires_at, range_end, range_count, ord)
       ), ins AS (
         INSERT INTO runs (id, job_id, job_name, scheduled_for, started_at, finished_at, status, trigger, instance_id, attempt,
           error, output, lease_expires_at, range_end, range_count)
         SELECT v.id, j.id, $5, v.scheduled_for, v.started_at, v.finished_at, v.status, v.trigger, v.instance_id, v.attempt,
           v.error, v.output, v.lease_expires_at, v.range_end, v.range_count
         FROM j CROSS JOIN v WHERE v.ord = 1
         ON CONFLICT (job_id, scheduled_for) DO NOTHING
         RETURNING *
       ), rest AS (
         INSERT INTO runs (id, job_id, job_name, scheduled_for, started_at, finished_at, status, trigger, instance_id, attempt,
           error, output, lease_expires_at, range_end, range_count)
         SELECT v.id, ins.job_id, ins.job_name, v.scheduled_for, v.started_at, v.finished_at, v.status, v.trigger, v.instance_id,
           v.attempt, v.error, v.output, v.lease_expires_at, v.range_end, v.range_count
         FROM ins CROSS JOIN v WHERE v.ord > 1
         ON CONFLICT (job_id, scheduled_for) DO NOTHING
       ), adv AS (
         UPDATE jobs SET next_run_at = $4::timestamptz, updated_at = $19::timestamptz WHERE id IN (SELECT job_id FROM ins)
       ), names AS (
         INSERT INTO run_job_names (job_id, job_name) SELECT job_id, job_name FROM ins ON CONFLICT DO NOTHING
       )
       SELECT (SELECT count(*)::int FROM j) AS matched, x.* FROM (SELECT 1) AS one LEFT JOIN (SELECT ${RUN_COLUMNS.text} FROM ins r) AS x ON TRUE`,
      [
        claim.jobId,
        claim.expected.version,
        claim.expected.nextRunAt,
        claim.nextRunAt,
        own.jobName,
        records.map(() => randomUUID()),
        records.map((r) => r.scheduledFor),
        records.map((r) => r.startedAt),
        records.map((r) => r.finishedAt),
        records.map((r) => r.status),
        records.map((r) => r.trigger),
        records.map((r) => r.instanceId),
        records.map((r) => r.attempt),
        records.map((r) => r.error),
        records.map((r) => r.output),
        records.map((r) => r.leaseExpiresAt),
        records.map((r) => r.rangeEnd ?? null),
        records.map((r) => r.rangeCount ?? null),
        new Date(),
      ],
    );
    const row = rows[0]!;
    if (row.id) return { outcome: 'claimed', run: toRun(row) };
    return row.matched > 0 ? { outcome: 'taken' } : { outcome: 'stale' };
  }

  async startRun(run: Pick<Run, 'id' | 'jobId' | 'scheduledFor'>, instanceId: string, start: RunStart): Promise<StartResult> {
    if (!isUuid(run.id)) return { outcome: 'lost' };
    // Judged on the database's clock (clock_timestamp: now() is the transaction's start): never before it is due. In
    // order: not while an earlier occurrence of the job is still claimed. Not for a job paused or deleted meanwhile.
    const rows = await this.sql<RunRow>(
      `UPDATE runs r SET status = 'running', started_at = CASE WHEN $3::boolean THEN NULL ELSE $4::timestamptz END,
         lease_expires_at = $5::timestamptz, trigger = $6
       WHERE r.id = $1::uuid AND r.status = 'claimed' AND r.instance_id = $2 AND r.scheduled_for <= clock_timestamp()
         AND NOT EXISTS (SELECT 1 FROM runs e WHERE e.job_id = r.job_id AND e.status = 'claimed' AND e.scheduled_for < r.scheduled_for)
         AND EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id AND NOT j.paused)
       RETURNING ${RUN_COLUMNS.text}`,
      [run.id, instanceId, start.queued, start.at, start.leaseExpiresAt, start.trigger],
    );
    if (rows[0]) return { outcome: 'started', run: toRun(rows[0]) };
    // Why not (rare): the same conditions, one by one.
    const why = await this.sql<{ mine: boolean; active: boolean; earlier: boolean; due: boolean }>(
      `SELECT (r.status = 'claimed' AND r.instance_id = $2) AS mine,
         EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id AND NOT j.paused) AS active,
         EXISTS (SELECT 1 FROM runs e WHERE e.job_id = r.job_id AND e.status = 'claimed' AND e.scheduled_for < r.scheduled_for) AS earlier,
         r.scheduled_for <= clock_timestamp() AS due
       FROM runs r WHERE r.id = $1::uuid`,
      [run.id, instanceId],
    );
    const state = why[0];
    if (!state || !state.mine || !state.active) return { outcome: 'lost' };
    return { outcome: 'waiting', reason: state.due ? 'earlier' : 'early' };
  }

  async takeOverClaim(id: string, expected: { instanceId: string | null; leaseExpiredBefore: Date }, claim: { instanceId: string; leaseExpiresAt: Date }): Promise<Run | null> {
    if (!isUuid(id)) return null;
    const rows = await this.sql<RunRow>(
      `UPDATE runs r SET instance_id = $2, lease_expires_at = $3::timestamptz
       WHERE r.id = $1::uuid AND r.status = 'claimed' AND r.instance_id IS NOT DISTINCT FROM $4 AND r.lease_expires_at < $5::timestamptz
       RETURNING ${RUN_COLUMNS.text}`,
      [id, claim.instanceId, claim.leaseExpiresAt, expected.instanceId, expected.leaseExpiredBefore],
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  async renewLeases(instanceId: string, runs: HeldRun[], leaseExpiresAt: Date): Promise<string[]> {
    const held = runs.filter((r) => isUuid(r.id));
    if (held.length === 0) return [];
    const rows = await this.sql<{ id: string }>(
      `UPDATE runs r SET lease_expires_at = $2::timestamptz FROM unnest($3::uuid[], $4::int[]) AS h(id, attempt)
       WHERE r.id = h.id AND r.attempt = h.attempt AND r.instance_id = $1 AND r.status IN ('claimed', 'running')
       RETURNING r.id`,
      [instanceId, leaseExpiresAt, held.map((r) => r.id), held.map((r) => r.attempt)],
    );
    return rows.map((r) => r.id);
  }

  async releaseRuns(instanceId: string, runs: HeldRun[], expiredAt: Date, note?: string): Promise<number> {
    const held = runs.filter((r) => isUuid(r.id));
    if (held.length === 0) return 0;
    const { rowCount } = await this.pool.query(
      prepared(
        `UPDATE runs r SET lease_expires_at = $2::timestamptz, error = COALESCE($5, r.error) FROM unnest($3::uuid[], $4::int[]) AS h(id, attempt)
         WHERE r.id = h.id AND r.attempt = h.attempt AND r.instance_id = $1 AND r.status IN ('claimed', 'running')`,
        [instanceId, expiredAt, held.map((r) => r.id), held.map((r) => r.attempt), note ?? null],
      ),
    );
    return rowCount ?? 0;
  }

  async anyInstanceAliveAt(at: Date): Promise<boolean> {
    const rows = await this.sql<{ alive: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM instances WHERE alive_since <= $1::timestamptz AND last_seen_at >= $1::timestamptz
         AND (stopped_at IS NULL OR stopped_at >= $1::timestamptz)) AS alive`,
      [at],
    );
    return rows[0]!.alive;
  }

  /** A pause or delete: the job's claimed runs (none started yet) will not start; each gets a 'skipped' record. */
  private async closeClaims(jobId: string, why: string): Promise<void> {
    await this.sql(
      `UPDATE runs SET status = 'skipped', finished_at = clock_timestamp(), lease_expires_at = NULL, error = $2
       WHERE job_id = $1::uuid AND status = 'claimed'`,
      [jobId, why],
    );
  }

  async insertRun(run: NewRun): Promise<Run | null> {
    // ON CONFLICT DO NOTHING: a taken occurrence is an answer, not an error. The same statement records the
    // (job, name) pair for listRuns' jobSearch, so the two never disagree.
    const rows = await this.sql<RunRow>(
      `WITH ins AS (
        INSERT INTO runs (id, job_id, job_name, scheduled_for, started_at, finished_at, status, trigger, instance_id,
          attempt, error, output, lease_expires_at, range_end, range_count)
        VALUES ($1::uuid, $2::uuid, $3, $4::timestamptz, $5::timestamptz, $6::timestamptz, $7, $8, $9, $10::int, $11, $12,
          $13::timestamptz, $14::timestamptz, $15::int)
        ON CONFLICT (job_id, scheduled_for) DO NOTHING
        RETURNING *
      ), names AS (
        INSERT INTO run_job_names (job_id, job_name) SELECT job_id, job_name FROM ins ON CONFLICT DO NOTHING
      )
      SELECT ${RUN_COLUMNS.text} FROM ins r`,
      [
        randomUUID(),
        run.jobId,
        run.jobName,
        run.scheduledFor,
        run.startedAt,
        run.finishedAt,
        run.status,
        run.trigger,
        run.instanceId,
        run.attempt,
        run.error,
        run.output,
        run.leaseExpiresAt,
        run.rangeEnd ?? null,
        run.rangeCount ?? null,
      ],
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  async updateRun(id: string, patch: RunPatch, owner?: RunOwner): Promise<Run | null> {
    if (!isUuid(id)) return null;
    const values: unknown[] = [id];
    const sets: string[] = [];
    for (const [field, column] of Object.entries(RUN_PATCH_COLUMNS) as Array<[keyof RunPatch, string]>) {
      if (patch[field] === undefined) continue;
      values.push(patch[field]);
      sets.push(`${column} = $${values.length}`);
    }
    let where = 'r.id = $1';
    if (owner) {
      values.push(owner.attempt, owner.instanceId);
      where += ` AND r.status = 'running' AND r.attempt = $${values.length - 1} AND r.instance_id = $${values.length}`;
    }
    const rows = await this.sql<RunRow>(
      sets.length === 0
        ? `SELECT ${RUN_COLUMNS.text} FROM runs r WHERE ${where}`
        : `UPDATE runs AS r SET ${sets.join(', ')} WHERE ${where} RETURNING ${RUN_COLUMNS.text}`,
      values,
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  async takeOverRun(id: string, expected: { attempt: number; leaseExpiredBefore: Date }, takeover: RunTakeover): Promise<Run | null> {
    if (!isUuid(id)) return null;
    // One statement: FOR UPDATE makes a concurrent takeover (or lease renewal) wait, then re-check the conditions on
    // the new row version and find nothing, so exactly one instance moves the run to the next attempt.
    const rows = await this.prisma.$queryRaw<RunRow[]>`
      WITH old AS (
        SELECT r.* FROM runs r
        WHERE r.id = ${id}::uuid AND r.status = 'running' AND r.attempt = ${expected.attempt}::int
          AND r.lease_expires_at < ${expected.leaseExpiredBefore}::timestamptz
        FOR UPDATE
      ), upd AS (
        UPDATE runs r SET attempt = old.attempt + 1, instance_id = ${takeover.instanceId},
          started_at = CASE WHEN old.started_at IS NULL THEN NULL ELSE ${takeover.at}::timestamptz END,
          finished_at = NULL, lease_expires_at = ${takeover.leaseExpiresAt}::timestamptz, error = NULL, output = NULL
        FROM old WHERE r.id = old.id
        RETURNING r.*
      ), hist AS (
        INSERT INTO run_attempts (run_id, attempt, instance_id, started_at, finished_at, status, error, output)
        SELECT old.id, old.attempt, old.instance_id, old.started_at, ${takeover.at}::timestamptz,
          CASE WHEN old.started_at IS NULL THEN 'abandoned' ELSE 'unknown' END, ${takeover.error}, old.output
        FROM old
      )
      SELECT ${RUN_COLUMNS} FROM upd r`;
    return rows[0] ? toRun(rows[0]) : null;
  }

  async retryRun(id: string, owner: RunOwner, ended: RunRetry): Promise<Run | null> {
    if (!isUuid(id)) return null;
    // Same shape as takeOverRun: FOR UPDATE serialises against a takeover, so the owner check holds for the write.
    const rows = await this.prisma.$queryRaw<RunRow[]>`
      WITH old AS (
        SELECT r.* FROM runs r
        WHERE r.id = ${id}::uuid AND r.status = 'running' AND r.attempt = ${owner.attempt}::int
          AND r.instance_id IS NOT DISTINCT FROM ${owner.instanceId}
        FOR UPDATE
      ), upd AS (
        UPDATE runs r SET status = 'retrying', attempt = old.attempt + 1, instance_id = NULL, started_at = NULL,
          finished_at = NULL, lease_expires_at = NULL, error = ${ended.waiting}, output = NULL
        FROM old WHERE r.id = old.id
        RETURNING r.*
      ), hist AS (
        INSERT INTO run_attempts (run_id, attempt, instance_id, started_at, finished_at, status, error, output)
        SELECT old.id, old.attempt, old.instance_id, old.started_at, ${ended.finishedAt}::timestamptz, ${ended.status}, ${ended.error}, ${ended.output}
        FROM old
      )
      SELECT ${RUN_COLUMNS} FROM upd r`;
    return rows[0] ? toRun(rows[0]) : null;
  }

  async claimRetry(id: string, attempt: number, claim: RunClaim): Promise<Run | null> {
    if (!isUuid(id)) return null;
    const rows = await this.prisma.$queryRaw<RunRow[]>`
      UPDATE runs r SET status = 'running', instance_id = ${claim.instanceId}, started_at = ${claim.at}::timestamptz,
        lease_expires_at = ${claim.leaseExpiresAt}::timestamptz
      WHERE r.id = ${id}::uuid AND r.status = 'retrying' AND r.attempt = ${attempt}::int
      RETURNING ${RUN_COLUMNS}`;
    return rows[0] ? toRun(rows[0]) : null;
  }

  async listRunAttempts(runId: string): Promise<RunAttempt[]> {
    if (!isUuid(runId)) return [];
    const rows = await this.prisma.runAttempt.findMany({ where: { runId }, orderBy: { attempt: 'asc' } });
    return rows.map((row) => ({
      attempt: row.attempt,
      instanceId: row.instanceId,
      startedAt: toDate(row.startedAt),
      finishedAt: toDate(row.finishedAt)!,
      status: row.status as RunStatus,
      error: row.error,
      output: row.output,
    }));
  }

  async getRun(id: string): Promise<Run | null> {
    if (!isUuid(id)) return null;
    const row = await this.prisma.run.findUnique({ where: { id } });
    return row ? toRun(row) : null;
  }

  async getRunByOccurrence(jobId: string, scheduledFor: Date): Promise<Run | null> {
    if (!isUuid(jobId)) return null;
    const row = await this.prisma.run.findUnique({ where: { jobId_scheduledFor: { jobId, scheduledFor } } });
    return row ? toRun(row) : null;
  }

  async listRuns(query: RunListQuery): Promise<Page<Run>> {
    if (query.jobId !== undefined && !isUuid(query.jobId)) return { items: [], nextCursor: null };
    const where: Prisma.Sql[] = [];
    if (query.status !== undefined) where.push(Prisma.sql`r.status = ${query.status}`);
    if (query.instanceId !== undefined) where.push(Prisma.sql`r.instance_id = ${query.instanceId}`);
    if (query.from !== undefined) where.push(Prisma.sql`r.scheduled_for >= ${query.from}`);
    if (query.to !== undefined) where.push(Prisma.sql`r.scheduled_for < ${query.to}`);
    if (query.cursor) {
      const [at, id] = decodeRunCursor(query.cursor);
      // Row comparison matches the (scheduled_for DESC, id DESC) indexes: keyset, no OFFSET.
      where.push(Prisma.sql`(r.scheduled_for, r.id) < (${at}::timestamptz, ${id}::uuid)`);
    }
    let jobIds: string[] | null = query.jobId !== undefined ? [query.jobId] : null;
    if (query.jobSearch) {
      const matching = await this.jobIdsMatching(query.jobSearch);
      jobIds = jobIds ? jobIds.filter((id) => matching.includes(id)) : matching;
      if (jobIds.length === 0) return { items: [], nextCursor: null };
    }
    let rows: RunRow[];
    if (jobIds === null) {
      rows = await this.prisma.$queryRaw<RunRow[]>`
        SELECT ${RUN_COLUMNS} FROM runs r
        ${where.length ? Prisma.sql`WHERE ${Prisma.join(where, ' AND ')}` : Prisma.empty}
        ORDER BY r.scheduled_for DESC, r.id DESC
        LIMIT ${query.limit + 1}`;
    } else {
      // One keyset walk of runs_job_newest_idx per job, each reading at most limit + 1 rows, merged: the cost
      // follows the page size and the number of jobs, not the number of runs.
      const conditions = [Prisma.sql`r.job_id = m.job_id`, ...where];
      rows = await this.prisma.$queryRaw<RunRow[]>`
        SELECT x.* FROM unnest(${jobIds}::uuid[]) AS m(job_id)
        CROSS JOIN LATERAL (
          SELECT ${RUN_COLUMNS} FROM runs r
          WHERE ${Prisma.join(conditions, ' AND ')}
          ORDER BY r.scheduled_for DESC, r.id DESC
          LIMIT ${query.limit + 1}
        ) x
        ORDER BY x."scheduledFor" DESC, x.id DESC
        LIMIT ${query.limit + 1}`;
    }
    return pageOf(rows.map(toRun), query.limit, (r) => [r.scheduledFor.toISOString(), r.id]);
  }

  /** Jobs whose current name, or a name one of their runs was recorded under, contains `text` (both small tables). */
  private async jobIdsMatching(text: string): Promise<string[]> {
    const pattern = containsPattern(text);
    const rows = await this.prisma.$queryRaw<Array<{ id: string }>>`
      SELECT j.id FROM jobs j WHERE j.name ILIKE ${pattern}
      UNION
      SELECT n.job_id FROM run_job_names n WHERE n.job_name ILIKE ${pattern}`;
    return rows.map((r) => r.id);
  }

  async listExpiredRuns(before: Date, limit: number): Promise<Run[]> {
    const rows = await this.prisma.run.findMany({
      where: { status: { in: ['claimed', 'running'] }, leaseExpiresAt: { lt: before } },
      orderBy: [{ leaseExpiresAt: 'asc' }, { id: 'asc' }],
      take: limit,
    });
    return rows.map(toRun);
  }

  async runStats(query: RunStatsQuery): Promise<RunStatsBucket[]> {
    const bucketMs = bucketMillis(query.bucketSeconds);
    if (query.jobId !== undefined && !isUuid(query.jobId)) return [];
    const fromMs = query.from.getTime();
    // One pass, one sort per bucket: float8 arithmetic (timestamps have ms precision, so rounding to whole ms is
    // exact), both percentiles from one ordered-set aggregate, counts by FILTER. The earlier version (a CTE read
    // twice, numeric maths) took seconds over a week of a million-run history.
    const rows = await this.prisma.$queryRaw<Array<{ b: number; p: number[] | null; counts: Record<string, number> }>>`
      SELECT (round(date_part('epoch', r.scheduled_for - ${query.from}::timestamptz) * 1000)::bigint / ${bucketMs}::bigint)::int AS b,
        -- Ordered-set aggregates skip NULL inputs: runs without both timestamps do not count.
        percentile_cont(ARRAY[0.5, 0.95]::float8[]) WITHIN GROUP (ORDER BY round(date_part('epoch', r.finished_at - r.started_at) * 1000)) AS p,
        json_strip_nulls(json_build_object(${Prisma.join(
          RUN_STATUSES.map((status) => Prisma.sql`${status}::text, nullif(count(*) FILTER (WHERE r.status = ${status}), 0)`),
          ', ',
        )})) AS counts
      FROM runs r
      WHERE r.scheduled_for >= ${query.from}::timestamptz AND r.scheduled_for < ${query.to}::timestamptz
        ${query.jobId !== undefined ? Prisma.sql`AND r.job_id = ${query.jobId}::uuid` : Prisma.empty}
      GROUP BY 1 ORDER BY 1`;
    return rows.map((row) => ({
      bucketStart: new Date(fromMs + Number(row.b) * bucketMs),
      counts: Object.fromEntries(Object.entries(row.counts).map(([status, n]) => [status, Number(n)])) as RunStatsBucket['counts'],
      durationP50Ms: row.p?.[0] == null ? null : Number(row.p[0]),
      durationP95Ms: row.p?.[1] == null ? null : Number(row.p[1]),
    }));
  }

  async countRunsByInstance(since: Date): Promise<InstanceRunCount[]> {
    const rows = await this.prisma.$queryRaw<InstanceRunCount[]>`
      SELECT r.instance_id AS "instanceId", count(*)::int AS count FROM runs r
      WHERE r.started_at >= ${since}::timestamptz AND r.instance_id IS NOT NULL
      GROUP BY r.instance_id
      ORDER BY count DESC, r.instance_id COLLATE "C"`;
    return rows.map((r) => ({ instanceId: r.instanceId, count: Number(r.count) }));
  }

  async countActiveRuns(jobId: string, now: Date): Promise<number> {
    if (!isUuid(jobId)) return 0;
    const rows = await this.sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM runs WHERE job_id = $1 AND status = 'running' AND lease_expires_at > $2",
      [jobId, now],
    );
    return rows[0]!.n;
  }

  async pruneRuns(olderThan: Date, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    // Bounded batches keep each delete short; runs_newest_idx (read backwards) yields the oldest first.
    return this.prisma.$executeRaw`
      DELETE FROM runs WHERE id IN (
        SELECT r.id FROM runs r
        WHERE r.scheduled_for < ${olderThan}::timestamptz AND r.status NOT IN ('claimed', 'running', 'retrying')
        ORDER BY r.scheduled_for, r.id
        LIMIT ${limit}
      )`;
  }

  async upsertInstance(instance: Instance): Promise<void> {
    const data = {
      host: instance.host,
      pid: instance.pid,
      version: instance.version,
      startedAt: instance.startedAt,
      lastSeenAt: instance.lastSeenAt,
      clockSkewMs: Math.round(instance.clockSkewMs),
      stoppedAt: instance.stoppedAt,
      aliveSince: instance.aliveSince,
    };
    await this.prisma.instance.upsert({ where: { id: instance.id }, create: { id: instance.id, ...data }, update: data });
  }

  async listInstances(): Promise<Instance[]> {
    const rows = await this.prisma.instance.findMany({ orderBy: [{ lastSeenAt: 'desc' }, { id: 'asc' }] });
    return rows.map(toInstance);
  }

  async pruneInstances(lastSeenBefore: Date): Promise<number> {
    const { count } = await this.prisma.instance.deleteMany({ where: { lastSeenAt: { lt: lastSeenBefore } } });
    return count;
  }

  async createUser(user: NewUser): Promise<User> {
    try {
      const rows = await this.prisma.$queryRaw<UserRow[]>`
        INSERT INTO users AS u (id, username, username_key, role, password_hash, disabled, created_at, updated_at)
        VALUES (${randomUUID()}::uuid, ${user.username}, ${usernameKey(user.username)}, ${user.role}, ${user.passwordHash},
          ${user.disabled ?? false}, clock_timestamp(), clock_timestamp())
        RETURNING ${USER_COLUMNS}`;
      return toUser(rows[0]!);
    } catch (err) {
      if (isUniqueViolation(err)) throw new UsernameTakenError(user.username);
      throw err;
    }
  }

  async getUser(id: string): Promise<User | null> {
    if (!isUuid(id)) return null;
    const row = await this.prisma.user.findUnique({ where: { id } });
    return row ? toUser(row) : null;
  }

  async getUserByUsername(username: string): Promise<User | null> {
    const row = await this.prisma.user.findUnique({ where: { usernameKey: usernameKey(username) } });
    return row ? toUser(row) : null;
  }

  async listUsers(): Promise<User[]> {
    const rows = await this.prisma.$queryRaw<UserRow[]>`SELECT ${USER_COLUMNS} FROM users u ORDER BY u.username_key COLLATE "C", u.id`;
    return rows.map(toUser);
  }

  async updateUser(id: string, patch: UserPatch): Promise<User | null> {
    if (!isUuid(id)) return null;
    const data: Prisma.UserUpdateInput = { updatedAt: await this.now() };
    if (patch.username !== undefined) {
      data.username = patch.username;
      data.usernameKey = usernameKey(patch.username);
    }
    if (patch.role !== undefined) data.role = patch.role;
    if (patch.passwordHash !== undefined) data.passwordHash = patch.passwordHash;
    if (patch.disabled !== undefined) data.disabled = patch.disabled;
    if (patch.failedLogins !== undefined) data.failedLogins = patch.failedLogins;
    if (patch.lockedUntil !== undefined) data.lockedUntil = patch.lockedUntil;
    try {
      return toUser(await this.prisma.user.update({ where: { id }, data }));
    } catch (err) {
      if (isPrismaError(err, 'P2025')) return null;
      if (isPrismaError(err, 'P2002')) throw new UsernameTakenError(patch.username ?? '');
      throw err;
    }
  }

  async deleteUser(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    // Sessions go with it (ON DELETE CASCADE).
    const { count } = await this.prisma.user.deleteMany({ where: { id } });
    return count > 0;
  }

  async countUsers(): Promise<number> {
    return this.prisma.user.count();
  }

  async recordLoginFailure(id: string, lock: { threshold: number; until: Date }): Promise<User | null> {
    if (!isUuid(id)) return null;
    // One UPDATE: concurrent failures each count, and the one reaching the threshold sets the lock.
    const rows = await this.prisma.$queryRaw<UserRow[]>`
      UPDATE users u SET failed_logins = u.failed_logins + 1,
        locked_until = CASE WHEN u.failed_logins + 1 >= ${lock.threshold}::int THEN ${lock.until}::timestamptz ELSE u.locked_until END,
        updated_at = clock_timestamp()
      WHERE u.id = ${id}::uuid
      RETURNING ${USER_COLUMNS}`;
    return rows[0] ? toUser(rows[0]) : null;
  }

  async recordLoginSuccess(id: string): Promise<User | null> {
    if (!isUuid(id)) return null;
    const rows = await this.prisma.$queryRaw<UserRow[]>`
      UPDATE users u SET failed_logins = 0, locked_until = NULL, updated_at = clock_timestamp()
      WHERE u.id = ${id}::uuid
      RETURNING ${USER_COLUMNS}`;
    return rows[0] ? toUser(rows[0]) : null;
  }

  async createSession(session: NewSession): Promise<Session> {
    const rows = await this.prisma.$queryRaw<SessionRow[]>`
      INSERT INTO sessions AS s (id, user_id, created_at, expires_at, revoked_at, last_seen_at, ip, user_agent)
      VALUES (${session.id ?? newSessionId()}, ${session.userId}::uuid, clock_timestamp(), ${session.expiresAt}::timestamptz, NULL,
        clock_timestamp(), ${session.ip}, ${session.userAgent})
      RETURNING ${SESSION_COLUMNS}`;
    return toSession(rows[0]!);
  }

  async getSession(id: string): Promise<Session | null> {
    const row = await this.prisma.session.findUnique({ where: { id } });
    return row ? toSession(row) : null;
  }

  async touchSession(id: string, at: Date): Promise<boolean> {
    const count = await this.prisma.$executeRaw`
      UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, ${at}::timestamptz) WHERE id = ${id}`;
    return count > 0;
  }

  async revokeSession(id: string): Promise<boolean> {
    const count = await this.prisma.$executeRaw`UPDATE sessions SET revoked_at = clock_timestamp() WHERE id = ${id} AND revoked_at IS NULL`;
    return count > 0;
  }

  async revokeUserSessions(userId: string): Promise<number> {
    if (!isUuid(userId)) return 0;
    return this.prisma.$executeRaw`
      UPDATE sessions SET revoked_at = clock_timestamp() WHERE user_id = ${userId}::uuid AND revoked_at IS NULL`;
  }

  async pruneSessions(expiredBefore: Date): Promise<number> {
    const { count } = await this.prisma.session.deleteMany({
      where: { OR: [{ expiresAt: { lt: expiredBefore } }, { revokedAt: { lt: expiredBefore } }] },
    });
    return count;
  }

  async createApiToken(token: NewApiToken): Promise<ApiToken> {
    const row = await this.prisma.apiToken.create({
      data: { name: token.name, role: token.role, tokenHash: token.tokenHash, prefix: token.prefix, createdBy: token.createdBy, createdAt: await this.now() },
    });
    return toApiToken(row);
  }

  async getApiTokenByHash(tokenHash: string): Promise<ApiToken | null> {
    const row = await this.prisma.apiToken.findUnique({ where: { tokenHash } });
    return row ? toApiToken(row) : null;
  }

  async listApiTokens(): Promise<ApiToken[]> {
    const rows = await this.prisma.apiToken.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
    return rows.map(toApiToken);
  }

  async revokeApiToken(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const count = await this.prisma.$executeRaw`
      UPDATE api_tokens SET revoked_at = clock_timestamp() WHERE id = ${id}::uuid AND revoked_at IS NULL`;
    return count > 0;
  }

  async touchApiToken(id: string, at: Date): Promise<boolean> {
    if (!isUuid(id)) return false;
    // GREATEST ignores NULL: the first use sets it.
    const count = await this.prisma.$executeRaw`
      UPDATE api_tokens SET last_used_at = GREATEST(last_used_at, ${at}::timestamptz) WHERE id = ${id}::uuid`;
    return count > 0;
  }

  async appendAudit(entry: NewAuditEntry): Promise<AuditEntry> {
    const rows = await this.prisma.$queryRaw<AuditRow[]>`
      INSERT INTO audit_log AS a (id, at, actor_type, actor_id, actor_name, action, target_type, target_id, target_name, ip, changes)
      VALUES (${randomUUID()}::uuid, clock_timestamp(), ${entry.actorType}, ${entry.actorId}, ${entry.actorName}, ${entry.action},
        ${entry.targetType}, ${entry.targetId}, ${entry.targetName}, ${entry.ip},
        ${entry.changes === null ? null : JSON.stringify(entry.changes)}::jsonb)
      RETURNING ${AUDIT_COLUMNS}`;
    return toAudit(rows[0]!);
  }

  async listAudit(query: AuditListQuery): Promise<Page<AuditEntry>> {
    const where: Prisma.Sql[] = [];
    if (query.actorName !== undefined) where.push(Prisma.sql`a.actor_name = ${query.actorName}`);
    if (query.action !== undefined) where.push(Prisma.sql`a.action = ${query.action}`);
    if (query.targetType !== undefined) where.push(Prisma.sql`a.target_type = ${query.targetType}`);
    if (query.targetId !== undefined) where.push(Prisma.sql`a.target_id = ${query.targetId}`);
    if (query.from !== undefined) where.push(Prisma.sql`a.at >= ${query.from}::timestamptz`);
    if (query.to !== undefined) where.push(Prisma.sql`a.at < ${query.to}::timestamptz`);
    if (query.cursor) {
      const [at, id] = decodeRunCursor(query.cursor);
      where.push(Prisma.sql`(a.at, a.id) < (${at}::timestamptz, ${id}::uuid)`);
    }
    const rows = await this.prisma.$queryRaw<AuditRow[]>`
      SELECT ${AUDIT_COLUMNS} FROM audit_log a
      ${where.length ? Prisma.sql`WHERE ${Prisma.join(where, ' AND ')}` : Prisma.empty}
      ORDER BY a.at DESC, a.id DESC
      LIMIT ${query.limit + 1}`;
    return pageOf(rows.map(toAudit), query.limit, (a) => [a.at.toISOString(), a.id]);
  }
}

/** Opens the store; call migrate() before use (openStore in lib/store does). */
export async function createPostgresStore(url: string, description: string): Promise<Store> {
  return new PostgresStore(url, description);
}
