// Types shared by the job form (browser) and its server action; no server code here.
import type { FieldIssue } from '@/lib/errors';
import type { JsonSchemaNode } from '@/lib/presenters/payload-fields';
import type { Schedule } from '@/lib/validation/schedule';

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
  /** Null for a new job: the form starts with an every-minute cron in the browser's time zone. */
  schedule: Schedule | null;
  /** Field values per job type, so switching type and back keeps what was typed. */
  payloadByType: Record<string, Record<string, string | boolean>>;
  /** The policy choices, passed in so the browser bundle never loads the job registry (and its Node-only job code). */
  overlapPolicies: readonly string[];
  missedPolicies: readonly string[];
}
