import 'server-only';
import { Prisma } from '../../generated/prisma/client';
import type { AlertRule, MissedPolicy, OverlapPolicy, Schedule } from '../../domain';
import type { FilterOp } from '../shared/fields';
import type {
  ApiToken,
  AuditActorType,
  AuditEntry,
  Instance,
  Job,
  JobWithLastRun,
  JsonObject,
  PauseRecord,
  Run,
  RunStatus,
  RunTrigger,
  Session,
  User,
  UserRole,
} from '../types';

// The row mapping: each table's columns (Prisma's model field -> column), the select lists made from them (aliased to
// the model's field names, so Prisma-typed rows and raw SQL rows look alike), and the to... mappers to domain objects.
export type JobRow = Prisma.JobModel;
export type RunRow = Prisma.RunModel;
export type InstanceRow = Prisma.InstanceModel;
export type UserRow = Prisma.UserModel;
export type SessionRow = Prisma.SessionModel;
export type ApiTokenRow = Prisma.ApiTokenModel;
export type AuditRow = Prisma.AuditEntryModel;

type Columns<Row> = Record<keyof Row, string>;

export const JOB_FIELD_COLUMNS: Columns<JobRow> = {
  id: 'id',
  name: 'name',
  description: 'description',
  type: 'type',
  payload: 'payload',
  schedule: 'schedule',
  paused: 'paused',
  pausedAt: 'paused_at',
  pausedByType: 'paused_by_type',
  pausedById: 'paused_by_id',
  pausedByName: 'paused_by_name',
  pauseNote: 'pause_note',
  timeoutSeconds: 'timeout_seconds',
  overlapPolicy: 'overlap_policy',
  missedPolicy: 'missed_policy',
  tags: 'tags',
  retryMaxAttempts: 'retry_max_attempts',
  retryBackoffSeconds: 'retry_backoff_seconds',
  retryMaxBackoffSeconds: 'retry_max_backoff_seconds',
  concurrencyLimit: 'concurrency_limit',
  autoPauseAfterFailures: 'auto_pause_after_failures',
  consecutiveFailures: 'consecutive_failures',
  alerts: 'alerts',
  nextRunAt: 'next_run_at',
  anchorAt: 'anchor_at',
  version: 'version',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
};

export const RUN_FIELD_COLUMNS: Columns<RunRow> = {
  id: 'id',
  jobId: 'job_id',
  jobName: 'job_name',
  scheduledFor: 'scheduled_for',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  status: 'status',
  trigger: 'trigger',
  instanceId: 'instance_id',
  attempt: 'attempt',
  error: 'error',
  output: 'output',
  leaseExpiresAt: 'lease_expires_at',
  rangeEnd: 'range_end',
  rangeCount: 'range_count',
  cancelAt: 'cancel_at',
  cancelByType: 'cancel_by_type',
  cancelById: 'cancel_by_id',
  cancelByName: 'cancel_by_name',
  cancelReason: 'cancel_reason',
};

const USER_FIELD_COLUMNS: Columns<UserRow> = {
  id: 'id',
  username: 'username',
  usernameKey: 'username_key',
  role: 'role',
  passwordHash: 'password_hash',
  disabled: 'disabled',
  failedLogins: 'failed_logins',
  lockedUntil: 'locked_until',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
};

const SESSION_FIELD_COLUMNS: Columns<SessionRow> = {
  id: 'id',
  userId: 'user_id',
  createdAt: 'created_at',
  expiresAt: 'expires_at',
  revokedAt: 'revoked_at',
  lastSeenAt: 'last_seen_at',
  ip: 'ip',
  userAgent: 'user_agent',
};

export const AUDIT_FIELD_COLUMNS: Columns<AuditRow> = {
  id: 'id',
  at: 'at',
  actorType: 'actor_type',
  actorId: 'actor_id',
  actorName: 'actor_name',
  action: 'action',
  targetType: 'target_type',
  targetId: 'target_id',
  targetName: 'target_name',
  ip: 'ip',
  changes: 'changes',
};

/** `alias.column AS "field"` for every column (plain `alias.column` where the two names agree). */
function selectList<Row>(alias: string, columns: Columns<Row>): Prisma.Sql {
  const list = Object.entries<string>(columns).map(([field, column]) =>
    field === column ? `${alias}.${column}` : `${alias}.${column} AS "${field}"`,
  );
  return Prisma.raw(list.join(', '));
}

/** Column lists shared by Prisma-typed rows and raw SQL (aliased to the model's field names). */
export const JOB_COLUMNS = selectList('j', JOB_FIELD_COLUMNS);
export const RUN_COLUMNS = selectList('r', RUN_FIELD_COLUMNS);
export const USER_COLUMNS = selectList('u', USER_FIELD_COLUMNS);
export const SESSION_COLUMNS = selectList('s', SESSION_FIELD_COLUMNS);
export const AUDIT_COLUMNS = selectList('a', AUDIT_FIELD_COLUMNS);

/** A list's active filters (lib/store/shared/fields.ts) as conditions on the columns of `alias`. */
export function sqlConditions<Row>(
  alias: string,
  columns: Columns<Row>,
  filters: Array<{ field: keyof Row & string; op: FilterOp; value: unknown }>,
): Prisma.Sql[] {
  return filters.map(({ field, op, value }) => Prisma.sql`${Prisma.raw(`${alias}.${columns[field]} ${op}`)} ${value}`);
}

export function toDate(value: Date | string | null): Date | null {
  if (value === null) return null;
  return value instanceof Date ? value : new Date(value);
}

/** The pause columns as a PauseRecord: null unless paused_at is set (a resume clears them all). */
function toPauseRecord(row: JobRow): PauseRecord | null {
  if (row.pausedAt === null) return null;
  return {
    at: toDate(row.pausedAt)!,
    by: { type: (row.pausedByType ?? 'system') as AuditActorType, id: row.pausedById, name: row.pausedByName ?? '' },
    note: row.pauseNote,
  };
}

/** A patch's pause as the columns: null clears every one. */
export function pauseColumns(
  pause: PauseRecord | null,
): Pick<JobRow, 'pausedAt' | 'pausedByType' | 'pausedById' | 'pausedByName' | 'pauseNote'> {
  return {
    pausedAt: pause?.at ?? null,
    pausedByType: pause?.by.type ?? null,
    pausedById: pause?.by.id ?? null,
    pausedByName: pause?.by.name ?? null,
    pauseNote: pause?.note ?? null,
  };
}

export function toJob(row: JobRow): Job {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    type: row.type,
    payload: (row.payload ?? {}) as JsonObject,
    // Written only from validated input (lib/validation), so the stored shape is a Schedule.
    schedule: row.schedule as unknown as Schedule,
    paused: row.paused,
    pause: toPauseRecord(row),
    timeoutSeconds: row.timeoutSeconds,
    overlapPolicy: row.overlapPolicy as OverlapPolicy,
    missedPolicy: row.missedPolicy as MissedPolicy,
    tags: row.tags ?? [],
    retry: { maxAttempts: row.retryMaxAttempts, backoffSeconds: row.retryBackoffSeconds, maxBackoffSeconds: row.retryMaxBackoffSeconds },
    concurrencyLimit: row.concurrencyLimit,
    autoPause: row.autoPauseAfterFailures === null ? null : { afterFailures: row.autoPauseAfterFailures },
    // Written only from validated input (lib/validation/alert.ts).
    alerts: (row.alerts ?? []) as unknown as AlertRule[],
    nextRunAt: toDate(row.nextRunAt),
    anchorAt: toDate(row.anchorAt)!,
    version: row.version,
    createdAt: toDate(row.createdAt)!,
    updatedAt: toDate(row.updatedAt)!,
  };
}

export function toRun(row: RunRow): Run {
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
    cancel:
      row.cancelAt === null
        ? null
        : {
            at: toDate(row.cancelAt)!,
            by: { type: (row.cancelByType ?? 'system') as AuditActorType, id: row.cancelById, name: row.cancelByName ?? '' },
            reason: row.cancelReason,
          },
  };
}

export function toInstance(row: InstanceRow): Instance {
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

export function toUser(row: UserRow): User {
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

export function toSession(row: SessionRow): Session {
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

export function toApiToken(row: ApiTokenRow): ApiToken {
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

export function toAudit(row: AuditRow): AuditEntry {
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

/** listJobs' columns of each job's last run (null when it has none). */
export interface LastRunColumns {
  lrId: string | null;
  lrStatus: string | null;
  lrScheduledFor: Date | null;
  lrStartedAt: Date | null;
  lrFinishedAt: Date | null;
  lrInstanceId: string | null;
}

export function toJobWithLastRun(row: JobRow & LastRunColumns): JobWithLastRun {
  return {
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
  };
}
