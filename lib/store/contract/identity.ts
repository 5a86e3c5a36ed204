// Identity: users, their sessions, and API tokens.
import { BrandedError } from '../../errors';

import type { UserRole } from '../../domain';

export { USER_ROLES, type UserRole } from '../../domain';

export interface User {
  id: string;
  /** As entered; unique case-insensitively. */
  username: string;
  role: UserRole;
  passwordHash: string;
  disabled: boolean;
  /** Sign-in attempts since the last successful one: an attempt counts from its start (takeUserLoginAttempt). */
  failedLogins: number;
  lockedUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export type NewUser = Pick<User, 'username' | 'role' | 'passwordHash'> & Partial<Pick<User, 'disabled'>>;
export type UserPatch = Partial<Pick<User, 'username' | 'role' | 'passwordHash' | 'disabled' | 'failedLogins' | 'lockedUntil'>>;

export interface Session {
  id: string;
  userId: string;
  /** Database time. */
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  lastSeenAt: Date;
  ip: string | null;
  userAgent: string | null;
}

/** `id` is the caller's (e.g. a hash of the cookie's secret); a random 256-bit id when left out. */
export type NewSession = Pick<Session, 'userId' | 'expiresAt' | 'ip' | 'userAgent'> & { id?: string };

export interface ApiToken {
  id: string;
  name: string;
  role: UserRole;
  /** Hash of the secret; the secret itself is never stored. Unique. */
  tokenHash: string;
  /** First characters of the secret, to recognise it in lists. */
  prefix: string;
  createdAt: Date;
  /** Who created it (a user id or name), null for the system. */
  createdBy: string | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export type NewApiToken = Pick<ApiToken, 'name' | 'role' | 'tokenHash' | 'prefix' | 'createdBy'>;

/** The answer to takeUserLoginAttempt: the user as the grant left it, or the lock that refused the attempt. */
export type UserLoginAttempt =
  | { granted: true; user: User }
  | {
      granted: false;
      lockedUntil: Date;
      /** lockedUntil minus the database's clock at the refusal, in ms (> 0). */
      retryAfterMs: number;
    };

/** Thrown by createUser/updateUser when another user has the username (compared case-insensitively). */
export class UsernameTakenError extends BrandedError {
  static readonly brand: string = 'UsernameTakenError';

  constructor(readonly username: string) {
    super(`a user named "${username}" already exists`);
  }
}

/** Users, sessions and API tokens. */
export interface IdentityStore {
  /** Throws UsernameTakenError when the username is taken (case-insensitively). failedLogins 0, lockedUntil null. */
  createUser(user: NewUser): Promise<User>;
  getUser(id: string): Promise<User | null>;
  /** Case-insensitive. */
  getUserByUsername(username: string): Promise<User | null>;
  listUsers(): Promise<User[]>;
  /** Null when the user does not exist; UsernameTakenError on a rename onto a taken name. */
  updateUser(id: string, patch: UserPatch): Promise<User | null>;
  /** Deletes the user and its sessions. */
  deleteUser(id: string): Promise<boolean>;
  countUsers(): Promise<number>;
  /**
   * Takes one sign-in attempt from the account's budget, in one atomic write, before the password is checked. Refused
   * (nothing changes) while the account is locked (lockedUntil after the database's now). Granted otherwise: the attempt
   * counts in failedLogins at once, and the attempt that brings failedLogins to `lock.threshold` or more also locks the
   * account for `lock.lockMs` from now (database time). So however many run concurrently, on any number of clients, at
   * most `threshold` attempts are granted between two successes (recordLoginSuccess) or resets; once a lock has
   * expired, each further attempt is granted and locks again. Null when the user does not exist.
   */
  takeUserLoginAttempt(id: string, lock: { threshold: number; lockMs: number }): Promise<UserLoginAttempt | null>;
  /** failedLogins = 0, lockedUntil = null. Null when the user does not exist. */
  recordLoginSuccess(id: string): Promise<User | null>;

  createSession(session: NewSession): Promise<Session>;
  /** Also expired and revoked sessions: the caller checks expiresAt/revokedAt. */
  getSession(id: string): Promise<Session | null>;
  /** Sets lastSeenAt (never moves it back); false when the session does not exist. */
  touchSession(id: string, at: Date): Promise<boolean>;
  /** True when the session was active and is now revoked. */
  revokeSession(id: string): Promise<boolean>;
  /** Revokes the user's active sessions; returns how many. */
  revokeUserSessions(userId: string): Promise<number>;
  /** Deletes sessions that expired, or were revoked, before the cut-off; returns how many. */
  pruneSessions(expiredBefore: Date): Promise<number>;

  createApiToken(token: NewApiToken): Promise<ApiToken>;
  /** Also revoked tokens: the caller checks revokedAt. */
  getApiTokenByHash(tokenHash: string): Promise<ApiToken | null>;
  listApiTokens(): Promise<ApiToken[]>;
  /** True when the token was active and is now revoked. */
  revokeApiToken(id: string): Promise<boolean>;
  /** Sets lastUsedAt (never moves it back); false when the token does not exist. */
  touchApiToken(id: string, at: Date): Promise<boolean>;
}
