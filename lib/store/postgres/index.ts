import 'server-only';
import { PrismaPg } from '@prisma/adapter-pg';
import { PostgresBackend } from '@agendajs/postgres-backend';
import type { AgendaBackend } from 'agenda';
import { ValidationError } from '../../errors';
import { Prisma, PrismaClient } from '../../generated/prisma/client';
import type { MissedPolicy, OverlapPolicy } from '../../validation/job';
import type { Schedule } from '../../validation/schedule';
import {
  NameTakenError,
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
  type RunListQuery,
  type RunPatch,
  type RunStatus,
  type RunTrigger,
  type Store,
} from '../types';
import { AGENDA_LOG_TABLE, AGENDA_TABLE, migrateDatabase } from './migrate';

/** Column list shared by Prisma-typed rows and raw SQL (aliased to the model's field names). */
type JobRow = Prisma.JobModel;
type RunRow = Prisma.RunModel;
type InstanceRow = Prisma.InstanceModel;

const JOB_COLUMNS = Prisma.sql`j.id, j.name, j.description, j.type, j.payload, j.schedule, j.paused,
  j.timeout_seconds AS "timeoutSeconds", j.overlap_policy AS "overlapPolicy", j.missed_policy AS "missedPolicy",
  j.tags, j.next_run_at AS "nextRunAt", j.anchor_at AS "anchorAt", j.version,
  j.created_at AS "createdAt", j.updated_at AS "updatedAt"`;

const RUN_COLUMNS = Prisma.sql`r.id, r.job_id AS "jobId", r.job_name AS "jobName", r.scheduled_for AS "scheduledFor",
  r.started_at AS "startedAt", r.finished_at AS "finishedAt", r.status, r.trigger, r.instance_id AS "instanceId",
  r.attempt, r.error, r.output, r.lease_expires_at AS "leaseExpiresAt"`;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are uuids in this store; anything else cannot exist (and would make PostgreSQL raise a cast error). */
function isUuid(id: string): boolean {
  return UUID_RE.test(id);
}

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
  if (patch.nextRunAt !== undefined) data.nextRunAt = patch.nextRunAt;
  if (patch.anchorAt !== undefined) data.anchorAt = patch.anchorAt;
  return data;
}

function isPrismaError(err: unknown, code: string): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === code;
}

// Cursors are opaque to callers: base64url JSON of the last item's sort key.
function encodeCursor(key: [string, string]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === 2 && typeof key[0] === 'string' && typeof key[1] === 'string' && isUuid(key[1])) {
      return [key[0], key[1]];
    }
  } catch {
    // fall through
  }
  throw new ValidationError([{ path: 'cursor', message: 'invalid cursor' }]);
}

function decodeRunCursor(cursor: string): [Date, string] {
  const [at, id] = decodeCursor(cursor);
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) throw new ValidationError([{ path: 'cursor', message: 'invalid cursor' }]);
  return [date, id];
}

/** LIKE pattern matching `text` literally anywhere. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function pageOf<T>(rows: T[], limit: number, keyOf: (item: T) => [string, string]): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(keyOf(last)) : null };
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

  constructor(
    private readonly url: string,
    readonly description: string,
  ) {
    this.prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 10 }) });
  }

  createAgendaBackend(): AgendaBackend {
    // Its table is created by migrate() under the migration lock; Agenda's own CREATE IF NOT EXISTS races
    // between processes starting together.
    return new PostgresBackend({ connectionString: this.url, tableName: AGENDA_TABLE, logTableName: AGENDA_LOG_TABLE, ensureSchema: false });
  }

  async migrate(): Promise<void> {
    const { applied } = await migrateDatabase(this.url);
    if (applied.length > 0) console.info(`[store] applied migrations: ${applied.join(', ')}`);
  }

  async close(): Promise<void> {
    await this.prisma.$disconnect();
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
    const row = await this.prisma.job.findUnique({ where: { id } });
    return row ? toJob(row) : null;
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
    const rows = await this.prisma.$queryRaw<Array<JobRow & LastRunColumns>>`
      SELECT ${JOB_COLUMNS},
        lr.id AS "lrId", lr.status AS "lrStatus", lr.scheduled_for AS "lrScheduledFor",
        lr.started_at AS "lrStartedAt", lr.finished_at AS "lrFinishedAt", lr.instance_id AS "lrInstanceId"
      FROM jobs j
      LEFT JOIN LATERAL (
        SELECT r.id, r.status, r.scheduled_for, r.started_at, r.finished_at, r.instance_id
        FROM runs r WHERE r.job_id = j.id
        ORDER BY r.scheduled_for DESC, r.id DESC
        LIMIT 1
      ) lr ON true
      ${where.length ? Prisma.sql`WHERE ${Prisma.join(where, ' AND ')}` : Prisma.empty}
      ORDER BY j.name COLLATE "C", j.id
      LIMIT ${query.limit + 1}`;
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
      return toJob(row);
    } catch (err) {
      if (isPrismaError(err, 'P2025')) return null;
      if (isPrismaError(err, 'P2002')) throw new NameTakenError(patch.name ?? '');
      throw err;
    }
  }

  async deleteJob(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    // Runs stay (no foreign key): they carry job_name, so history survives the job.
    const { count } = await this.prisma.job.deleteMany({ where: { id } });
    return count > 0;
  }

  async advanceJob(id: string, expected: { version: number; nextRunAt: Date }, nextRunAt: Date | null): Promise<boolean> {
    if (!isUuid(id)) return false;
    const { count } = await this.prisma.job.updateMany({
      where: { id, version: expected.version, nextRunAt: expected.nextRunAt },
      data: { nextRunAt },
    });
    return count === 1;
  }

  async listDueJobs(before: Date, limit: number): Promise<Job[]> {
    const rows = await this.prisma.job.findMany({
      where: { paused: false, nextRunAt: { lt: before } },
      orderBy: [{ nextRunAt: 'asc' }, { id: 'asc' }],
      take: limit,
    });
    return rows.map(toJob);
  }

  async insertRun(run: NewRun): Promise<Run | null> {
    // ON CONFLICT DO NOTHING: a taken occurrence is an answer, not an error.
    const rows = await this.prisma.run.createManyAndReturn({
      data: [
        {
          jobId: run.jobId,
          jobName: run.jobName,
          scheduledFor: run.scheduledFor,
          startedAt: run.startedAt,
          finishedAt: run.finishedAt,
          status: run.status,
          trigger: run.trigger,
          instanceId: run.instanceId,
          attempt: run.attempt,
          error: run.error,
          output: run.output,
          leaseExpiresAt: run.leaseExpiresAt,
        },
      ],
      skipDuplicates: true,
    });
    return rows[0] ? toRun(rows[0]) : null;
  }

  async updateRun(id: string, patch: RunPatch): Promise<Run | null> {
    if (!isUuid(id)) return null;
    try {
      return toRun(await this.prisma.run.update({ where: { id }, data: patch }));
    } catch (err) {
      if (isPrismaError(err, 'P2025')) return null;
      throw err;
    }
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
    if (query.jobId !== undefined) where.push(Prisma.sql`r.job_id = ${query.jobId}::uuid`);
    if (query.status !== undefined) where.push(Prisma.sql`r.status = ${query.status}`);
    if (query.instanceId !== undefined) where.push(Prisma.sql`r.instance_id = ${query.instanceId}`);
    if (query.from !== undefined) where.push(Prisma.sql`r.scheduled_for >= ${query.from}`);
    if (query.to !== undefined) where.push(Prisma.sql`r.scheduled_for < ${query.to}`);
    if (query.cursor) {
      const [at, id] = decodeRunCursor(query.cursor);
      // Row comparison matches the (scheduled_for DESC, id DESC) indexes: keyset, no OFFSET.
      where.push(Prisma.sql`(r.scheduled_for, r.id) < (${at}::timestamptz, ${id}::uuid)`);
    }
    const rows = await this.prisma.$queryRaw<RunRow[]>`
      SELECT ${RUN_COLUMNS} FROM runs r
      ${where.length ? Prisma.sql`WHERE ${Prisma.join(where, ' AND ')}` : Prisma.empty}
      ORDER BY r.scheduled_for DESC, r.id DESC
      LIMIT ${query.limit + 1}`;
    return pageOf(rows.map(toRun), query.limit, (r) => [r.scheduledFor.toISOString(), r.id]);
  }

  async listExpiredRuns(before: Date, limit: number): Promise<Run[]> {
    const rows = await this.prisma.run.findMany({
      where: { status: 'running', leaseExpiresAt: { lt: before } },
      orderBy: [{ leaseExpiresAt: 'asc' }, { id: 'asc' }],
      take: limit,
    });
    return rows.map(toRun);
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
    };
    await this.prisma.instance.upsert({ where: { id: instance.id }, create: { id: instance.id, ...data }, update: data });
  }

  async listInstances(): Promise<Instance[]> {
    const rows = await this.prisma.instance.findMany({ orderBy: [{ lastSeenAt: 'desc' }, { id: 'asc' }] });
    return rows.map(toInstance);
  }
}

/** Opens the store; call migrate() before use (openStore in lib/store does). */
export async function createPostgresStore(url: string, description: string): Promise<Store> {
  return new PostgresStore(url, description);
}
