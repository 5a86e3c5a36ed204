import { z } from 'zod';
import { isoDateSchema } from './date';
import { TimePageQuerySchema } from './job';
import { isSingleLineText } from './text';

const filterText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine(isSingleLineText, 'must not contain control characters or invalid Unicode');

/** Filters of the audit log (GET /api/audit, the /audit page): exact matches, a time range, keyset paging by time. */
export const AuditQuerySchema = TimePageQuerySchema.extend({
  actor: filterText(200).optional(),
  action: filterText(100).optional(),
  targetType: filterText(50).optional(),
  targetId: filterText(200).optional(),
  from: isoDateSchema('from').optional(),
  to: isoDateSchema('to').optional(),
});
export type AuditQuery = z.input<typeof AuditQuerySchema>;
