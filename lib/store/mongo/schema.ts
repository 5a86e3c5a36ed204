import 'server-only';
import { MongoServerError, type Db, type IndexDescription } from 'mongodb';
import type { AlertRule } from '../../domain';
import type {
  ApiToken,
  AuditEntry,
  AutoPausePolicy,
  Channel,
  Instance,
  Job,
  PauseRecord,
  RetryPolicy,
  Run,
  RunAttempt,
  Session,
  SigningSecret,
  User,
} from '../types';

// The MongoDB store's schema: collection names, the document types (derived from the domain types: a document is the
// domain object with its id as _id, and the few fields stored differently), the indexes every query needs, and
// migrate(), which creates what is missing and backfills.

export const JOBS = 'jobs';
export const JOB_SIGNING_SECRETS = 'job_signing_secrets';
export const RUNS = 'runs';
export const RUN_OUTPUT_CHUNKS = 'run_output_chunks';
export const INSTANCES = 'instances';
export const RUN_JOB_NAMES = 'run_job_names';
export const USERS = 'users';
export const SESSIONS = 'sessions';
export const API_TOKENS = 'api_tokens';
export const LOGIN_ATTEMPTS = 'login_attempts';
export const AUDIT_LOG = 'audit_log';
export const ALERT_CHANNELS = 'alert_channels';
/** Cancel requests for running runs, as messages a change stream carries to every instance (MongoDB's NOTIFY). */
export const RUN_CANCEL_REQUESTS = 'run_cancel_requests';
export const ALERTS = 'alerts';
export const ALERT_THROTTLES = 'alert_throttles';
export const ALERT_CHANNEL_DAYS = 'alert_channel_days';
export const ALERT_SETTINGS = 'alert_settings';
export const AGENDA_COLLECTION = 'agenda_jobs';
export const AGENDA_LOG_COLLECTION = 'agenda_logs';

/** A domain object as a document: its id is the _id. */
type Doc<T extends { id: string }> = Omit<T, 'id'> & { _id: string };

export type JobDoc = Omit<Doc<Job>, 'payload' | 'retry' | 'concurrencyLimit' | 'pause' | 'autoPause' | 'alerts'> & {
  // Stored as JSON text: payloads are opaque to the store, and user keys with "." or a leading "$" (HTTP header
  // names, say) are not valid everywhere as BSON field names. JSON text also round-trips exactly like PostgreSQL's jsonb.
  payloadJson: string;
  // Absent on documents written before these fields existed: read as the defaults.
  retry?: RetryPolicy;
  concurrencyLimit?: number | null;
  /** A subdocument { at, by: { type, id, name }, note }; absent on documents from before pause records: read as null. */
  pause?: PauseRecord | null;
  /** { afterFailures }; absent on documents from before auto-pause: read as null (never). */
  autoPause?: AutoPausePolicy | null;
  /** Final failures in a row while active (recordOutcome); absent = 0. */
  consecutiveFailures?: number;
  /** Alert rules; absent on documents from before alerts: read as []. */
  alerts?: AlertRule[];
};

/** A job's signing secret; _id is the job's id (one per job), deleted with the job. */
export type SigningSecretDoc = Omit<SigningSecret, 'jobId'> & { _id: string };

export type RunDoc = Omit<Doc<Run>, 'rangeEnd' | 'rangeCount' | 'cancel'> & {
  /** A cancel request (Store.cancelRun); absent on documents written before cancels existed, and until one is made. */
  cancel?: Run['cancel'];
  /** Absent on documents written before ranges existed, and on single-occurrence records. */
  rangeEnd?: Date | null;
  rangeCount?: number | null;
  /** Earlier, taken-over attempts, oldest first; absent until the first takeover. */
  attempts?: RunAttempt[];
};

/** A chunk of a running attempt's live output (lib/store/contract/run-output.ts); _id is "<runId>:<attempt>:<seq>". */
export interface RunOutputChunkDoc {
  _id: string;
  runId: string;
  attempt: number;
  seq: number;
  offset: number;
  text: string;
  at: Date;
}

export type InstanceDoc = Omit<Doc<Instance>, 'aliveSince'> & {
  /** Absent on documents written before it existed: read as startedAt. */
  aliveSince?: Date;
};

/**
 * One cancel request for a running run, inserted by cancelRun for the instances' change streams to see (an insert: the
 * one change event every server serves alike). Not read otherwise; entries older than an hour are deleted by later cancels.
 */
export interface RunCancelRequestDoc {
  _id: string;
  runId: string;
  at: Date;
}

/** A (job, name) pair some run was recorded under; _id is JSON of [jobId, jobName]. */
export type RunJobNameDoc = Pick<Run, 'jobId' | 'jobName'> & { _id: string };

export type UserDoc = Doc<User> & { usernameKey: string };

export type SessionDoc = Doc<Session>;

export type ApiTokenDoc = Doc<ApiToken>;

/** A sign-in budget (lib/store/contract/login-attempts.ts); _id is its key. */
export interface LoginAttemptDoc {
  _id: string;
  attempts: number;
  windowStart: Date;
  windowEnds: Date;
}

/** An alert channel; config as JSON text (as job payloads). */
export type ChannelDoc = Omit<Doc<Channel>, 'config'> & { configJson: string };

export type AuditDoc = Omit<Doc<AuditEntry>, 'changes'> & {
  // JSON text, as job payloads: keys are arbitrary field names.
  changesJson: string | null;
};

/**
 * Every index a query of this store needs, so that no list or filter scans a whole collection.
 * Names are fixed: changing a definition means a new name (MongoDB refuses a different spec under an existing name).
 */
export const INDEXES: Record<string, IndexDescription[]> = {
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
    // The alert scan: runs of the jobs that have rules, finished in a window.
    { key: { jobId: 1, finishedAt: 1 }, name: 'runs_job_finished_idx' },
  ],
  [ALERTS]: [
    // One alert per (event, channel): detecting an event on several instances writes one document.
    { key: { eventKey: 1, channelId: 1 }, name: 'alerts_event_channel_key', unique: true },
    // claimAlert.
    { key: { status: 1, nextAttemptAt: 1, _id: 1 }, name: 'alerts_due_idx' },
    // The Alerts page and a job's latest alerts.
    { key: { createdAt: -1, _id: -1 }, name: 'alerts_newest_idx' },
    { key: { jobId: 1, createdAt: -1, _id: -1 }, name: 'alerts_job_newest_idx' },
  ],
  // listRunOutput, runOutputMarks, and appendRunOutput's and deleteRunOutput's deletes.
  [RUN_OUTPUT_CHUNKS]: [{ key: { runId: 1, attempt: -1, seq: -1 }, name: 'run_output_chunks_run_idx' }],
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
  // pruneLoginAttempts (takes go by _id).
  [LOGIN_ATTEMPTS]: [{ key: { windowEnds: 1 }, name: 'login_attempts_window_ends_idx' }],
  // Uniqueness of names (listChannels sorts the handful in memory).
  [ALERT_CHANNELS]: [{ key: { name: 1 }, name: 'alert_channels_name_key', unique: true }],
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

export const DUPLICATE_KEY = 11000;
const NAMESPACE_EXISTS = 48;
// Transient outcomes of concurrent DDL on a real server (WriteConflict 112, ConflictingOperationInProgress 117,
// IndexBuildAborted 276, IndexBuildAlreadyInProgress 285): retrying converges on the finished state.
const RETRYABLE_DDL = new Set([112, 117, 276, 285]);

export function mongoCode(err: unknown): number | undefined {
  return err instanceof MongoServerError && typeof err.code === 'number' ? err.code : undefined;
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

/** Creates the collections and indexes that are missing, and backfills what a new collection needs (see docs/stores.md). */
export async function migrateSchema(db: Db): Promise<void> {
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  for (const name of [
    JOBS,
    JOB_SIGNING_SECRETS,
    RUNS,
    RUN_OUTPUT_CHUNKS,
    INSTANCES,
    RUN_JOB_NAMES,
    USERS,
    SESSIONS,
    API_TOKENS,
    LOGIN_ATTEMPTS,
    AUDIT_LOG,
    ALERT_CHANNELS,
    ALERTS,
    ALERT_THROTTLES,
    ALERT_CHANNEL_DAYS,
    ALERT_SETTINGS,
    AGENDA_COLLECTION,
  ]) {
    if (existing.has(name)) continue;
    try {
      await retryDdl(() => db.createCollection(name));
    } catch (err) {
      // Another process created it between listCollections and here.
      if (mongoCode(err) !== NAMESPACE_EXISTS) throw err;
    }
  }
  // createIndexes is idempotent for an identical spec, also when several processes send it at once.
  for (const [collection, indexes] of Object.entries(INDEXES)) {
    await retryDdl(() => db.collection(collection).createIndexes(indexes));
  }
  // Upgrade from a database without run_job_names: record the names existing runs carry (a one-off $group over
  // runs; processes racing here insert the same pairs, and duplicates are ignored).
  if (!existing.has(RUN_JOB_NAMES) && existing.has(RUNS)) await backfillRunJobNames(db);
}

async function backfillRunJobNames(db: Db): Promise<void> {
  const pairs = await db
    .collection<RunDoc>(RUNS)
    .aggregate<{ _id: { jobId: string; jobName: string } }>([{ $group: { _id: { jobId: '$jobId', jobName: '$jobName' } } }], {
      allowDiskUse: true,
    })
    .toArray();
  for (let i = 0; i < pairs.length; i += 1000) {
    const docs = pairs
      .slice(i, i + 1000)
      .map(({ _id: p }) => ({ _id: JSON.stringify([p.jobId, p.jobName]), jobId: p.jobId, jobName: p.jobName }));
    try {
      await db.collection<RunJobNameDoc>(RUN_JOB_NAMES).insertMany(docs, { ordered: false });
    } catch (err) {
      if (mongoCode(err) !== DUPLICATE_KEY) throw err;
    }
  }
}
