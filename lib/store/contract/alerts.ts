// Alerts (issue #14): the outbox of alert rows (one per event and channel, through a unique key), their delivery leases,
// the throttles per (rule, job), the daily counters per channel, the default rules, and the scan of durable run records
// that turns events into rows. See docs/coordination.md, "Alerts exactly once".
import type { AlertEvent, AlertRule } from '../../domain';
import type { Page } from './database';
import type { PauseRecord } from './jobs';
import type { Run } from './runs';

export const ALERT_STATUSES = ['pending', 'sent', 'failed', 'suppressed'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** A default rule (Settings -> Alerts): for every job (tag null) or for the jobs with the tag. */
export interface AlertDefaultRule extends AlertRule {
  tag: string | null;
}

/** One alert: an event for one channel. Unique by (eventKey, channelId): detecting an event twice writes one row. */
export interface Alert {
  id: string;
  /** The event's identity, e.g. 'failure:<runId>', 'slow:<runId>:<attempt>', 'instance-lost:<instanceId>:<lastSeenAt>'. */
  eventKey: string;
  event: AlertEvent;
  /** The rule that matched, for its throttle: 'job:<i>' (the job's i-th rule) or 'default:<i>'. */
  ruleKey: string;
  channelId: string;
  throttleSeconds: number;
  jobId: string | null;
  jobName: string | null;
  runId: string | null;
  runScheduledFor: Date | null;
  runStatus: string | null;
  runAttempt: number | null;
  instanceId: string | null;
  /** When the event happened (database time). */
  at: Date;
  title: string;
  text: string;
  status: AlertStatus;
  /** Delivery attempts made (sent or failed). */
  attempts: number;
  lastError: string | null;
  /** A pending alert is due for (another) attempt from here. */
  nextAttemptAt: Date;
  /** The instance delivering it now, until leaseExpiresAt; null when nobody holds it. */
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  /** True once the throttle and the channel's daily cap let it through (decided once, at its first claim). */
  admitted: boolean;
  /** Alerts of this rule and job held back by the throttle before this one (carried in the message). */
  suppressedCount: number;
  createdAt: Date;
  sentAt: Date | null;
}

export type NewAlert = Pick<
  Alert,
  | 'eventKey'
  | 'event'
  | 'ruleKey'
  | 'channelId'
  | 'throttleSeconds'
  | 'jobId'
  | 'jobName'
  | 'runId'
  | 'runScheduledFor'
  | 'runStatus'
  | 'runAttempt'
  | 'instanceId'
  | 'at'
  | 'title'
  | 'text'
>;

/** How a delivery attempt ended (finishAlert). Times are the database's. */
export type AlertOutcome =
  | { status: 'sent' }
  | { status: 'suppressed'; reason: string }
  /** A failed attempt: retried at retryAt, or 'failed' for good when retryAt is null. */
  | { status: 'failed'; error: string; retryAt: Date | null };

export interface AlertListQuery {
  limit: number;
  cursor?: string;
  status?: AlertStatus;
  event?: AlertEvent;
  jobId?: string;
}

/** The throttle's answer: through (with how many were held back since the last one), or held back. */
export type ThrottleGrant = { granted: true; suppressed: number } | { granted: false };

/** A job as the alert scan sees it. */
export interface AlertingJob {
  id: string;
  name: string;
  tags: string[];
  alerts: AlertRule[];
  /** The job's pause while it is paused (an auto-pause is an alert event: by the system actor 'cronplane'), else null. */
  pause: PauseRecord | null;
}

export interface AlertStore {
  /**
   * Inserts the rows; a row whose (eventKey, channelId) exists already is skipped (whoever wrote it first, on any
   * instance). Returns how many were new.
   */
  insertAlerts(alerts: NewAlert[]): Promise<number>;
  /**
   * Takes one due alert for delivery: pending, nextAttemptAt <= now, and no live lease (never held, or its lease expired:
   * its instance died mid-delivery). It gets `owner` and a lease of leaseMs. Oldest due first; concurrent claimers never
   * get the same alert while its lease lasts. Null when none is due.
   */
  claimAlert(owner: string, leaseMs: number): Promise<Alert | null>;
  /** Records that the held alert passed throttle and cap, with its suppressedCount. False when `owner` lost the lease. */
  admitAlert(id: string, owner: string, suppressedCount: number): Promise<boolean>;
  /**
   * Ends a delivery attempt of an alert held by `owner`: sent (attempts + 1), suppressed, or failed (attempts + 1, the
   * error, pending again from retryAt, or 'failed' when retryAt is null). The lease is released. False when `owner` no
   * longer holds it (nothing written).
   */
  finishAlert(id: string, owner: string, outcome: AlertOutcome): Promise<boolean>;
  /**
   * The throttle of (ruleKey, jobKey): granted when no alert passed within the last windowSeconds, or when the alert
   * that opened the current window is `alertId` itself (a retried admission is idempotent); a grant opens a new window
   * held by alertId and returns (and resets) the count held back. A refusal counts one more held back. Atomic.
   */
  takeAlertThrottle(ruleKey: string, jobKey: string, windowSeconds: number, alertId: string): Promise<ThrottleGrant>;
  /** One from the channel's budget for the current UTC day (database time): true while fewer than `cap` were taken. */
  takeChannelDay(channelId: string, cap: number): Promise<boolean>;
  getAlert(id: string): Promise<Alert | null>;
  /** Newest first (createdAt, then id), keyset paging. */
  listAlerts(query: AlertListQuery): Promise<Page<Alert>>;

  getAlertDefaults(): Promise<AlertDefaultRule[]>;
  /** Replaces the default rules; returns them as stored. */
  setAlertDefaults(rules: AlertDefaultRule[]): Promise<AlertDefaultRule[]>;

  /** The scan's watermark: every run finished before it (minus the scan's look-back) has been turned into alerts. */
  getAlertWatermark(): Promise<Date | null>;
  /** Moves the watermark forward to `to` (never back). */
  advanceAlertWatermark(to: Date): Promise<void>;
  /**
   * Jobs the scan looks at: those with rules of their own, those with one of `tags`, or all of them when `all`.
   * Jobs with no rules and no applicable defaults are never read (nor their runs).
   */
  listAlertingJobs(filter: { tags: string[]; all: boolean }): Promise<AlertingJob[]>;
  /** Runs of these jobs with finishedAt in [from, to), oldest first, at most `limit`. */
  listFinishedRunsOf(jobIds: string[], from: Date, to: Date, limit: number): Promise<Run[]>;
  /** Runs of these jobs still running that started at or before `startedBefore`, at most `limit`. */
  listRunningRunsOf(jobIds: string[], startedBefore: Date, limit: number): Promise<Run[]>;
  /** The job's latest finished run (by scheduledFor) before `scheduledFor` with one of `statuses`, or null. */
  previousOutcome(jobId: string, scheduledFor: Date, statuses: string[]): Promise<Run | null>;
}
