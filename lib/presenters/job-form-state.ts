// What the job form (a browser component), its server action and its presenter (lib/presenters/job-form.ts) share;
// no server code here, so the browser bundle can load it.
import type { FieldIssue } from '../errors';
import type { JsonSchemaNode } from './payload-fields';
import type { Schedule } from '../validation/schedule';

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

export interface JobFormInitial {
  jobId: string | null;
  name: string;
  description: string;
  type: string;
  timeoutSeconds: string;
  overlapPolicy: string;
  missedPolicy: string;
  tags: string;
  retryMaxAttempts: string;
  retryBackoffSeconds: string;
  retryMaxBackoffSeconds: string;
  /** Empty = no limit. */
  concurrencyLimit: string;
  /** Null for a new job: the form starts with a cron every five minutes in the browser's time zone. */
  schedule: Schedule | null;
  /** Field values per job type, so switching type and back keeps what was typed. */
  payloadByType: Record<string, Record<string, string | boolean>>;
  /** The policy choices, passed in so the browser bundle never loads the job registry (and its Node-only job code). */
  overlapPolicies: readonly string[];
  missedPolicies: readonly string[];
}
