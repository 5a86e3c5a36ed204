import 'server-only';
import { randomUUID } from 'node:crypto';
import type { Prisma } from '../../generated/prisma/client';
import { isUuid } from '../shared/cursor';
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
import { isPrismaError, isUniqueViolation, type PgDatabase } from './database';
import { SESSION_COLUMNS, USER_COLUMNS, toApiToken, toDate, toSession, toUser, type SessionRow, type UserRow } from './rows';

// Users, sessions and API tokens on PostgreSQL (Prisma).
export function postgresIdentity(db: PgDatabase): IdentityStore {
  return {
    async createUser(user: NewUser): Promise<User> {
      try {
        const rows = await db.prisma.$queryRaw<UserRow[]>`
          INSERT INTO users AS u (id, username, username_key, role, password_hash, disabled, created_at, updated_at)
          VALUES (${randomUUID()}::uuid, ${user.username}, ${usernameKey(user.username)}, ${user.role}, ${user.passwordHash},
            ${user.disabled ?? false}, clock_timestamp(), clock_timestamp())
          RETURNING ${USER_COLUMNS}`;
        return toUser(rows[0]!);
      } catch (err) {
        if (isUniqueViolation(err)) throw new UsernameTakenError(user.username);
        throw err;
      }
    },

    async getUser(id: string): Promise<User | null> {
      if (!isUuid(id)) return null;
      const row = await db.prisma.user.findUnique({ where: { id } });
      return row ? toUser(row) : null;
    },

    async getUserByUsername(username: string): Promise<User | null> {
      const row = await db.prisma.user.findUnique({ where: { usernameKey: usernameKey(username) } });
      return row ? toUser(row) : null;
    },

    async listUsers(): Promise<User[]> {
      const rows = await db.prisma.$queryRaw<UserRow[]>`SELECT ${USER_COLUMNS} FROM users u ORDER BY u.username_key COLLATE "C", u.id`;
      return rows.map(toUser);
    },

    async updateUser(id: string, patch: UserPatch): Promise<User | null> {
      if (!isUuid(id)) return null;
      const data: Prisma.UserUpdateInput = { updatedAt: await db.now(), ...userFields(patch) };
      try {
        return toUser(await db.prisma.user.update({ where: { id }, data }));
      } catch (err) {
        if (isPrismaError(err, 'P2025')) return null;
        if (isPrismaError(err, 'P2002')) throw new UsernameTakenError(patch.username ?? '');
        throw err;
      }
    },

    async deleteUser(id: string): Promise<boolean> {
      if (!isUuid(id)) return false;
      // Sessions go with it (ON DELETE CASCADE).
      const { count } = await db.prisma.user.deleteMany({ where: { id } });
      return count > 0;
    },

    async countUsers(): Promise<number> {
      return db.prisma.user.count();
    },

    async takeUserLoginAttempt(id: string, lock: { threshold: number; lockMs: number }): Promise<UserLoginAttempt | null> {
      if (!isUuid(id)) return null;
      for (let round = 0; ; round++) {
        // One UPDATE is the take: concurrent takes queue on the row lock and each re-checks the lock condition on the
        // row as the one before left it, so the take that reaches the threshold locks the account for all that follow.
        const rows = await db.prisma.$queryRaw<UserRow[]>`
          UPDATE users u SET failed_logins = u.failed_logins + 1,
            locked_until = CASE WHEN u.failed_logins + 1 >= ${lock.threshold}::int
              THEN t.now + ${lock.lockMs}::float8 * interval '1 millisecond' ELSE u.locked_until END,
            updated_at = t.now
          FROM (SELECT clock_timestamp() AS now) t
          WHERE u.id = ${id}::uuid AND (u.locked_until IS NULL OR u.locked_until <= t.now)
          RETURNING ${USER_COLUMNS}`;
        if (rows[0]) return { granted: true, user: toUser(rows[0]) };
        const locks = await db.prisma.$queryRaw<Array<{ lockedUntil: Date | null; now: Date }>>`
          SELECT u.locked_until AS "lockedUntil", clock_timestamp() AS now FROM users u WHERE u.id = ${id}::uuid`;
        const row = locks[0];
        if (!row) return null;
        const lockedUntil = toDate(row.lockedUntil);
        const retryAfterMs = lockedUntil ? lockedUntil.getTime() - toDate(row.now)!.getTime() : 0;
        if (lockedUntil && retryAfterMs > 0) return { granted: false, lockedUntil, retryAfterMs };
        // The lock ended (or was lifted) between the two statements: take again.
        if (round >= 10) throw new Error('takeUserLoginAttempt: the account kept changing under the take');
      }
    },

    async recordLoginSuccess(id: string): Promise<User | null> {
      if (!isUuid(id)) return null;
      const rows = await db.prisma.$queryRaw<UserRow[]>`
        UPDATE users u SET failed_logins = 0, locked_until = NULL, updated_at = clock_timestamp()
        WHERE u.id = ${id}::uuid
        RETURNING ${USER_COLUMNS}`;
      return rows[0] ? toUser(rows[0]) : null;
    },

    async createSession(session: NewSession): Promise<Session> {
      const rows = await db.prisma.$queryRaw<SessionRow[]>`
        INSERT INTO sessions AS s (id, user_id, created_at, expires_at, revoked_at, last_seen_at, ip, user_agent)
        VALUES (${session.id ?? newSessionId()}, ${session.userId}::uuid, clock_timestamp(), ${session.expiresAt}::timestamptz, NULL,
          clock_timestamp(), ${session.ip}, ${session.userAgent})
        RETURNING ${SESSION_COLUMNS}`;
      return toSession(rows[0]!);
    },

    async getSession(id: string): Promise<Session | null> {
      const row = await db.prisma.session.findUnique({ where: { id } });
      return row ? toSession(row) : null;
    },

    async touchSession(id: string, at: Date): Promise<boolean> {
      const count = await db.prisma.$executeRaw`
        UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, ${at}::timestamptz) WHERE id = ${id}`;
      return count > 0;
    },

    async revokeSession(id: string): Promise<boolean> {
      const count = await db.prisma.$executeRaw`UPDATE sessions SET revoked_at = clock_timestamp() WHERE id = ${id} AND revoked_at IS NULL`;
      return count > 0;
    },

    async revokeUserSessions(userId: string): Promise<number> {
      if (!isUuid(userId)) return 0;
      return db.prisma.$executeRaw`
        UPDATE sessions SET revoked_at = clock_timestamp() WHERE user_id = ${userId}::uuid AND revoked_at IS NULL`;
    },

    async pruneSessions(expiredBefore: Date): Promise<number> {
      const { count } = await db.prisma.session.deleteMany({
        where: { OR: [{ expiresAt: { lt: expiredBefore } }, { revokedAt: { lt: expiredBefore } }] },
      });
      return count;
    },

    async createApiToken(token: NewApiToken): Promise<ApiToken> {
      const row = await db.prisma.apiToken.create({
        data: {
          name: token.name,
          role: token.role,
          tokenHash: token.tokenHash,
          prefix: token.prefix,
          createdBy: token.createdBy,
          createdAt: await db.now(),
        },
      });
      return toApiToken(row);
    },

    async getApiTokenByHash(tokenHash: string): Promise<ApiToken | null> {
      const row = await db.prisma.apiToken.findUnique({ where: { tokenHash } });
      return row ? toApiToken(row) : null;
    },

    async listApiTokens(): Promise<ApiToken[]> {
      const rows = await db.prisma.apiToken.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
      return rows.map(toApiToken);
    },

    async revokeApiToken(id: string): Promise<boolean> {
      if (!isUuid(id)) return false;
      const count = await db.prisma.$executeRaw`
        UPDATE api_tokens SET revoked_at = clock_timestamp() WHERE id = ${id}::uuid AND revoked_at IS NULL`;
      return count > 0;
    },

    async touchApiToken(id: string, at: Date): Promise<boolean> {
      if (!isUuid(id)) return false;
      // GREATEST ignores NULL: the first use sets it.
      const count = await db.prisma.$executeRaw`
        UPDATE api_tokens SET last_used_at = GREATEST(last_used_at, ${at}::timestamptz) WHERE id = ${id}::uuid`;
      return count > 0;
    },
  };
}
