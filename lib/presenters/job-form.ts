import 'server-only';
import { z } from 'zod';
import type { JobFormInitial, JobTypeOption } from './job-form-state';
import { jobTypes } from '../jobs/registry';
import { DEFAULT_RETRY, type Job } from '../store/types';
import { MISSED_POLICIES, OVERLAP_POLICIES } from '../validation/job';
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
export function jobFormInitial(types: JobTypeOption[], job: Job | null): JobFormInitial {
  const payloadByType: JobFormInitial['payloadByType'] = {};
  for (const option of types) {
    const example = jobTypes.find((t) => t.name === option.name)?.examplePayload;
    const payload = job && job.type === option.name ? job.payload : ((example ?? {}) as Record<string, unknown>);
    payloadByType[option.name] = fieldValues(option.schema, payload);
  }
  return {
    jobId: job?.id ?? null,
    name: job?.name ?? '',
    description: job?.description ?? '',
    type: job?.type ?? types[0]?.name ?? '',
    timeoutSeconds: String(job?.timeoutSeconds ?? 300),
    overlapPolicy: job?.overlapPolicy ?? 'skip',
    missedPolicy: job?.missedPolicy ?? 'run-once',
    tags: job?.tags.join(', ') ?? '',
    retryMaxAttempts: String((job?.retry ?? DEFAULT_RETRY).maxAttempts),
    retryBackoffSeconds: String((job?.retry ?? DEFAULT_RETRY).backoffSeconds),
    retryMaxBackoffSeconds: String((job?.retry ?? DEFAULT_RETRY).maxBackoffSeconds),
    concurrencyLimit: job?.concurrencyLimit == null ? '' : String(job.concurrencyLimit),
    schedule: job?.schedule ?? null,
    payloadByType,
    overlapPolicies: OVERLAP_POLICIES,
    missedPolicies: MISSED_POLICIES,
  };
}
