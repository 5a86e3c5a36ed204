// Jobs: what they are, how they are created, patched and listed, and the store's part that keeps them.
import { BrandedError } from '../../errors';
import type { AlertRule, AutoPausePolicy, MissedPolicy, OverlapPolicy, RetryPolicy, Schedule } from '../../domain';
import type { AuditActorType } from './audit';
import type { JsonObject, Page } from './database';
import type { Run } from './runs';

export { DEFAULT_RETRY, type AutoPausePolicy, type RetryPolicy } from '../../domain';

/** Who paused a job, as the audit log records actors. */
export interface PauseActor {
  type: AuditActorType;
  id: string | null;
  name: string;
}

/** A paused job's pause: when, by whom and why (the note is optional). */
export interface PauseRecord {
  at: Date;
  by: PauseActor;
  note: string | null;
}

export interface Job {
  id: string;
  name: string;
  description: string;
  type: string;
  payload: JsonObject;
  schedule: Schedule;
  paused: boolean;
  /**
   * Set by a pause, cleared (null) by a resume. Null on an active job, and on a job paused before pause records existed
   * (their who and when are not known).
   */
  pause: PauseRecord | null;
  timeoutSeconds: number;
  overlapPolicy: OverlapPolicy;
  missedPolicy: MissedPolicy;
  tags: string[];
  retry: RetryPolicy;
  /** Most runs of this job at once across the cluster; null = no limit beyond the overlap policy. */
  concurrencyLimit: number | null;
  /** Pause the job after this many final failures in a row; null = never (see AutoPausePolicy). */
  autoPause: AutoPausePolicy | null;
  /** Alert rules: which of this job's events go to which channel (defaults apply in addition). [] = none. */
  alerts: AlertRule[];
  /** The occurrence the job waits for next; null when paused or when a one-off has run. */
  nextRunAt: Date | null;
  /** Interval schedules count from here, so occurrences never drift. */
  anchorAt: Date;
  /** Bumped by every change that affects scheduling; lets a stale dispatch see it is stale. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface JobWithLastRun extends Job {
  lastRun: Pick<Run, 'id' | 'status' | 'scheduledFor' | 'startedAt' | 'finishedAt' | 'instanceId'> | null;
}

/** retry, concurrencyLimit, pause, autoPause and alerts may be left out: DEFAULT_RETRY, null, null, null and []. */
export type NewJob = Omit<
  Job,
  'id' | 'createdAt' | 'updatedAt' | 'version' | 'retry' | 'concurrencyLimit' | 'pause' | 'autoPause' | 'alerts'
> &
  Partial<Pick<Job, 'retry' | 'concurrencyLimit' | 'pause' | 'autoPause' | 'alerts'>>;
export type JobPatch = Partial<Omit<Job, 'id' | 'createdAt' | 'updatedAt' | 'version'>>;

export interface JobListQuery {
  limit: number;
  cursor?: string;
  /** Case-insensitive substring of the name. */
  search?: string;
  tag?: string;
}

/** What recordOutcome answers: the job's count of final failures in a row, and its auto-pause policy. */
export interface OutcomeCount {
  consecutiveFailures: number;
  autoPause: AutoPausePolicy | null;
}

/** Thrown by createJob/updateJob when another job has the name. */
export class NameTakenError extends BrandedError {
  static readonly brand: string = 'NameTakenError';

  constructor(readonly jobName: string) {
    super(`a job named "${jobName}" already exists`);
  }
}

/** Jobs and their schedule pointers. */
export interface JobStore {
  createJob(job: NewJob): Promise<Job>;
  getJob(id: string): Promise<Job | null>;
  listJobs(query: JobListQuery): Promise<Page<JobWithLastRun>>;
  /** Ids and names of the first `limit` jobs in listJobs' order (code point, then id), without their runs: pickers. */
  listJobNames(limit: number): Promise<Array<{ id: string; name: string }>>;
  /** Distinct tags over all jobs, in code point order, at most `limit`: the jobs list's tag filter. */
  listTags(limit: number): Promise<string[]>;
  /**
   * Applies the patch and bumps version; null when the job does not exist. A pause (paused: true) also closes the job's
   * claimed runs (not started yet) as 'skipped', so none of them starts once it has returned.
   */
  updateJob(id: string, patch: JobPatch): Promise<Job | null>;
  /** Deletes the job; its claimed runs are closed as 'skipped' first, as for a pause. Runs stay (history). */
  deleteJob(id: string): Promise<boolean>;
  /**
   * Compare-and-set of the schedule pointer: sets nextRunAt only while the job is still at
   * `expected.version` with nextRunAt === `expected.nextRunAt`. Does not bump version. True when it moved.
   */
  advanceJob(id: string, expected: { version: number; nextRunAt: Date }, nextRunAt: Date | null): Promise<boolean>;
  /** Active (not paused) jobs whose nextRunAt is before `before`: the scheduler's safety net. */
  listDueJobs(before: Date, limit: number): Promise<Job[]>;
  /**
   * Counts an occurrence's final outcome towards auto-pause, atomically: 'failure' adds one to the job's count of final
   * failures in a row, 'success' sets it to 0. Only while the job is active and has an auto-pause policy (an outcome
   * that ends while it is paused or without a policy counts for nothing). The count a job starts with, after an
   * auto-pause and after any edit of its policy (updateJob with autoPause) is 0. Null when the job does not exist, is
   * paused or has no policy. Called once per occurrence, by the instance whose guarded final write of the run succeeded.
   */
  recordOutcome(jobId: string, outcome: 'failure' | 'success'): Promise<OutcomeCount | null>;
  /**
   * The auto-pause, a compare-and-set: only while the job is active, has an auto-pause policy and its count has reached
   * policy.afterFailures, it is paused with `pause` (nextRunAt null, version bumped, the count back to 0) and its claimed
   * runs are closed as a pause closes them. Exactly one of several concurrent callers gets the job; the others (and any
   * call when the condition does not hold) get null and nothing is written.
   */
  autoPauseJob(id: string, pause: PauseRecord): Promise<Job | null>;
}
