// Sign-in budgets per key (the service keys them by client address): how many sign-in attempts may start within a
// window. An attempt is taken from the budget atomically, in the database, before its password is checked, so
// concurrent attempts on any number of instances never get past the limit together.

/** The answer to a take. Times are the database's. */
export type LoginAttemptGrant =
  | {
      granted: true;
      /** Attempts counted in the current window, this one included. */
      attempts: number;
      /** Identifies the window (returnLoginAttempt). */
      windowStart: Date;
      windowEnds: Date;
    }
  | {
      granted: false;
      /** When the window ends: the next attempt is possible then. */
      retryAt: Date;
      /** retryAt minus the database's clock at the refusal, in ms (> 0). */
      retryAfterMs: number;
    };

export interface LoginAttemptStore {
  /**
   * Takes one attempt from `key`'s budget in one atomic write: granted while fewer than `limit.max` (>= 1) attempts were
   * taken in the current window, refused (nothing changes) otherwise. A window starts at the first take after the
   * previous one ended (or the first take ever) and lasts `limit.windowMs`. Concurrent callers, on any number of clients,
   * get exactly as many grants as the budget has left, also when the key is new.
   */
  takeLoginAttempt(key: string, limit: { max: number; windowMs: number }): Promise<LoginAttemptGrant>;
  /**
   * Gives back one attempt taken in the window that started at `windowStart` (the attempt turned out to be a successful
   * sign-in). False, changing nothing, when that window is over or has no attempt left to give back.
   */
  returnLoginAttempt(key: string, windowStart: Date): Promise<boolean>;
  /** Deletes the budgets whose window ended before the cut-off; returns how many. */
  pruneLoginAttempts(endedBefore: Date): Promise<number>;
}
