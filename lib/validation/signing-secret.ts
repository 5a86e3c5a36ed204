// A job's delivery signing secret (http jobs): the rotate body, and the secret as the create, reveal and rotate answers
// carry it. The secret itself is never on a job: lib/store/contract/signing-secrets.ts.
import { z } from 'zod';
import { DEFAULT_ROTATION_GRACE_SECONDS, MAX_ROTATION_GRACE_SECONDS } from '../domain';
import { DateTimeJsonSchema } from './date';
import { JobJsonSchema } from './job';

/** Body of POST /api/jobs/{id}/signing-secret/rotate (an empty body takes the defaults) and of the rotate form. */
export const SigningSecretRotateSchema = z.strictObject({
  graceSeconds: z
    .number({ error: 'graceSeconds must be a number' })
    .int('graceSeconds must be a whole number')
    .min(0, 'graceSeconds is at least 0 (0 = the previous secret stops signing at once)')
    .max(MAX_ROTATION_GRACE_SECONDS, `graceSeconds is at most ${MAX_ROTATION_GRACE_SECONDS} (7 days)`)
    .default(DEFAULT_ROTATION_GRACE_SECONDS)
    .describe('How long the previous secret keeps signing beside the new one, so receivers can switch without a gap'),
});

export type SigningSecretRotateInput = z.input<typeof SigningSecretRotateSchema>;

const SigningSecretValueSchema = z
  .string()
  .describe('`whsec_` + base64 of 32 random bytes (Standard Webhooks). Shown in this answer only: keep it in your receiver');

/** The answer of reveal and rotate. */
export const SigningSecretJsonSchema = z.object({
  signingSecret: SigningSecretValueSchema,
  createdAt: DateTimeJsonSchema.describe('When this secret was made (the job was created, or the secret rotated)'),
  previousValidUntil: DateTimeJsonSchema.nullable().describe(
    'Until when the previous secret still signs deliveries beside this one (a rotation grace period); null when it does not',
  ),
});

/** POST /api/jobs answers the job, and for an http job its signing secret, this once. */
export const JobCreatedJsonSchema = JobJsonSchema.extend({
  signingSecret: SigningSecretValueSchema.optional().describe(
    'http jobs only: the secret deliveries are signed with, shown this once (POST /api/jobs/{id}/signing-secret/reveal shows it again)',
  ),
});

export type SigningSecretJson = z.input<typeof SigningSecretJsonSchema>;
export type JobCreatedJson = z.input<typeof JobCreatedJsonSchema>;
