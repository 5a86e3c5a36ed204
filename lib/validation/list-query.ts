// The pieces every list query shares: the page size and keyset paging by name or by time. Each resource's file builds
// its list query (and its filters) from these; the cursors themselves are in ./cursor.ts.
import { z } from 'zod';
import { NameCursorSchema, TimeCursorSchema } from './cursor';

/**
 * A page size (a number, or from a query string digits only), 1-200, 50 when absent. Not z.coerce.number(), which read "1 ",
 * "1e1" and "0x10" as numbers (a property test found "1 ").
 */
const LIMIT_MESSAGE = 'limit must be a whole number from 1 to 200';
export const QueryLimitSchema = z
  .union([z.number(), z.string().regex(/^\d{1,4}$/, LIMIT_MESSAGE)])
  .optional()
  .transform((value) => (value === undefined ? 50 : Number(value)))
  .pipe(z.number().int().min(1, LIMIT_MESSAGE).max(200, LIMIT_MESSAGE))
  .describe('Page size, 1-200 (default 50)')
  // In a query string it is digits: the document says an integer, which is what a client sends.
  .meta({ type: 'integer', minimum: 1, maximum: 200, anyOf: undefined });

/** Paging of lists sorted by name (jobs): a crafted cursor cannot carry a name the database refuses. */
export const NamePageQuerySchema = z.object({
  limit: QueryLimitSchema,
  cursor: NameCursorSchema.optional(),
});

/** Paging of lists sorted by time (runs, audit entries): a crafted cursor cannot carry a time outside years 1-9999. */
export const TimePageQuerySchema = z.object({
  limit: QueryLimitSchema,
  cursor: TimeCursorSchema.optional(),
});
