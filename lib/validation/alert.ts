// Alert rules (issue #14): on a job (`alerts` in the job body) and as defaults (Settings -> Alerts, GET/PUT
// /api/alerts/defaults). Whether a channelId names an existing channel is checked by the services (it needs the store):
// a 400 at the rule's channelId, as every field issue here.
import { z } from 'zod';
import { ALERT_EVENTS, type AlertEvent } from '../domain';
import { ALERT_STATUSES } from '../store/contract/alerts';
import { DateTimeJsonSchema } from './date';
import { TimePageQuerySchema } from './list-query';

/** The most rules one job (or the defaults) may have. */
export const MAX_ALERT_RULES = 10;
export const MAX_THROTTLE_SECONDS = 86_400;
export const MAX_SLOW_AFTER_SECONDS = 604_800;

/** Run events: what a job's own rule may listen to (instance-lost names no job: defaults only). */
export const JOB_ALERT_EVENTS = ALERT_EVENTS.filter((e) => e !== 'instance-lost') as Exclude<AlertEvent, 'instance-lost'>[];

const ChannelIdSchema = z
  .string({ error: 'channelId must be a string' })
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'channelId must name a channel (its id)')
  .describe('The channel alerts of this rule go to (GET /api/channels/picker lists them)');

function ruleSchema<E extends readonly [string, ...string[]], X extends z.ZodRawShape>(events: E, eventsText: string, extra: X) {
  return z
    .object(
      {
        ...extra,
        channelId: ChannelIdSchema,
        on: z
          .array(z.enum(events, { error: `on: each event is one of ${eventsText}` }), { error: 'on must be a list of events' })
          .min(1, 'on needs at least one event')
          .max(events.length, `on has at most ${events.length} events`)
          .refine((on) => new Set(on).size === on.length, 'on must not name an event twice')
          .describe(`The events of this rule (${eventsText}), each at most once`),
        throttleSeconds: z
          .number({ error: 'throttleSeconds must be a number' })
          .int('throttleSeconds must be a whole number')
          .min(0, 'throttleSeconds is at least 0 (0 = every event)')
          .max(MAX_THROTTLE_SECONDS, `throttleSeconds is at most ${MAX_THROTTLE_SECONDS} (one day)`)
          .default(0)
          .describe(
            'At most one alert per (rule, job) in this many seconds; later ones are counted and reported with the next. 0 = every event',
          ),
        slowAfterSeconds: z
          .number({ error: 'slowAfterSeconds must be a number or null' })
          .int('slowAfterSeconds must be a whole number')
          .min(1, 'slowAfterSeconds is at least 1')
          .max(MAX_SLOW_AFTER_SECONDS, `slowAfterSeconds is at most ${MAX_SLOW_AFTER_SECONDS} (one week)`)
          .nullable()
          .default(null)
          .describe("Required (a number) exactly when `on` has 'slow': how long a run may run before it is slow; null otherwise"),
      },
      { error: (issue) => (issue.code === 'invalid_type' ? 'a rule must be an object' : undefined) },
    )
    .strict()
    .superRefine((value, ctx) => {
      const rule = value as unknown as { on: string[]; slowAfterSeconds: number | null };
      const slow = rule.on.includes('slow');
      if (slow && rule.slowAfterSeconds === null) {
        ctx.addIssue({ code: 'custom', path: ['slowAfterSeconds'], message: "slowAfterSeconds is required when on has 'slow'" });
      }
      if (!slow && rule.slowAfterSeconds !== null) {
        ctx.addIssue({ code: 'custom', path: ['slowAfterSeconds'], message: "slowAfterSeconds must be null unless on has 'slow'" });
      }
    });
}

/** One rule of a job. */
export const JobAlertRuleSchema = ruleSchema(
  JOB_ALERT_EVENTS as unknown as readonly [Exclude<AlertEvent, 'instance-lost'>, ...Exclude<AlertEvent, 'instance-lost'>[]],
  JOB_ALERT_EVENTS.join(', '),
  {},
);

/** A job's rules (`alerts` of the job body). */
export const JobAlertRulesSchema = z
  .array(JobAlertRuleSchema, { error: 'alerts must be a list of rules' })
  .max(MAX_ALERT_RULES, `alerts has at most ${MAX_ALERT_RULES} rules`)
  .describe(
    `Alert rules (at most ${MAX_ALERT_RULES}): each sends the job's events to a channel. slowAfterSeconds is required exactly when on has 'slow'; channelId must name an existing channel (a 400 at alerts.<i>.channelId otherwise)`,
  );

/** One default rule: for every job (tag null) or for the jobs with a tag; may also listen to instance-lost. */
export const AlertDefaultRuleSchema = ruleSchema(ALERT_EVENTS, ALERT_EVENTS.join(', '), {
  tag: z
    .string({ error: 'tag must be a string or null' })
    .regex(/^[\p{L}\p{N}_.:/-]{1,40}$/u, 'a tag is 1 to 40 letters, digits and _ . : / -')
    .meta({ format: 'tag' })
    .nullable()
    .default(null)
    .describe('Only jobs with this tag; null = every job'),
});

export const AlertDefaultsSchema = z
  .object({
    rules: z
      .array(AlertDefaultRuleSchema, { error: 'rules must be a list of rules' })
      .max(MAX_ALERT_RULES, `rules has at most ${MAX_ALERT_RULES} rules`)
      .describe(
        `Default rules (at most ${MAX_ALERT_RULES}), applied to every job (tag null) or to the jobs with the tag, in addition to each job's own rules`,
      ),
  })
  .strict();

export type JobAlertRuleInput = z.input<typeof JobAlertRuleSchema>;
export type AlertDefaultsInput = z.input<typeof AlertDefaultsSchema>;

/** Query of GET /api/alerts (and the Alerts page): filters, keyset paging by time, newest first. */
export const AlertQuerySchema = TimePageQuerySchema.extend({
  status: z.enum(ALERT_STATUSES, { error: `status is one of ${ALERT_STATUSES.join(', ')}` }).optional(),
  event: z.enum(ALERT_EVENTS, { error: `event is one of ${ALERT_EVENTS.join(', ')}` }).optional(),
  jobId: z.uuid('jobId must be a job id (a UUID)').optional().describe("Only this job's alerts"),
});
export type AlertQuery = z.input<typeof AlertQuerySchema>;

/** An alert as the API answers it. */
export const AlertJsonSchema = z.object({
  id: z.string().describe('The row id; the message id the channel received is `alrt_` + this id'),
  messageId: z.string().describe('The id every delivery of this alert carries (webhook-id, e-mail Message-ID)'),
  event: z.enum(ALERT_EVENTS),
  channelId: z.string(),
  rule: z.string().describe("The rule that matched: 'job:<i>' (the job's i-th rule) or 'default:<i>'"),
  job: z.object({ id: z.string(), name: z.string() }).nullable(),
  runId: z.string().nullable(),
  instanceId: z.string().nullable(),
  title: z.string(),
  status: z.enum(ALERT_STATUSES),
  attempts: z.number().int().describe('Delivery attempts made'),
  lastError: z.string().nullable().describe('Why the last attempt failed, or why it was suppressed'),
  suppressedCount: z.number().int().describe('Alerts of this rule and job held back by its throttle before this one'),
  at: DateTimeJsonSchema.describe('When the event happened'),
  createdAt: DateTimeJsonSchema,
  nextAttemptAt: DateTimeJsonSchema.nullable().describe('A pending alert: when it is tried (again); null otherwise'),
  sentAt: DateTimeJsonSchema.nullable(),
});
export const AlertListJsonSchema = z.object({ alerts: z.array(AlertJsonSchema), nextCursor: z.string().nullable() });
export const AlertDefaultsJsonSchema = z.object({
  rules: z.array(
    z.object({
      channelId: z.string(),
      on: z.array(z.enum(ALERT_EVENTS)),
      throttleSeconds: z.number().int(),
      slowAfterSeconds: z.number().int().nullable(),
      tag: z.string().nullable(),
    }),
  ),
});
export type AlertJson = z.input<typeof AlertJsonSchema>;
