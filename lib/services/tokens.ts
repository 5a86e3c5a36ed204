import 'server-only';
import { requireRole, type Actor } from '../auth/principal';
import { hashApiToken, newApiTokenSecret } from '../auth/token';
import { NotFoundError, ValidationError, toFieldIssues } from '../errors';
import { getStore } from '../store';
import type { ApiToken } from '../store/types';
import { IdSchema } from '../validation/id';
import { TokenCreateSchema } from '../validation/token';
import { diffFields, recordAudit } from './audit';

export type PublicApiToken = Omit<ApiToken, 'tokenHash'>;

export function publicToken(token: ApiToken): PublicApiToken {
  const { tokenHash: _hash, ...rest } = token;
  return rest;
}

export async function listTokens(actor: Actor): Promise<PublicApiToken[]> {
  requireRole(actor.principal, 'admin');
  const store = await getStore();
  return (await store.listApiTokens()).map(publicToken);
}

/** The secret is returned once, here; the store keeps only its sha256. */
export async function createToken(actor: Actor, input: unknown): Promise<{ token: PublicApiToken; secret: string }> {
  requireRole(actor.principal, 'admin');
  const parsed = TokenCreateSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error.issues));
  const secret = newApiTokenSecret();
  const store = await getStore();
  const token = await store.createApiToken({
    name: parsed.data.name,
    role: parsed.data.role,
    tokenHash: hashApiToken(secret),
    prefix: secret.slice(0, 8),
    createdBy: actor.principal.name,
  });
  const shown = publicToken(token);
  await recordAudit(
    actor,
    'token.create',
    { type: 'token', id: token.id, name: token.name },
    diffFields(null, shown as unknown as Record<string, unknown>, ['name', 'role', 'prefix']),
  );
  return { token: shown, secret };
}

export async function revokeToken(actor: Actor, id: string): Promise<void> {
  requireRole(actor.principal, 'admin');
  if (!IdSchema.safeParse(id).success) throw new NotFoundError('token');
  const store = await getStore();
  const token = (await store.listApiTokens()).find((t) => t.id === id);
  if (!token || token.revokedAt) throw new NotFoundError('token');
  if (!(await store.revokeApiToken(id))) throw new NotFoundError('token');
  await recordAudit(
    actor,
    'token.revoke',
    { type: 'token', id, name: token.name },
    { revokedAt: { before: null, after: new Date().toISOString() } },
  );
}
