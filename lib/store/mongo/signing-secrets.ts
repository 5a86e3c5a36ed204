import 'server-only';
import type { SigningSecret, SigningSecretStore } from '../types';
import type { MongoDatabase } from './database';
import { DUPLICATE_KEY, JOB_SIGNING_SECRETS, mongoCode, type JobDoc, type SigningSecretDoc } from './schema';

// Signing secrets on MongoDB: job_signing_secrets, _id = the job's id. Single-document writes, so no transaction: the
// unique _id makes a create first-wins, and a rotation's filter on the current secret makes it a compare-and-set.

function toSigningSecret(doc: SigningSecretDoc): SigningSecret {
  return {
    jobId: doc._id,
    secret: doc.secret,
    createdAt: doc.createdAt,
    previousSecret: doc.previousSecret ?? null,
    previousUntil: doc.previousUntil ?? null,
  };
}

export function mongoSigningSecrets(db: MongoDatabase): SigningSecretStore {
  const jobExists = async (jobId: string): Promise<boolean> => (await db.jobs.findOne({ _id: jobId }, { projection: { _id: 1 } })) !== null;
  const get = async (jobId: string): Promise<SigningSecret | null> => {
    const doc = await db.signingSecrets.findOne({ _id: jobId });
    return doc ? toSigningSecret(doc) : null;
  };

  return {
    getSigningSecret: get,

    async createSigningSecret(jobId: string, secret: string): Promise<SigningSecret | null> {
      if (!(await jobExists(jobId))) return null;
      try {
        // An explicit date from the server's clock ($currentDate keeps sub-millisecond digits on the test server).
        await db.signingSecrets.insertOne({ _id: jobId, secret, createdAt: await db.now(), previousSecret: null, previousUntil: null });
      } catch (err) {
        // Another caller's secret stands.
        if (mongoCode(err) !== DUPLICATE_KEY) throw err;
      }
      // The job may have been deleted (and its secret with it) before our insert: take ours back.
      if (!(await jobExists(jobId))) {
        await db.signingSecrets.deleteOne({ _id: jobId });
        return null;
      }
      return get(jobId);
    },

    async rotateSigningSecret(jobId: string, expected: string, next: string, previousUntil: Date): Promise<SigningSecret | null> {
      const doc = await db.signingSecrets.findOneAndUpdate(
        { _id: jobId, secret: expected },
        { $set: { secret: next, createdAt: await db.now(), previousSecret: expected, previousUntil } },
        { returnDocument: 'after' },
      );
      return doc ? toSigningSecret(doc) : null;
    },

    async listJobsWithoutSigningSecret(type: string, limit: number): Promise<string[]> {
      const docs = await db.jobs
        .aggregate<Pick<JobDoc, '_id'>>([
          { $match: { type } },
          { $sort: { _id: 1 } },
          { $lookup: { from: JOB_SIGNING_SECRETS, localField: '_id', foreignField: '_id', as: 'secret' } },
          { $match: { secret: { $size: 0 } } },
          { $limit: limit },
          { $project: { _id: 1 } },
        ])
        .toArray();
      return docs.map((d) => d._id);
    },
  };
}
