import 'server-only';
import type { Filter } from 'mongodb';
import type {
  ClaimResult,
  ClaimStore,
  HeldRun,
  LeaseRenewal,
  OccurrenceClaim,
  Run,
  RunAttempt,
  RunStart,
  RunTakeover,
  StartResult,
} from '../types';
import type { MongoDatabase } from './database';
import { newRunDoc, toRun } from './documents';
import { recordJobName } from './runs';
import { DUPLICATE_KEY, mongoCode, type RunDoc } from './schema';

// The claim protocol on MongoDB (issue #10), without transactions: the write order is the protocol (see each method).
// A pause or delete closes the job's claims (closeClaims, from jobs.ts).

/** A pause or delete: the job's claimed runs (none started yet) will not start; each gets a 'skipped' record. */
export async function closeClaims(db: MongoDatabase, jobId: string, why: string): Promise<void> {
  await db.runs.updateMany(
    { jobId, status: 'claimed' },
    { $set: { status: 'skipped', finishedAt: new Date(), leaseExpiresAt: null, error: why } },
  );
}

export function mongoClaims(db: MongoDatabase): ClaimStore {
  return {
    async claimOccurrence(claim: OccurrenceClaim): Promise<ClaimResult> {
      const [own, ...more] = claim.runs;
      if (!own) return { outcome: 'stale' };
      // No transaction (a standalone server, the test server among them, has none): the records first, so that a claim
      // is never only in memory and the unique key decides between claimers; then the pointer's compare-and-set. A claimer
      // that dies in between leaves the occurrence recorded and the pointer behind: the next claimer gets 'taken' and
      // the scheduler moves the pointer on as the records say.
      const first = newRunDoc(own);
      await recordJobName(db, own.jobId, own.jobName);
      try {
        await db.runs.insertOne(first);
      } catch (err) {
        if (mongoCode(err) !== DUPLICATE_KEY) throw err;
        const current = await db.jobs.findOne(
          { _id: claim.jobId, version: claim.expected.version, nextRunAt: claim.expected.nextRunAt, paused: false },
          { projection: { _id: 1 } },
        );
        return current ? { outcome: 'taken' } : { outcome: 'stale' };
      }
      const rest = more.map(newRunDoc);
      for (const doc of rest) {
        try {
          await db.runs.insertOne(doc);
        } catch (err) {
          if (mongoCode(err) !== DUPLICATE_KEY) throw err;
        }
      }
      const { matchedCount } = await db.jobs.updateOne(
        { _id: claim.jobId, version: claim.expected.version, nextRunAt: claim.expected.nextRunAt, paused: false },
        { $set: { nextRunAt: claim.nextRunAt }, $currentDate: { updatedAt: true } },
      );
      if (matchedCount === 1) return { outcome: 'claimed', run: toRun(first) };
      // The job moved on meanwhile (an edit, a pause or a delete came first): take the records back, as PostgreSQL's
      // single statement would not have written them. Only while the occurrence's record is still this claimer's own: a
      // pause may have closed it as skipped, or (after a freeze) another instance may have taken it over; then it stays.
      const { deletedCount } = await db.runs.deleteOne({
        _id: first._id,
        status: { $in: ['claimed', 'missed'] },
        instanceId: own.instanceId,
      });
      if (deletedCount === 1 && rest.length > 0)
        await db.runs.deleteMany({ _id: { $in: rest.map((d) => d._id) }, status: 'missed', instanceId: own.instanceId });
      return { outcome: 'stale' };
    },

    async startRun(run: Pick<Run, 'id' | 'jobId' | 'scheduledFor'>, instanceId: string, start: RunStart): Promise<StartResult> {
      // In order: an earlier occurrence still claimed starts first. Claims are written in occurrence order (each moves the
      // pointer past its own), so once none is left before this one, none can appear.
      const earlier = await db.runs.findOne(
        { jobId: run.jobId, status: 'claimed', scheduledFor: { $lt: run.scheduledFor } },
        { projection: { _id: 1 } },
      );
      if (earlier) {
        const mine = await db.runs.findOne({ _id: run.id, status: 'claimed', instanceId }, { projection: { _id: 1 } });
        return mine ? { outcome: 'waiting', reason: 'earlier' } : { outcome: 'lost' };
      }
      const doc = await db.runs.findOneAndUpdate(
        { _id: run.id, status: 'claimed', instanceId },
        {
          $set: {
            status: 'running',
            startedAt: start.queued ? null : start.at,
            leaseExpiresAt: start.leaseExpiresAt,
            trigger: start.trigger,
          },
        },
        { returnDocument: 'after' },
      );
      return doc ? { outcome: 'started', run: toRun(doc) } : { outcome: 'lost' };
    },

    async takeOverClaim(
      id: string,
      expected: { instanceId: string | null; leaseExpiredBefore: Date },
      claim: { instanceId: string; leaseExpiresAt: Date },
    ): Promise<Run | null> {
      const doc = await db.runs.findOneAndUpdate(
        { _id: id, status: 'claimed', instanceId: expected.instanceId, leaseExpiresAt: { $lt: expected.leaseExpiredBefore } },
        { $set: { instanceId: claim.instanceId, leaseExpiresAt: claim.leaseExpiresAt } },
        { returnDocument: 'after' },
      );
      return doc ? toRun(doc) : null;
    },

    async renewLeases(instanceId: string, runs: HeldRun[], leaseExpiresAt: Date): Promise<LeaseRenewal> {
      if (runs.length === 0) return { renewed: [], cancelRequested: [] };
      const held: Filter<RunDoc> = {
        $or: runs.map((r) => ({ _id: r.id, attempt: r.attempt })),
        instanceId,
        status: { $in: ['claimed', 'running'] },
      };
      await db.runs.updateMany(held, { $set: { leaseExpiresAt } });
      // Which ones: those still held (the same filter, so each of them was renewed by the write above, or by a start that
      // landed in between with a lease of its own).
      const renewed = await db.runs.find(held, { projection: { _id: 1, cancel: 1 } }).toArray();
      return { renewed: renewed.map((d) => d._id), cancelRequested: renewed.filter((d) => d.cancel).map((d) => d._id) };
    },

    async releaseRuns(instanceId: string, runs: HeldRun[], expiredAt: Date, note?: string): Promise<number> {
      if (runs.length === 0) return 0;
      const set: Partial<RunDoc> = { leaseExpiresAt: expiredAt };
      if (note !== undefined) set.error = note;
      const { modifiedCount } = await db.runs.updateMany(
        { $or: runs.map((r) => ({ _id: r.id, attempt: r.attempt })), instanceId, status: { $in: ['claimed', 'running'] } },
        { $set: set },
      );
      return modifiedCount;
    },

    async anyInstanceAliveAt(at: Date): Promise<boolean> {
      const doc = await db.instances.findOne(
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
    },

    async takeOverRun(id: string, expected: { attempt: number; leaseExpiredBefore: Date }, takeover: RunTakeover): Promise<Run | null> {
      const current = await db.runs.findOne({
        _id: id,
        status: 'running',
        attempt: expected.attempt,
        leaseExpiresAt: { $lt: expected.leaseExpiredBefore },
        // No further attempt of a run whose cancel was requested: the caller closes it.
        cancel: null,
      });
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
      const doc = await db.runs.findOneAndUpdate(
        {
          _id: id,
          status: 'running',
          attempt: current.attempt,
          instanceId: current.instanceId,
          leaseExpiresAt: current.leaseExpiresAt,
          cancel: null,
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
    },

    async listExpiredRuns(before: Date, limit: number): Promise<Run[]> {
      const docs = await db.runs
        .find({ status: { $in: ['claimed', 'running'] }, leaseExpiresAt: { $lt: before } })
        .sort({ leaseExpiresAt: 1, _id: 1 })
        .limit(limit)
        .toArray();
      return docs.map(toRun);
    },
  };
}
