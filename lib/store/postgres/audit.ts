import 'server-only';
import { randomUUID } from 'node:crypto';
import { Prisma } from '../../generated/prisma/client';
import { decodeTimeCursor, pageOf } from '../shared/cursor';
import { activeFilters, AUDIT_FILTERS } from '../shared/fields';
import type { AuditEntry, AuditListQuery, AuditStore, NewAuditEntry, Page } from '../types';
import type { PgDatabase } from './database';
import { AUDIT_COLUMNS, AUDIT_FIELD_COLUMNS, sqlConditions, toAudit, type AuditRow } from './rows';

// The audit log on PostgreSQL (Prisma): append and list, nothing else.
export function postgresAudit(db: PgDatabase): AuditStore {
  return {
    async appendAudit(entry: NewAuditEntry): Promise<AuditEntry> {
      const rows = await db.prisma.$queryRaw<AuditRow[]>`
        INSERT INTO audit_log AS a (id, at, actor_type, actor_id, actor_name, action, target_type, target_id, target_name, ip, changes)
        VALUES (${randomUUID()}::uuid, clock_timestamp(), ${entry.actorType}, ${entry.actorId}, ${entry.actorName}, ${entry.action},
          ${entry.targetType}, ${entry.targetId}, ${entry.targetName}, ${entry.ip},
          ${entry.changes === null ? null : JSON.stringify(entry.changes)}::jsonb)
        RETURNING ${AUDIT_COLUMNS}`;
      return toAudit(rows[0]!);
    },

    async listAudit(query: AuditListQuery): Promise<Page<AuditEntry>> {
      const where = sqlConditions('a', AUDIT_FIELD_COLUMNS, activeFilters(query, AUDIT_FILTERS));
      if (query.cursor) {
        const [at, id] = decodeTimeCursor(query.cursor);
        where.push(Prisma.sql`(a.at, a.id) < (${at}::timestamptz, ${id}::uuid)`);
      }
      const rows = await db.prisma.$queryRaw<AuditRow[]>`
        SELECT ${AUDIT_COLUMNS} FROM audit_log a
        ${where.length ? Prisma.sql`WHERE ${Prisma.join(where, ' AND ')}` : Prisma.empty}
        ORDER BY a.at DESC, a.id DESC
        LIMIT ${query.limit + 1}`;
      return pageOf(rows.map(toAudit), query.limit, (a) => [a.at.toISOString(), a.id]);
    },
  };
}
