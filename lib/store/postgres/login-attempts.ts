import 'server-only';
import type { LoginAttemptGrant, LoginAttemptStore } from '../types';
import type { PgDatabase } from './database';
import { toDate } from './rows';

// Sign-in budgets on PostgreSQL: login_attempts, one row per key, its window reused once over (no delete needed).

interface WindowRow {
  attempts: number;
  windowStart: Date;
  windowEnds: Date;
}

export function postgresLoginAttempts(db: PgDatabase): LoginAttemptStore {
  return {
    async takeLoginAttempt(key: string, limit: { max: number; windowMs: number }): Promise<LoginAttemptGrant> {
      for (let round = 0; ; round++) {
        // One statement is the take. The primary key makes concurrent first takes of a key one insert and updates
        // (ON CONFLICT waits for the inserting transaction, then updates the row it committed); each update re-checks
        // its WHERE on the row as the take before it left it. EXCLUDED holds this take's clock: window_start = now.
        // A window that is over starts again from this attempt; a live one counts it only while below the limit.
        const rows = await db.prisma.$queryRaw<WindowRow[]>`
          INSERT INTO login_attempts AS a (key, attempts, window_start, window_ends)
          SELECT ${key}, 1, t.now, t.now + ${limit.windowMs}::float8 * interval '1 millisecond'
          FROM (SELECT clock_timestamp() AS now) t
          ON CONFLICT (key) DO UPDATE SET
            attempts = CASE WHEN a.window_ends <= EXCLUDED.window_start THEN 1 ELSE a.attempts + 1 END,
            window_start = CASE WHEN a.window_ends <= EXCLUDED.window_start THEN EXCLUDED.window_start ELSE a.window_start END,
            window_ends = CASE WHEN a.window_ends <= EXCLUDED.window_start THEN EXCLUDED.window_ends ELSE a.window_ends END
          WHERE a.window_ends <= EXCLUDED.window_start OR a.attempts < ${limit.max}::int
          RETURNING a.attempts, a.window_start AS "windowStart", a.window_ends AS "windowEnds"`;
        const row = rows[0];
        if (row)
          return { granted: true, attempts: row.attempts, windowStart: toDate(row.windowStart)!, windowEnds: toDate(row.windowEnds)! };
        const full = await db.prisma.$queryRaw<Array<{ windowEnds: Date; now: Date }>>`
          SELECT a.window_ends AS "windowEnds", clock_timestamp() AS now FROM login_attempts a
          WHERE a.key = ${key} AND a.attempts >= ${limit.max}::int`;
        if (full[0]) {
          const retryAt = toDate(full[0].windowEnds)!;
          const retryAfterMs = retryAt.getTime() - toDate(full[0].now)!.getTime();
          if (retryAfterMs > 0) return { granted: false, retryAt, retryAfterMs };
        }
        // The window ended, or an attempt was given back, between the two statements: take again.
        if (round >= 10) throw new Error('takeLoginAttempt: the budget kept changing under the take');
      }
    },

    async returnLoginAttempt(key: string, windowStart: Date): Promise<boolean> {
      const count = await db.prisma.$executeRaw`
        UPDATE login_attempts SET attempts = attempts - 1
        WHERE key = ${key} AND window_start = ${windowStart}::timestamptz AND attempts > 0 AND window_ends > clock_timestamp()`;
      return count > 0;
    },

    async pruneLoginAttempts(endedBefore: Date): Promise<number> {
      return db.prisma.$executeRaw`DELETE FROM login_attempts WHERE window_ends < ${endedBefore}::timestamptz`;
    },
  };
}
