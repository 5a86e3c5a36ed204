// A run: its entity as the API answers it (runs are created by the scheduler, never by a client), the query of a job's
// runs (GET /api/jobs/{id}/runs), the run history's filters (the /runs page) and the same filters as the REST API takes
// them (GET /api/runs), and a run with its attempts (GET /api/runs/{id}).
import { z } from 'zod';
import { RUN_STATUSES } from '../domain';
import { DateTimeJsonSchema, isoDateSchema } from './date';
import { IdSchema } from './id';
import { TimePageQuerySchema } from './list-query';
import { SINGLE_LINE, isSingleLineText, trimmedText } from './text';

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

const filterText = (max: number) =>
  trimmedText(z.string().trim(), { min: 1, max }, SINGLE_LINE).refine(
    isSingleLineText,
    'must not contain control characters or invalid Unicode',
  );

const DATE_HELP = 'ISO-8601 date or date-time (a date is midnight UTC, a time without an offset is UTC)';
export const RANGE_MESSAGE = 'to must not be before from';

/**
 * The run history's filters as GET /api/runs takes them: the /runs page's (RunFilterSchema) under the same names, but
 * strict: a value the page would drop is a 400 naming the parameter here, so a client never gets every run for a
 * filter it got wrong. The page's relative `range` is left out: a client sends `from` itself. from <= to (one rule
 * across two parameters: the issue is on `to`).
 */
export const RunHistoryQuerySchema = TimePageQuerySchema.extend({
  job: IdSchema.optional().describe("Only this job's runs (a job's id; runs of a deleted job keep its id)"),
  q: filterText(200)
    .optional()
    .describe('Case-insensitive literal substring of the job name (its current name, or the name a run was recorded under)'),
  status: z.enum(RUN_STATUSES).optional().describe('Only runs with this status'),
  instance: filterText(200).optional().describe('Only runs of this instance (exact id)'),
  from: isoDateSchema('from').optional().describe(`Runs due (scheduledFor) at or after this instant (inclusive); ${DATE_HELP}`),
  to: isoDateSchema('to').optional().describe(`Runs due (scheduledFor) before this instant (exclusive), not before from; ${DATE_HELP}`),
}).superRefine((query, ctx) => {
  if (query.from && query.to && query.to.getTime() < query.from.getTime())
    ctx.addIssue({ code: 'custom', path: ['to'], message: RANGE_MESSAGE });
});
export type RunHistoryQuery = z.output<typeof RunHistoryQuerySchema>;

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
  cancel: z
    .object({
      at: DateTimeJsonSchema.describe('When the cancel was requested'),
      by: z
        .object({
          type: z.enum(['user', 'token', 'system']),
          id: z.string().nullable(),
          name: z.string(),
        })
        .describe("Who asked, as the audit log names actors (type 'system', name 'replace': the replace overlap policy)"),
      reason: z.string().nullable().describe('Why, as given with the cancel; null = none'),
    })
    .nullable()
    .describe(
      "The run's cancel request; null when none was made. With status running the run is being stopped; with status cancelled it was",
    ),
});

/** The longest cancel reason, in characters (after trimming). */
export const CANCEL_REASON_MAX = 500;

/**
 * Body of POST /api/runs/{id}/cancel (optional: no body is {}) and of the cancel button: why the run is cancelled.
 * Trimmed, one line (no control characters), at most CANCEL_REASON_MAX characters; empty or left out = no reason.
 */
export const RunCancelSchema = z
  .object({
    reason: trimmedText(
      z.string({ error: 'reason must be a string' }).trim(),
      { min: 0, max: CANCEL_REASON_MAX, maxMessage: `reason is at most ${CANCEL_REASON_MAX} characters` },
      SINGLE_LINE,
    )
      .refine(isSingleLineText, 'reason must be one line: no control characters (newlines, tabs) or invalid Unicode')
      .nullable()
      .optional()
      .transform((reason) => (reason ? reason : null))
      .describe(`Why the run is cancelled (optional, one line, at most ${CANCEL_REASON_MAX} characters); kept with the run`),
  })
  .strict();
export type RunCancelInput = z.input<typeof RunCancelSchema>;

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

/** One attempt of a run, oldest first; the last one is the current attempt (`current`, finishedAt null while it runs or waits). */
export const RunAttemptJsonSchema = z.object({
  attempt: z.number().int(),
  instanceId: z.string().nullable(),
  startedAt: DateTimeJsonSchema.nullable(),
  finishedAt: DateTimeJsonSchema.nullable(),
  durationMs: z.number().int().nullable(),
  status: z.enum(RUN_STATUSES),
  error: z.string().nullable(),
  output: z.string().nullable().describe('The bounded output excerpt of this attempt'),
  current: z.boolean().describe("The run's own (latest) attempt; the others were retried or taken over"),
});

/** GET /api/runs/{id}: the run with every attempt, and the webhook-id its deliveries carry. */
export const RunDetailJsonSchema = RunJsonSchema.extend({
  attempts: z
    .array(RunAttemptJsonSchema)
    .describe(
      'Every attempt, oldest first: earlier ones (retried after a failure, or taken over from a stopped instance), then the current one',
    ),
  webhookId: z
    .string()
    .nullable()
    .describe('The webhook-id (and Idempotency-Key) every delivery of this occurrence carries; null when its job sends none'),
});

/** The answer of POST /api/jobs/{id}/run: the occurrence queued for now. */
export const RunNowJsonSchema = z.object({ jobId: z.string(), scheduledFor: DateTimeJsonSchema });

export type RunJson = z.input<typeof RunJsonSchema>;
export type RunAttemptJson = z.input<typeof RunAttemptJsonSchema>;
export type RunDetailJson = z.input<typeof RunDetailJsonSchema>;

/** The answer of POST /api/runs/{id}/cancel. */
export const RunCancelJsonSchema = z.object({
  outcome: z
    .enum(['cancelled', 'requested'])
    .describe(
      'cancelled: the run was claimed or retrying and is closed (it never starts / gets no further attempt). requested: it is running; its handler is aborted on the instance that runs it within 2 s, which records status cancelled',
    ),
  run: RunJsonSchema,
});
export type RunCancelJson = z.input<typeof RunCancelJsonSchema>;
export type LastRunJson = z.input<typeof LastRunJsonSchema>;

/** A seq to read after (digits only in a query string, as QueryLimitSchema): 0 or absent = from the start. */
const AFTER_MESSAGE = 'after must be a whole number from 0 to 2147483647';
const AfterSeqSchema = z
  .union([z.number(), z.string().regex(/^\d{1,10}$/, AFTER_MESSAGE)])
  .optional()
  .transform((value) => (value === undefined ? 0 : Number(value)))
  .pipe(z.number().int().min(0, AFTER_MESSAGE).max(2_147_483_647, AFTER_MESSAGE))
  .describe("Only the chunks after this seq of the run's current attempt (the last seq you have); absent or 0: all of them")
  .meta({ type: 'integer', minimum: 0, maximum: 2_147_483_647, anyOf: undefined });

/** Query of GET /api/runs/{id}/output. */
export const RunOutputQuerySchema = z.object({ after: AfterSeqSchema });

/** One chunk of a running attempt's live output. */
export const RunOutputChunkJsonSchema = z.object({
  attempt: z.number().int(),
  seq: z.number().int().describe('1, 2, … within the attempt, in order'),
  offset: z
    .number()
    .int()
    .describe(
      "Characters of the attempt's output before this chunk: past the end of the chunk before it (or past 0 for the first), the characters between were dropped to keep the live output bounded",
    ),
  text: z.string().describe('Whole lines, each ending with a newline; secrets scrubbed as in the final output'),
  at: DateTimeJsonSchema,
});

/** The answer of GET /api/runs/{id}/output. */
export const RunOutputJsonSchema = z.object({
  runId: z.string(),
  status: z.enum(RUN_STATUSES),
  attempt: z.number().int(),
  live: z.boolean().describe('The run is claimed, running or waiting to retry: more output may come (watch GET /api/events?run=<id>)'),
  chunks: z
    .array(RunOutputChunkJsonSchema)
    .describe(
      "While live: the current attempt's live output (at most the run output limit, the newest kept), after `after`. Empty once the run ended",
    ),
  output: z.string().nullable().describe("The run's final output excerpt (null while it runs, or when it wrote nothing)"),
});
export type RunOutputJson = z.input<typeof RunOutputJsonSchema>;
