import 'server-only';
import { maskPayload } from '../secrets';
import type { ChannelSummary, ChannelView } from '../services/channels';
import type { InstanceView } from '../services/instances';
import type { RunOutputView, RunWithAttempts } from '../services/runs';
import type { SigningSecretAnswer } from '../services/signing-secrets';
import type { PublicApiToken } from '../services/tokens';
import type { PublicUser } from '../services/users';
import type { Alert, AuditEntry, Job, JobWithLastRun, Run } from '../store/types';
import type { AlertJson } from '../validation/alert';
import type { AuditEntryJson } from '../validation/audit';
import type { ChannelJson } from '../validation/channel';
import type { InstanceJson } from '../validation/instance';
import type { JobJson, JobListItemJson } from '../validation/job';
import type { LastRunJson, RunDetailJson, RunJson, RunOutputJson } from '../validation/run';
import type { JobCreatedJson, SigningSecretJson } from '../validation/signing-secret';
import type { TokenJson } from '../validation/token';
import type { UserJson } from '../validation/user';

const iso = (date: Date): string => date.toISOString();
const isoOrNull = (date: Date | null): string | null => (date ? date.toISOString() : null);

/** Internal fields (anchorAt, version) stay inside. */
export function jobJson(job: Job): JobJson {
  return {
    id: job.id,
    name: job.name,
    description: job.description,
    type: job.type,
    // Services already mask; masking is idempotent, so an unmasked job can never slip out here.
    payload: maskPayload(job.type, job.payload),
    schedule: job.schedule,
    paused: job.paused,
    pause: job.pause ? { at: iso(job.pause.at), by: { ...job.pause.by }, note: job.pause.note } : null,
    timeoutSeconds: job.timeoutSeconds,
    overlapPolicy: job.overlapPolicy,
    missedPolicy: job.missedPolicy,
    tags: job.tags,
    retry: { maxAttempts: job.retry.maxAttempts, backoffSeconds: job.retry.backoffSeconds, maxBackoffSeconds: job.retry.maxBackoffSeconds },
    concurrencyLimit: job.concurrencyLimit,
    autoPause: job.autoPause ? { afterFailures: job.autoPause.afterFailures } : null,
    alerts: job.alerts.map((rule) => ({ ...rule, on: [...rule.on] })),
    nextRunAt: isoOrNull(job.nextRunAt),
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
  };
}

/** The 201 of POST /api/jobs: the job, and an http job's signing secret (this once). */
export function jobCreatedJson(job: Job, signingSecret: string | null): JobCreatedJson {
  return signingSecret === null ? jobJson(job) : { ...jobJson(job), signingSecret };
}

export function signingSecretJson(answer: SigningSecretAnswer): SigningSecretJson {
  return {
    signingSecret: answer.signingSecret,
    createdAt: iso(answer.createdAt),
    previousValidUntil: isoOrNull(answer.previousValidUntil),
  };
}

export function jobListItemJson(job: JobWithLastRun): JobListItemJson {
  const lastRun: LastRunJson | null = job.lastRun
    ? {
        id: job.lastRun.id,
        status: job.lastRun.status,
        scheduledFor: iso(job.lastRun.scheduledFor),
        startedAt: isoOrNull(job.lastRun.startedAt),
        finishedAt: isoOrNull(job.lastRun.finishedAt),
        instanceId: job.lastRun.instanceId,
      }
    : null;
  return { ...jobJson(job), lastRun };
}

/** The lease is scheduler bookkeeping and stays inside. */
export function runJson(run: Run): RunJson {
  return {
    id: run.id,
    jobId: run.jobId,
    jobName: run.jobName,
    scheduledFor: iso(run.scheduledFor),
    startedAt: isoOrNull(run.startedAt),
    finishedAt: isoOrNull(run.finishedAt),
    durationMs: run.startedAt && run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null,
    status: run.status,
    trigger: run.trigger,
    instanceId: run.instanceId,
    attempt: run.attempt,
    error: run.error,
    output: run.output,
    rangeEnd: isoOrNull(run.rangeEnd),
    rangeCount: run.rangeCount,
    cancel: run.cancel ? { at: iso(run.cancel.at), by: { ...run.cancel.by }, reason: run.cancel.reason } : null,
  };
}

/** GET /api/runs/{id}: the run, every attempt with its output (oldest first, the current one last) and its webhook-id. */
export function runDetailJson(detail: RunWithAttempts): RunDetailJson {
  return {
    ...runJson(detail.run),
    attempts: detail.attempts.map((a) => ({
      attempt: a.attempt,
      instanceId: a.instanceId,
      startedAt: isoOrNull(a.startedAt),
      finishedAt: isoOrNull(a.finishedAt),
      durationMs: a.startedAt && a.finishedAt ? a.finishedAt.getTime() - a.startedAt.getTime() : null,
      status: a.status,
      error: a.error,
      output: a.output,
      current: a.current,
    })),
    webhookId: detail.webhookId,
  };
}

export function instanceJson(instance: InstanceView): InstanceJson {
  return {
    id: instance.id,
    host: instance.host,
    pid: instance.pid,
    version: instance.version,
    startedAt: iso(instance.startedAt),
    lastSeenAt: iso(instance.lastSeenAt),
    stoppedAt: isoOrNull(instance.stoppedAt),
    clockSkewMs: instance.clockSkewMs,
    state: instance.state,
    silentForMs: instance.silentForMs,
  };
}

/** Never the password hash (PublicUser has none), nor any field the schema does not name. */
export function userJson(user: PublicUser): UserJson {
  return {
    id: user.id,
    username: user.username,
    role: user.role,
    disabled: user.disabled,
    failedLogins: user.failedLogins,
    lockedUntil: isoOrNull(user.lockedUntil),
    createdAt: iso(user.createdAt),
    updatedAt: iso(user.updatedAt),
  };
}

export function tokenJson(token: PublicApiToken): TokenJson {
  return {
    id: token.id,
    name: token.name,
    role: token.role,
    prefix: token.prefix,
    createdAt: iso(token.createdAt),
    createdBy: token.createdBy,
    lastUsedAt: isoOrNull(token.lastUsedAt),
    revokedAt: isoOrNull(token.revokedAt),
  };
}

export function auditEntryJson(entry: AuditEntry): AuditEntryJson {
  return {
    id: entry.id,
    at: iso(entry.at),
    actorType: entry.actorType,
    actorId: entry.actorId,
    actorName: entry.actorName,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId,
    targetName: entry.targetName,
    ip: entry.ip,
    changes: entry.changes,
  };
}

export function runOutputJson(view: RunOutputView): RunOutputJson {
  return {
    runId: view.run.id,
    status: view.run.status,
    attempt: view.run.attempt,
    live: view.live,
    chunks: view.chunks.map((c) => ({ attempt: c.attempt, seq: c.seq, offset: c.offset, text: c.text, at: iso(c.at) })),
    output: view.run.output,
  };
}

export function channelJson(channel: ChannelView | ChannelSummary): ChannelJson {
  if (!('config' in channel)) return { id: channel.id, name: channel.name, type: channel.type };
  return {
    id: channel.id,
    name: channel.name,
    type: channel.type,
    config: channel.config,
    dailyCap: channel.dailyCap,
    createdAt: iso(channel.createdAt),
    updatedAt: iso(channel.updatedAt),
  };
}

/** An alert row as the API answers it: what it was, where it went, how delivery went. */
export function alertJson(alert: Alert): AlertJson {
  return {
    id: alert.id,
    messageId: `alrt_${alert.id}`,
    event: alert.event,
    channelId: alert.channelId,
    rule: alert.ruleKey,
    job: alert.jobId ? { id: alert.jobId, name: alert.jobName ?? '' } : null,
    runId: alert.runId,
    instanceId: alert.instanceId,
    title: alert.title,
    status: alert.status,
    attempts: alert.attempts,
    lastError: alert.lastError,
    suppressedCount: alert.suppressedCount,
    at: iso(alert.at),
    createdAt: iso(alert.createdAt),
    nextAttemptAt: alert.status === 'pending' ? iso(alert.nextAttemptAt) : null,
    sentAt: isoOrNull(alert.sentAt),
  };
}
