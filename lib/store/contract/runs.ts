// Runs: the record of each occurrence (status, trigger, attempts), how it is written, retried, listed and counted.
import type { RunStatus, RunTrigger } from '../../domain';
import type { AuditActorType } from './audit';
import type { Page } from './database';

export { RUN_STATUSES, type RunStatus, type RunTrigger } from '../../domain';

export interface Run {
  id: string;
  jobId: string;
  jobName: string;
  /** The occurrence: when it was due. Unique per job. */
  scheduledFor: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  status: RunStatus;
  trigger: RunTrigger;
  instanceId: string | null;
  attempt: number;
  error: string | null;
  output: string | null;
  /** Until when the instance holding the run (claimed or running) keeps it; renewed with its heartbeat. */
  leaseExpiresAt: Date | null;
  /**
   * Set on a record that stands for a range of occurrences (one 'missed' record for everything that fell due while no
   * instance was running): every occurrence from scheduledFor through rangeEnd (inclusive) is covered by this record.
   */
  rangeEnd: Date | null;
  /** How many occurrences the range holds (scheduledFor included); null when there were too many to count. */
  rangeCount: number | null;
  /**
   * Set once a cancel was requested (Store.cancelRun): who asked, when and why. A run with `cancel` and status
   * 'running' is being stopped (its owner aborts the handler and records 'cancelled'); a 'cancelled' run shows it.
   */
  cancel: RunCancel | null;
}

/** Who asked for a cancel: a person (user or API token, as the audit log records actors) or the system ('replace'). */
export interface RunCancelActor {
  type: AuditActorType;
  id: string | null;
  name: string;
}

/** A cancel request: when (database time), by whom, and why (optional, one line). */
export interface RunCancel {
  at: Date;
  by: RunCancelActor;
  reason: string | null;
}

/**
 * What cancelRun did. 'cancelled': the run was claimed or retrying and is now closed 'cancelled' (it never starts, or
 * gets no further attempt). 'requested': the run is running; the request is recorded (the first one is kept) and its
 * owner aborts the handler and records 'cancelled'. 'final': it had ended already (nothing written). 'missing': no such run.
 */
export type CancelResult = { outcome: 'cancelled' | 'requested' | 'final'; run: Run } | { outcome: 'missing' };

/** Stops a watch started by watchCancelRequests. */
export type StopWatching = () => Promise<void>;

/** An earlier attempt of a run: kept when the run was taken over (its instance stopped renewing the lease) or retried. */
export interface RunAttempt {
  attempt: number;
  instanceId: string | null;
  startedAt: Date | null;
  /** When it was given up (the takeover). */
  finishedAt: Date;
  /** 'unknown' for a taken-over attempt that had started ('abandoned' when it had not); 'failed' or 'timed-out' for a retried one. */
  status: RunStatus;
  error: string | null;
  output: string | null;
}

/** What retryRun writes: how the attempt ended (kept in the history), and what the waiting run shows. */
export interface RunRetry {
  /** 'failed' or 'timed-out'. */
  status: RunStatus;
  /** End of the attempt (database time). */
  finishedAt: Date;
  error: string | null;
  output: string | null;
  /** The waiting run's error text: what failed and when the next attempt is due. */
  waiting: string;
}

/** What claimRetry writes: the instance that runs the next attempt. */
export interface RunClaim {
  instanceId: string;
  at: Date;
  leaseExpiresAt: Date;
}

/** Guard for updateRun: the write applies only while the run is still running as this attempt of this instance. */
export interface RunOwner {
  attempt: number;
  instanceId: string | null;
}

/** rangeEnd and rangeCount may be left out: null. */
export type NewRun = Omit<Run, 'id' | 'rangeEnd' | 'rangeCount' | 'cancel'> & Partial<Pick<Run, 'rangeEnd' | 'rangeCount'>>;
export type RunPatch = Partial<
  Pick<Run, 'startedAt' | 'finishedAt' | 'status' | 'instanceId' | 'attempt' | 'error' | 'output' | 'leaseExpiresAt'>
>;

export interface RunListQuery {
  limit: number;
  cursor?: string;
  jobId?: string;
  status?: RunStatus;
  instanceId?: string;
  /** scheduledFor >= from */
  from?: Date;
  /** scheduledFor < to */
  to?: Date;
  /**
   * Case-insensitive literal substring of the job name. Matches every run of a job whose current name, or a name
   * one of its runs was recorded under, contains it: runs of deleted jobs match on their kept jobName, and a
   * renamed job's older runs stay with it.
   */
  jobSearch?: string;
}

export interface RunStatsQuery {
  /** scheduledFor >= from; buckets are aligned to `from`. */
  from: Date;
  /** scheduledFor < to */
  to: Date;
  bucketSeconds: number;
  jobId?: string;
}

export interface RunStatsBucket {
  /** from + k * bucketSeconds: runs with bucketStart <= scheduledFor < bucketStart + bucketSeconds. */
  bucketStart: Date;
  /** Runs per status; statuses without runs are absent. */
  counts: Partial<Record<RunStatus, number>>;
  /**
   * Percentiles (linear interpolation, as PostgreSQL's percentile_cont) of finishedAt - startedAt over the
   * bucket's runs that have both; null when none has.
   */
  durationP50Ms: number | null;
  durationP95Ms: number | null;
}

export interface InstanceRunCount {
  instanceId: string;
  count: number;
}

/** Run records: written, finished, retried, read, listed, counted and pruned. */
export interface RunStore {
  /** Inserts a run; null when the (jobId, scheduledFor) occurrence already has one. */
  insertRun(run: NewRun): Promise<Run | null>;
  /**
   * Null when the run does not exist. With `owner`: applies only while the run is running as owner.attempt on
   * owner.instanceId (else null, nothing written), so an instance that lost its run to a takeover cannot overwrite it.
   */
  updateRun(id: string, patch: RunPatch, owner?: RunOwner): Promise<Run | null>;
  /**
   * Ends the current attempt for a retry, atomically and only while the run is running as `owner` (else null, nothing
   * written): the attempt goes to the history with `ended`'s status/error/output, and the run becomes 'retrying' as
   * attempt + 1 (no instance, start or lease; error = ended.waiting, output cleared).
   */
  retryRun(id: string, owner: RunOwner, ended: RunRetry): Promise<Run | null>;
  /**
   * Starts a waiting retry: only while the run is 'retrying' as `attempt` (else null), it becomes running on
   * claim.instanceId since claim.at with the lease. Exactly one of several claimers wins.
   */
  claimRetry(id: string, attempt: number, claim: RunClaim): Promise<Run | null>;
  /** The run's earlier attempts (taken over or retried), oldest first; [] when it has none or does not exist. */
  listRunAttempts(runId: string): Promise<RunAttempt[]>;
  getRun(id: string): Promise<Run | null>;
  getRunByOccurrence(jobId: string, scheduledFor: Date): Promise<Run | null>;
  listRuns(query: RunListQuery): Promise<Page<Run>>;

  /** Runs per bucket of scheduledFor in [from, to), ascending; only buckets that have runs. */
  runStats(query: RunStatsQuery): Promise<RunStatsBucket[]>;
  /** Runs started at or after `since`, per instance (runs without an instance are left out); most runs first, then id. */
  countRunsByInstance(since: Date): Promise<InstanceRunCount[]>;
  /** The job's runs with status running whose lease expires after `now` (a run without a lease does not count). */
  countActiveRuns(jobId: string, now: Date): Promise<number>;
  /**
   * Cancels a run: a compare-and-set on its status (see CancelResult), so a run finishing at the same moment ends in
   * exactly one final status. 'cancelled' writes status 'cancelled', finishedAt = request.at, no lease, and the error
   * `message`; 'requested' writes only the cancel. Every request for a running run also reaches the instances watching
   * (watchCancelRequests); lease renewals report it too (renewLeases' cancelRequested).
   */
  cancelRun(id: string, request: RunCancel, message: string): Promise<CancelResult>;
  /**
   * Calls `onRequest(runId)` soon after a cancel is requested for a running run, on any instance: PostgreSQL
   * LISTEN/NOTIFY on a connection of its own (reconnected after a database restart), MongoDB a change stream on the
   * runs (re-opened after an error; a server without change streams delivers nothing here and the lease renewal alone
   * carries the request). Best effort: a missed notification is caught by the next lease renewal.
   */
  watchCancelRequests(onRequest: (runId: string) => void): Promise<StopWatching>;
  /** Deletes up to `limit` finished (not claimed, running or waiting to retry) runs with scheduledFor < olderThan, oldest first; returns how many. */
  pruneRuns(olderThan: Date, limit: number): Promise<number>;
}
