import 'server-only';
import type { Document, Filter } from 'mongodb';
import { decodeCursor, pageOf } from '../shared/cursor';
import { byCodePoint, literalPattern } from '../shared/text';
import {
  DEFAULT_RETRY,
  NameTakenError,
  type Job,
  type JobListQuery,
  type JobPatch,
  type JobStore,
  type JobWithLastRun,
  type NewJob,
  type OutcomeCount,
  type Page,
  type PauseRecord,
} from '../types';
import { closeClaims } from './claims';
import { and, insertStamped, orTaken, type MongoDatabase } from './database';
import { jobSet, pauseDoc, toJob, toJobWithLastRun, type LastRunDoc } from './documents';
import { RUNS, type JobDoc } from './schema';

export function mongoJobs(db: MongoDatabase): JobStore {
  return {
    async createJob(job: NewJob): Promise<Job> {
      const insert = insertStamped(
        db.jobs,
        {
          name: job.name,
          description: job.description,
          type: job.type,
          payloadJson: JSON.stringify(job.payload),
          schedule: job.schedule,
          paused: job.paused,
          pause: pauseDoc(job.pause ?? null),
          timeoutSeconds: job.timeoutSeconds,
          overlapPolicy: job.overlapPolicy,
          missedPolicy: job.missedPolicy,
          tags: job.tags,
          retry: { ...(job.retry ?? DEFAULT_RETRY) },
          concurrencyLimit: job.concurrencyLimit ?? null,
          autoPause: job.autoPause ? { afterFailures: job.autoPause.afterFailures } : null,
          consecutiveFailures: 0,
          alerts: job.alerts ?? [],
          nextRunAt: job.nextRunAt,
          anchorAt: job.anchorAt,
          version: 1,
        },
        'createJob',
      );
      // The only unique index of jobs besides _id (a fresh uuid) is the name.
      return toJob(await orTaken(insert, () => new NameTakenError(job.name)));
    },

    async getJob(id: string): Promise<Job | null> {
      const doc = await db.jobs.findOne({ _id: id });
      return doc ? toJob(doc) : null;
    },

    async listTags(limit: number): Promise<string[]> {
      const tags = (await db.jobs.distinct('tags')).filter((t): t is string => typeof t === 'string');
      // Code point order, as PostgreSQL's COLLATE "C" (JS's default sort compares UTF-16 units instead).
      return tags.sort(byCodePoint).slice(0, limit);
    },

    async listJobNames(limit: number): Promise<Array<{ id: string; name: string }>> {
      // Names are unique, so name alone orders them (binary comparison: code points, as listJobs).
      const docs = await db.jobs
        .find({}, { projection: { name: 1 } })
        .sort({ name: 1 })
        .limit(limit)
        .toArray();
      return docs.map((d) => ({ id: d._id, name: d.name }));
    },

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
      const docs = await db.jobs
        // Sorted by name alone: names are unique, so that is already the (name, id) order, and the unique name
        // index can deliver it without an in-memory sort.
        .aggregate<JobDoc & { lastRun: LastRunDoc[] }>([
          { $match: and(clauses) },
          { $sort: { name: 1 } },
          { $limit: query.limit + 1 },
          lastRun,
        ])
        .toArray();
      const jobs: JobWithLastRun[] = docs.map(toJobWithLastRun);
      return pageOf(jobs, query.limit, (j) => [j.name, j.id]);
    },

    async updateJob(id: string, patch: JobPatch): Promise<Job | null> {
      const doc = await orTaken(
        db.jobs.findOneAndUpdate(
          { _id: id },
          { $set: jobSet(patch), $inc: { version: 1 }, $currentDate: { updatedAt: true } },
          { returnDocument: 'after' },
        ),
        () => new NameTakenError(patch.name ?? ''),
      );
      // After the paused job is written: no claim can complete any more (its compare-and-set needs the job active and at
      // its version), and the claims made before it are closed here (see claimOccurrence).
      if (doc && patch.paused === true) await closeClaims(db, id, 'skipped: the job was paused before this occurrence started');
      return doc ? toJob(doc) : null;
    },

    async deleteJob(id: string): Promise<boolean> {
      // Paused first, as a pause: no claim completes after it, the earlier ones are closed; then the document goes. A crash
      // in between leaves the job paused, not half-deleted. Runs stay: they carry jobName, so history survives the job.
      const paused = await db.jobs.findOneAndUpdate(
        { _id: id },
        { $set: { paused: true }, $inc: { version: 1 } },
        { returnDocument: 'after', projection: { _id: 1 } },
      );
      if (!paused) return false;
      await closeClaims(db, id, 'skipped: the job was deleted before this occurrence started');
      const { deletedCount } = await db.jobs.deleteOne({ _id: id });
      // Its signing secret goes with it (PostgreSQL: ON DELETE CASCADE). One left by a crash here is never read again.
      await db.signingSecrets.deleteOne({ _id: id });
      return deletedCount === 1;
    },

    async advanceJob(id: string, expected: { version: number; nextRunAt: Date }, nextRunAt: Date | null): Promise<boolean> {
      // One document update is atomic: the filter is the compare, $set the swap.
      const { matchedCount } = await db.jobs.updateOne(
        { _id: id, version: expected.version, nextRunAt: expected.nextRunAt },
        { $set: { nextRunAt } },
      );
      return matchedCount === 1;
    },

    async listDueJobs(before: Date, limit: number): Promise<Job[]> {
      // `paused: false` literally, so the partial index jobs_due_idx applies.
      const docs = await db.jobs
        .find({ paused: false, nextRunAt: { $lt: before } })
        .sort({ nextRunAt: 1, _id: 1 })
        .limit(limit)
        .toArray();
      return docs.map(toJob);
    },

    async recordOutcome(jobId: string, outcome: 'failure' | 'success'): Promise<OutcomeCount | null> {
      // One document update is atomic: concurrent outcomes each add their one (or reset).
      const doc = await db.jobs.findOneAndUpdate(
        { _id: jobId, paused: false, 'autoPause.afterFailures': { $exists: true } },
        outcome === 'failure' ? { $inc: { consecutiveFailures: 1 } } : { $set: { consecutiveFailures: 0 } },
        { returnDocument: 'after', projection: { consecutiveFailures: 1, autoPause: 1 } },
      );
      if (!doc) return null;
      return {
        consecutiveFailures: doc.consecutiveFailures ?? 0,
        autoPause: doc.autoPause ? { afterFailures: doc.autoPause.afterFailures } : null,
      };
    },

    async autoPauseJob(id: string, pause: PauseRecord): Promise<Job | null> {
      const current = await db.jobs.findOne({ _id: id }, { projection: { autoPause: 1 } });
      const after = current?.autoPause?.afterFailures;
      if (after === undefined) return null;
      // The compare-and-set in one document update (no $expr: the filter names the policy read above, so a policy
      // changed meanwhile does not match): after the first caller's update the job is paused with a count of 0, and no
      // other caller's filter matches any more.
      const doc = await db.jobs.findOneAndUpdate(
        { _id: id, paused: false, 'autoPause.afterFailures': after, consecutiveFailures: { $gte: after } },
        {
          $set: { paused: true, pause: pauseDoc(pause), nextRunAt: null, consecutiveFailures: 0 },
          $inc: { version: 1 },
          $currentDate: { updatedAt: true },
        },
        { returnDocument: 'after' },
      );
      if (!doc) return null;
      // As a pause: the claims made before it are closed (none can complete after it).
      await closeClaims(db, id, 'skipped: the job was paused before this occurrence started');
      return toJob(doc);
    },
  };
}
