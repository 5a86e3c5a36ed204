import 'server-only';
import { randomUUID } from 'node:crypto';
import { type MongoClient, type Collection, type Db, type Document, type Filter, type UpdateFilter } from 'mongodb';
import type { FilterOp } from '../shared/fields';
import type { DatabaseLifecycle } from '../types';
import {
  ALERT_CHANNELS,
  API_TOKENS,
  AUDIT_LOG,
  DUPLICATE_KEY,
  INSTANCES,
  JOB_SIGNING_SECRETS,
  JOBS,
  LOGIN_ATTEMPTS,
  mongoCode,
  migrateSchema,
  RUN_CANCEL_REQUESTS,
  RUN_JOB_NAMES,
  RUN_OUTPUT_CHUNKS,
  RUNS,
  SESSIONS,
  USERS,
  type ApiTokenDoc,
  type AuditDoc,
  type ChannelDoc,
  type InstanceDoc,
  type JobDoc,
  type LoginAttemptDoc,
  type RunCancelRequestDoc,
  type RunDoc,
  type RunJobNameDoc,
  type RunOutputChunkDoc,
  type SessionDoc,
  type SigningSecretDoc,
  type UserDoc,
} from './schema';

/** Used when the URL names no database (the driver would silently pick "test"). */
const DEFAULT_DATABASE = 'cronplane';
const COMMAND_NOT_FOUND = 59;

/** One MongoDB database as every part of the store uses it: the client, its typed collections, and the server's clock. */
export class MongoDatabase {
  readonly jobs: Collection<JobDoc>;
  readonly signingSecrets: Collection<SigningSecretDoc>;
  readonly runs: Collection<RunDoc>;
  readonly runOutput: Collection<RunOutputChunkDoc>;
  readonly instances: Collection<InstanceDoc>;
  readonly runJobNames: Collection<RunJobNameDoc>;
  readonly users: Collection<UserDoc>;
  readonly sessions: Collection<SessionDoc>;
  readonly apiTokens: Collection<ApiTokenDoc>;
  readonly loginAttempts: Collection<LoginAttemptDoc>;
  readonly cancelRequests: Collection<RunCancelRequestDoc>;
  readonly audit: Collection<AuditDoc>;
  readonly channels: Collection<ChannelDoc>;
  /** `hello` needs MongoDB 4.4.2+ (and is what Stable API servers accept); older servers answer `isMaster`. */
  private clockCommand: 'hello' | 'isMaster' = 'hello';

  constructor(
    readonly client: MongoClient,
    readonly mongo: Db,
  ) {
    this.jobs = mongo.collection<JobDoc>(JOBS);
    this.signingSecrets = mongo.collection<SigningSecretDoc>(JOB_SIGNING_SECRETS);
    this.runs = mongo.collection<RunDoc>(RUNS);
    this.runOutput = mongo.collection<RunOutputChunkDoc>(RUN_OUTPUT_CHUNKS);
    this.instances = mongo.collection<InstanceDoc>(INSTANCES);
    this.runJobNames = mongo.collection<RunJobNameDoc>(RUN_JOB_NAMES);
    this.users = mongo.collection<UserDoc>(USERS);
    this.sessions = mongo.collection<SessionDoc>(SESSIONS);
    this.apiTokens = mongo.collection<ApiTokenDoc>(API_TOKENS);
    this.loginAttempts = mongo.collection<LoginAttemptDoc>(LOGIN_ATTEMPTS);
    this.cancelRequests = mongo.collection<RunCancelRequestDoc>(RUN_CANCEL_REQUESTS);
    this.audit = mongo.collection<AuditDoc>(AUDIT_LOG);
    this.channels = mongo.collection<ChannelDoc>(ALERT_CHANNELS);
  }

  /** The database server's clock. */
  async now(): Promise<Date> {
    let reply: Document;
    try {
      reply = await this.mongo.admin().command({ [this.clockCommand]: 1 });
    } catch (err) {
      // Not on the command in use now: concurrent first calls all fail on 'hello', and each must fall back.
      if (mongoCode(err) !== COMMAND_NOT_FOUND) throw err;
      this.clockCommand = 'isMaster';
      reply = await this.mongo.admin().command({ isMaster: 1 });
    }
    const localTime: unknown = reply.localTime;
    if (!(localTime instanceof Date)) throw new Error(`the MongoDB server did not report its clock (${this.clockCommand}.localTime)`);
    return localTime;
  }
}

export function and<T>(clauses: Filter<T>[]): Filter<T> {
  if (clauses.length === 0) return {};
  if (clauses.length === 1) return clauses[0]!;
  return { $and: clauses } as Filter<T>;
}

/** Database named in the URL path, or the default: never the driver's silent "test". */
export function databaseName(url: string): string {
  const path = /^mongodb(?:\+srv)?:\/\/[^/?#]*\/([^?#]*)/i.exec(url)?.[1];
  return path ? decodeURIComponent(path) : DEFAULT_DATABASE;
}

const OPERATORS: Record<FilterOp, string | null> = { '=': null, '>=': '$gte', '<': '$lt' };

/** A list's active filters (lib/store/shared/fields.ts) as query clauses, one per filter. */
export function filterClauses<T>(filters: Array<{ field: string; op: FilterOp; value: unknown }>): Filter<T>[] {
  return filters.map(({ field, op, value }) => {
    const operator = OPERATORS[op];
    return { [field]: operator === null ? value : { [operator]: value } } as Filter<T>;
  });
}

/** Runs `write`; a duplicate key (the collection's one unique index besides _id) becomes the domain error `taken()`. */
export async function orTaken<T>(write: Promise<T>, taken: () => Error): Promise<T> {
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
export async function insertStamped<T extends Stamps>(
  collection: Collection<T>,
  fields: Omit<T, keyof Stamps>,
  caller: string,
): Promise<T> {
  const doc = await collection.findOneAndUpdate(
    { _id: randomUUID() } as Filter<T>,
    // The driver's update types cannot be checked against a generic T; `fields` is typed by the signature instead.
    { $setOnInsert: fields, $currentDate: { createdAt: true, updatedAt: true } } as unknown as UpdateFilter<T>,
    { upsert: true, returnDocument: 'after' },
  );
  if (!doc) throw new Error(`${caller}: the upsert returned no document`);
  return doc as T;
}

/** "mongodb (host:port/database)" for the description: no credentials, no options. */
export function describeMongoUrl(url: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/)(?:[^@/?#]*@)?([^/?#]*)/i.exec(url);
  return `mongodb (${match ? `${match[1]}${match[2]}` : 'mongodb://?'}/${databaseName(url)})`;
}

export function mongoLifecycle(db: MongoDatabase, description: string): DatabaseLifecycle {
  return {
    kind: 'mongodb',
    description,

    migrate: () => migrateSchema(db.mongo),

    async close(): Promise<void> {
      await db.client.close();
    },

    now: () => db.now(),

    async ping(): Promise<void> {
      await db.mongo.command({ ping: 1 });
    },
  };
}
