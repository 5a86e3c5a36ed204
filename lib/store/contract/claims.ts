// Claims and leases: how an instance claims a due occurrence, starts it, keeps it (lease renewals), gives it back, and
// how another instance takes it over when the lease runs out (issue #10's claim protocol).
import type { NewRun, Run, RunTrigger } from './runs';

/** What takeOverRun writes: the new owner of the run, and why the previous attempt ended. */
export interface RunTakeover {
  instanceId: string;
  /** Start of the new attempt, and finishedAt of the abandoned one (database time). */
  at: Date;
  leaseExpiresAt: Date;
  /** Recorded on the abandoned attempt. */
  error: string;
}

/**
 * One instance's claim of a job's due occurrence: in one step (atomically on PostgreSQL), the occurrence's records are
 * written and the job's pointer moves from `expected.nextRunAt` to `nextRunAt`. runs[0] is the occurrence itself
 * (scheduledFor = expected.nextRunAt): 'claimed' to be started by its instance, or a final 'missed' record; a second
 * record may stand for the range of occurrences the missed policy folded.
 */
export interface OccurrenceClaim {
  jobId: string;
  expected: { version: number; nextRunAt: Date };
  nextRunAt: Date | null;
  runs: NewRun[];
  /**
   * The Agenda ticket (its id) that fired this claim. Where the store can (PostgreSQL), it deletes it in the claim's
   * own statement, whatever the outcome, and says so (ticketDeleted): the run record, or nothing, takes over from it,
   * and the scheduler saves the separate delete (one round trip per occurrence, measured in the 1000/s benchmark).
   */
  ticketId?: string;
}

/**
 * 'claimed': the records were written and the pointer moved (run = runs[0] as written). 'stale': the job is not at
 * `expected` (another instance claimed it, or an edit, pause or delete came first): nothing written. 'taken': the job is
 * at `expected` but the occurrence already has a record (a claimer died between its two writes, MongoDB only): the
 * pointer did not move; nothing written.
 */
export type ClaimResult = ({ outcome: 'claimed'; run: Run } | { outcome: 'stale' } | { outcome: 'taken' }) & {
  /** Set when the store deleted claim.ticketId (see OccurrenceClaim.ticketId). */
  ticketDeleted?: true;
};

/** What startRun writes: the start of a claimed run on its instance. */
export interface RunStart {
  /**
   * Start time (the instance's estimate of the database clock); PostgreSQL records the database's own time of the write
   * instead, so starts on different instances sort as they happened. With `queued` the run starts waiting for its
   * predecessor, startedAt stays null.
   */
  at: Date;
  queued: boolean;
  leaseExpiresAt: Date;
  /** Replaces the claim's trigger (a claim started late becomes a catch-up). */
  trigger: RunTrigger;
}

/**
 * 'started': the run is running on the instance. 'waiting': not yet: an earlier occurrence of the job is still claimed
 * (occurrences start in order), or (PostgreSQL, judged on the database clock) it is not due yet. 'lost': the claim is no
 * longer this instance's (taken over, closed by a pause or delete, or gone).
 */
export type StartResult = { outcome: 'started'; run: Run } | { outcome: 'waiting'; reason: 'earlier' | 'early' } | { outcome: 'lost' };

/** A run an instance holds (claimed or running) as one attempt: what lease renewals and releases are guarded by. */
export interface HeldRun {
  id: string;
  attempt: number;
}

/** What renewLeases renewed, and which of those are to be cancelled. */
export interface LeaseRenewal {
  renewed: string[];
  cancelRequested: string[];
}

/** Who holds which occurrence: claims, starts, leases, releases and takeovers. */
export interface ClaimStore {
  /**
   * Claims a due occurrence (see OccurrenceClaim and ClaimResult): of all instances holding a ticket for it, exactly one
   * gets 'claimed'. PostgreSQL: one statement (the job row locked, the records inserted, the pointer moved only if the
   * occurrence's record was inserted). MongoDB: the records first (the unique key decides), then the pointer's
   * compare-and-set; if that fails because of an edit, pause or delete, the records are removed again. A claimer that
   * dies between the two leaves the occurrence recorded and the pointer behind ('taken' for everyone after it): the
   * scheduler moves the pointer on as the records say.
   */
  claimOccurrence(claim: OccurrenceClaim): Promise<ClaimResult>;
  /**
   * Starts a claimed run: only while it is 'claimed' by `instanceId` and no earlier occurrence of the job is still
   * claimed; PostgreSQL also refuses before scheduledFor on its own clock. See StartResult.
   */
  startRun(run: Pick<Run, 'id' | 'jobId' | 'scheduledFor'>, instanceId: string, start: RunStart): Promise<StartResult>;
  /**
   * Takes over a claimed run whose lease expired before `expected.leaseExpiredBefore` (its instance died, froze or gave
   * it back): only while it is still claimed by `expected.instanceId`; it becomes claimed by `claim.instanceId` with the
   * new lease. Null (nothing written) otherwise. Exactly one of several takers wins.
   */
  takeOverClaim(
    id: string,
    expected: { instanceId: string | null; leaseExpiredBefore: Date },
    claim: { instanceId: string; leaseExpiresAt: Date },
  ): Promise<Run | null>;
  /**
   * Renews the leases of the runs `instanceId` holds (claimed, or running as the given attempt) to `leaseExpiresAt`;
   * returns the ids it renewed (a run left out is no longer the instance's) and, of those, the ones whose cancel was
   * requested (Store.cancelRun): the fallback that carries a cancel to its owner within a heartbeat.
   */
  renewLeases(instanceId: string, runs: HeldRun[], leaseExpiresAt: Date): Promise<LeaseRenewal>;
  /**
   * Gives runs up for others to take over at once (a stopping instance): their lease is set to `expiredAt`, and `note`
   * (when given) becomes their error, so a takeover can say why. Only runs still held by `instanceId` as the given
   * attempt; returns how many.
   */
  releaseRuns(instanceId: string, runs: HeldRun[], expiredAt: Date, note?: string): Promise<number>;
  /**
   * True when some instance was up at `at`: it had been heartbeating without a gap since before `at` (aliveSince) and
   * was seen at or after `at`, and had not stopped before it. The missed policy applies only when none was.
   */
  anyInstanceAliveAt(at: Date): Promise<boolean>;
  /**
   * Takes over a run whose instance stopped renewing its lease, atomically: only while it is still running as
   * `expected.attempt` with a lease that expired before `expected.leaseExpiredBefore`. The current attempt goes to the
   * run's attempt history as 'unknown' ('abandoned' if it had not started: a queued run) (finishedAt = takeover.at,
   * error = takeover.error, its output kept); the run becomes attempt + 1, running on takeover.instanceId since
   * takeover.at (a queued run keeps startedAt null: it still waits for its turn), with the new lease, error and output
   * cleared. Null (nothing written) when the run finished, was renewed, another instance took it over first, or its
   * cancel was requested (no further attempt of such a run starts: the caller closes it 'cancelled').
   */
  takeOverRun(id: string, expected: { attempt: number; leaseExpiredBefore: Date }, takeover: RunTakeover): Promise<Run | null>;
  /** Runs held by an instance (status claimed or running) whose lease expired before `before`, oldest lease first. */
  listExpiredRuns(before: Date, limit: number): Promise<Run[]>;
}
