import 'server-only';
import { randomBytes } from 'node:crypto';
import type { UserPatch } from '../contract/identity';
import { patchToFields } from './fields';

/** Usernames are unique and looked up case-insensitively through this key: the same function in both stores. */
export function usernameKey(username: string): string {
  return username.toLowerCase();
}

/** 256 random bits: unguessable session ids when the caller does not bring its own. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

const USER_PATCH_FIELDS: Record<keyof UserPatch, true> = {
  username: true,
  role: true,
  passwordHash: true,
  disabled: true,
  failedLogins: true,
  lockedUntil: true,
};

/** What updateUser writes for a patch in both stores: the patch's fields, and usernameKey with a new username. */
export function userFields(patch: UserPatch): Partial<Omit<UserPatch, 'username'> & { username: string; usernameKey: string }> {
  return patchToFields(patch, USER_PATCH_FIELDS, { username: (username) => ({ username, usernameKey: usernameKey(username) }) });
}
