import 'server-only';
import { randomUUID } from 'node:crypto';
import type { ChangeStream, Filter } from 'mongodb';
import { logger } from '../../log';
import { decodeTimeCursor, pageOf } from '../shared/cursor';
import { activeFilters, RUN_FILTERS } from '../shared/fields';
import { bucketMillis, percentileCont } from '../shared/stats';
import { literalPattern } from '../shared/text';
import type {
  CancelResult,
  InstanceRunCount,
  NewRun,
  Page,
  Run,
  RunAttempt,
  RunCancel,
  RunClaim,
  RunListQuery,
  RunOwner,
  RunPatch,
  RunRetry,
  RunStatsBucket,
  RunStatsQuery,
  RunStatus,
  RunStore,
  StopWatching,
} from '../types';
import { and, filterClauses, type MongoDatabase } from './database';
import { newRunDoc, runSet, toRun } from './documents';
import { DUPLICATE_KEY, mongoCode, type RunCancelRequestDoc, type RunDoc } from './schema';

// Run records on MongoDB: written, finished, retried, read, listed, counted and pruned.

/**
 * The (job, name) pair for listRuns' jobSearch, before the run itself: a crash in between leaves an extra pair
 * (harmless: the job did carry that name), never a run that jobSearch cannot find.
 */
export async function recordJobName(db: MongoDatabase, jobId: string, jobName: string): Promise<void> {
  try {
    await db.runJobNames.insertOne({ _id: JSON.stringify([jobId, jobName]), jobId, jobName });
  } catch (err) {
    if (mongoCode(err) !== DUPLICATE_KEY) throw err;
  }
}

/** Jobs whose current name, or a name one of their runs was recorded under, contains `text`. */
async function jobIdsMatching(db: MongoDatabase, text: string): Promise<string[]> {
  const regex = { $regex: literalPattern(text), $options: 'i' };
  const [jobs, names] = await Promise.all([
    db.jobs.find({ name: regex }, { projection: { _id: 1 } }).toArray(),
    // Without _id, so run_job_names_name_idx covers the query.
    db.runJobNames.find({ jobName: regex }, { projection: { _id: 0, jobId: 1 } }).toArray(),
  ]);
  return [...new Set([...jobs.map((j) => j._id), ...names.map((n) => n.jobId)])];
}

const RECONNECT_MS = 500;
/** The server answers that it has no change streams (a standalone mongod): the lease renewal carries cancels alone. */
const UNSUPPORTED = [40573, 115, 59];

/** Cancel request messages older than this are deleted by a later cancel (they were delivered long ago, or never will be). */
const REQUEST_KEPT_MS = 3_600_000;

/**
 * A change stream of inserts into the cancel requests (MongoDB's NOTIFY): re-opened after an error (a restart, a lost
 * primary) every RECONNECT_MS. Requests made while it was closed are carried by the lease renewal. Inserts, not the
 * runs' own updates: their change events look alike on every server (the test server's update events lack
 * updateDescription and the document key).
 */
function watchCancels(db: MongoDatabase, onRequest: (runId: string) => void): StopWatching {
  const log = logger('store');
  let stopped = false;
  let stream: ChangeStream<RunCancelRequestDoc> | null = null;
  let timer: NodeJS.Timeout | null = null;
  const open = (): void => {
    timer = null;
    if (stopped) return;
    const next = db.cancelRequests.watch<RunCancelRequestDoc>([{ $match: { operationType: 'insert' } }]);
    stream = next;
    next.on('change', (change) => {
      if (change.operationType === 'insert' && typeof change.fullDocument.runId === 'string') onRequest(change.fullDocument.runId);
    });
    next.on('error', (err: unknown) => {
      if (stream === next) stream = null;
      void next.close().catch(() => undefined);
      if (UNSUPPORTED.includes(mongoCode(err) ?? -1)) {
        log.info('no change streams on this MongoDB server: cancels reach their runs with the lease renewal');
        return;
      }
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'cancel change stream failed; re-opening');
      if (!stopped && timer === null) timer = setTimeout(open, RECONNECT_MS);
    });
  };
  // Only a replica set (or sharded cluster) offers change streams, as for dispatch (lib/scheduler/scheduler.ts): on a
  // standalone server the watch fails with no code at all on some servers (the test server), and re-opening it every
  // RECONNECT_MS only filled the log. Judged once, before the first open.
  void db.mongo
    .admin()
    .command({ hello: 1 })
    .catch(() => db.mongo.admin().command({ isMaster: 1 }))
    .catch(() => null)
    .then((hello) => {
      if (stopped) return;
      if (hello !== null && (typeof hello.setName === 'string' || hello.msg === 'isdbgrid')) return open();
      log.info('MongoDB is not a replica set, no change streams: cancels reach their runs with the lease renewal');
    });
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    const current = stream;
    stream = null;
    await current?.close().catch(() => undefined);
  };
}

export function mongoRuns(db: MongoDatabase): RunStore {
  return {
    async insertRun(run: NewRun): Promise<Run | null> {
      const doc = newRunDoc(run);
      await recordJobName(db, run.jobId, run.jobName);
      try {
        await db.runs.insertOne(doc);
        return toRun(doc);
      } catch (err) {
        // _id is a fresh uuid, so a duplicate key is the (jobId, scheduledFor) occurrence: taken is an answer.
        if (mongoCode(err) === DUPLICATE_KEY) return null;
        throw err;
      }
    },

    async updateRun(id: string, patch: RunPatch, owner?: RunOwner): Promise<Run | null> {
      const set = runSet(patch);
      const filter: Filter<RunDoc> = owner
        ? { _id: id, status: 'running', attempt: owner.attempt, instanceId: owner.instanceId }
        : { _id: id };
      if (Object.keys(set).length === 0) {
        const doc = await db.runs.findOne(filter);
        return doc ? toRun(doc) : null;
      }
      const doc = await db.runs.findOneAndUpdate(filter, { $set: set }, { returnDocument: 'after' });
      return doc ? toRun(doc) : null;
    },

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
      const before = await db.runs.findOneAndUpdate(
        // A run whose cancel was requested gets no further attempt: its owner closes it 'cancelled'.
        { _id: id, status: 'running', attempt: owner.attempt, instanceId: owner.instanceId, cancel: null },
        {
          $set: {
            status: 'retrying',
            attempt: owner.attempt + 1,
            instanceId: null,
            startedAt: null,
            finishedAt: null,
            leaseExpiresAt: null,
            error: ended.waiting,
            output: null,
          },
          $push: { attempts: attempt },
        },
        { returnDocument: 'before' },
      );
      if (!before) return null;
      await db.runs.updateOne({ _id: id, 'attempts.attempt': owner.attempt }, { $set: { 'attempts.$.startedAt': before.startedAt } });
      return toRun({
        ...before,
        status: 'retrying',
        attempt: owner.attempt + 1,
        instanceId: null,
        startedAt: null,
        finishedAt: null,
        leaseExpiresAt: null,
        error: ended.waiting,
        output: null,
      });
    },

    async claimRetry(id: string, attempt: number, claim: RunClaim): Promise<Run | null> {
      const doc = await db.runs.findOneAndUpdate(
        { _id: id, status: 'retrying', attempt },
        { $set: { status: 'running', instanceId: claim.instanceId, startedAt: claim.at, leaseExpiresAt: claim.leaseExpiresAt } },
        { returnDocument: 'after' },
      );
      return doc ? toRun(doc) : null;
    },

    async listRunAttempts(runId: string): Promise<RunAttempt[]> {
      const doc = await db.runs.findOne({ _id: runId }, { projection: { attempts: 1 } });
      return (doc?.attempts ?? []).map((a) => ({ ...a }));
    },

    async getRun(id: string): Promise<Run | null> {
      const doc = await db.runs.findOne({ _id: id });
      return doc ? toRun(doc) : null;
    },

    async getRunByOccurrence(jobId: string, scheduledFor: Date): Promise<Run | null> {
      const doc = await db.runs.findOne({ jobId, scheduledFor });
      return doc ? toRun(doc) : null;
    },

    async listRuns(query: RunListQuery): Promise<Page<Run>> {
      const clauses: Filter<RunDoc>[] = [];
      if (query.jobId !== undefined) clauses.push({ jobId: query.jobId });
      clauses.push(...filterClauses<RunDoc>(activeFilters(query, RUN_FILTERS)));
      if (query.jobSearch) {
        // Resolved to job ids first (small collections); $in on the prefix of runs_job_newest_idx lets the server
        // merge the per-job index ranges in order instead of scanning runs.
        const ids = await jobIdsMatching(db, query.jobSearch);
        if (ids.length === 0) return { items: [], nextCursor: null };
        clauses.push({ jobId: { $in: ids } });
      }
      if (query.cursor) {
        const [at, id] = decodeTimeCursor(query.cursor);
        // Keyset on (scheduledFor DESC, _id DESC), matching the *_newest_idx indexes: no skip.
        clauses.push({ $or: [{ scheduledFor: { $lt: at } }, { scheduledFor: at, _id: { $lt: id } }] });
      }
      const docs = await db.runs
        .find(and(clauses))
        .sort({ scheduledFor: -1, _id: -1 })
        .limit(query.limit + 1)
        .toArray();
      return pageOf(docs.map(toRun), query.limit, (r) => [r.scheduledFor.toISOString(), r.id]);
    },

    async runStats(query: RunStatsQuery): Promise<RunStatsBucket[]> {
      const bucketMs = bucketMillis(query.bucketSeconds);
      const fromMs = query.from.getTime();
      const filter: Filter<RunDoc> = { scheduledFor: { $gte: query.from, $lt: query.to } };
      if (query.jobId !== undefined) filter.jobId = query.jobId;
      // Streamed in scheduledFor order (runs_newest_idx / runs_job_newest_idx read backwards), so a bucket's runs
      // arrive together and only one bucket's durations are in memory at a time. Percentiles are computed here:
      // $percentile/$median need MongoDB 7 and the test server has neither.
      const cursor = db.runs
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
    },

    async countRunsByInstance(since: Date): Promise<InstanceRunCount[]> {
      const rows = await db.runs
        .aggregate<{ _id: string; count: number }>([
          { $match: { startedAt: { $gte: since }, instanceId: { $ne: null } } },
          { $group: { _id: '$instanceId', count: { $sum: 1 } } },
          { $sort: { count: -1, _id: 1 } },
        ])
        .toArray();
      return rows.map((r) => ({ instanceId: r._id, count: r.count }));
    },

    async countActiveRuns(jobId: string, now: Date): Promise<number> {
      return db.runs.countDocuments({ jobId, status: 'running', leaseExpiresAt: { $gt: now } });
    },

    async cancelRun(id: string, request: RunCancel, message: string): Promise<CancelResult> {
      // Each step is one conditional write (a compare-and-set on the status); a status that changed between two steps
      // (running -> retrying) is tried again.
      for (let tries = 0; tries < 5; tries++) {
        const closed = await db.runs.findOneAndUpdate(
          { _id: id, status: { $in: ['claimed', 'retrying'] } },
          { $set: { status: 'cancelled', finishedAt: request.at, leaseExpiresAt: null, error: message, cancel: request } },
          { returnDocument: 'after' },
        );
        if (closed) return { outcome: 'cancelled', run: toRun(closed) };
        const requested = await db.runs.findOneAndUpdate(
          { _id: id, status: 'running', cancel: null },
          { $set: { cancel: request } },
          { returnDocument: 'after' },
        );
        if (requested) {
          // The message for the instances' change streams; the lease renewal is the fallback if it is lost.
          const now = new Date();
          await db.cancelRequests.insertOne({ _id: randomUUID(), runId: id, at: now });
          await db.cancelRequests.deleteMany({ at: { $lt: new Date(now.getTime() - REQUEST_KEPT_MS) } });
          return { outcome: 'requested', run: toRun(requested) };
        }
        const doc = await db.runs.findOne({ _id: id });
        if (!doc) return { outcome: 'missing' };
        if (doc.status === 'running') return { outcome: 'requested', run: toRun(doc) };
        if (doc.status !== 'claimed' && doc.status !== 'retrying') return { outcome: 'final', run: toRun(doc) };
      }
      throw new Error(`could not cancel run ${id}: its status kept changing`);
    },

    async watchCancelRequests(onRequest: (runId: string) => void): Promise<StopWatching> {
      return watchCancels(db, onRequest);
    },

    async pruneRuns(olderThan: Date, limit: number): Promise<number> {
      if (limit <= 0) return 0;
      const ids = (
        await db.runs
          .find({ scheduledFor: { $lt: olderThan }, status: { $nin: ['claimed', 'running', 'retrying'] } }, { projection: { _id: 1 } })
          .sort({ scheduledFor: 1, _id: 1 })
          .limit(limit)
          .toArray()
      ).map((r) => r._id);
      if (ids.length === 0) return 0;
      // The status condition again: never delete a run that is running by now.
      const { deletedCount } = await db.runs.deleteMany({ _id: { $in: ids }, status: { $nin: ['claimed', 'running', 'retrying'] } });
      // Their live output, if any was left (PostgreSQL's foreign key cascades): only of runs that are gone by now.
      const kept = new Set((await db.runs.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray()).map((r) => r._id));
      const gone = ids.filter((id) => !kept.has(id));
      if (gone.length > 0) await db.runOutput.deleteMany({ runId: { $in: gone } });
      return deletedCount;
    },
  };
}
