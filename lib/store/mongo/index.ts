import 'server-only';
import { randomUUID } from 'node:crypto';
import { MongoBackend } from '@agendajs/mongo-backend';
import type { AgendaBackend } from 'agenda';
import { MongoClient, MongoServerError, type Collection, type Db, type Document, type Filter, type IndexDescription } from 'mongodb';
import { ValidationError } from '../../errors';
import type { MissedPolicy, OverlapPolicy } from '../../validation/job';
import type { Schedule } from '../../validation/schedule';
import {
  NameTakenError,
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
  type RunListQuery,
  type RunPatch,
  type RunStatus,
  type RunTrigger,
  type Store,
} from '../types';

export const JOBS = 'jobs';
export const RUNS = 'runs';
export const INSTANCES = 'instances';
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
  ],
  [INSTANCES]: [{ key: { lastSeenAt: -1, _id: 1 }, name: 'instances_last_seen_idx' }],
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

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Ids are lowercase uuid strings (randomUUID), so string order equals PostgreSQL's uuid order.
function isUuid(id: string): boolean {
  return UUID_RE.test(id);
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
  };
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
  if (patch.nextRunAt !== undefined) set.nextRunAt = patch.nextRunAt;
  if (patch.anchorAt !== undefined) set.anchorAt = patch.anchorAt;
  return set;
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

// Cursors: base64url JSON of the last item's sort key, the same encoding as the PostgreSQL store.
function encodeCursor(key: [string, string]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function invalidCursor(): ValidationError {
  return new ValidationError([{ path: 'cursor', message: 'invalid cursor' }]);
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === 2 && typeof key[0] === 'string' && typeof key[1] === 'string' && isUuid(key[1])) {
      return [key[0], key[1]];
    }
  } catch {
    // fall through
  }
  throw invalidCursor();
}

function decodeRunCursor(cursor: string): [Date, string] {
  const [at, id] = decodeCursor(cursor);
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) throw invalidCursor();
  return [date, id];
}

/** Regex source matching `text` literally (valid for MongoDB's PCRE and for Java's regex in the test server). */
function literalPattern(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
}

function pageOf<T>(items: T[], limit: number, keyOf: (item: T) => [string, string]): Page<T> {
  const page = items.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page, nextCursor: items.length > limit && last ? encodeCursor(keyOf(last)) : null };
}

function and<T>(clauses: Filter<T>[]): Filter<T> {
  if (clauses.length === 0) return {};
  if (clauses.length === 1) return clauses[0]!;
  return { $and: clauses } as Filter<T>;
}

/** Database named in the URL path, or the default: never the driver's silent "test". */
function databaseName(url: string): string {
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

class MongoStore implements Store {
  readonly kind = 'mongodb' as const;
  private readonly jobs: Collection<JobDoc>;
  private readonly runs: Collection<RunDoc>;
  private readonly instances: Collection<InstanceDoc>;
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
  }

  createAgendaBackend(): AgendaBackend {
    // Shares this store's client: the backend's disconnect() leaves a passed-in Db open, close() closes it.
    // Agenda creates its own index on connect; concurrent identical createIndex calls are harmless.
    return new MongoBackend({ mongo: this.db, collection: AGENDA_COLLECTION, logCollection: AGENDA_LOG_COLLECTION });
  }

  async migrate(): Promise<void> {
    const existing = new Set((await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    for (const name of [JOBS, RUNS, INSTANCES, AGENDA_COLLECTION]) {
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
    const id = randomUUID();
    try {
      // An upsert on a fresh id instead of insertOne: it lets $currentDate stamp createdAt/updatedAt with the
      // server's clock, the same clock as now().
      const doc = await this.jobs.findOneAndUpdate(
        { _id: id },
        {
          $setOnInsert: {
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
            nextRunAt: job.nextRunAt,
            anchorAt: job.anchorAt,
            version: 1,
          },
          $currentDate: { createdAt: true, updatedAt: true },
        },
        { upsert: true, returnDocument: 'after' },
      );
      if (!doc) throw new Error('createJob: the upsert returned no document');
      return toJob(doc);
    } catch (err) {
      // The only unique index of jobs besides _id (a fresh uuid) is the name.
      if (mongoCode(err) === DUPLICATE_KEY) throw new NameTakenError(job.name);
      throw err;
    }
  }

  async getJob(id: string): Promise<Job | null> {
    const doc = await this.jobs.findOne({ _id: id });
    return doc ? toJob(doc) : null;
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
    try {
      const doc = await this.jobs.findOneAndUpdate(
        { _id: id },
        { $set: jobSet(patch), $inc: { version: 1 }, $currentDate: { updatedAt: true } },
        { returnDocument: 'after' },
      );
      return doc ? toJob(doc) : null;
    } catch (err) {
      if (mongoCode(err) === DUPLICATE_KEY) throw new NameTakenError(patch.name ?? '');
      throw err;
    }
  }

  async deleteJob(id: string): Promise<boolean> {
    // Runs stay: they carry jobName, so history survives the job.
    const { deletedCount } = await this.jobs.deleteOne({ _id: id });
    return deletedCount === 1;
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

  async insertRun(run: NewRun): Promise<Run | null> {
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
    try {
      await this.runs.insertOne(doc);
      return toRun(doc);
    } catch (err) {
      // _id is a fresh uuid, so a duplicate key is the (jobId, scheduledFor) occurrence: taken is an answer.
      if (mongoCode(err) === DUPLICATE_KEY) return null;
      throw err;
    }
  }

  async updateRun(id: string, patch: RunPatch): Promise<Run | null> {
    const set = runSet(patch);
    if (Object.keys(set).length === 0) return this.getRun(id);
    const doc = await this.runs.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' });
    return doc ? toRun(doc) : null;
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

  async listExpiredRuns(before: Date, limit: number): Promise<Run[]> {
    const docs = await this.runs
      .find({ status: 'running', leaseExpiresAt: { $lt: before } })
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
        },
      },
      { upsert: true },
    );
  }

  async listInstances(): Promise<Instance[]> {
    const docs = await this.instances.find().sort({ lastSeenAt: -1, _id: 1 }).toArray();
    return docs.map(toInstance);
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
