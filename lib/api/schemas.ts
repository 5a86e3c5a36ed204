import 'server-only';
import { z } from 'zod';

// The answers that belong to no resource: errors and the health probe. Each resource's own schemas (entity, create,
// update, list query) are in lib/validation/<resource>.ts.

export const HealthJsonSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  // The rest only for a caller with credentials (any role): they name the host, the process and the data directory.
  instanceId: z.string().nullable().optional().describe('This instance (host name and PID); with credentials only'),
  store: z.string().nullable().optional().describe('Which database, without secrets; with credentials only'),
  scheduler: z.string().optional().describe("This instance's scheduler state (running, disabled, failed, ...); with credentials only"),
  dispatch: z
    .enum(['notify', 'change-stream', 'polling'])
    .nullable()
    .optional()
    .describe(
      'How due work reaches this instance: PostgreSQL LISTEN/NOTIFY, a MongoDB change stream, or polling alone; null without a running scheduler; with credentials only',
    ),
  error: z.string().optional().describe('Why it is degraded; with credentials only'),
});

export const ErrorJsonSchema = z.object({ error: z.string() });
export const ValidationErrorJsonSchema = z.object({
  error: z.string(),
  issues: z.array(
    z.object({
      path: z.string().describe('Dotted field path, e.g. schedule.expression (a query parameter: its name); "" for the request as a whole'),
      message: z.string(),
    }),
  ),
});
