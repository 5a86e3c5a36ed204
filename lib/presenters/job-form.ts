import 'server-only';
import { z } from 'zod';
import {
  JobFormValuesSchema,
  NEW_JOB_CRON,
  NEW_JOB_INTERVAL,
  type JobFormInitial,
  type JobFormValues,
  type JobTypeOption,
} from './job-form-state';
import { jobTypes } from '../jobs/registry';
import { DEFAULT_RETRY, type Job } from '../store/types';
import { JOB_ALERT_EVENTS } from '../validation/alert';
import { JobNameSchema, MISSED_POLICIES, OVERLAP_POLICIES } from '../validation/job';
import { payloadFields, toFieldValue, type JsonSchemaNode } from './payload-fields';

/** The job types as the form needs them: the payload schema travels as JSON Schema. */
export function jobTypeOptions(): JobTypeOption[] {
  return jobTypes.map((type) => ({
    name: type.name,
    title: type.title,
    description: type.description,
    // "input" mode: fields with defaults are optional, which is what the operator may leave empty.
    schema: z.toJSONSchema(type.payloadSchema, { io: 'input' }) as JsonSchemaNode,
  }));
}

function fieldValues(schema: JsonSchemaNode, payload: Record<string, unknown>): Record<string, string | boolean> {
  const values: Record<string, string | boolean> = {};
  for (const field of payloadFields(schema)) {
    values[field.name] = toFieldValue(field, payload[field.name] ?? field.defaultValue);
  }
  return values;
}

/** Starting values of the form: the job's own for an edit, each type's example payload otherwise. */
export function jobFormInitial(types: JobTypeOption[], job: Job | null, channels: JobFormInitial['channels'] = []): JobFormInitial {
  const payloadByType: JobFormValues['payloadByType'] = {};
  for (const option of types) {
    const example = jobTypes.find((t) => t.name === option.name)?.examplePayload;
    const payload = job && job.type === option.name ? job.payload : ((example ?? {}) as Record<string, unknown>);
    payloadByType[option.name] = fieldValues(option.schema, payload);
  }
  const schedule = job?.schedule;
  const retry = job?.retry ?? DEFAULT_RETRY;
  const values: JobFormValues = {
    name: job?.name ?? '',
    description: job?.description ?? '',
    type: job?.type ?? types[0]?.name ?? '',
    payloadByType,
    schedule: {
      kind: schedule?.kind ?? 'cron',
      expression: schedule?.kind === 'cron' ? schedule.expression : NEW_JOB_CRON,
      // A new job's zone becomes the browser's once the form runs there.
      timezone: schedule?.kind === 'cron' ? schedule.timezone : 'UTC',
      seconds: schedule?.kind === 'interval' ? String(schedule.seconds) : NEW_JOB_INTERVAL,
      // Filled in the browser, which knows its zone (onceAt below).
      atLocal: '',
    },
    timeoutSeconds: String(job?.timeoutSeconds ?? 300),
    overlapPolicy: job?.overlapPolicy ?? 'skip',
    missedPolicy: job?.missedPolicy ?? 'run-once',
    tags: job?.tags.join(', ') ?? '',
    retry: {
      maxAttempts: String(retry.maxAttempts),
      backoffSeconds: String(retry.backoffSeconds),
      maxBackoffSeconds: String(retry.maxBackoffSeconds),
    },
    concurrencyLimit: job?.concurrencyLimit == null ? '' : String(job.concurrencyLimit),
    autoPause: { afterFailures: job?.autoPause ? String(job.autoPause.afterFailures) : '' },
    alerts: [
      ...(job?.alerts ?? []).map((rule) => ({
        channelId: rule.channelId,
        on: Object.fromEntries(JOB_ALERT_EVENTS.map((e) => [e, rule.on.includes(e)])),
        throttleSeconds: String(rule.throttleSeconds),
        slowAfterSeconds: rule.slowAfterSeconds === null ? '' : String(rule.slowAfterSeconds),
      })),
      {
        channelId: '',
        on: Object.fromEntries(JOB_ALERT_EVENTS.map((e) => [e, e === 'failure'])),
        throttleSeconds: '0',
        slowAfterSeconds: '',
      },
    ],
  };
  return {
    jobId: job?.id ?? null,
    values: JobFormValuesSchema.parse(values),
    onceAt: schedule?.kind === 'once' ? schedule.at : null,
    nameMaxLength: JobNameSchema.maxLength,
    overlapPolicies: OVERLAP_POLICIES,
    missedPolicies: MISSED_POLICIES,
    channels,
    alertEvents: JOB_ALERT_EVENTS,
  };
}
