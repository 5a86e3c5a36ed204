/**
 * What happens when an occurrence falls due while the job's previous run still goes on: `skip` it, `allow` both,
 * `queue-one` (it waits, at most one waiting), or `replace` (it cancels the previous run(s), recorded 'cancelled' by
 * the system, and starts once they have stopped: Kubernetes' Replace, Temporal's CancelOther).
 */
export const OVERLAP_POLICIES = ['skip', 'allow', 'queue-one', 'replace'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** What happens to the occurrences that fell due while no instance was running. */
export const MISSED_POLICIES = ['run-once', 'skip', 'run-all'] as const;
export type MissedPolicy = (typeof MISSED_POLICIES)[number];

/** How a failed run is retried: attempt n+1 starts min(backoffSeconds * 2^(n-1), maxBackoffSeconds) after attempt n failed. */
export interface RetryPolicy {
  /** 1 = no retry; at most 10. */
  maxAttempts: number;
  /** Base of the exponential backoff, >= 1. */
  backoffSeconds: number;
  /** Cap of the backoff. */
  maxBackoffSeconds: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 1, backoffSeconds: 10, maxBackoffSeconds: 600 };

/**
 * Auto-pause (Temporal's pause-on-failure): the job is paused once `afterFailures` occurrences in a row have ended in a
 * final failure (failed or timed-out after their last retry). A success resets the count; skipped, missed, abandoned
 * and unknown outcomes neither count nor reset it. Null on a job = never paused by the app.
 */
export interface AutoPausePolicy {
  /** 1-100. */
  afterFailures: number;
}

export const AUTO_PAUSE_MAX_FAILURES = 100;

/** Who an auto-pause is recorded as (the job's pause.by and the audit entry's actor): the app itself. */
export const AUTO_PAUSE_ACTOR = { type: 'system', id: null, name: 'cronplane' } as const;

/** The pause note of an auto-pause. */
export function autoPauseNote(afterFailures: number): string {
  return `paused after ${afterFailures} consecutive failures`;
}
