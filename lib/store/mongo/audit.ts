import 'server-only';
import { randomUUID } from 'node:crypto';
import { decodeTimeCursor, pageOf } from '../shared/cursor';
import { activeFilters, AUDIT_FILTERS } from '../shared/fields';
import type { AuditEntry, AuditListQuery, AuditStore, NewAuditEntry, Page } from '../types';
import { and, filterClauses, type MongoDatabase } from './database';
import { toAudit } from './documents';
import type { AuditDoc } from './schema';

// The audit log on MongoDB: append and list, nothing else.
export function mongoAudit(db: MongoDatabase): AuditStore {
  return {
    async appendAudit(entry: NewAuditEntry): Promise<AuditEntry> {
      // `at` is the keyset key of listAudit, so it is written as the millisecond Date that readers see: the server's
      // clock read first, not $currentDate (mongo-java-server keeps $currentDate finer than a millisecond, so the
      // value read back would not equal the stored one and cursors would skip or repeat entries).
      const doc: AuditDoc = {
        _id: randomUUID(),
        at: await db.now(),
        actorType: entry.actorType,
        actorId: entry.actorId,
        actorName: entry.actorName,
        action: entry.action,
        targetType: entry.targetType,
        targetId: entry.targetId,
        targetName: entry.targetName,
        ip: entry.ip,
        changesJson: entry.changes === null ? null : JSON.stringify(entry.changes),
      };
      await db.audit.insertOne(doc);
      return toAudit(doc);
    },

    async listAudit(query: AuditListQuery): Promise<Page<AuditEntry>> {
      const clauses = filterClauses<AuditDoc>(activeFilters(query, AUDIT_FILTERS));
      if (query.cursor) {
        const [at, id] = decodeTimeCursor(query.cursor);
        clauses.push({ $or: [{ at: { $lt: at } }, { at, _id: { $lt: id } }] });
      }
      const docs = await db.audit
        .find(and(clauses))
        .sort({ at: -1, _id: -1 })
        .limit(query.limit + 1)
        .toArray();
      return pageOf(docs.map(toAudit), query.limit, (a) => [a.at.toISOString(), a.id]);
    },
  };
}
