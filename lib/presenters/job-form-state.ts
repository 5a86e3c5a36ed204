// What the job form (a browser component), its server action and its presenter (lib/presenters/job-form.ts) share;
// no server code here, so the browser bundle can load it.
import { z } from 'zod';
import type { FieldIssue } from '../errors';
import type { JsonSchemaNode } from './payload-fields';

export interface JobFormState {
  /** Field issues keyed by dotted path ("schedule.expression", "payload.url", "name"). */
  issues: FieldIssue[];
  /** A problem that belongs to no single field. */
  message: string | null;
}

export const initialFormState: JobFormState = { issues: [], message: null };

export interface JobTypeOption {
  name: string;
  title: string;
  description: string;
  schema: JsonSchemaNode;
}

export const SCHEDULE_KINDS = ['cron', 'interval', 'once'] as const;

/** A new job runs every five minutes until the operator picks something else (in the browser's time zone). */
export const NEW_JOB_CRON = '*/5 * * * *';
/** A new interval's length, in seconds. */
export const NEW_JOB_INTERVAL = '60';

/**
 * The whole form's state (react-hook-form's values), as its inputs hold it: text, numbers included, and booleans for
 * checkboxes. Keys follow the paths the server reports issues under ("schedule.expression", "retry.maxAttempts"), so
 * each issue lands on its field. This schema is the shape of the state; what makes a valid job is decided on the
 * server (lib/validation/job.ts and each job type's payload schema), which answers with field issues.
 */
export const JobFormValuesSchema = z.object({
  name: z.string(),
  description: z.string(),
  type: z.string(),
  /** Payload field values per job type, so switching type and back keeps what was typed. */
  payloadByType: z.record(z.string(), z.record(z.string(), z.union([z.string(), z.boolean()]))),
  schedule: z.object({
    kind: z.enum(SCHEDULE_KINDS),
    expression: z.string(),
    timezone: z.string(),
    seconds: z.string(),
    /** "Once": the wall-clock time typed in the browser's zone (datetime-local); the form sends the instant. */
    atLocal: z.string(),
  }),
  timeoutSeconds: z.string(),
  overlapPolicy: z.string(),
  missedPolicy: z.string(),
  /** Separated by commas or spaces. */
  tags: z.string(),
  retry: z.object({ maxAttempts: z.string(), backoffSeconds: z.string(), maxBackoffSeconds: z.string() }),
  /** Empty = no limit. */
  concurrencyLimit: z.string(),
  /** Empty = never auto-paused. */
  autoPause: z.object({ afterFailures: z.string() }),
  /** Alert rules, one row each (the job's, then one empty row to add another); a row without a channel is left out. */
  alerts: z.array(
    z.object({
      channelId: z.string(),
      /** Event -> checked. */
      on: z.record(z.string(), z.boolean()),
      throttleSeconds: z.string(),
      slowAfterSeconds: z.string(),
    }),
  ),
});
export type JobFormValues = z.infer<typeof JobFormValuesSchema>;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

export interface JobFormInitial {
  jobId: string | null;
  values: JobFormValues;
  /** A one-off job's instant: shown in the browser's zone once the form runs there. */
  onceAt: string | null;
  /** The name schema's limit, so the input takes no more than the server accepts (null: the schema sets none). */
  nameMaxLength: number | null;
  /** The policy choices, passed in so the browser bundle never loads the job registry (and its Node-only job code). */
  overlapPolicies: readonly string[];
  missedPolicies: readonly string[];
  /** The channels a rule may name (id, name, type; no settings) and the events a job's rule may listen to. */
  channels: ReadonlyArray<{ id: string; name: string; type: string }>;
  alertEvents: readonly string[];
}
