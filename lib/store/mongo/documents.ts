import 'server-only';
import { randomUUID } from 'node:crypto';
import { JOB_PATCH_FIELDS, patchToFields, RUN_PATCH_FIELDS } from '../shared/fields';
import {
  DEFAULT_RETRY,
  type ApiToken,
  type AuditEntry,
  type Instance,
  type Job,
  type JobPatch,
  type JobWithLastRun,
  type JsonObject,
  type NewRun,
  type PauseRecord,
  type Run,
  type RunPatch,
  type Session,
  type User,
} from '../types';
import type { ApiTokenDoc, AuditDoc, InstanceDoc, JobDoc, RunDoc, SessionDoc, UserDoc } from './schema';

// The document <-> domain mapping of the MongoDB store: documents to domain objects (with the defaults of fields older
// documents lack), new run documents, and patches as $set fields.

export type LastRunDoc = Pick<RunDoc, '_id' | 'status' | 'scheduledFor' | 'startedAt' | 'finishedAt' | 'instanceId'>;

export function toJob(doc: JobDoc): Job {
  return {
    id: doc._id,
    name: doc.name,
    description: doc.description,
    type: doc.type,
    payload: JSON.parse(doc.payloadJson) as JsonObject,
    schedule: doc.schedule,
    paused: doc.paused,
    pause: doc.pause ? { at: doc.pause.at, by: { ...doc.pause.by }, note: doc.pause.note } : null,
    timeoutSeconds: doc.timeoutSeconds,
    overlapPolicy: doc.overlapPolicy,
    missedPolicy: doc.missedPolicy,
    tags: doc.tags,
    retry: doc.retry ? { ...doc.retry } : { ...DEFAULT_RETRY },
    concurrencyLimit: doc.concurrencyLimit ?? null,
    autoPause: doc.autoPause ? { afterFailures: doc.autoPause.afterFailures } : null,
    alerts: (doc.alerts ?? []).map((rule) => ({ ...rule, on: [...rule.on] })),
    nextRunAt: doc.nextRunAt,
    anchorAt: doc.anchorAt,
    version: doc.version,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

export function toRun(doc: RunDoc): Run {
  return {
    id: doc._id,
    jobId: doc.jobId,
    jobName: doc.jobName,
    scheduledFor: doc.scheduledFor,
    startedAt: doc.startedAt,
    finishedAt: doc.finishedAt,
    status: doc.status,
    trigger: doc.trigger,
    instanceId: doc.instanceId,
    attempt: doc.attempt,
    error: doc.error,
    output: doc.output,
    leaseExpiresAt: doc.leaseExpiresAt,
    rangeEnd: doc.rangeEnd ?? null,
    rangeCount: doc.rangeCount ?? null,
    cancel: doc.cancel ?? null,
  };
}

/** A job as listJobs' $lookup returns it: with its last run, if any. */
export function toJobWithLastRun(doc: JobDoc & { lastRun: LastRunDoc[] }): JobWithLastRun {
  const run = doc.lastRun[0];
  return {
    ...toJob(doc),
    lastRun: run
      ? {
          id: run._id,
          status: run.status,
          scheduledFor: run.scheduledFor,
          startedAt: run.startedAt,
          finishedAt: run.finishedAt,
          instanceId: run.instanceId,
        }
      : null,
  };
}

/** A run document as inserted: a fresh id, ranges only when set. */
export function newRunDoc(run: NewRun): RunDoc {
  const doc: RunDoc = {
    _id: randomUUID(),
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
  };
  if (run.rangeEnd) {
    doc.rangeEnd = run.rangeEnd;
    doc.rangeCount = run.rangeCount ?? null;
  }
  return doc;
}

export function toInstance(doc: InstanceDoc): Instance {
  return {
    id: doc._id,
    host: doc.host,
    pid: doc.pid,
    version: doc.version,
    startedAt: doc.startedAt,
    lastSeenAt: doc.lastSeenAt,
    clockSkewMs: doc.clockSkewMs,
    stoppedAt: doc.stoppedAt,
    aliveSince: doc.aliveSince ?? doc.startedAt,
  };
}

/** A JobPatch as $set fields: the payload as JSON text, the retry policy as a subdocument. */
export function pauseDoc(pause: PauseRecord | null): PauseRecord | null {
  return pause ? { at: pause.at, by: { type: pause.by.type, id: pause.by.id, name: pause.by.name }, note: pause.note } : null;
}

export function jobSet(patch: JobPatch): Partial<JobDoc> {
  return patchToFields(patch, JOB_PATCH_FIELDS, {
    payload: (payload) => ({ payloadJson: JSON.stringify(payload) }),
    // A fixed shape, whatever the caller's object holds besides.
    pause: (pause) => ({ pause: pauseDoc(pause) }),
    // A new (or removed) auto-pause policy counts from zero.
    autoPause: (autoPause) => ({ autoPause: autoPause ? { afterFailures: autoPause.afterFailures } : null, consecutiveFailures: 0 }),
    retry: (retry) => ({
      retry: { maxAttempts: retry.maxAttempts, backoffSeconds: retry.backoffSeconds, maxBackoffSeconds: retry.maxBackoffSeconds },
    }),
  }) as Partial<JobDoc>;
}

export function toUser(doc: UserDoc): User {
  return {
    id: doc._id,
    username: doc.username,
    role: doc.role,
    passwordHash: doc.passwordHash,
    disabled: doc.disabled,
    failedLogins: doc.failedLogins,
    lockedUntil: doc.lockedUntil,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

export function toSession(doc: SessionDoc): Session {
  return {
    id: doc._id,
    userId: doc.userId,
    createdAt: doc.createdAt,
    expiresAt: doc.expiresAt,
    revokedAt: doc.revokedAt,
    lastSeenAt: doc.lastSeenAt,
    ip: doc.ip,
    userAgent: doc.userAgent,
  };
}

export function toApiToken(doc: ApiTokenDoc): ApiToken {
  return {
    id: doc._id,
    name: doc.name,
    role: doc.role,
    tokenHash: doc.tokenHash,
    prefix: doc.prefix,
    createdAt: doc.createdAt,
    createdBy: doc.createdBy,
    lastUsedAt: doc.lastUsedAt,
    revokedAt: doc.revokedAt,
  };
}

export function toAudit(doc: AuditDoc): AuditEntry {
  return {
    id: doc._id,
    at: doc.at,
    actorType: doc.actorType,
    actorId: doc.actorId,
    actorName: doc.actorName,
    action: doc.action,
    targetType: doc.targetType,
    targetId: doc.targetId,
    targetName: doc.targetName,
    ip: doc.ip,
    changes: doc.changesJson === null ? null : (JSON.parse(doc.changesJson) as AuditEntry['changes']),
  };
}

/** A RunPatch as $set fields (the same names). */
export function runSet(patch: RunPatch): Partial<RunDoc> {
  return patchToFields(patch, RUN_PATCH_FIELDS) as Partial<RunDoc>;
}
