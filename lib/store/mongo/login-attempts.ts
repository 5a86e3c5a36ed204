import 'server-only';
import type { LoginAttemptGrant, LoginAttemptStore } from '../types';
import type { MongoDatabase } from './database';
import { DUPLICATE_KEY, mongoCode, type LoginAttemptDoc } from './schema';

// Sign-in budgets on MongoDB: login_attempts, one document per key (_id), its window reused once over.

function granted(doc: LoginAttemptDoc): LoginAttemptGrant {
  return { granted: true, attempts: doc.attempts, windowStart: doc.windowStart, windowEnds: doc.windowEnds };
}

export function mongoLoginAttempts(db: MongoDatabase): LoginAttemptStore {
  return {
    async takeLoginAttempt(key: string, limit: { max: number; windowMs: number }): Promise<LoginAttemptGrant> {
      for (let round = 0; ; round++) {
        const now = await db.now();
        // A live window with room: count the attempt (one findAndModify, atomic on the document).
        const counted = await db.loginAttempts.findOneAndUpdate(
          { _id: key, windowEnds: { $gt: now }, attempts: { $lt: limit.max } },
          { $inc: { attempts: 1 } },
          { returnDocument: 'after' },
        );
        if (counted) return granted(counted);
        // No window, or one that is over: start a new one with this attempt. The filter holds _id, so a live window (full,
        // or just started by a concurrent take) makes the upsert insert a second document with that _id: the unique _id
        // refuses it (E11000), and exactly one of several concurrent first takes creates the document.
        try {
          const started = await db.loginAttempts.findOneAndUpdate(
            { _id: key, windowEnds: { $lte: now } },
            { $set: { attempts: 1, windowStart: now, windowEnds: new Date(now.getTime() + limit.windowMs) } },
            { upsert: true, returnDocument: 'after' },
          );
          if (started) return granted(started);
        } catch (err) {
          if (mongoCode(err) !== DUPLICATE_KEY) throw err;
        }
        const current = await db.loginAttempts.findOne({ _id: key });
        if (current && current.attempts >= limit.max) {
          // Capped at the window's length: a concurrent attempt that read the clock after this one may have opened it.
          const retryAfterMs = Math.min(limit.windowMs, current.windowEnds.getTime() - now.getTime());
          if (retryAfterMs > 0) return { granted: false, retryAt: current.windowEnds, retryAfterMs };
        }
        // Another take started the window between our writes, or an attempt was given back: take again.
        if (round >= 10) throw new Error('takeLoginAttempt: the budget kept changing under the take');
      }
    },

    async returnLoginAttempt(key: string, windowStart: Date): Promise<boolean> {
      const now = await db.now();
      const { matchedCount } = await db.loginAttempts.updateOne(
        { _id: key, windowStart, attempts: { $gt: 0 }, windowEnds: { $gt: now } },
        { $inc: { attempts: -1 } },
      );
      return matchedCount === 1;
    },

    async pruneLoginAttempts(endedBefore: Date): Promise<number> {
      const { deletedCount } = await db.loginAttempts.deleteMany({ windowEnds: { $lt: endedBefore } });
      return deletedCount;
    },
  };
}
