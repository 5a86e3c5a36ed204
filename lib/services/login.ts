import 'server-only';
import { recordAudit } from './audit';
import { getStore } from '../store';
import { UsernameTakenError, type User } from '../store/types';
import { LOGIN_USERNAME_MESSAGE, LoginUsernameSchema } from '../validation/session';
import { ADMIN_USERNAME, getCredentials } from '../auth/credentials';
import { burnPasswordCheck, hashPassword, needsRehash, verifyPassword } from '../auth/password';
import type { Actor, Principal } from '../auth/principal';
import { LOGIN_MAX_FAILURES, LOGIN_WINDOW_MS, addressBudgetKey } from '../auth/rate-limit';
import { SESSION_TTL_SECONDS, createSessionCookie } from '../auth/token';
import { errorMessage, logger } from '../log';

/** Failed sign-ins in a row that lock an account, and for how long. */
export const LOCK_THRESHOLD = 5;
export const LOCK_MINUTES = 15;

const BOOTSTRAP = Symbol.for('cronplane.bootstrapAdmin');
type BootstrapGlobal = typeof globalThis & { [BOOTSTRAP]?: Promise<void> };

/**
 * The first start creates the user "admin" with ADMIN_PASSWORD (else the generated one in .data/credentials.json).
 * Only while there are no users at all: a deleted or renamed admin is not resurrected, and a later ADMIN_PASSWORD
 * change does not override a password set in the dashboard. Instances starting together race on the unique
 * username: the loser's UsernameTakenError means the admin exists, which is the goal.
 */
export function ensureBootstrapAdmin(): Promise<void> {
  const g = globalThis as BootstrapGlobal;
  g[BOOTSTRAP] ??= (async () => {
    const store = await getStore();
    if ((await store.countUsers()) > 0) return;
    try {
      const user = await store.createUser({
        username: ADMIN_USERNAME,
        role: 'admin',
        passwordHash: await hashPassword(getCredentials().adminPassword),
      });
      await recordAudit(
        undefined,
        'user.create',
        { type: 'user', id: user.id, name: user.username },
        { role: { before: null, after: 'admin' } },
      );
    } catch (err) {
      if (!(err instanceof UsernameTakenError)) throw err;
    }
  })().catch((err: unknown) => {
    // Try again on the next sign-in rather than remember a failure (e.g. the database was still starting).
    delete g[BOOTSTRAP];
    throw err;
  });
  return g[BOOTSTRAP];
}

export type LoginResult =
  | { ok: true; cookie: string; principal: Principal; expiresAt: Date }
  | { ok: false; status: 400 | 401; error: string }
  /** `retryAfterSeconds`: when the budget that refused has room again (the Retry-After header of the JSON sign-in). */
  | { ok: false; status: 429; error: string; retryAfterSeconds: number };

const WRONG = 'Wrong username or password.';

function minutes(ms: number): string {
  const m = Math.max(1, Math.ceil(ms / 60_000));
  return `${m} minute${m === 1 ? '' : 's'}`;
}

const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

/**
 * Checks a sign-in and opens a session. Limits, both in the store and so shared by all instances: per client address
 * (LOGIN_MAX_FAILURES failed sign-ins per LOGIN_WINDOW_MS) and per account (LOCK_THRESHOLD failures in a row lock it
 * for LOCK_MINUTES). Each attempt takes its share of both budgets atomically in the database *before* its password is
 * hashed, and a success gives it back (the address's attempt) or resets the count (the account's), so attempts sent in
 * parallel cannot all pass a check made before any of them failed. Every outcome is audited.
 */
export async function login(input: { username: unknown; password: unknown; ip: string; userAgent: string | null }): Promise<LoginResult> {
  const password = typeof input.password === 'string' ? input.password : '';
  if (typeof input.username !== 'string' || !input.username.trim() || !password)
    return { ok: false, status: 400, error: 'Enter the username and the password.' };
  // Before anything is looked up or audited: a NUL in the name failed in PostgreSQL (22021), a 500.
  const parsedName = LoginUsernameSchema.safeParse(input.username);
  if (!parsedName.success) return { ok: false, status: 400, error: LOGIN_USERNAME_MESSAGE };
  const username = parsedName.data;
  const actorFor = (user: User | null): Actor => ({
    principal: { kind: 'user', id: user?.id ?? null, name: user?.username ?? username, role: user?.role ?? 'viewer' },
    ip: input.ip,
  });
  const target = (user: User | null) =>
    user ? { type: 'user', id: user.id, name: user.username } : { type: 'user', id: null, name: username };
  const fail = async (user: User | null, reason: string, result: LoginResult): Promise<LoginResult> => {
    await recordAudit(actorFor(user), 'login.failure', target(user), { reason: { before: null, after: reason } });
    return result;
  };

  const store = await getStore();
  // The address's attempt first: every attempt that gets further counts against it (an unknown user's, a locked
  // account's), as failed ones did before; a success gives it back below.
  const addressKey = addressBudgetKey(input.ip);
  const address = await store.takeLoginAttempt(addressKey, { max: LOGIN_MAX_FAILURES, windowMs: LOGIN_WINDOW_MS });
  if (!address.granted) {
    return fail(null, 'address rate limited', {
      ok: false,
      status: 429,
      error: `Too many failed sign-in attempts. Try again in ${minutes(address.retryAfterMs)}.`,
      retryAfterSeconds: seconds(address.retryAfterMs),
    });
  }
  await ensureBootstrapAdmin();
  const found = await store.getUserByUsername(username);
  // The account's attempt, before the hash; null: the user was deleted since it was read.
  const attempt =
    found && !found.disabled
      ? await store.takeUserLoginAttempt(found.id, { threshold: LOCK_THRESHOLD, lockMs: LOCK_MINUTES * 60_000 })
      : null;
  if (!found || found.disabled || !attempt) {
    await burnPasswordCheck(password);
    return fail(found, found?.disabled ? 'disabled' : 'unknown user', { ok: false, status: 401, error: WRONG });
  }
  if (!attempt.granted) {
    return fail(found, 'locked', {
      ok: false,
      status: 429,
      error: `This account is locked after repeated failed sign-ins. Try again in ${minutes(attempt.retryAfterMs)}.`,
      retryAfterSeconds: seconds(attempt.retryAfterMs),
    });
  }
  const user = attempt.user;
  if (!(await verifyPassword(password, user.passwordHash))) {
    // Nothing more to record: the attempt was counted when it was taken, and the take that reached the threshold locked.
    const locked = user.failedLogins >= LOCK_THRESHOLD;
    return fail(user, locked ? 'wrong password, account locked' : 'wrong password', { ok: false, status: 401, error: WRONG });
  }
  await store.recordLoginSuccess(user.id);
  await store.returnLoginAttempt(addressKey, address.windowStart);
  if (needsRehash(user.passwordHash)) await upgradeHash(user, password);
  const cookie = createSessionCookie();
  const expiresAt = new Date(Date.now() + SESSION_TTL_SECONDS * 1000);
  await store.createSession({ id: cookie.id, userId: user.id, expiresAt, ip: input.ip, userAgent: input.userAgent?.slice(0, 400) ?? null });
  const principal: Principal = { kind: 'user', id: user.id, name: user.username, role: user.role, sessionId: cookie.id };
  await recordAudit({ principal, ip: input.ip }, 'login.success', target(user));
  return { ok: true, cookie: cookie.value, principal, expiresAt };
}

/**
 * Rehashes a password verified against a hash made with older scrypt parameters (the password is only at hand now).
 * A reset by an admin since the user was read wins (the hash is compared first); a failure only logs: the sign-in
 * itself succeeded, and the next one tries again.
 */
async function upgradeHash(user: User, password: string): Promise<void> {
  try {
    const passwordHash = await hashPassword(password);
    const store = await getStore();
    const current = await store.getUser(user.id);
    if (current?.passwordHash === user.passwordHash) await store.updateUser(user.id, { passwordHash });
  } catch (err) {
    logger('auth').warn({ user: user.username, err: errorMessage(err) }, 'could not rehash the password');
  }
}

/** Revokes the session server-side (the cookie alone no longer works anywhere) and audits it. */
export async function logout(principal: Principal | null, ip: string): Promise<void> {
  if (!principal?.sessionId) return;
  const store = await getStore();
  await store.revokeSession(principal.sessionId);
  await recordAudit({ principal, ip }, 'logout', { type: 'user', id: principal.id, name: principal.name });
}
