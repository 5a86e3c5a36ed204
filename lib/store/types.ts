import type { AgendaBackend } from 'agenda';
import type { Schedule } from '../validation/schedule';
import type { MissedPolicy, OverlapPolicy } from '../validation/job';

export type StoreKind = 'postgres' | 'mongodb';

export type JsonObject = Record<string, unknown>;

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
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Why a run exists: its schedule, an operator's "run now", or a catch-up after every instance was down. */
export type RunTrigger = 'schedule' | 'manual' | 'catch-up';

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
  retry: RetryPolicy;
  /** Most runs of this job at once across the cluster; null = no limit beyond the overlap policy. */
  concurrencyLimit: number | null;
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
  /** Until when the instance holding the run (claimed or running) keeps it; renewed with its heartbeat. */
  leaseExpiresAt: Date | null;
  /**
   * Set on a record that stands for a range of occurrences (one 'missed' record for everything that fell due while no
   * instance was running): every occurrence from scheduledFor through rangeEnd (inclusive) is covered by this record.
   */
  rangeEnd: Date | null;
  /** How many occurrences the range holds (scheduledFor included); null when there were too many to count. */
  rangeCount: number | null;
}

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

/** What takeOverRun writes: the new owner of the run, and why the previous attempt ended. */
export interface RunTakeover {
  instanceId: string;
  /** Start of the new attempt, and finishedAt of the abandoned one (database time). */
  at: Date;
  leaseExpiresAt: Date;
  /** Recorded on the abandoned attempt. */
  error: string;
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
  /**
   * Start of the instance's current unbroken run of heartbeats (no gap longer than its lease). With lastSeenAt it says
   * when the instance was up: a frozen or cut-off instance starts a new run of heartbeats when it comes back.
   */
  aliveSince: Date;
}

/** retry and concurrencyLimit may be left out: DEFAULT_RETRY and null. */
export type NewJob = Omit<Job, 'id' | 'createdAt' | 'updatedAt' | 'version' | 'retry' | 'concurrencyLimit'> &
  Partial<Pick<Job, 'retry' | 'concurrencyLimit'>>;
export type JobPatch = Partial<Omit<Job, 'id' | 'createdAt' | 'updatedAt' | 'version'>>;

/** rangeEnd and rangeCount may be left out: null. */
export type NewRun = Omit<Run, 'id' | 'rangeEnd' | 'rangeCount'> & Partial<Pick<Run, 'rangeEnd' | 'rangeCount'>>;

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
}

/**
 * 'claimed': the records were written and the pointer moved (run = runs[0] as written). 'stale': the job is not at
 * `expected` (another instance claimed it, or an edit, pause or delete came first): nothing written. 'taken': the job is
 * at `expected` but the occurrence already has a record (a claimer died between its two writes, MongoDB only): the
 * pointer did not move; nothing written.
 */
export type ClaimResult = { outcome: 'claimed'; run: Run } | { outcome: 'stale' } | { outcome: 'taken' };

/** What startRun writes: the start of a claimed run on its instance. */
export interface RunStart {
  /** Start time (database clock); with `queued` the run starts waiting for its predecessor, startedAt stays null. */
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

export const USER_ROLES = ['admin', 'operator', 'viewer'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export interface User {
  id: string;
  /** As entered; unique case-insensitively. */
  username: string;
  role: UserRole;
  passwordHash: string;
  disabled: boolean;
  failedLogins: number;
  lockedUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export type NewUser = Pick<User, 'username' | 'role' | 'passwordHash'> & Partial<Pick<User, 'disabled'>>;
export type UserPatch = Partial<Pick<User, 'username' | 'role' | 'passwordHash' | 'disabled' | 'failedLogins' | 'lockedUntil'>>;

export interface Session {
  id: string;
  userId: string;
  /** Database time. */
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  lastSeenAt: Date;
  ip: string | null;
  userAgent: string | null;
}

/** `id` is the caller's (e.g. a hash of the cookie's secret); a random 256-bit id when left out. */
export type NewSession = Pick<Session, 'userId' | 'expiresAt' | 'ip' | 'userAgent'> & { id?: string };

export interface ApiToken {
  id: string;
  name: string;
  role: UserRole;
  /** Hash of the secret; the secret itself is never stored. Unique. */
  tokenHash: string;
  /** First characters of the secret, to recognise it in lists. */
  prefix: string;
  createdAt: Date;
  /** Who created it (a user id or name), null for the system. */
  createdBy: string | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export type NewApiToken = Pick<ApiToken, 'name' | 'role' | 'tokenHash' | 'prefix' | 'createdBy'>;

export type AuditActorType = 'user' | 'token' | 'system';

export interface AuditEntry {
  id: string;
  /** Database time of the append. */
  at: Date;
  actorType: AuditActorType;
  actorId: string | null;
  actorName: string;
  /** e.g. 'job.create', 'job.update', 'user.create', 'token.revoke', 'login.failure'. */
  action: string;
  targetType: string | null;
  targetId: string | null;
  targetName: string | null;
  ip: string | null;
  /** Field name -> values before and after; JSON values only (stored as JSON). */
  changes: Record<string, { before: unknown; after: unknown }> | null;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at'>;

export interface AuditListQuery {
  limit: number;
  cursor?: string;
  /** Exact match. */
  actorName?: string;
  /** Exact match. */
  action?: string;
  /** Exact match. */
  targetType?: string;
  /** Exact match. */
  targetId?: string;
  /** at >= from */
  from?: Date;
  /** at < to */
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

const USERNAME_TAKEN: unique symbol = Symbol.for('cronplane.UsernameTakenError');

/** Thrown by createUser/updateUser when another user has the username (compared case-insensitively). */
export class UsernameTakenError extends Error {
  // Branded for the same reason as NameTakenError.
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [USERNAME_TAKEN]?: unknown })[USERNAME_TAKEN] === true;
  }

  readonly [USERNAME_TAKEN] = true;

  constructor(readonly username: string) {
    super(`a user named "${username}" already exists`);
    this.name = 'UsernameTakenError';
  }
}

/**
 * Everything the app keeps in its database, apart from Agenda's own collection/table.
 * Implemented by lib/store/postgres and lib/store/mongo; tests/store/conformance.ts holds both to the same behaviour.
 * Ordering contracts: jobs list by name ascending (then id); runs list newest first by scheduledFor, then id;
 * audit newest first by at, then id; users by lowercased username (code points), then id; API tokens newest first
 * by createdAt, then id. Lists with a cursor page by keyset (no offsets).
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
  /**
   * Housekeeping of Agenda's table, called by each scheduler every few seconds. Every occurrence's ticket is inserted,
   * locked, updated and deleted, and Agenda's lock query walks its index from the oldest due time, through the dead
   * entries those leave, until autovacuum (at most once a minute per database) clears them. PostgreSQL: a VACUUM of
   * that one small table (skipped when another instance is doing it). MongoDB: nothing to do.
   */
  compactTickets(): Promise<void>;

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
  takeOverClaim(id: string, expected: { instanceId: string | null; leaseExpiredBefore: Date }, claim: { instanceId: string; leaseExpiresAt: Date }): Promise<Run | null>;
  /**
   * Renews the leases of the runs `instanceId` holds (claimed, or running as the given attempt) to `leaseExpiresAt`;
   * returns the ids it renewed. A run left out of the answer is no longer the instance's.
   */
  renewLeases(instanceId: string, runs: HeldRun[], leaseExpiresAt: Date): Promise<string[]>;
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

  /** Inserts a run; null when the (jobId, scheduledFor) occurrence already has one. */
  insertRun(run: NewRun): Promise<Run | null>;
  /**
   * Null when the run does not exist. With `owner`: applies only while the run is running as owner.attempt on
   * owner.instanceId (else null, nothing written), so an instance that lost its run to a takeover cannot overwrite it.
   */
  updateRun(id: string, patch: RunPatch, owner?: RunOwner): Promise<Run | null>;
  /**
   * Takes over a run whose instance stopped renewing its lease, atomically: only while it is still running as
   * `expected.attempt` with a lease that expired before `expected.leaseExpiredBefore`. The current attempt goes to the
   * run's attempt history as 'unknown' ('abandoned' if it had not started: a queued run) (finishedAt = takeover.at,
   * error = takeover.error, its output kept); the run becomes attempt + 1, running on takeover.instanceId since
   * takeover.at (a queued run keeps startedAt null: it still waits for its turn), with the new lease, error and output
   * cleared. Null (nothing written) when the run finished, was renewed, or another instance took it over first.
   */
  takeOverRun(id: string, expected: { attempt: number; leaseExpiredBefore: Date }, takeover: RunTakeover): Promise<Run | null>;
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
  /** Runs held by an instance (status claimed or running) whose lease expired before `before`, oldest lease first. */
  listExpiredRuns(before: Date, limit: number): Promise<Run[]>;

  /** Runs per bucket of scheduledFor in [from, to), ascending; only buckets that have runs. */
  runStats(query: RunStatsQuery): Promise<RunStatsBucket[]>;
  /** Runs started at or after `since`, per instance (runs without an instance are left out); most runs first, then id. */
  countRunsByInstance(since: Date): Promise<InstanceRunCount[]>;
  /** The job's runs with status running whose lease expires after `now` (a run without a lease does not count). */
  countActiveRuns(jobId: string, now: Date): Promise<number>;
  /** Deletes up to `limit` finished (not claimed, running or waiting to retry) runs with scheduledFor < olderThan, oldest first; returns how many. */
  pruneRuns(olderThan: Date, limit: number): Promise<number>;

  upsertInstance(instance: Instance): Promise<void>;
  listInstances(): Promise<Instance[]>;
  /** Deletes instances last seen before the cut-off; returns how many. */
  pruneInstances(lastSeenBefore: Date): Promise<number>;

  /** Throws UsernameTakenError when the username is taken (case-insensitively). failedLogins 0, lockedUntil null. */
  createUser(user: NewUser): Promise<User>;
  getUser(id: string): Promise<User | null>;
  /** Case-insensitive. */
  getUserByUsername(username: string): Promise<User | null>;
  listUsers(): Promise<User[]>;
  /** Null when the user does not exist; UsernameTakenError on a rename onto a taken name. */
  updateUser(id: string, patch: UserPatch): Promise<User | null>;
  /** Deletes the user and its sessions. */
  deleteUser(id: string): Promise<boolean>;
  countUsers(): Promise<number>;
  /**
   * Atomically adds one failed login; when the count reaches `lock.threshold`, sets lockedUntil = `lock.until`.
   * Null when the user does not exist.
   */
  recordLoginFailure(id: string, lock: { threshold: number; until: Date }): Promise<User | null>;
  /** failedLogins = 0, lockedUntil = null. Null when the user does not exist. */
  recordLoginSuccess(id: string): Promise<User | null>;

  createSession(session: NewSession): Promise<Session>;
  /** Also expired and revoked sessions: the caller checks expiresAt/revokedAt. */
  getSession(id: string): Promise<Session | null>;
  /** Sets lastSeenAt (never moves it back); false when the session does not exist. */
  touchSession(id: string, at: Date): Promise<boolean>;
  /** True when the session was active and is now revoked. */
  revokeSession(id: string): Promise<boolean>;
  /** Revokes the user's active sessions; returns how many. */
  revokeUserSessions(userId: string): Promise<number>;
  /** Deletes sessions that expired, or were revoked, before the cut-off; returns how many. */
  pruneSessions(expiredBefore: Date): Promise<number>;

  createApiToken(token: NewApiToken): Promise<ApiToken>;
  /** Also revoked tokens: the caller checks revokedAt. */
  getApiTokenByHash(tokenHash: string): Promise<ApiToken | null>;
  listApiTokens(): Promise<ApiToken[]>;
  /** True when the token was active and is now revoked. */
  revokeApiToken(id: string): Promise<boolean>;
  /** Sets lastUsedAt (never moves it back); false when the token does not exist. */
  touchApiToken(id: string, at: Date): Promise<boolean>;

  /** Appends an entry stamped with the database time. There is deliberately no update or delete. */
  appendAudit(entry: NewAuditEntry): Promise<AuditEntry>;
  listAudit(query: AuditListQuery): Promise<Page<AuditEntry>>;
}
