import 'server-only';
import { randomUUID } from 'node:crypto';
import { newSessionId, userFields, usernameKey } from '../shared/identity';
import {
  UsernameTakenError,
  type ApiToken,
  type IdentityStore,
  type NewApiToken,
  type NewSession,
  type NewUser,
  type Session,
  type User,
  type UserLoginAttempt,
  type UserPatch,
} from '../types';
import { insertStamped, orTaken, type MongoDatabase } from './database';
import { toApiToken, toSession, toUser } from './documents';
import type { ApiTokenDoc, SessionDoc, UserDoc } from './schema';

// Users, sessions and API tokens on MongoDB.
export function mongoIdentity(db: MongoDatabase): IdentityStore {
  return {
    async createUser(user: NewUser): Promise<User> {
      const insert = insertStamped(
        db.users,
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
    },

    async getUser(id: string): Promise<User | null> {
      const doc = await db.users.findOne({ _id: id });
      return doc ? toUser(doc) : null;
    },

    async getUserByUsername(username: string): Promise<User | null> {
      const doc = await db.users.findOne({ usernameKey: usernameKey(username) });
      return doc ? toUser(doc) : null;
    },

    async listUsers(): Promise<User[]> {
      // Keys are unique, so key order is the full (key, id) order.
      const docs = await db.users.find().sort({ usernameKey: 1 }).toArray();
      return docs.map(toUser);
    },

    async updateUser(id: string, patch: UserPatch): Promise<User | null> {
      const set: Partial<UserDoc> = userFields(patch);
      const doc = await orTaken(
        db.users.findOneAndUpdate(
          { _id: id },
          { ...(Object.keys(set).length > 0 ? { $set: set } : {}), $currentDate: { updatedAt: true } },
          { returnDocument: 'after' },
        ),
        () => new UsernameTakenError(patch.username ?? ''),
      );
      return doc ? toUser(doc) : null;
    },

    async deleteUser(id: string): Promise<boolean> {
      const { deletedCount } = await db.users.deleteOne({ _id: id });
      // Like the PostgreSQL store's ON DELETE CASCADE (also when a session raced the delete).
      await db.sessions.deleteMany({ userId: id });
      return deletedCount === 1;
    },

    async countUsers(): Promise<number> {
      // Exact (the contract), but from the unique usernameKey index alone: every user has a string key, so the range
      // from '' holds them all and the count needs no document (countDocuments({}) would read every user).
      return db.users.countDocuments({ usernameKey: { $gte: '' } });
    },

    async takeUserLoginAttempt(id: string, lock: { threshold: number; lockMs: number }): Promise<UserLoginAttempt | null> {
      for (let round = 0; ; round++) {
        const now = await db.now();
        const unlocked = { $or: [{ lockedUntil: null }, { lockedUntil: { $lte: now } }] };
        const counted = { $inc: { failedLogins: 1 }, $currentDate: { updatedAt: true } } as const;
        // Two single-document writes whose filters split on the count, so each take is one atomic write: below the
        // threshold after it, the attempt only counts; reaching it, the same write also locks. A take that comes after
        // the one that locked matches neither (no window between counting and locking, unlike $inc then $set).
        const below = await db.users.findOneAndUpdate({ _id: id, failedLogins: { $lt: lock.threshold - 1 }, ...unlocked }, counted, {
          returnDocument: 'after',
        });
        if (below) return { granted: true, user: toUser(below) };
        const locking = await db.users.findOneAndUpdate(
          { _id: id, failedLogins: { $gte: lock.threshold - 1 }, ...unlocked },
          { ...counted, $set: { lockedUntil: new Date(now.getTime() + lock.lockMs) } },
          { returnDocument: 'after' },
        );
        if (locking) return { granted: true, user: toUser(locking) };
        const current = await db.users.findOne({ _id: id }, { projection: { lockedUntil: 1 } });
        if (!current) return null;
        // Capped at the lock's length: a concurrent attempt that read the clock after this one may have set the lock.
        const retryAfterMs = current.lockedUntil ? Math.min(lock.lockMs, current.lockedUntil.getTime() - now.getTime()) : 0;
        if (current.lockedUntil && retryAfterMs > 0) return { granted: false, lockedUntil: current.lockedUntil, retryAfterMs };
        // A success reset the count between the two writes, or the lock was lifted: take again.
        if (round >= 10) throw new Error('takeUserLoginAttempt: the account kept changing under the take');
      }
    },

    async recordLoginSuccess(id: string): Promise<User | null> {
      const doc = await db.users.findOneAndUpdate(
        { _id: id },
        { $set: { failedLogins: 0, lockedUntil: null }, $currentDate: { updatedAt: true } },
        { returnDocument: 'after' },
      );
      return doc ? toUser(doc) : null;
    },

    async createSession(session: NewSession): Promise<Session> {
      // insertOne, not an upsert: a caller's id that exists already must fail, not return the other session.
      const now = await db.now();
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
      await db.sessions.insertOne(doc);
      return toSession(doc);
    },

    async getSession(id: string): Promise<Session | null> {
      const doc = await db.sessions.findOne({ _id: id });
      return doc ? toSession(doc) : null;
    },

    async touchSession(id: string, at: Date): Promise<boolean> {
      const { matchedCount } = await db.sessions.updateOne({ _id: id }, { $max: { lastSeenAt: at } });
      return matchedCount === 1;
    },

    async revokeSession(id: string): Promise<boolean> {
      const { matchedCount } = await db.sessions.updateOne({ _id: id, revokedAt: null }, { $currentDate: { revokedAt: true } });
      return matchedCount === 1;
    },

    async revokeUserSessions(userId: string): Promise<number> {
      const { matchedCount } = await db.sessions.updateMany({ userId, revokedAt: null }, { $currentDate: { revokedAt: true } });
      return matchedCount;
    },

    async pruneSessions(expiredBefore: Date): Promise<number> {
      const { deletedCount } = await db.sessions.deleteMany({
        $or: [{ expiresAt: { $lt: expiredBefore } }, { revokedAt: { $lt: expiredBefore } }],
      });
      return deletedCount;
    },

    async createApiToken(token: NewApiToken): Promise<ApiToken> {
      // createdAt is a sort and keyset key: an explicit server-clock Date, not $currentDate (see appendAudit).
      const doc: ApiTokenDoc = {
        _id: randomUUID(),
        name: token.name,
        role: token.role,
        tokenHash: token.tokenHash,
        prefix: token.prefix,
        createdAt: await db.now(),
        createdBy: token.createdBy,
        lastUsedAt: null,
        revokedAt: null,
      };
      await db.apiTokens.insertOne(doc);
      return toApiToken(doc);
    },

    async getApiTokenByHash(tokenHash: string): Promise<ApiToken | null> {
      const doc = await db.apiTokens.findOne({ tokenHash });
      return doc ? toApiToken(doc) : null;
    },

    async listApiTokens(): Promise<ApiToken[]> {
      const docs = await db.apiTokens.find().sort({ createdAt: -1, _id: -1 }).toArray();
      return docs.map(toApiToken);
    },

    async revokeApiToken(id: string): Promise<boolean> {
      const { matchedCount } = await db.apiTokens.updateOne({ _id: id, revokedAt: null }, { $currentDate: { revokedAt: true } });
      return matchedCount === 1;
    },

    async touchApiToken(id: string, at: Date): Promise<boolean> {
      // $max: null sorts below any date, so the first use sets it and a late, older touch never moves it back.
      const { matchedCount } = await db.apiTokens.updateOne({ _id: id }, { $max: { lastUsedAt: at } });
      return matchedCount === 1;
    },
  };
}
