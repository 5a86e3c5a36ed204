import 'server-only';
import { z } from 'zod';

// The answers that belong to no resource: errors and the health probe. Each resource's own schemas (entity, create,
// update, list query) are in lib/validation/<resource>.ts.

export const HealthJsonSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  instanceId: z.string().nullable(),
  store: z.string().nullable().describe('Which database, without secrets'),
  scheduler: z.string().describe("This instance's scheduler state (running, disabled, failed, ...)"),
  dispatch: z
    .enum(['notify', 'change-stream', 'polling'])
    .nullable()
    .describe(
      'How due work reaches this instance: PostgreSQL LISTEN/NOTIFY, a MongoDB change stream, or polling alone; null without a running scheduler',
    ),
  error: z.string().optional(),
});

export const ErrorJsonSchema = z.object({ error: z.string() });
export const ValidationErrorJsonSchema = z.object({
  error: z.string(),
  issues: z.array(z.object({ path: z.string().describe('Dotted field path, e.g. schedule.expression'), message: z.string() })),
});
