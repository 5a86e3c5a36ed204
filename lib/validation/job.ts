// A job: its entity as the API answers it, the create schema, the update schema derived from it, and the list query.
import { z } from 'zod';
import { getJobType, jobTypeNames } from '../jobs/registry';
import { JobAlertRulesSchema } from './alert';
import { DateTimeJsonSchema } from './date';
import { NamePageQuerySchema } from './list-query';
import { LastRunJsonSchema } from './run';
import { ScheduleSchema } from './schedule';
import { NO_NUL, SINGLE_LINE, isSingleLineText, refuseUnstorableString, refuseUnstorableText, trimmedText } from './text';
import { ALERT_EVENTS, AUTO_PAUSE_MAX_FAILURES, MISSED_POLICIES, OVERLAP_POLICIES } from '../domain';

export { MISSED_POLICIES, OVERLAP_POLICIES, type MissedPolicy, type OverlapPolicy } from '../domain';

export const JobNameSchema = trimmedText(
  z.string({ error: 'name must be a string' }).trim(),
  { min: 1, max: 100, minMessage: 'name is required', maxMessage: 'name is at most 100 characters' },
  SINGLE_LINE,
)
  // Control characters make names unreadable in lists and logs (and PostgreSQL refuses NUL).
  .refine(isSingleLineText, 'name must not contain control characters or invalid Unicode');

const TAG_CHARACTERS = '[\\p{L}\\p{N}_.:/-]';
// The document: the custom format `tag` besides the pattern, which says the same (the pattern, with every letter and
// digit of Unicode spelled out, is slow to generate data from: tools/api-check/hooks.py has a strategy for `tag`).
export const TagSchema = trimmedText(
  z
    .string()
    .trim()
    .regex(/^[\p{L}\p{N}_.:/-]+$/u, 'tags are letters, digits and _ . : / -'),
  { min: 1, max: 40, minMessage: 'a tag is at least 1 character', maxMessage: 'a tag is at most 40 characters' },
  { allowed: TAG_CHARACTERS, edge: TAG_CHARACTERS },
).meta({ format: 'tag' });

/** Retry policy of a job; the store's DEFAULT_RETRY (lib/store/types.ts) is the same. */
export const RetrySchema = z
  .object(
    {
      maxAttempts: z
        .number({ error: 'retry.maxAttempts must be a number' })
        .int('retry.maxAttempts must be a whole number')
        .min(1, 'retry.maxAttempts is at least 1 (1 = no retry)')
        .max(10, 'retry.maxAttempts is at most 10')
        .default(1)
        .describe('Attempts per occurrence, the first included (1 = no retry)'),
      backoffSeconds: z
        .number({ error: 'retry.backoffSeconds must be a number' })
        .int('retry.backoffSeconds must be a whole number')
        .min(1, 'retry.backoffSeconds is at least 1')
        .max(86_400, 'retry.backoffSeconds is at most 86400 (one day)')
        .default(10)
        .describe('Delay before the first retry; doubles for each further retry'),
      maxBackoffSeconds: z
        .number({ error: 'retry.maxBackoffSeconds must be a number' })
        .int('retry.maxBackoffSeconds must be a whole number')
        .min(1, 'retry.maxBackoffSeconds is at least 1')
        .max(86_400, 'retry.maxBackoffSeconds is at most 86400 (one day)')
        .default(600)
        .describe('Upper bound of the delay between retries'),
    },
    // Only the wrong-type case: unknown keys keep zod's message, which names them.
    { error: (issue) => (issue.code === 'invalid_type' ? 'retry must be an object' : undefined) },
  )
  .strict()
  .refine((r) => r.maxBackoffSeconds >= r.backoffSeconds, {
    message: 'retry.maxBackoffSeconds must be at least retry.backoffSeconds',
    path: ['maxBackoffSeconds'],
  })
  .describe(
    'Retry with exponential backoff. maxBackoffSeconds must be at least backoffSeconds (each as given or defaulted): a 400 at retry.maxBackoffSeconds otherwise',
  );

export const ConcurrencyLimitSchema = z
  .number({ error: 'concurrencyLimit must be a number or null' })
  .int('concurrencyLimit must be a whole number')
  .min(1, 'concurrencyLimit is at least 1 (null = no limit)')
  .max(1000, 'concurrencyLimit is at most 1000')
  .nullable()
  .describe('Most runs of this job at once across the cluster; null = no limit beyond the overlap policy');

const AUTO_PAUSE_HELP =
  'Pause the job after this many occurrences in a row ended in a final failure (failed or timed out after its last retry); a success resets the count, skipped and missed occurrences neither count nor reset it. The pause is recorded as by the app (by: system "cronplane") with the note "paused after N consecutive failures"';

/** Auto-pause (Temporal's pause-on-failure): { afterFailures: 1-100 }, or null = never. */
export const AutoPauseSchema = z
  .object(
    {
      afterFailures: z
        .number({ error: 'autoPause.afterFailures must be a number' })
        .int('autoPause.afterFailures must be a whole number')
        .min(1, 'autoPause.afterFailures is at least 1')
        .max(AUTO_PAUSE_MAX_FAILURES, `autoPause.afterFailures is at most ${AUTO_PAUSE_MAX_FAILURES}`)
        .describe('Final failures in a row that pause the job'),
    },
    { error: (issue) => (issue.code === 'invalid_type' ? 'autoPause must be an object or null' : undefined) },
  )
  .strict()
  .nullable()
  .describe(`${AUTO_PAUSE_HELP}; null = never`);

export const DescriptionSchema = trimmedText(
  z.string({ error: 'description must be a string' }).trim(),
  { min: 0, max: 2000, maxMessage: 'description is at most 2000 characters' },
  NO_NUL,
).superRefine(refuseUnstorableString);
/** Any JSON object; every string in it (field names included) must be storable. The type's own schema checks the rest. */
const PayloadSchema = z.record(z.string(), z.unknown(), { error: 'payload must be a JSON object' }).superRefine(refuseUnstorableText);

/** Every field of a job as a client sends it, with the defaults a new job gets. */
const JobFieldsSchema = z
  .object({
    name: JobNameSchema,
    description: DescriptionSchema.default(''),
    type: z.string({ error: 'type is required' }).refine((t) => getJobType(t) !== undefined, {
      message: `unknown job type; known types: ${jobTypeNames.join(', ')}`,
    }),
    payload: PayloadSchema.default({}),
    schedule: ScheduleSchema,
    paused: z.boolean().default(false),
    timeoutSeconds: z.number().int().min(1).max(86_400).describe('A run still going after this is marked timed-out').default(300),
    overlapPolicy: z.enum(OVERLAP_POLICIES).default('skip'),
    missedPolicy: z.enum(MISSED_POLICIES).default('run-once'),
    tags: z.array(TagSchema).max(20).default([]),
    retry: RetrySchema.default({ maxAttempts: 1, backoffSeconds: 10, maxBackoffSeconds: 600 }),
    concurrencyLimit: ConcurrencyLimitSchema.default(null),
    autoPause: AutoPauseSchema.default(null),
    alerts: JobAlertRulesSchema.default([]),
  })
  .strict();

type WithoutDefaults<S extends z.ZodRawShape> = { [K in keyof S]: S[K] extends z.ZodDefault<infer T> ? T : S[K] };

/** The same fields without their defaults. */
function withoutDefaults<S extends z.ZodRawShape>(shape: S): WithoutDefaults<S> {
  return Object.fromEntries(
    Object.entries(shape).map(([key, field]) => [key, field instanceof z.ZodDefault ? field.unwrap() : field]),
  ) as WithoutDefaults<S>;
}

/** Validates the payload against its type's own schema; issues land under `payload.<field>`. */
function checkPayload(value: { type?: string; payload?: Record<string, unknown> }, ctx: z.RefinementCtx): void {
  if (value.type === undefined || value.payload === undefined) return;
  const type = getJobType(value.type);
  if (!type) return;
  const parsed = type.payloadSchema.safeParse(value.payload);
  if (parsed.success) {
    value.payload = parsed.data as Record<string, unknown>;
    return;
  }
  for (const issue of parsed.error.issues) {
    ctx.addIssue({ code: 'custom', path: ['payload', ...issue.path.map(String)], message: issue.message });
  }
}

/** Body of POST /api/jobs and of the create form. */
export const JobCreateSchema = JobFieldsSchema.superRefine(checkPayload);

const JobUpdateFieldsSchema = JobFieldsSchema.omit({ paused: true });

/**
 * Body of PATCH /api/jobs/{id}: any subset of the create fields but `paused` (pause and resume have their own routes).
 * A field left out keeps the job's value, so no defaults (.partial() alone would still fill them in); the retry policy
 * is replaced whole, its own left-out fields taking their defaults. The merged job is validated again in full.
 */
export const JobUpdateSchema = JobUpdateFieldsSchema.extend(withoutDefaults(JobUpdateFieldsSchema.shape)).partial();

export const TYPE_WITH_PAYLOAD_MESSAGE = 'type and payload go together: send both (the payload is checked against the type) or neither';

/**
 * The REST API's rule for a change (PATCH /api/jobs/{id}): `type` and `payload` together or not at all, so a body says
 * by itself which payload schema applies (the document's JobUpdate: one variant per type, and one with neither). The
 * services take a payload alone too (checked against the job's type): the dashboard's form always sends both.
 */
export function typeWithPayloadIssue(body: Record<string, unknown>): { path: string; message: string } | null {
  if ('type' in body === 'payload' in body) return null;
  return { path: 'type' in body ? 'payload' : 'type', message: TYPE_WITH_PAYLOAD_MESSAGE };
}

export type JobCreateInput = z.input<typeof JobCreateSchema>;
export type JobSpec = z.output<typeof JobCreateSchema>;
export type JobUpdateInput = z.output<typeof JobUpdateSchema>;

/** The longest pause note, in characters (after trimming). */
export const PAUSE_NOTE_MAX = 500;

/**
 * Body of POST /api/jobs/{id}/pause (optional: no body is {}) and of the pause form: why the job is paused. The note
 * is trimmed, one line (no control characters), at most PAUSE_NOTE_MAX characters; empty or left out = no note.
 */
export const JobPauseSchema = z
  .object({
    // trimmedText: the document states the rule as one pattern on the text as sent (Schemathesis found it unstated).
    note: trimmedText(
      z.string({ error: 'note must be a string' }).trim(),
      { min: 0, max: PAUSE_NOTE_MAX, maxMessage: `note is at most ${PAUSE_NOTE_MAX} characters` },
      SINGLE_LINE,
    )
      .refine(isSingleLineText, 'note must be one line: no control characters (newlines, tabs) or invalid Unicode')
      .nullable()
      .optional()
      .transform((note) => (note ? note : null))
      .describe(`Why the job is paused (optional, one line, at most ${PAUSE_NOTE_MAX} characters); shown with the pause`),
  })
  .strict();

export type JobPauseInput = z.input<typeof JobPauseSchema>;

// Names and tags never hold control characters, and PostgreSQL refuses NUL in text outright.
const NO_CONTROL = /^[^\p{Cc}]*$/u;

/** Query of GET /api/jobs. */
export const JobListQuerySchema = NamePageQuerySchema.extend({
  search: trimmedText(
    z.string().trim().regex(NO_CONTROL, 'search must not contain control characters'),
    { min: 0, max: 200, maxMessage: 'search is at most 200 characters' },
    SINGLE_LINE,
  )
    .optional()
    .describe('Case-insensitive substring of the name'),
  tag: trimmedText(
    z.string().trim().regex(NO_CONTROL, 'tag must not contain control characters'),
    { min: 0, max: 40, maxMessage: 'tag is at most 40 characters' },
    SINGLE_LINE,
  )
    .optional()
    .describe('Only jobs with this tag'),
});

/** A job as the API answers it. Internal fields (anchorAt, version) stay inside; lib/api/serialize.ts picks these. */
export const JobJsonSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  type: z.enum(jobTypeNames as [string, ...string[]]),
  payload: z
    .record(z.string(), z.unknown())
    .describe(
      'Secret values (credential headers) are masked: "••••" plus at most the last 4 characters; send them back unchanged to keep them',
    ),
  schedule: ScheduleSchema,
  paused: z.boolean(),
  pause: z
    .object({
      at: DateTimeJsonSchema.describe('When it was paused'),
      by: z
        .object({
          type: z.enum(['user', 'token', 'system']),
          id: z.string().nullable().describe("The user's or API token's id; null for the app itself and the API_TOKEN"),
          name: z.string().describe("The username, the token's name, or 'system'"),
        })
        .describe('Who paused it, as the audit log names actors'),
      note: z.string().nullable().describe('Why, as given with the pause; null = no note'),
    })
    .nullable()
    .describe('The pause of a paused job (cleared by resume); null when active, or when paused before pause records existed'),
  timeoutSeconds: z.number().int(),
  overlapPolicy: z.enum(OVERLAP_POLICIES),
  missedPolicy: z.enum(MISSED_POLICIES),
  tags: z.array(z.string()),
  retry: z
    .object({
      maxAttempts: z.number().int().describe('Attempts per occurrence, the first included (1 = no retry)'),
      backoffSeconds: z.number().int().describe('Delay before the first retry; doubles for each further retry'),
      maxBackoffSeconds: z.number().int().describe('Upper bound of the delay between retries'),
    })
    .describe('Retry with exponential backoff: attempt n+1 starts min(backoffSeconds * 2^(n-1), maxBackoffSeconds) after attempt n failed'),
  concurrencyLimit: z
    .number()
    .int()
    .nullable()
    .describe('Most runs of this job at once across the cluster; null = no limit beyond the overlap policy'),
  autoPause: z
    .object({ afterFailures: z.number().int().describe('Final failures in a row that pause the job') })
    .nullable()
    .describe(`${AUTO_PAUSE_HELP}; null = never`),
  alerts: z
    .array(
      z.object({
        channelId: z.string(),
        on: z.array(z.enum(ALERT_EVENTS)),
        throttleSeconds: z.number().int(),
        slowAfterSeconds: z.number().int().nullable(),
      }),
    )
    .describe('Alert rules: which events of this job go to which channel (defaults apply in addition)'),
  nextRunAt: DateTimeJsonSchema.nullable().describe('The next occurrence; null when paused or when a one-off has run'),
  createdAt: DateTimeJsonSchema,
  updatedAt: DateTimeJsonSchema,
});

export const JobListItemJsonSchema = JobJsonSchema.extend({ lastRun: LastRunJsonSchema.nullable() });
export const JobListJsonSchema = z.object({ jobs: z.array(JobListItemJsonSchema), nextCursor: z.string().nullable() });

export type JobJson = z.input<typeof JobJsonSchema>;
export type JobListItemJson = z.input<typeof JobListItemJsonSchema>;
