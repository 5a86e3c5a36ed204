import 'server-only';
import { randomUUID } from 'node:crypto';
import { MongoBackend } from '@agendajs/mongo-backend';
import type { AgendaBackend } from 'agenda';
import { MongoClient, MongoServerError, type Collection, type Db, type Document, type Filter, type IndexDescription, type UpdateFilter } from 'mongodb';
import { bucketMillis, decodeCursor, decodeRunCursor, newSessionId, pageOf, percentileCont, usernameKey } from '../common';
import type { MissedPolicy, OverlapPolicy } from '../../validation/job';
import type { Schedule } from '../../validation/schedule';
import {
  DEFAULT_RETRY,
  NameTakenError,
  UsernameTakenError,
  type ApiToken,
  type AuditEntry,
  type AuditListQuery,
  type InstanceRunCount,
  type NewApiToken,
  type NewAuditEntry,
  type NewSession,
  type NewUser,
  type RetryPolicy,
  type RunStatsBucket,
  type RunStatsQuery,
  type Session,
  type User,
  type UserPatch,
  type Instance,
  type Job,
  type JobListQuery,
  type JobPatch,
  type JobWithLastRun,
  type JsonObject,
  type NewJob,
  type NewRun,
  type Page,
  type Run,
  type RunAttempt,
  type RunOwner,
  type ClaimResult,
  type HeldRun,
  type OccurrenceClaim,
  type RunStart,
  type StartResult,
  type RunClaim,
  type RunRetry,
  type RunTakeover,
  type RunListQuery,
  type RunPatch,
  type RunStatus,
  type RunTrigger,
  type Store,
} from '../types';

export const JOBS = 'jobs';
export const RUNS = 'runs';
export const INSTANCES = 'instances';
export const RUN_JOB_NAMES = 'run_job_names';
export const USERS = 'users';
export const SESSIONS = 'sessions';
export const API_TOKENS = 'api_tokens';
export const AUDIT_LOG = 'audit_log';
export const AGENDA_COLLECTION = 'agenda_jobs';
export const AGENDA_LOG_COLLECTION = 'agenda_logs';
/** Used when the URL names no database (the driver would silently pick "test"). */
const DEFAULT_DATABASE = 'cronplane';

interface JobDoc {
  _id: string;
  name: string;
  description: string;
  type: string;
  // Stored as JSON text: payloads are opaque to the store, and user keys with "." or a leading "$" (HTTP header
  // names, say) are not valid everywhere as BSON field names. JSON text also round-trips exactly like PostgreSQL's jsonb.
  payloadJson: string;
  schedule: Schedule;
  paused: boolean;
  timeoutSeconds: number;
  overlapPolicy: OverlapPolicy;
  missedPolicy: MissedPolicy;
  tags: string[];
  // Absent on documents written before these fields existed: read as the defaults.
  retry?: RetryPolicy;
  concurrencyLimit?: number | null;
  nextRunAt: Date | null;
  anchorAt: Date;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

interface RunDoc {
  _id: string;
  jobId: string;
  jobName: string;
  scheduledFor: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  status: RunStatus;
  trigger: RunTrigger;
  instanceId: string | null;
  attempt: number;
  error: string | null;
  output: string | null;
  leaseExpiresAt: Date | null;
  /** Absent on documents written before ranges existed, and on single-occurrence records. */
  rangeEnd?: Date | null;
  rangeCount?: number | null;
  /** Earlier, taken-over attempts, oldest first; absent until the first takeover. */
  attempts?: RunAttempt[];
}

interface InstanceDoc {
  _id: string;
  host: string;
  pid: number;
  version: string;
  startedAt: Date;
  lastSeenAt: Date;
  clockSkewMs: number;
  stoppedAt: Date | null;
  /** Absent on documents written before it existed: read as startedAt. */
  aliveSince?: Date;
}

/** A (job, name) pair some run was recorded under; _id is JSON of [jobId, jobName]. */
interface RunJobNameDoc {
  _id: string;
  jobId: string;
  jobName: string;
}

interface UserDoc {
  _id: string;
  username: string;
  usernameKey: string;
  role: User['role'];
  passwordHash: string;
  disabled: boolean;
  failedLogins: number;
  lockedUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

interface SessionDoc {
  _id: string;
  userId: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  lastSeenAt: Date;
  ip: string | null;
  userAgent: string | null;
}

interface ApiTokenDoc {
  _id: string;
  name: string;
  role: ApiToken['role'];
  tokenHash: string;
  prefix: string;
  createdAt: Date;
  createdBy: string | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

interface AuditDoc {
  _id: string;
  at: Date;
  actorType: AuditEntry['actorType'];
  actorId: string | null;
  actorName: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  targetName: string | null;
  ip: string | null;
  // JSON text, as job payloads: keys are arbitrary field names.
  changesJson: string | null;
}

type LastRunDoc = Pick<RunDoc, '_id' | 'status' | 'scheduledFor' | 'startedAt' | 'finishedAt' | 'instanceId'>;

/**
 * Every index a query of this store needs, so that no list or filter scans a whole collection.
 * Names are fixed: changing a definition means a new name (MongoDB refuses a different spec under an existing name).
 */
const INDEXES: Record<string, IndexDescription[]> = {
  [JOBS]: [
    // Uniqueness of names, and the listJobs order (names are unique, so name order is the full order).
    { key: { name: 1 }, name: 'jobs_name_key', unique: true },
    // listJobs filtered by tag, still in name order (tags is multikey, name is not, so the index gives the sort).
    { key: { tags: 1, name: 1 }, name: 'jobs_tag_name_idx' },
    // listDueJobs: only active jobs are ever due.
    { key: { nextRunAt: 1, _id: 1 }, name: 'jobs_due_idx', partialFilterExpression: { paused: false } },
  ],
  [RUNS]: [
    // One run per occurrence: what makes a scheduled occurrence run exactly once.
    { key: { jobId: 1, scheduledFor: 1 }, name: 'runs_job_occurrence_key', unique: true },
    { key: { jobId: 1, scheduledFor: -1, _id: -1 }, name: 'runs_job_newest_idx' },
    { key: { scheduledFor: -1, _id: -1 }, name: 'runs_newest_idx' },
    { key: { status: 1, scheduledFor: -1, _id: -1 }, name: 'runs_status_newest_idx' },
    { key: { instanceId: 1, scheduledFor: -1, _id: -1 }, name: 'runs_instance_newest_idx' },
    // listExpiredRuns.
    { key: { status: 1, leaseExpiresAt: 1, _id: 1 }, name: 'runs_status_lease_idx' },
    // countActiveRuns.
    { key: { jobId: 1, status: 1, leaseExpiresAt: 1 }, name: 'runs_job_status_lease_idx' },
    // countRunsByInstance.
    { key: { startedAt: 1, instanceId: 1 }, name: 'runs_started_idx' },
  ],
  [RUN_JOB_NAMES]: [
    // A job's names (unique pairs are the _id).
    { key: { jobId: 1 }, name: 'run_job_names_job_idx' },
    // listRuns' jobSearch (jobIdsMatching): an unanchored case-insensitive regex gets no index bounds, so the server
    // walks every key of this index; it holds jobId too, so no document is fetched (a covered query).
    { key: { jobName: 1, jobId: 1 }, name: 'run_job_names_name_idx' },
  ],
  // listInstances; pruneInstances.
  [INSTANCES]: [{ key: { lastSeenAt: -1, _id: 1 }, name: 'instances_last_seen_idx' }],
  [USERS]: [
    // Case-insensitive uniqueness, getUserByUsername, and listUsers' order.
    { key: { usernameKey: 1 }, name: 'users_username_key_key', unique: true },
  ],
  [SESSIONS]: [
    { key: { userId: 1 }, name: 'sessions_user_idx' },
    // pruneSessions (one index per $or branch).
    { key: { expiresAt: 1 }, name: 'sessions_expires_idx' },
    { key: { revokedAt: 1 }, name: 'sessions_revoked_idx' },
  ],
  [API_TOKENS]: [
    { key: { tokenHash: 1 }, name: 'api_tokens_token_hash_key', unique: true },
    { key: { createdAt: -1, _id: -1 }, name: 'api_tokens_newest_idx' },
  ],
  [AUDIT_LOG]: [
    // listAudit newest first (sort at -1, _id -1; keyset on both): unfiltered / by actor / by action / by target
    // type and id / by target type alone / by target id alone. Each filter is an equality on the index's prefix, so
    // the index delivers the sort; other filters given with it are checked on the way.
    { key: { at: -1, _id: -1 }, name: 'audit_newest_idx' },
    { key: { actorName: 1, at: -1, _id: -1 }, name: 'audit_actor_newest_idx' },
    { key: { action: 1, at: -1, _id: -1 }, name: 'audit_action_newest_idx' },
    { key: { targetType: 1, targetId: 1, at: -1, _id: -1 }, name: 'audit_target_newest_idx' },
    { key: { targetType: 1, at: -1, _id: -1 }, name: 'audit_target_type_newest_idx' },
    { key: { targetId: 1, at: -1, _id: -1 }, name: 'audit_target_id_newest_idx' },
  ],
};

const DUPLICATE_KEY = 11000;
const NAMESPACE_EXISTS = 48;
const COMMAND_NOT_FOUND = 59;
// Transient outcomes of concurrent DDL on a real server (WriteConflict 112, ConflictingOperationInProgress 117,
// IndexBuildAborted 276, IndexBuildAlreadyInProgress 285): retrying converges on the finished state.
const RETRYABLE_DDL = new Set([112, 117, 276, 285]);

function mongoCode(err: unknown): number | undefined {
  return err instanceof MongoServerError && typeof err.code === 'number' ? err.code : undefined;
}

function toJob(doc: JobDoc): Job {
  return {
    id: doc._id,
    name: doc.name,
    description: doc.description,
    type: doc.type,
    payload: JSON.parse(doc.payloadJson) as JsonObject,
    schedule: doc.schedule,
    paused: doc.paused,
    timeoutSeconds: doc.timeoutSeconds,
    overlapPolicy: doc.overlapPolicy,
    missedPolicy: doc.missedPolicy,
    tags: doc.tags,
    retry: doc.retry ? { ...doc.retry } : { ...DEFAULT_RETRY },
    concurrencyLimit: doc.concurrencyLimit ?? null,
    nextRunAt: doc.nextRunAt,
    anchorAt: doc.anchorAt,
    version: doc.version,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

function toRun(doc: RunDoc): Run {
  return {
    id: doc._id,
    jobId: doc.jobId,
    jobName: doc.jobName,
    scheduledFor: doc.scheduledFor,
    startedAt: doc.startedAt,
    finishedAt: doc.finishedAt,
    status: doc.status,
    trigger: doc.trigger,
    instanceId: doc.instanceId,
    attempt: doc.attempt,
    error: doc.error,
    output: doc.output,
    leaseExpiresAt: doc.leaseExpiresAt,
    rangeEnd: doc.rangeEnd ?? null,
    rangeCount: doc.rangeCount ?? null,
  };
}

/** A run document as inserted: a fresh id, ranges only when set. */
function newRunDoc(run: NewRun): RunDoc {
  const doc: RunDoc = {
    _id: randomUUID(),
    jobId: run.jobId,
    jobName: run.jobName,
    scheduledFor: run.scheduledFor,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    status: run.status,
    trigger: run.trigger,
    instanceId: run.instanceId,
    attempt: run.attempt,
    error: run.error,
    output: run.output,
    leaseExpiresAt: run.leaseExpiresAt,
  };
  if (run.rangeEnd) {
    doc.rangeEnd = run.rangeEnd;
    doc.rangeCount = run.rangeCount ?? null;
  }
  return doc;
}

function toInstance(doc: InstanceDoc): Instance {
  return {
    id: doc._id,
    host: doc.host,
    pid: doc.pid,
    version: doc.version,
    startedAt: doc.startedAt,
    lastSeenAt: doc.lastSeenAt,
    clockSkewMs: doc.clockSkewMs,
    stoppedAt: doc.stoppedAt,
    aliveSince: doc.aliveSince ?? doc.startedAt,
  };
}

function jobSet(patch: JobPatch): Partial<JobDoc> {
  const set: Partial<JobDoc> = {};
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.type !== undefined) set.type = patch.type;
  if (patch.payload !== undefined) set.payloadJson = JSON.stringify(patch.payload);
  if (patch.schedule !== undefined) set.schedule = patch.schedule;
  if (patch.paused !== undefined) set.paused = patch.paused;
  if (patch.timeoutSeconds !== undefined) set.timeoutSeconds = patch.timeoutSeconds;
  if (patch.overlapPolicy !== undefined) set.overlapPolicy = patch.overlapPolicy;
  if (patch.missedPolicy !== undefined) set.missedPolicy = patch.missedPolicy;
  if (patch.tags !== undefined) set.tags = patch.tags;
  if (patch.retry !== undefined) set.retry = { maxAttempts: patch.retry.maxAttempts, backoffSeconds: patch.retry.backoffSeconds, maxBackoffSeconds: patch.retry.maxBackoffSeconds };
  if (patch.concurrencyLimit !== undefined) set.concurrencyLimit = patch.concurrencyLimit;
  if (patch.nextRunAt !== undefined) set.nextRunAt = patch.nextRunAt;
  if (patch.anchorAt !== undefined) set.anchorAt = patch.anchorAt;
  return set;
}

function toUser(doc: UserDoc): User {
  return {
    id: doc._id,
    username: doc.username,
    role: doc.role,
    passwordHash: doc.passwordHash,
    disabled: doc.disabled,
    failedLogins: doc.failedLogins,
    lockedUntil: doc.lockedUntil,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

function toSession(doc: SessionDoc): Session {
  return {
    id: doc._id,
    userId: doc.userId,
    createdAt: doc.createdAt,
    expiresAt: doc.expiresAt,
    revokedAt: doc.revokedAt,
    lastSeenAt: doc.lastSeenAt,
    ip: doc.ip,
    userAgent: doc.userAgent,
  };
}

function toApiToken(doc: ApiTokenDoc): ApiToken {
  return {
    id: doc._id,
    name: doc.name,
    role: doc.role,
    tokenHash: doc.tokenHash,
    prefix: doc.prefix,
    createdAt: doc.createdAt,
    createdBy: doc.createdBy,
    lastUsedAt: doc.lastUsedAt,
    revokedAt: doc.revokedAt,
  };
}

function toAudit(doc: AuditDoc): AuditEntry {
  return {
    id: doc._id,
    at: doc.at,
    actorType: doc.actorType,
    actorId: doc.actorId,
    actorName: doc.actorName,
    action: doc.action,
    targetType: doc.targetType,
    targetId: doc.targetId,
    targetName: doc.targetName,
    ip: doc.ip,
    changes: doc.changesJson === null ? null : (JSON.parse(doc.changesJson) as AuditEntry['changes']),
  };
}

function runSet(patch: RunPatch): Partial<RunDoc> {
  const set: Partial<RunDoc> = {};
  if (patch.startedAt !== undefined) set.startedAt = patch.startedAt;
  if (patch.finishedAt !== undefined) set.finishedAt = patch.finishedAt;
  if (patch.status !== undefined) set.status = patch.status;
  if (patch.instanceId !== undefined) set.instanceId = patch.instanceId;
  if (patch.attempt !== undefined) set.attempt = patch.attempt;
  if (patch.error !== undefined) set.error = patch.error;
  if (patch.output !== undefined) set.output = patch.output;
  if (patch.leaseExpiresAt !== undefined) set.leaseExpiresAt = patch.leaseExpiresAt;
  return set;
}

/** Regex source matching `text` literally (valid for MongoDB's PCRE and for Java's regex in the test server). */
function literalPattern(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
}

function and<T>(clauses: Filter<T>[]): Filter<T> {
  if (clauses.length === 0) return {};
  if (clauses.length === 1) return clauses[0]!;
  return { $and: clauses } as Filter<T>;
}

/** Database named in the URL path, or the default: never the driver's silent "test". */
export function databaseName(url: string): string {
  const path = /^mongodb(?:\+srv)?:\/\/[^/?#]*\/([^?#]*)/i.exec(url)?.[1];
  return path ? decodeURIComponent(path) : DEFAULT_DATABASE;
}

async function retryDdl<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const code = mongoCode(err);
      if (attempt >= 5 || code === undefined || !RETRYABLE_DDL.has(code)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

/** Runs `write`; a duplicate key (the collection's one unique index besides _id) becomes the domain error `taken()`. */
async function orTaken<T>(write: Promise<T>, taken: () => Error): Promise<T> {
  try {
    return await write;
  } catch (err) {
    if (mongoCode(err) === DUPLICATE_KEY) throw taken();
    throw err;
  }
}

type Stamps = Pick<JobDoc, '_id' | 'createdAt' | 'updatedAt'>;

/**
 * Inserts `fields` under a fresh uuid. An upsert on that id instead of insertOne: it lets $currentDate stamp
 * createdAt/updatedAt with the server's clock, the same clock as now(). `caller` names the method in the error
 * for the upsert returning nothing (which it cannot).
 */
async function insertStamped<T extends Stamps>(collection: Collection<T>, fields: Omit<T, keyof Stamps>, caller: string): Promise<T> {
  const doc = await collection.findOneAndUpdate(
    { _id: randomUUID() } as Filter<T>,
    // The driver's update types cannot be checked against a generic T; `fields` is typed by the signature instead.
    { $setOnInsert: fields, $currentDate: { createdAt: true, updatedAt: true } } as unknown as UpdateFilter<T>,
    { upsert: true, returnDocument: 'after' },
  );
  if (!doc) throw new Error(`${caller}: the upsert returned no document`);
  return doc as T;
}

class MongoStore implements Store {
  readonly kind = 'mongodb' as const;
  private readonly jobs: Collection<JobDoc>;
  private readonly runs: Collection<RunDoc>;
  private readonly instances: Collection<InstanceDoc>;
  private readonly runJobNames: Collection<RunJobNameDoc>;
  private readonly users: Collection<UserDoc>;
  private readonly sessions: Collection<SessionDoc>;
  private readonly apiTokens: Collection<ApiTokenDoc>;
  private readonly audit: Collection<AuditDoc>;
  /** `hello` needs MongoDB 4.4.2+ (and is what Stable API servers accept); older servers answer `isMaster`. */
  private clockCommand: 'hello' | 'isMaster' = 'hello';

  constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
    readonly description: string,
  ) {
    this.jobs = db.collection<JobDoc>(JOBS);
    this.runs = db.collection<RunDoc>(RUNS);
    this.instances = db.collection<InstanceDoc>(INSTANCES);
    this.runJobNames = db.collection<RunJobNameDoc>(RUN_JOB_NAMES);
    this.users = db.collection<UserDoc>(USERS);
    this.sessions = db.collection<SessionDoc>(SESSIONS);
    this.apiTokens = db.collection<ApiTokenDoc>(API_TOKENS);
    this.audit = db.collection<AuditDoc>(AUDIT_LOG);
  }

  async compactTickets(): Promise<void> {
    // WiredTiger reuses the space of deleted documents and its indexes hold no dead entries to walk.
  }

  createAgendaBackend(): AgendaBackend {
    // Shares this store's client: the backend's disconnect() leaves a passed-in Db open, close() closes it.
    // Agenda creates its own index on connect; concurrent identical createIndex calls are harmless.
    return new MongoBackend({ mongo: this.db, collection: AGENDA_COLLECTION, logCollection: AGENDA_LOG_COLLECTION });
  }

  async migrate(): Promise<void> {
    const existing = new Set((await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    for (const name of [JOBS, RUNS, INSTANCES, RUN_JOB_NAMES, USERS, SESSIONS, API_TOKENS, AUDIT_LOG, AGENDA_COLLECTION]) {
      if (existing.has(name)) continue;
      try {
        await retryDdl(() => this.db.createCollection(name));
      } catch (err) {
        // Another process created it between listCollections and here.
        if (mongoCode(err) !== NAMESPACE_EXISTS) throw err;
      }
    }
    // createIndexes is idempotent for an identical spec, also when several processes send it at once.
    for (const [collection, indexes] of Object.entries(INDEXES)) {
      await retryDdl(() => this.db.collection(collection).createIndexes(indexes));
    }
    // Upgrade from a database without run_job_names: record the names existing runs carry (a one-off $group over
    // runs; processes racing here insert the same pairs, and duplicates are ignored).
    if (!existing.has(RUN_JOB_NAMES) && existing.has(RUNS)) await this.backfillRunJobNames();
  }

  private async backfillRunJobNames(): Promise<void> {
    const pairs = await this.runs
      .aggregate<{ _id: { jobId: string; jobName: string } }>([{ $group: { _id: { jobId: '$jobId', jobName: '$jobName' } } }], { allowDiskUse: true })
      .toArray();
    for (let i = 0; i < pairs.length; i += 1000) {
      const docs = pairs.slice(i, i + 1000).map(({ _id: p }) => ({ _id: JSON.stringify([p.jobId, p.jobName]), jobId: p.jobId, jobName: p.jobName }));
      try {
        await this.runJobNames.insertMany(docs, { ordered: false });
      } catch (err) {
        if (mongoCode(err) !== DUPLICATE_KEY) throw err;
      }
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  async now(): Promise<Date> {
    let reply: Document;
    try {
      reply = await this.db.admin().command({ [this.clockCommand]: 1 });
    } catch (err) {
      if (this.clockCommand !== 'hello' || mongoCode(err) !== COMMAND_NOT_FOUND) throw err;
      this.clockCommand = 'isMaster';
      reply = await this.db.admin().command({ isMaster: 1 });
    }
    const localTime: unknown = reply.localTime;
    if (!(localTime instanceof Date)) throw new Error(`the MongoDB server did not report its clock (${this.clockCommand}.localTime)`);
    return localTime;
  }

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  async createJob(job: NewJob): Promise<Job> {
    const insert = insertStamped(
      this.jobs,
      {
        name: job.name,
        description: job.description,
        type: job.type,
        payloadJson: JSON.stringify(job.payload),
        schedule: job.schedule,
        paused: job.paused,
        timeoutSeconds: job.timeoutSeconds,
        overlapPolicy: job.overlapPolicy,
        missedPolicy: job.missedPolicy,
        tags: job.tags,
        retry: { ...(job.retry ?? DEFAULT_RETRY) },
        concurrencyLimit: job.concurrencyLimit ?? null,
        nextRunAt: job.nextRunAt,
        anchorAt: job.anchorAt,
        version: 1,
      },
      'createJob',
    );
    // The only unique index of jobs besides _id (a fresh uuid) is the name.
    return toJob(await orTaken(insert, () => new NameTakenError(job.name)));
  }

  async getJob(id: string): Promise<Job | null> {
    const doc = await this.jobs.findOne({ _id: id });
    return doc ? toJob(doc) : null;
  }

  async listTags(limit: number): Promise<string[]> {
    const tags = (await this.jobs.distinct('tags')).filter((t): t is string => typeof t === 'string');
    // Code point order, as PostgreSQL's COLLATE "C" (JS's default sort compares UTF-16 units instead).
    const byCodePoint = (a: string, b: string): number => {
      const x = [...a].map((c) => c.codePointAt(0) ?? 0);
      const y = [...b].map((c) => c.codePointAt(0) ?? 0);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length;
    };
    return tags.sort(byCodePoint).slice(0, limit);
  }

  async listJobNames(limit: number): Promise<Array<{ id: string; name: string }>> {
    // Names are unique, so name alone orders them (binary comparison: code points, as listJobs).
    const docs = await this.jobs.find({}, { projection: { name: 1 } }).sort({ name: 1 }).limit(limit).toArray();
    return docs.map((d) => ({ id: d._id, name: d.name }));
  }

  async listJobs(query: JobListQuery): Promise<Page<JobWithLastRun>> {
    const clauses: Filter<JobDoc>[] = [];
    if (query.search) clauses.push({ name: { $regex: literalPattern(query.search), $options: 'i' } });
    if (query.tag) clauses.push({ tags: query.tag });
    if (query.cursor) {
      const [name, id] = decodeCursor(query.cursor);
      // MongoDB compares strings by UTF-8 bytes without a collation, i.e. code point order, as the contract says.
      clauses.push({ $or: [{ name: { $gt: name } }, { name, _id: { $gt: id } }] });
    }
    const lastRun: Document = {
      $lookup: {
        from: RUNS,
        let: { jobId: '$_id' },
        pipeline: [
          { $match: { $expr: { $eq: ['$jobId', '$$jobId'] } } },
          { $sort: { scheduledFor: -1, _id: -1 } },
          { $limit: 1 },
          { $project: { _id: 1, status: 1, scheduledFor: 1, startedAt: 1, finishedAt: 1, instanceId: 1 } },
        ],
        as: 'lastRun',
      },
    };
    const docs = await this.jobs
      // Sorted by name alone: names are unique, so that is already the (name, id) order, and the unique name
      // index can deliver it without an in-memory sort.
      .aggregate<JobDoc & { lastRun: LastRunDoc[] }>([{ $match: and(clauses) }, { $sort: { name: 1 } }, { $limit: query.limit + 1 }, lastRun])
      .toArray();
    const jobs: JobWithLastRun[] = docs.map((doc) => {
      const run = doc.lastRun[0];
      return {
        ...toJob(doc),
        lastRun: run
          ? {
              id: run._id,
              status: run.status,
              scheduledFor: run.scheduledFor,
              startedAt: run.startedAt,
              finishedAt: run.finishedAt,
              instanceId: run.instanceId,
            }
          : null,
      };
    });
    return pageOf(jobs, query.limit, (j) => [j.name, j.id]);
  }

  async updateJob(id: string, patch: JobPatch): Promise<Job | null> {
    const doc = await orTaken(
      this.jobs.findOneAndUpdate({ _id: id }, { $set: jobSet(patch), $inc: { version: 1 }, $currentDate: { updatedAt: true } }, { returnDocument: 'after' }),
      () => new NameTakenError(patch.name ?? ''),
    );
    // After the paused job is written: no claim can complete any more (its compare-and-set needs the job active and at
    // its version), and the claims made before it are closed here (see claimOccurrence).
    if (doc && patch.paused === true) await this.closeClaims(id, 'skipped: the job was paused before this occurrence started');
    return doc ? toJob(doc) : null;
  }

  async deleteJob(id: string): Promise<boolean> {
    // Paused first, as a pause: no claim completes after it, the earlier ones are closed; then the document goes. A crash
    // in between leaves the job paused, not half-deleted. Runs stay: they carry jobName, so history survives the job.
    const paused = await this.jobs.findOneAndUpdate({ _id: id }, { $set: { paused: true }, $inc: { version: 1 } }, { returnDocument: 'after', projection: { _id: 1 } });
    if (!paused) return false;
    await this.closeClaims(id, 'skipped: the job was deleted before this occurrence started');
    const { deletedCount } = await this.jobs.deleteOne({ _id: id });
    return deletedCount === 1;
  }

  /** A pause or delete: the job's claimed runs (none started yet) will not start; each gets a 'skipped' record. */
  private async closeClaims(jobId: string, why: string): Promise<void> {
    await this.runs.updateMany(
      { jobId, status: 'claimed' },
      { $set: { status: 'skipped', finishedAt: new Date(), leaseExpiresAt: null, error: why } },
    );
  }

  async advanceJob(id: string, expected: { version: number; nextRunAt: Date }, nextRunAt: Date | null): Promise<boolean> {
    // One document update is atomic: the filter is the compare, $set the swap.
    const { matchedCount } = await this.jobs.updateOne({ _id: id, version: expected.version, nextRunAt: expected.nextRunAt }, { $set: { nextRunAt } });
    return matchedCount === 1;
  }

  async listDueJobs(before: Date, limit: number): Promise<Job[]> {
    // `paused: false` literally, so the partial index jobs_due_idx applies.
    const docs = await this.jobs
      .find({ paused: false, nextRunAt: { $lt: before } })
      .sort({ nextRunAt: 1, _id: 1 })
      .limit(limit)
      .toArray();
    return docs.map(toJob);
  }

  async claimOccurrence(claim: OccurrenceClaim): Promise<ClaimResult> {
    const [own, ...more] = claim.runs;
    if (!own) return { outcome: 'stale' };
    // No transaction (a standalone server, the test server among them, has none): the records first, so that a claim
    // is never only in memory and the unique key decides between claimers; then the pointer's compare-and-set. A claimer
    // that dies in between leaves the occurrence recorded and the pointer behind: the next claimer gets 'taken' and
    // the scheduler moves the pointer on as the records say.
    const first = newRunDoc(own);
    await this.recordJobName(own.jobId, own.jobName);
    try {
      await this.runs.insertOne(first);
    } catch (err) {
      if (mongoCode(err) !== DUPLICATE_KEY) throw err;
      const current = await this.jobs.findOne({ _id: claim.jobId, version: claim.expected.version, nextRunAt: claim.expected.nextRunAt, paused: false }, { projection: { _id: 1 } });
      return current ? { outcome: 'taken' } : { outcome: 'stale' };
    }
    const rest = more.map(newRunDoc);
    for (const doc of rest) {
      try {
        await this.runs.insertOne(doc);
      } catch (err) {
        if (mongoCode(err) !== DUPLICATE_KEY) throw err;
      }
    }
    const { matchedCount } = await this.jobs.updateOne(
      { _id: claim.jobId, version: claim.expected.version, nextRunAt: claim.expected.nextRunAt, paused: false },
      { $set: { nextRunAt: claim.nextRunAt }, $currentDate: { updatedAt: true } },
    );
    if (matchedCount === 1) return { outcome: 'claimed', run: toRun(first) };
    // The job moved on meanwhile (an edit, a pause or a delete came first): take the records back, as PostgreSQL's
    // single statement would not have written them. Only while the occurrence's record is still this claimer's own: a
    // pause may have closed it as skipped, or (after a freeze) another instance may have taken it over; then it stays.
    const { deletedCount } = await this.runs.deleteOne({ _id: first._id, status: { $in: ['claimed', 'missed'] }, instanceId: own.instanceId });
    if (deletedCount === 1 && rest.length > 0) await this.runs.deleteMany({ _id: { $in: rest.map((d) => d._id) }, status: 'missed', instanceId: own.instanceId });
    return { outcome: 'stale' };
  }

  async startRun(run: Pick<Run, 'id' | 'jobId' | 'scheduledFor'>, instanceId: string, start: RunStart): Promise<StartResult> {
    // In order: an earlier occurrence still claimed starts first. Claims are written in occurrence order (each moves the
    // pointer past its own), so once none is left before this one, none can appear.
    const earlier = await this.runs.findOne({ jobId: run.jobId, status: 'claimed', scheduledFor: { $lt: run.scheduledFor } }, { projection: { _id: 1 } });
    if (earlier) {
      const mine = await this.runs.findOne({ _id: run.id, status: 'claimed', instanceId }, { projection: { _id: 1 } });
      return mine ? { outcome: 'waiting', reason: 'earlier' } : { outcome: 'lost' };
    }
    const doc = await this.runs.findOneAndUpdate(
      { _id: run.id, status: 'claimed', instanceId },
      { $set: { status: 'running', startedAt: start.queued ? null : start.at, leaseExpiresAt: start.leaseExpiresAt, trigger: start.trigger } },
      { returnDocument: 'after' },
    );
    return doc ? { outcome: 'started', run: toRun(doc) } : { outcome: 'lost' };
  }

  async takeOverClaim(id: string, expected: { instanceId: string | null; leaseExpiredBefore: Date }, claim: { instanceId: string; leaseExpiresAt: Date }): Promise<Run | null> {
    const doc = await this.runs.findOneAndUpdate(
      { _id: id, status: 'claimed', instanceId: expected.instanceId, leaseExpiresAt: { $lt: expected.leaseExpiredBefore } },
      { $set: { instanceId: claim.instanceId, leaseExpiresAt: claim.leaseExpiresAt } },
      { returnDocument: 'after' },
    );
    return doc ? toRun(doc) : null;
  }

  async renewLeases(instanceId: string, runs: HeldRun[], leaseExpiresAt: Date): Promise<string[]> {
    if (runs.length === 0) return [];
    const held: Filter<RunDoc> = { $or: runs.map((r) => ({ _id: r.id, attempt: r.attempt })), instanceId, status: { $in: ['claimed', 'running'] } };
    await this.runs.updateMany(held, { $set: { leaseExpiresAt } });
    // Which ones: those still held (the same filter, so each of them was renewed by the write above, or by a start that
    // landed in between with a lease of its own).
    const renewed = await this.runs.find(held, { projection: { _id: 1 } }).toArray();
    return renewed.map((d) => d._id);
  }

  async releaseRuns(instanceId: string, runs: HeldRun[], expiredAt: Date, note?: string): Promise<number> {
    if (runs.length === 0) return 0;
    const set: Partial<RunDoc> = { leaseExpiresAt: expiredAt };
    if (note !== undefined) set.error = note;
    const { modifiedCount } = await this.runs.updateMany(
      { $or: runs.map((r) => ({ _id: r.id, attempt: r.attempt })), instanceId, status: { $in: ['claimed', 'running'] } },
      { $set: set },
    );
    return modifiedCount;
  }

  async anyInstanceAliveAt(at: Date): Promise<boolean> {
    const doc = await this.instances.findOne(
      {
        $and: [
          { $or: [{ aliveSince: { $lte: at } }, { aliveSince: { $exists: false }, startedAt: { $lte: at } }] },
          { lastSeenAt: { $gte: at } },
          { $or: [{ stoppedAt: null }, { stoppedAt: { $gte: at } }] },
        ],
      },
      { projection: { _id: 1 } },
    );
    return doc !== null;
  }

  async insertRun(run: NewRun): Promise<Run | null> {
    const doc = newRunDoc(run);
    await this.recordJobName(run.jobId, run.jobName);
    try {
      await this.runs.insertOne(doc);
      return toRun(doc);
    } catch (err) {
      // _id is a fresh uuid, so a duplicate key is the (jobId, scheduledFor) occurrence: taken is an answer.
      if (mongoCode(err) === DUPLICATE_KEY) return null;
      throw err;
    }
  }

  /**
   * The (job, name) pair for listRuns' jobSearch, before the run itself: a crash in between leaves an extra pair
   * (harmless: the job did carry that name), never a run that jobSearch cannot find.
   */
  private async recordJobName(jobId: string, jobName: string): Promise<void> {
    try {
      await this.runJobNames.insertOne({ _id: JSON.stringify([jobId, jobName]), jobId, jobName });
    } catch (err) {
      if (mongoCode(err) !== DUPLICATE_KEY) throw err;
    }
  }

  async updateRun(id: string, patch: RunPatch, owner?: RunOwner): Promise<Run | null> {
    const set = runSet(patch);
    const filter: Filter<RunDoc> = owner ? { _id: id, status: 'running', attempt: owner.attempt, instanceId: owner.instanceId } : { _id: id };
    if (Object.keys(set).length === 0) {
      const doc = await this.runs.findOne(filter);
      return doc ? toRun(doc) : null;
    }
    const doc = await this.runs.findOneAndUpdate(filter, { $set: set }, { returnDocument: 'after' });
    return doc ? toRun(doc) : null;
  }

  async takeOverRun(id: string, expected: { attempt: number; leaseExpiredBefore: Date }, takeover: RunTakeover): Promise<Run | null> {
    const current = await this.runs.findOne({ _id: id, status: 'running', attempt: expected.attempt, leaseExpiresAt: { $lt: expected.leaseExpiredBefore } });
    if (!current) return null;
    const abandoned: RunAttempt = {
      attempt: current.attempt,
      instanceId: current.instanceId,
      startedAt: current.startedAt,
      finishedAt: takeover.at,
      status: current.startedAt ? 'unknown' : 'abandoned',
      error: takeover.error,
      output: current.output,
    };
    // The filter repeats what was read: a takeover bumps attempt and a renewal moves the lease, so whichever came
    // first makes this write match nothing, and the pushed history entry is exactly the attempt that was replaced.
    const doc = await this.runs.findOneAndUpdate(
      {
        _id: id,
        status: 'running',
        attempt: current.attempt,
        instanceId: current.instanceId,
        leaseExpiresAt: current.leaseExpiresAt,
      },
      {
        $set: {
          attempt: current.attempt + 1,
          instanceId: takeover.instanceId,
          // A queued run (waiting for its predecessor) goes on waiting: no start yet.
          startedAt: current.startedAt ? takeover.at : null,
          finishedAt: null,
          leaseExpiresAt: takeover.leaseExpiresAt,
          error: null,
          output: null,
        },
        $push: { attempts: abandoned },
      },
      { returnDocument: 'after' },
    );
    return doc ? toRun(doc) : null;
  }

  async retryRun(id: string, owner: RunOwner, ended: RunRetry): Promise<Run | null> {
    const attempt: RunAttempt = {
      attempt: owner.attempt,
      instanceId: owner.instanceId,
      startedAt: null,
      finishedAt: ended.finishedAt,
      status: ended.status,
      error: ended.error,
      output: ended.output,
    };
    // One conditional update: the attempt's start is read back from the document it replaces (the pipeline form
    // would be needed to copy it in the same write), so the history entry is fixed up right after, by attempt number.
    const before = await this.runs.findOneAndUpdate(
      { _id: id, status: 'running', attempt: owner.attempt, instanceId: owner.instanceId },
      {
        $set: { status: 'retrying', attempt: owner.attempt + 1, instanceId: null, startedAt: null, finishedAt: null, leaseExpiresAt: null, error: ended.waiting, output: null },
        $push: { attempts: attempt },
      },
      { returnDocument: 'before' },
    );
    if (!before) return null;
    await this.runs.updateOne({ _id: id, 'attempts.attempt': owner.attempt }, { $set: { 'attempts.$.startedAt': before.startedAt } });
    return toRun({ ...before, status: 'retrying', attempt: owner.attempt + 1, instanceId: null, startedAt: null, finishedAt: null, leaseExpiresAt: null, error: ended.waiting, output: null });
  }

  async claimRetry(id: string, attempt: number, claim: RunClaim): Promise<Run | null> {
    const doc = await this.runs.findOneAndUpdate(
      { _id: id, status: 'retrying', attempt },
      { $set: { status: 'running', instanceId: claim.instanceId, startedAt: claim.at, leaseExpiresAt: claim.leaseExpiresAt } },
      { returnDocument: 'after' },
    );
    return doc ? toRun(doc) : null;
  }

  async listRunAttempts(runId: string): Promise<RunAttempt[]> {
    const doc = await this.runs.findOne({ _id: runId }, { projection: { attempts: 1 } });
    return (doc?.attempts ?? []).map((a) => ({ ...a }));
  }

  async getRun(id: string): Promise<Run | null> {
    const doc = await this.runs.findOne({ _id: id });
    return doc ? toRun(doc) : null;
  }

  async getRunByOccurrence(jobId: string, scheduledFor: Date): Promise<Run | null> {
    const doc = await this.runs.findOne({ jobId, scheduledFor });
    return doc ? toRun(doc) : null;
  }

  async listRuns(query: RunListQuery): Promise<Page<Run>> {
    const clauses: Filter<RunDoc>[] = [];
    if (query.jobId !== undefined) clauses.push({ jobId: query.jobId });
    if (query.status !== undefined) clauses.push({ status: query.status });
    if (query.instanceId !== undefined) clauses.push({ instanceId: query.instanceId });
    if (query.from !== undefined) clauses.push({ scheduledFor: { $gte: query.from } });
    if (query.to !== undefined) clauses.push({ scheduledFor: { $lt: query.to } });
    if (query.jobSearch) {
      // Resolved to job ids first (small collections); $in on the prefix of runs_job_newest_idx lets the server
      // merge the per-job index ranges in order instead of scanning runs.
      const ids = await this.jobIdsMatching(query.jobSearch);
      if (ids.length === 0) return { items: [], nextCursor: null };
      clauses.push({ jobId: { $in: ids } });
    }
    if (query.cursor) {
      const [at, id] = decodeRunCursor(query.cursor);
      // Keyset on (scheduledFor DESC, _id DESC), matching the *_newest_idx indexes: no skip.
      clauses.push({ $or: [{ scheduledFor: { $lt: at } }, { scheduledFor: at, _id: { $lt: id } }] });
    }
    const docs = await this.runs
      .find(and(clauses))
      .sort({ scheduledFor: -1, _id: -1 })
      .limit(query.limit + 1)
      .toArray();
    return pageOf(docs.map(toRun), query.limit, (r) => [r.scheduledFor.toISOString(), r.id]);
  }

  /** Jobs whose current name, or a name one of their runs was recorded under, contains `text`. */
  private async jobIdsMatching(text: string): Promise<string[]> {
    const regex = { $regex: literalPattern(text), $options: 'i' };
    const [jobs, names] = await Promise.all([
      this.jobs.find({ name: regex }, { projection: { _id: 1 } }).toArray(),
      // Without _id, so run_job_names_name_idx covers the query.
      this.runJobNames.find({ jobName: regex }, { projection: { _id: 0, jobId: 1 } }).toArray(),
    ]);
    return [...new Set([...jobs.map((j) => j._id), ...names.map((n) => n.jobId)])];
  }

  async runStats(query: RunStatsQuery): Promise<RunStatsBucket[]> {
    const bucketMs = bucketMillis(query.bucketSeconds);
    const fromMs = query.from.getTime();
    const filter: Filter<RunDoc> = { scheduledFor: { $gte: query.from, $lt: query.to } };
    if (query.jobId !== undefined) filter.jobId = query.jobId;
    // Streamed in scheduledFor order (runs_newest_idx / runs_job_newest_idx read backwards), so a bucket's runs
    // arrive together and only one bucket's durations are in memory at a time. Percentiles are computed here:
    // $percentile/$median need MongoDB 7 and the test server has neither.
    const cursor = this.runs
      .find(filter, { projection: { _id: 0, scheduledFor: 1, status: 1, startedAt: 1, finishedAt: 1 } })
      .sort({ scheduledFor: 1 });
    const buckets: RunStatsBucket[] = [];
    let current: { index: number; counts: Partial<Record<RunStatus, number>>; durations: number[] } | null = null;
    const flush = (): void => {
      if (!current) return;
      const sorted = current.durations.sort((a, b) => a - b);
      buckets.push({
        bucketStart: new Date(fromMs + current.index * bucketMs),
        counts: current.counts,
        durationP50Ms: percentileCont(sorted, 0.5),
        durationP95Ms: percentileCont(sorted, 0.95),
      });
    };
    for await (const run of cursor) {
      const index = Math.floor((run.scheduledFor.getTime() - fromMs) / bucketMs);
      if (!current || current.index !== index) {
        flush();
        current = { index, counts: {}, durations: [] };
      }
      current.counts[run.status] = (current.counts[run.status] ?? 0) + 1;
      if (run.startedAt && run.finishedAt) current.durations.push(run.finishedAt.getTime() - run.startedAt.getTime());
    }
    flush();
    return buckets;
  }

  async countRunsByInstance(since: Date): Promise<InstanceRunCount[]> {
    const rows = await this.runs
      .aggregate<{ _id: string; count: number }>([
        { $match: { startedAt: { $gte: since }, instanceId: { $ne: null } } },
        { $group: { _id: '$instanceId', count: { $sum: 1 } } },
        { $sort: { count: -1, _id: 1 } },
      ])
      .toArray();
    return rows.map((r) => ({ instanceId: r._id, count: r.count }));
  }

  async countActiveRuns(jobId: string, now: Date): Promise<number> {
    return this.runs.countDocuments({ jobId, status: 'running', leaseExpiresAt: { $gt: now } });
  }

  async pruneRuns(olderThan: Date, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    const ids = (
      await this.runs
        .find({ scheduledFor: { $lt: olderThan }, status: { $nin: ['claimed', 'running', 'retrying'] } }, { projection: { _id: 1 } })
        .sort({ scheduledFor: 1, _id: 1 })
        .limit(limit)
        .toArray()
    ).map((r) => r._id);
    if (ids.length === 0) return 0;
    // The status condition again: never delete a run that is running by now.
    const { deletedCount } = await this.runs.deleteMany({ _id: { $in: ids }, status: { $nin: ['claimed', 'running', 'retrying'] } });
    return deletedCount;
  }

  async listExpiredRuns(before: Date, limit: number): Promise<Run[]> {
    const docs = await this.runs
      .find({ status: { $in: ['claimed', 'running'] }, leaseExpiresAt: { $lt: before } })
      .sort({ leaseExpiresAt: 1, _id: 1 })
      .limit(limit)
      .toArray();
    return docs.map(toRun);
  }

  async upsertInstance(instance: Instance): Promise<void> {
    await this.instances.updateOne(
      { _id: instance.id },
      {
        $set: {
          host: instance.host,
          pid: instance.pid,
          version: instance.version,
          startedAt: instance.startedAt,
          lastSeenAt: instance.lastSeenAt,
          // Whole milliseconds, as the PostgreSQL store keeps them.
          clockSkewMs: Math.round(instance.clockSkewMs),
          stoppedAt: instance.stoppedAt,
          aliveSince: instance.aliveSince,
        },
      },
      { upsert: true },
    );
  }

  async listInstances(): Promise<Instance[]> {
    const docs = await this.instances.find().sort({ lastSeenAt: -1, _id: 1 }).toArray();
    return docs.map(toInstance);
  }

  async pruneInstances(lastSeenBefore: Date): Promise<number> {
    const { deletedCount } = await this.instances.deleteMany({ lastSeenAt: { $lt: lastSeenBefore } });
    return deletedCount;
  }

  async createUser(user: NewUser): Promise<User> {
    const insert = insertStamped(
      this.users,
      {
        username: user.username,
        usernameKey: usernameKey(user.username),
        role: user.role,
        passwordHash: user.passwordHash,
        disabled: user.disabled ?? false,
        failedLogins: 0,
        lockedUntil: null,
      },
      'createUser',
    );
    return toUser(await orTaken(insert, () => new UsernameTakenError(user.username)));
  }

  async getUser(id: string): Promise<User | null> {
    const doc = await this.users.findOne({ _id: id });
    return doc ? toUser(doc) : null;
  }

  async getUserByUsername(username: string): Promise<User | null> {
    const doc = await this.users.findOne({ usernameKey: usernameKey(username) });
    return doc ? toUser(doc) : null;
  }

  async listUsers(): Promise<User[]> {
    // Keys are unique, so key order is the full (key, id) order.
    const docs = await this.users.find().sort({ usernameKey: 1 }).toArray();
    return docs.map(toUser);
  }

  async updateUser(id: string, patch: UserPatch): Promise<User | null> {
    const set: Partial<UserDoc> = {};
    if (patch.username !== undefined) {
      set.username = patch.username;
      set.usernameKey = usernameKey(patch.username);
    }
    if (patch.role !== undefined) set.role = patch.role;
    if (patch.passwordHash !== undefined) set.passwordHash = patch.passwordHash;
    if (patch.disabled !== undefined) set.disabled = patch.disabled;
    if (patch.failedLogins !== undefined) set.failedLogins = patch.failedLogins;
    if (patch.lockedUntil !== undefined) set.lockedUntil = patch.lockedUntil;
    const doc = await orTaken(
      this.users.findOneAndUpdate({ _id: id }, { ...(Object.keys(set).length > 0 ? { $set: set } : {}), $currentDate: { updatedAt: true } }, { returnDocument: 'after' }),
      () => new UsernameTakenError(patch.username ?? ''),
    );
    return doc ? toUser(doc) : null;
  }

  async deleteUser(id: string): Promise<boolean> {
    const { deletedCount } = await this.users.deleteOne({ _id: id });
    // Like the PostgreSQL store's ON DELETE CASCADE (also when a session raced the delete).
    await this.sessions.deleteMany({ userId: id });
    return deletedCount === 1;
  }

  async countUsers(): Promise<number> {
    // Exact (the contract), but from the unique usernameKey index alone: every user has a string key, so the range
    // from '' holds them all and the count needs no document (countDocuments({}) would read every user).
    return this.users.countDocuments({ usernameKey: { $gte: '' } });
  }

  async recordLoginFailure(id: string, lock: { threshold: number; until: Date }): Promise<User | null> {
    // $inc is atomic, so concurrent failures each count; the lock is a second update conditioned on the count,
    // so a success that reset it in between is not undone.
    const doc = await this.users.findOneAndUpdate({ _id: id }, { $inc: { failedLogins: 1 }, $currentDate: { updatedAt: true } }, { returnDocument: 'after' });
    if (!doc) return null;
    if (doc.failedLogins < lock.threshold) return toUser(doc);
    const { matchedCount } = await this.users.updateOne({ _id: id, failedLogins: { $gte: lock.threshold } }, { $set: { lockedUntil: lock.until } });
    // The user as of this failure (later concurrent failures are theirs to report), with the lock if it was set.
    return toUser(matchedCount === 1 ? { ...doc, lockedUntil: lock.until } : doc);
  }

  async recordLoginSuccess(id: string): Promise<User | null> {
    const doc = await this.users.findOneAndUpdate(
      { _id: id },
      { $set: { failedLogins: 0, lockedUntil: null }, $currentDate: { updatedAt: true } },
      { returnDocument: 'after' },
    );
    return doc ? toUser(doc) : null;
  }

  async createSession(session: NewSession): Promise<Session> {
    // insertOne, not an upsert: a caller's id that exists already must fail, not return the other session.
    const now = await this.now();
    const doc: SessionDoc = {
      _id: session.id ?? newSessionId(),
      userId: session.userId,
      createdAt: now,
      expiresAt: session.expiresAt,
      revokedAt: null,
      lastSeenAt: now,
      ip: session.ip,
      userAgent: session.userAgent,
    };
    await this.sessions.insertOne(doc);
    return toSession(doc);
  }

  async getSession(id: string): Promise<Session | null> {
    const doc = await this.sessions.findOne({ _id: id });
    return doc ? toSession(doc) : null;
  }

  async touchSession(id: string, at: Date): Promise<boolean> {
    const { matchedCount } = await this.sessions.updateOne({ _id: id }, { $max: { lastSeenAt: at } });
    return matchedCount === 1;
  }

  async revokeSession(id: string): Promise<boolean> {
    const { matchedCount } = await this.sessions.updateOne({ _id: id, revokedAt: null }, { $currentDate: { revokedAt: true } });
    return matchedCount === 1;
  }

  async revokeUserSessions(userId: string): Promise<number> {
    const { matchedCount } = await this.sessions.updateMany({ userId, revokedAt: null }, { $currentDate: { revokedAt: true } });
    return matchedCount;
  }

  async pruneSessions(expiredBefore: Date): Promise<number> {
    const { deletedCount } = await this.sessions.deleteMany({ $or: [{ expiresAt: { $lt: expiredBefore } }, { revokedAt: { $lt: expiredBefore } }] });
    return deletedCount;
  }

  async createApiToken(token: NewApiToken): Promise<ApiToken> {
    // createdAt is a sort and keyset key: an explicit server-clock Date, not $currentDate (see appendAudit).
    const doc: ApiTokenDoc = {
      _id: randomUUID(),
      name: token.name,
      role: token.role,
      tokenHash: token.tokenHash,
      prefix: token.prefix,
      createdAt: await this.now(),
      createdBy: token.createdBy,
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.apiTokens.insertOne(doc);
    return toApiToken(doc);
  }

  async getApiTokenByHash(tokenHash: string): Promise<ApiToken | null> {
    const doc = await this.apiTokens.findOne({ tokenHash });
    return doc ? toApiToken(doc) : null;
  }

  async listApiTokens(): Promise<ApiToken[]> {
    const docs = await this.apiTokens.find().sort({ createdAt: -1, _id: -1 }).toArray();
    return docs.map(toApiToken);
  }

  async revokeApiToken(id: string): Promise<boolean> {
    const { matchedCount } = await this.apiTokens.updateOne({ _id: id, revokedAt: null }, { $currentDate: { revokedAt: true } });
    return matchedCount === 1;
  }

  async touchApiToken(id: string, at: Date): Promise<boolean> {
    // $max: null sorts below any date, so the first use sets it and a late, older touch never moves it back.
    const { matchedCount } = await this.apiTokens.updateOne({ _id: id }, { $max: { lastUsedAt: at } });
    return matchedCount === 1;
  }

  async appendAudit(entry: NewAuditEntry): Promise<AuditEntry> {
    // `at` is the keyset key of listAudit, so it is written as the millisecond Date that readers see: the server's
    // clock read first, not $currentDate (mongo-java-server keeps $currentDate finer than a millisecond, so the
    // value read back would not equal the stored one and cursors would skip or repeat entries).
    const doc: AuditDoc = {
      _id: randomUUID(),
      at: await this.now(),
      actorType: entry.actorType,
      actorId: entry.actorId,
      actorName: entry.actorName,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      targetName: entry.targetName,
      ip: entry.ip,
      changesJson: entry.changes === null ? null : JSON.stringify(entry.changes),
    };
    await this.audit.insertOne(doc);
    return toAudit(doc);
  }

  async listAudit(query: AuditListQuery): Promise<Page<AuditEntry>> {
    const clauses: Filter<AuditDoc>[] = [];
    if (query.actorName !== undefined) clauses.push({ actorName: query.actorName });
    if (query.action !== undefined) clauses.push({ action: query.action });
    if (query.targetType !== undefined) clauses.push({ targetType: query.targetType });
    if (query.targetId !== undefined) clauses.push({ targetId: query.targetId });
    if (query.from !== undefined) clauses.push({ at: { $gte: query.from } });
    if (query.to !== undefined) clauses.push({ at: { $lt: query.to } });
    if (query.cursor) {
      const [at, id] = decodeRunCursor(query.cursor);
      clauses.push({ $or: [{ at: { $lt: at } }, { at, _id: { $lt: id } }] });
    }
    const docs = await this.audit
      .find(and(clauses))
      .sort({ at: -1, _id: -1 })
      .limit(query.limit + 1)
      .toArray();
    return pageOf(docs.map(toAudit), query.limit, (a) => [a.at.toISOString(), a.id]);
  }
}

/** "mongodb (host:port/database)" for the description: no credentials, no options. */
export function describeMongoUrl(url: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/)(?:[^@/?#]*@)?([^/?#]*)/i.exec(url);
  return `mongodb (${match ? `${match[1]}${match[2]}` : 'mongodb://?'}/${databaseName(url)})`;
}

/** Opens (connects) the store; call migrate() before use (openStore in lib/store does). */
export async function createMongoStore(url: string): Promise<Store> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 15_000 });
  await client.connect();
  return new MongoStore(client, client.db(databaseName(url)), describeMongoUrl(url));
}
