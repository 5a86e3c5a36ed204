/** What happens when an occurrence falls due while the job's previous run still goes on. */
export const OVERLAP_POLICIES = ['skip', 'allow', 'queue-one'] as const;
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
