/** A run's status. See each entry. */
export const RUN_STATUSES = [
  /**
   * An occurrence an instance claimed (in the same write that moved the job's pointer past it) and will start at its due
   * time. Not started: nothing ran yet. A claim whose lease runs out (its instance died, froze or stopped) is taken over.
   */
  'claimed',
  'running',
  'succeeded',
  'failed',
  'timed-out',
  'skipped',
  'missed',
  /** Given up without starting the handler (e.g. a run whose job was deleted before it could be taken over). */
  'abandoned',
  /**
   * The handler started but its instance stopped before it reported an outcome (killed, frozen past its lease, cut off
   * from the database, or shut down past its grace period): it may or may not have done its work. For an attempt in
   * the history this means it was taken over; as a run's status, that no further attempt was made.
   */
  'unknown',
  /** A failed (or timed-out) attempt whose job allows another: waits for its backoff (error says when). Not final. */
  'retrying',
  /**
   * Stopped on request (an operator's cancel, or the `replace` overlap policy): a claimed or retrying run is closed at
   * once and never starts; a running one's handler is aborted on the instance that runs it, which then records this.
   * The run's `cancel` says who asked, when and why. Final.
   */
  'cancelled',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Why a run exists: its schedule, an operator's "run now", or a catch-up (started late: after downtime, or a takeover). */
export type RunTrigger = 'schedule' | 'manual' | 'catch-up';

/** The statuses a run can be cancelled in: not started yet, waiting for a retry, or running. */
export const CANCELLABLE_RUN_STATUSES = ['claimed', 'running', 'retrying'] as const satisfies readonly RunStatus[];
