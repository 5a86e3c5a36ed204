import 'server-only';
import type { z } from 'zod';
import { requireRole, type Actor } from '../auth/principal';
import { hashPassword } from '../auth/password';
import { ConflictError, NotFoundError, ValidationError, toFieldIssues } from '../errors';
import { getStore } from '../store';
import { UsernameTakenError, type User, type UserPatch } from '../store/types';
import { IdSchema } from '../validation/id';
import { UserCreateSchema, UserUpdateSchema } from '../validation/user';
import { MASKED, diffFields, recordAudit } from './audit';

/** A user as the app shows it: never the password hash. */
export type PublicUser = Omit<User, 'passwordHash'>;

export function publicUser(user: User): PublicUser {
  const { passwordHash: _hash, ...rest } = user;
  return rest;
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error.issues));
  return parsed.data;
}

const AUDITED = ['username', 'role', 'disabled'] as const;

export async function listUsers(actor: Actor): Promise<PublicUser[]> {
  requireRole(actor.principal, 'admin');
  const store = await getStore();
  return (await store.listUsers()).map(publicUser);
}

export async function createUser(actor: Actor, input: unknown): Promise<PublicUser> {
  requireRole(actor.principal, 'admin');
  const spec = parse(UserCreateSchema, input);
  const store = await getStore();
  const user = await store
    .createUser({ username: spec.username, role: spec.role, passwordHash: await hashPassword(spec.password) })
    .catch((err: unknown) => {
      if (err instanceof UsernameTakenError) throw new ConflictError(err.message);
      throw err;
    });
  const shown = publicUser(user);
  const changes = diffFields(null, shown as unknown as Record<string, unknown>, AUDITED) ?? {};
  changes.password = { before: null, after: MASKED };
  await recordAudit(actor, 'user.create', { type: 'user', id: user.id, name: user.username }, changes);
  return shown;
}

async function loadUser(id: string): Promise<User> {
  if (!IdSchema.safeParse(id).success) throw new NotFoundError('user');
  const store = await getStore();
  const user = await store.getUser(id);
  if (!user) throw new NotFoundError('user');
  return user;
}

/**
 * Another enabled admin must remain. Checked before the write; two admins demoting each other at the same instant
 * could still both pass (the store has no transaction across users): an accepted, visible-in-audit edge case.
 */
async function assertAnotherAdmin(user: User): Promise<void> {
  if (user.role !== 'admin' || user.disabled) return;
  const store = await getStore();
  const admins = (await store.listUsers()).filter((u) => u.role === 'admin' && !u.disabled && u.id !== user.id);
  if (admins.length === 0) throw new ConflictError('the last admin cannot be removed, disabled or demoted');
}

/** Role change, disable/enable, password reset. Any of them ends the user's sessions. */
export async function updateUser(actor: Actor, id: string, input: unknown): Promise<PublicUser> {
  requireRole(actor.principal, 'admin');
  const change = parse(UserUpdateSchema, input);
  const current = await loadUser(id);
  if ((change.role !== undefined && change.role !== 'admin') || change.disabled === true) await assertAnotherAdmin(current);
  const patch: UserPatch = {};
  if (change.role !== undefined) patch.role = change.role;
  if (change.disabled !== undefined) patch.disabled = change.disabled;
  if (change.password !== undefined) {
    patch.passwordHash = await hashPassword(change.password);
    // A reset also lifts a lock-out.
    patch.failedLogins = 0;
    patch.lockedUntil = null;
  }
  const store = await getStore();
  const updated = await store.updateUser(current.id, patch);
  if (!updated) throw new NotFoundError('user');
  const changes =
    diffFields(
      publicUser(current) as unknown as Record<string, unknown>,
      publicUser(updated) as unknown as Record<string, unknown>,
      AUDITED,
    ) ?? {};
  if (change.password !== undefined) changes.password = { before: MASKED, after: MASKED };
  // Sessions carry no role: the next request reads the new one. Revoking still matters for password resets and
  // disables (a stolen session ends), and makes a demotion take effect in open tabs at once.
  const revoked = Object.keys(changes).length > 0 ? await store.revokeUserSessions(current.id) : 0;
  await recordAudit(
    actor,
    'user.update',
    { type: 'user', id: current.id, name: current.username },
    Object.keys(changes).length > 0 ? changes : null,
  );
  if (revoked > 0)
    await recordAudit(
      actor,
      'session.revoke',
      { type: 'user', id: current.id, name: current.username },
      { sessions: { before: revoked, after: 0 } },
    );
  return publicUser(updated);
}

export async function deleteUser(actor: Actor, id: string): Promise<void> {
  requireRole(actor.principal, 'admin');
  const current = await loadUser(id);
  await assertAnotherAdmin(current);
  const store = await getStore();
  if (!(await store.deleteUser(current.id))) throw new NotFoundError('user');
  await recordAudit(
    actor,
    'user.delete',
    { type: 'user', id: current.id, name: current.username },
    diffFields(publicUser(current) as unknown as Record<string, unknown>, null, AUDITED),
  );
}

/** Ends every session of a user (admin action). */
export async function revokeSessions(actor: Actor, id: string): Promise<number> {
  requireRole(actor.principal, 'admin');
  const current = await loadUser(id);
  const store = await getStore();
  const revoked = await store.revokeUserSessions(current.id);
  await recordAudit(
    actor,
    'session.revoke',
    { type: 'user', id: current.id, name: current.username },
    { sessions: { before: revoked, after: 0 } },
  );
  return revoked;
}
