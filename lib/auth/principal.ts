import 'server-only';
import { AppError } from '../errors';
import { getStore } from '../store';
import type { UserRole } from '../store/types';
import { getCredentials, secretEquals } from './credentials';
import { hashApiToken, verifySessionCookie } from './token';

export class UnauthorizedError extends AppError {
  static readonly brand: string = 'UnauthorizedError';

  constructor() {
    super('unauthorized', 401);
  }
}

export class ForbiddenError extends AppError {
  static readonly brand: string = 'ForbiddenError';

  constructor(message: string) {
    super(message, 403);
  }
}

/** Who acts: a signed-in user, an API token (dashboard-made or the env API_TOKEN), or the app itself. */
export interface Principal {
  kind: 'user' | 'token' | 'system';
  /** User or token id; null for the env token and the system. */
  id: string | null;
  /** Username or token name, as shown in the audit log. */
  name: string;
  role: UserRole;
  /** The store's session id, for users signed in with a cookie. */
  sessionId?: string;
}

/** Where a request came from, for the audit log. */
export interface Actor {
  principal: Principal;
  ip: string | null;
}

export const SYSTEM: Principal = { kind: 'system', id: null, name: 'system', role: 'admin' };

/** The app acting on its own (start-up, system jobs, examples, seeding): pass it to the services explicitly. */
export const SYSTEM_ACTOR: Actor = { principal: SYSTEM, ip: null };

const RANK: Record<UserRole, number> = { viewer: 0, operator: 1, admin: 2 };

export function hasRole(principal: Principal, role: UserRole): boolean {
  return RANK[principal.role] >= RANK[role];
}

/**
 * The one authorization check: every mutation (route handlers, server actions, services given an actor) calls it.
 * operator: jobs; admin: also users, tokens, audit; viewer: reading only.
 */
export function requireRole(principal: Principal, role: UserRole): void {
  if (!hasRole(principal, role))
    throw new ForbiddenError(`this needs the ${role} role; you are ${/^[aeiou]/.test(principal.role) ? 'an' : 'a'} ${principal.role}`);
}

// lastSeenAt/lastUsedAt are written at most this often per session/token: a read-heavy dashboard (SSE, polling)
// must not turn every request into a write.
const TOUCH_EVERY_MS = 60_000;

/** The user behind a session cookie, or null when the cookie is forged, expired, revoked, or its user is gone or disabled. */
export async function principalFromSessionCookie(value: string | undefined | null): Promise<Principal | null> {
  const id = verifySessionCookie(value);
  if (!id) return null;
  const store = await getStore();
  const session = await store.getSession(id);
  const now = new Date();
  if (!session || session.revokedAt || session.expiresAt <= now) return null;
  const user = await store.getUser(session.userId);
  if (!user || user.disabled) return null;
  if (now.getTime() - session.lastSeenAt.getTime() > TOUCH_EVERY_MS) {
    await store.touchSession(id, now).catch(() => false);
  }
  return { kind: 'user', id: user.id, name: user.username, role: user.role, sessionId: id };
}

/** The token's principal, or null for an unknown or revoked token. The env API_TOKEN acts as an admin token. */
export async function principalFromBearer(token: string): Promise<Principal | null> {
  if (secretEquals(token, getCredentials().apiToken)) return { kind: 'token', id: null, name: 'API_TOKEN', role: 'admin' };
  const store = await getStore();
  const row = await store.getApiTokenByHash(hashApiToken(token));
  if (!row || row.revokedAt) return null;
  const now = new Date();
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > TOUCH_EVERY_MS) {
    await store.touchApiToken(row.id, now).catch(() => false);
  }
  return { kind: 'token', id: row.id, name: row.name, role: row.role };
}
