import 'server-only';
import { SYSTEM, requireRole, type Actor } from '../auth/principal';
import { ValidationError, toFieldIssues } from '../errors';
import { getStore } from '../store';
import type { AuditEntry, NewAuditEntry, Page } from '../store/types';
import { AuditQuerySchema, type AuditQuery } from '../validation/audit';

export interface AuditTarget {
  type: string;
  id: string | null;
  name: string | null;
}

export type Changes = Record<string, { before: unknown; after: unknown }>;

/** Shown instead of a secret's value (password hashes, token hashes): the entry says it changed, never to what. */
export const MASKED = '••••';

/** JSON-safe copy: Dates become ISO strings, undefined becomes null. */
function plain(value: unknown): unknown {
  if (value === undefined) return null;
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/** The fields of `after` whose value differs from `before` (compared as JSON). */
export function diffFields(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  fields: readonly string[],
): Changes | null {
  const changes: Changes = {};
  for (const field of fields) {
    const a = plain(before?.[field]);
    const b = plain(after?.[field]);
    if (JSON.stringify(a) !== JSON.stringify(b)) changes[field] = { before: before ? a : null, after: after ? b : null };
  }
  return Object.keys(changes).length > 0 ? changes : null;
}

/** Appends one entry (database time). No actor = the app itself (start-up, examples, tests). */
export async function recordAudit(
  actor: Actor | undefined,
  action: string,
  target: AuditTarget | null,
  changes: Changes | null = null,
): Promise<AuditEntry> {
  const principal = actor?.principal ?? SYSTEM;
  const entry: NewAuditEntry = {
    actorType: principal.kind,
    actorId: principal.id,
    actorName: principal.name,
    action,
    targetType: target?.type ?? null,
    targetId: target?.id ?? null,
    targetName: target?.name ?? null,
    ip: actor?.ip ?? null,
    changes,
  };
  const store = await getStore();
  return store.appendAudit(entry);
}

/** Admins only: the log names users, addresses and what changed. */
export async function listAudit(actor: Actor, input: AuditQuery): Promise<Page<AuditEntry>> {
  requireRole(actor.principal, 'admin');
  const parsed = AuditQuerySchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error.issues), 'invalid audit filter');
  const q = parsed.data;
  const store = await getStore();
  return store.listAudit({
    limit: q.limit,
    cursor: q.cursor,
    actorName: q.actor,
    action: q.action,
    targetType: q.targetType,
    targetId: q.targetId,
    from: q.from,
    to: q.to,
  });
}
