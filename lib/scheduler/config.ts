import 'server-only';

/** Name of the one Agenda definition; every Agenda job ("ticket") carries one occurrence of one of our jobs. */
export const TICKET_NAME = 'cronplane:occurrence';

/** An integer setting from the environment within [min, max], or `fallback` when unset; out of range or not an integer throws. */
export function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

export interface SchedulerConfig {
  /** Agenda's poll interval in ms; LISTEN/NOTIFY makes new tickets prompt, polling is the safety net. A number: Agenda mis-parses strings. */
  processEveryMs: number;
  /**
   * Agenda's lock lifetime for a ticket: how long a ticket locked by an instance that died or froze before firing it
   * stays out of the others' reach. A fired ticket is deleted as soon as its occurrence is claimed (the run record is
   * the claim from then on), so this bounds only the short wait between locking and firing. Default: the lease.
   */
  lockLifetimeMs: number;
  /**
   * A claimed or running run's lease in the runs table, renewed with every heartbeat. When it expires the run is
   * taken over by another instance: this is the bound on how long a dead, frozen or cut-off instance holds work.
   * The holder stops its own handlers when no renewal was confirmed for 2/3 of it (fencing). At least 3 heartbeats.
   */
  leaseMs: number;
  /**
   * Ticket handlers one instance runs at once. A prefetched occurrence holds its slot from the claim until its run
   * ends (the lead included), so at R occurrences/s one instance needs about R x (lead + run time) slots.
   */
  concurrency: number;
  /**
   * Tickets one instance may hold locked, running or waiting: keeps one instance from pre-locking all the due work, so
   * it spreads across instances. Agenda locks tickets only when it polls (those due within the next poll period, up to
   * this limit), so the limit also caps what one instance takes per poll: at 10, three instances saturated below 100
   * occurrences/s (bench/results). Twice the concurrency let one instance of three take 70 % of the work at 200/s.
   */
  lockLimit: number;
  /**
   * A scheduled occurrence's ticket fires this long before the occurrence is due: the instance claims it (the
   * compare-and-set on the job row) and writes the next ticket during the lead, then starts the run at the due time
   * on the database clock. Without it the claim's round trips and Agenda's lock scan were all dispatch lag.
   */
  prefetchMs: number;
  /** How often each instance writes its heartbeat, measures the database clock and renews the leases it holds. */
  heartbeatMs: number;
  /** How often the safety net (overdue jobs, expired leases) runs. */
  sweepEveryMs: number;
  /**
   * An occurrence still unclaimed this long after it was due gets a rescue ticket from the safety net: its ticket was
   * lost (a crash between the claim and the next ticket's save) or is locked by an instance that died or froze.
   */
  rescueAfterMs: number;
  /** An occurrence later than this is "missed" (missedPolicy applies); also the safety net's tolerance. */
  missedGraceMs: number;
  /** How long a stopping instance lets running handlers finish (SHUTDOWN_GRACE_SECONDS). */
  shutdownGraceMs: number;
  /** Bounded run output, in characters (head and tail are each half of it). */
  outputLimitChars: number;
  /**
   * How often a running attempt's new log lines are written as one chunk of live output (lib/scheduler/output.ts);
   * the run's live output is kept within outputLimitChars too.
   */
  liveOutputFlushMs: number;
  /** missedPolicy 'run-all': at most this many missed occurrences are replayed; older ones are recorded as one 'missed' run. */
  runAllLimit: number;
  /** A run whose instance died is taken over (attempt + 1) up to this many attempts in all; then it ends with outcome unknown. */
  maxTakeoverAttempts: number;
}

export function loadSchedulerConfig(): SchedulerConfig {
  const leaseMs = envInt('SCHEDULER_LEASE_MS', 6_000, 1_000, 3_600_000);
  const heartbeatMs = envInt('SCHEDULER_HEARTBEAT_MS', Math.min(1_000, Math.floor(leaseMs / 3)), 100, 300_000);
  if (heartbeatMs * 3 > leaseMs) {
    throw new Error(
      `SCHEDULER_HEARTBEAT_MS (${heartbeatMs}) must be at most a third of SCHEDULER_LEASE_MS (${leaseMs}): leases are renewed by heartbeats`,
    );
  }
  const concurrency = envInt('SCHEDULER_CONCURRENCY', 100, 1, 1_000);
  return {
    processEveryMs: envInt('SCHEDULER_PROCESS_EVERY_MS', 250, 50, 60_000),
    lockLifetimeMs: envInt('SCHEDULER_LOCK_LIFETIME_MS', Math.max(2_000, leaseMs), 2_000, 3_600_000),
    leaseMs,
    concurrency,
    lockLimit: envInt('SCHEDULER_LOCK_LIMIT', concurrency, 1, 2_000),
    prefetchMs: envInt('SCHEDULER_PREFETCH_MS', 150, 0, 5_000),
    heartbeatMs,
    sweepEveryMs: envInt('SCHEDULER_SWEEP_MS', 1_000, 100, 300_000),
    rescueAfterMs: envInt('SCHEDULER_RESCUE_AFTER_MS', 2_000, 100, 3_600_000),
    missedGraceMs: envInt('SCHEDULER_MISSED_GRACE_MS', 5_000, 100, 3_600_000),
    shutdownGraceMs: envInt('SHUTDOWN_GRACE_SECONDS', 20, 0, 3_600) * 1000,
    outputLimitChars: 16_384,
    liveOutputFlushMs: envInt('SCHEDULER_LIVE_OUTPUT_FLUSH_MS', 500, 50, 60_000),
    runAllLimit: envInt('SCHEDULER_RUN_ALL_LIMIT', 100, 1, 10_000),
    maxTakeoverAttempts: envInt('SCHEDULER_MAX_TAKEOVER_ATTEMPTS', 3, 1, 20),
  };
}
