import type { AgendaBackend } from 'agenda';
import type { Schedule } from '../validation/schedule';
import type { MissedPolicy, OverlapPolicy } from '../validation/job';

export type StoreKind = 'postgres' | 'mongodb';

export type JsonObject = Record<string, unknown>;

export const RUN_STATUSES = [
  'running',
  'succeeded',
  'failed',
  'timed-out',
  'skipped',
  'missed',
  'abandoned',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Why a run exists: its schedule, an operator's "run now", or a catch-up after every instance was down. */
export type RunTrigger = 'schedule' | 'manual' | 'catch-up';

export interface Job {
  id: string;
  name: string;
  description: string;
  type: string;
  payload: JsonObject;
  schedule: Schedule;
  paused: boolean;
  timeoutSeconds: number;
  overlapPolicy: OverlapPolicy;
  missedPolicy: MissedPolicy;
  tags: string[];
  /** The occurrence the job waits for next; null when paused or when a one-off has run. */
  nextRunAt: Date | null;
  /** Interval schedules count from here, so occurrences never drift. */
  anchorAt: Date;
  /** Bumped by every change that affects scheduling; lets a stale dispatch see it is stale. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

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
  /** Until when the running instance holds the run; renewed while the handler runs. */
  leaseExpiresAt: Date | null;
}

export interface JobWithLastRun extends Job {
  lastRun: Pick<Run, 'id' | 'status' | 'scheduledFor' | 'startedAt' | 'finishedAt' | 'instanceId'> | null;
}

export interface Instance {
  id: string;
  host: string;
  pid: number;
  version: string;
  startedAt: Date;
  lastSeenAt: Date;
  /** Local clock minus database clock, in ms, measured at the last heartbeat. */
  clockSkewMs: number;
  stoppedAt: Date | null;
}

export type NewJob = Omit<Job, 'id' | 'createdAt' | 'updatedAt' | 'version'>;
export type JobPatch = Partial<Omit<Job, 'id' | 'createdAt' | 'updatedAt' | 'version'>>;

export type NewRun = Omit<Run, 'id'>;
export type RunPatch = Partial<Pick<Run, 'startedAt' | 'finishedAt' | 'status' | 'instanceId' | 'attempt' | 'error' | 'output' | 'leaseExpiresAt'>>;

export interface Page<T> {
  items: T[];
  /** Opaque; pass back as `cursor` for the next page. Null on the last page. */
  nextCursor: string | null;
}

export interface JobListQuery {
  limit: number;
  cursor?: string;
  /** Case-insensitive substring of the name. */
  search?: string;
  tag?: string;
}

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
}

const NAME_TAKEN: unique symbol = Symbol.for('cronplane.NameTakenError');

/** Thrown by createJob/updateJob when another job has the name. */
export class NameTakenError extends Error {
  // Recognised by a brand, not class identity: the store may come from another bundle's copy of this
  // module (see AppError in lib/errors.ts).
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [NAME_TAKEN]?: unknown })[NAME_TAKEN] === true;
  }

  readonly [NAME_TAKEN] = true;

  constructor(readonly jobName: string) {
    super(`a job named "${jobName}" already exists`);
    this.name = 'NameTakenError';
  }
}

/**
 * Everything the app keeps in its database, apart from Agenda's own collection/table.
 * Implemented by lib/store/postgres and lib/store/mongo; tests/store/conformance.ts holds both to the same behaviour.
 * Ordering contracts: jobs list by name ascending (then id); runs list newest first by scheduledFor, then id.
 */
export interface Store {
  readonly kind: StoreKind;
  /** Human-readable, no secrets: e.g. "postgres (embedded cluster in .data/pg)". */
  readonly description: string;

  /**
   * A new Agenda backend on the same database (Agenda keeps its own table/collection there). The store
   * picks the backend type, so the scheduler never looks at DATABASE_URL itself.
   */
  createAgendaBackend(): AgendaBackend;

  /** Brings the schema/indexes up to date; safe when several processes call it at once. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** The database server's clock. */
  now(): Promise<Date>;
  /** Cheap round trip, for health checks. Throws when the database is unreachable. */
  ping(): Promise<void>;

  createJob(job: NewJob): Promise<Job>;
  getJob(id: string): Promise<Job | null>;
  listJobs(query: JobListQuery): Promise<Page<JobWithLastRun>>;
  /** Applies the patch and bumps version; null when the job does not exist. */
  updateJob(id: string, patch: JobPatch): Promise<Job | null>;
  deleteJob(id: string): Promise<boolean>;
  /**
   * Compare-and-set of the schedule pointer: sets nextRunAt only while the job is still at
   * `expected.version` with nextRunAt === `expected.nextRunAt`. Does not bump version. True when it moved.
   */
  advanceJob(id: string, expected: { version: number; nextRunAt: Date }, nextRunAt: Date | null): Promise<boolean>;
  /** Active (not paused) jobs whose nextRunAt is before `before`: the scheduler's safety net. */
  listDueJobs(before: Date, limit: number): Promise<Job[]>;

  /** Inserts a run; null when the (jobId, scheduledFor) occurrence already has one. */
  insertRun(run: NewRun): Promise<Run | null>;
  updateRun(id: string, patch: RunPatch): Promise<Run | null>;
  getRun(id: string): Promise<Run | null>;
  getRunByOccurrence(jobId: string, scheduledFor: Date): Promise<Run | null>;
  listRuns(query: RunListQuery): Promise<Page<Run>>;
  /** Runs with status running whose lease expired before `before`. */
  listExpiredRuns(before: Date, limit: number): Promise<Run[]>;

  upsertInstance(instance: Instance): Promise<void>;
  listInstances(): Promise<Instance[]>;
}
