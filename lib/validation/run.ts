// A run: its entity as the API answers it (runs are created by the scheduler, never by a client), the query of a job's
// runs (GET /api/jobs/{id}/runs), and the run history's filters (the /runs page).
import { z } from 'zod';
import { RUN_STATUSES } from '../domain';
import { DateTimeJsonSchema, isoDateSchema } from './date';
import { TimePageQuerySchema } from './list-query';
import { isSingleLineText } from './text';

/** Query of GET /api/jobs/{id}/runs. */
export const RunListQuerySchema = TimePageQuerySchema;

/** Quick time windows for the run history, counted back from the database clock at each read. */
export const RUN_RANGES = {
  '15m': 15 * 60_000,
  '1h': 3600_000,
  '6h': 6 * 3600_000,
  '24h': 24 * 3600_000,
  '7d': 7 * 24 * 3600_000,
} as const;
export type RunRange = keyof typeof RUN_RANGES;

const optionalText = z
  .string()
  .trim()
  .max(200)
  // A NUL would be a database error, not "no match" (shared rules: ./text.ts).
  .refine(isSingleLineText)
  .optional()
  .transform((v) => (v ? v : undefined));

/** ISO-8601 within years 1-9999 (./date.ts): `new Date` took "-010000-01-01", which PostgreSQL refuses. Blank = none. */
const optionalDate = (label: string) => isoDateSchema(label).optional();

/**
 * The run-history filters as they arrive in the URL. Unknown or malformed values are dropped, not fatal: a `q` or
 * `instance` with a control character is dropped too, so none reaches the database. `from` and `to` bound the due
 * time (scheduledFor) as the stores apply them: from inclusive, to exclusive.
 */
export const RunFilterSchema = z.object({
  // Not an id (too long, control characters, ...): listRunHistory answers an empty page, not every run.
  job: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v.slice(0, 100) : undefined)),
  /** Case-insensitive substring of the job name (current, or as recorded on the run). */
  q: optionalText.catch(undefined),
  status: z.enum(RUN_STATUSES).optional().catch(undefined),
  instance: optionalText.catch(undefined),
  range: z
    .enum(Object.keys(RUN_RANGES) as [RunRange, ...RunRange[]])
    .optional()
    .catch(undefined),
  from: optionalDate('from').catch(undefined),
  to: optionalDate('to').catch(undefined),
});
export type RunFilter = z.output<typeof RunFilterSchema>;

/** A run as the API answers it. The lease is scheduler bookkeeping and stays inside. */
export const RunJsonSchema = z.object({
  id: z.string(),
  jobId: z.string(),
  jobName: z.string(),
  scheduledFor: DateTimeJsonSchema.describe('When the occurrence was due'),
  startedAt: DateTimeJsonSchema.nullable(),
  finishedAt: DateTimeJsonSchema.nullable(),
  durationMs: z.number().int().nullable(),
  status: z.enum(RUN_STATUSES),
  trigger: z.enum(['schedule', 'manual', 'catch-up']),
  instanceId: z.string().nullable(),
  attempt: z.number().int(),
  error: z.string().nullable(),
  output: z.string().nullable(),
  rangeEnd: DateTimeJsonSchema.nullable().describe(
    'Set when this record stands for a range of occurrences (one missed record for an outage): every occurrence from scheduledFor through rangeEnd',
  ),
  rangeCount: z.number().int().nullable().describe('How many occurrences the range holds; null when too many to count'),
});

/** A job's latest run, in the jobs list. */
export const LastRunJsonSchema = RunJsonSchema.pick({
  id: true,
  status: true,
  scheduledFor: true,
  startedAt: true,
  finishedAt: true,
  instanceId: true,
});

export const RunListJsonSchema = z.object({ runs: z.array(RunJsonSchema), nextCursor: z.string().nullable() });

/** The answer of POST /api/jobs/{id}/run: the occurrence queued for now. */
export const RunNowJsonSchema = z.object({ jobId: z.string(), scheduledFor: DateTimeJsonSchema });

export type RunJson = z.input<typeof RunJsonSchema>;
export type LastRunJson = z.input<typeof LastRunJsonSchema>;
