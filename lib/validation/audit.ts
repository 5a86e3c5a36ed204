// The audit log: an entry as the API answers it and the list query with its filters. Entries are appended by the
// services (lib/services/audit.ts) and never changed: no create or update schema.
import { z } from 'zod';
import { DateTimeJsonSchema, isoDateSchema } from './date';
import { TimePageQuerySchema } from './list-query';
import { SINGLE_LINE, isSingleLineText, trimmedText } from './text';

const filterText = (max: number) =>
  trimmedText(z.string().trim(), { min: 1, max }, SINGLE_LINE).refine(
    isSingleLineText,
    'must not contain control characters or invalid Unicode',
  );

const DATE_HELP = 'ISO-8601 date or date-time (a date is midnight UTC, a time without an offset is UTC)';

/**
 * Filters of the audit log (GET /api/audit, the /audit page): exact matches, the time range [from, to) (as the stores
 * apply it), keyset paging by time.
 */
export const AuditQuerySchema = TimePageQuerySchema.extend({
  actor: filterText(200).optional(),
  action: filterText(100).optional(),
  targetType: filterText(50).optional(),
  targetId: filterText(200).optional(),
  from: isoDateSchema('from').optional().describe(`Entries at or after this instant (inclusive); ${DATE_HELP}`),
  to: isoDateSchema('to').optional().describe(`Entries before this instant (exclusive); ${DATE_HELP}`),
});
export type AuditQuery = z.input<typeof AuditQuerySchema>;

/** An audit entry as the API answers it. */
export const AuditEntryJsonSchema = z.object({
  id: z.string(),
  at: DateTimeJsonSchema.describe('Database time of the append'),
  actorType: z.enum(['user', 'token', 'system']),
  actorId: z.string().nullable(),
  actorName: z.string(),
  action: z.string().describe('e.g. job.create, user.update, token.revoke, login.failure'),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  targetName: z.string().nullable(),
  ip: z.string().nullable(),
  changes: z
    .record(z.string(), z.object({ before: z.unknown(), after: z.unknown() }))
    .nullable()
    .describe('Changed fields with their values before and after; secrets masked'),
});
export const AuditListJsonSchema = z.object({ entries: z.array(AuditEntryJsonSchema), nextCursor: z.string().nullable() });

export type AuditEntryJson = z.input<typeof AuditEntryJsonSchema>;
