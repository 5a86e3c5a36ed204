// The audit log: append-only entries of who changed what.
import type { Page } from './database';

export type AuditActorType = 'user' | 'token' | 'system';

export interface AuditEntry {
  id: string;
  /** Database time of the append. */
  at: Date;
  actorType: AuditActorType;
  actorId: string | null;
  actorName: string;
  /** e.g. 'job.create', 'job.update', 'user.create', 'token.revoke', 'login.failure'. */
  action: string;
  targetType: string | null;
  targetId: string | null;
  targetName: string | null;
  ip: string | null;
  /** Field name -> values before and after; JSON values only (stored as JSON). */
  changes: Record<string, { before: unknown; after: unknown }> | null;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at'>;

export interface AuditListQuery {
  limit: number;
  cursor?: string;
  /** Exact match. */
  actorName?: string;
  /** Exact match. */
  action?: string;
  /** Exact match. */
  targetType?: string;
  /** Exact match. */
  targetId?: string;
  /** at >= from */
  from?: Date;
  /** at < to */
  to?: Date;
}

/** The audit log: append and list, nothing else. */
export interface AuditStore {
  /** Appends an entry stamped with the database time. There is deliberately no update or delete. */
  appendAudit(entry: NewAuditEntry): Promise<AuditEntry>;
  listAudit(query: AuditListQuery): Promise<Page<AuditEntry>>;
}
