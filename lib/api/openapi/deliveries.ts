import 'server-only';
import { DEFAULT_ROTATION_GRACE_SECONDS, IDEMPOTENCY_KEY_HEADER, WEBHOOK_HEADERS } from '../../domain';
import { DELIVERY_HEADERS } from '../../jobs/http';
import { SigningSecretJsonSchema, SigningSecretRotateSchema } from '../../validation/signing-secret';
import { commonErrors, errorResponse, invalidInput400, jsonContent, ref, schemaOf, tooLarge, withRole, type ApiSection } from './parts';

// What an http job sends (an OpenAPI 3.1 webhook: the headers a receiver verifies and deduplicates by), and the two
// routes of its signing secret.

/** Markdown for the document and the http payload's description: what every delivery carries, and how to check it. */
export const DELIVERY_HELP = [
  'Every request an `http` job sends is signed per Standard Webhooks 1.0.0:',
  `\`${WEBHOOK_HEADERS.id}\` (one value per occurrence, the same on every retry, takeover and resumed attempt of it; a run-now is an occurrence of its own),`,
  `\`${WEBHOOK_HEADERS.timestamp}\` (Unix seconds when this attempt was sent) and \`${WEBHOOK_HEADERS.signature}\``,
  "(`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` with the job's signing secret; during a rotation's grace period two",
  `space-separated entries, the new and the previous secret's). \`${IDEMPOTENCY_KEY_HEADER}\` repeats \`${WEBHOOK_HEADERS.id}\`.`,
  `Information headers: ${Object.values(DELIVERY_HEADERS)
    .map((h) => `\`${h}\``)
    .join(', ')}.`,
  'None of these can be set in the payload. Verify with any Standard Webhooks library (e.g. `standardwebhooks` on npm or PyPI),',
  'then apply each webhook-id once.',
].join(' ');

const header = (name: string, description: string) => ({ name, in: 'header', required: true, schema: { type: 'string' }, description });

const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'Job id' };
const notHttp = 'The job is not an http job: only those sign their deliveries';
const secretErrors = {
  '404': errorResponse('No job with this id (malformed ids included)'),
  '409': errorResponse(notHttp),
};
const secretAnswer = (description: string) => ({ description, content: jsonContent(ref('SigningSecret')) });

export function deliveriesSection(): ApiSection & { webhooks: Record<string, unknown> } {
  return {
    paths: {
      '/api/jobs/{id}/signing-secret/reveal': {
        post: withRole('operator', {
          summary: "Show an http job's signing secret (audited)",
          operationId: 'revealSigningSecret',
          tags: ['jobs'],
          parameters: [idParameter],
          responses: { '200': secretAnswer('The secret, and until when the previous one still signs'), ...secretErrors, ...commonErrors },
        }),
      },
      '/api/jobs/{id}/signing-secret/rotate': {
        post: withRole('operator', {
          summary: "Replace an http job's signing secret; the previous one keeps signing for the grace period (audited)",
          description: `No body, or {"graceSeconds": n}: how long the previous secret signs beside the new one (default ${DEFAULT_ROTATION_GRACE_SECONDS}). Switch your receiver to the new secret within it.`,
          operationId: 'rotateSigningSecret',
          tags: ['jobs'],
          parameters: [idParameter],
          requestBody: { required: false, content: jsonContent(ref('SigningSecretRotate')) },
          responses: {
            '200': secretAnswer('The new secret, shown this once'),
            ...secretErrors,
            '400': invalidInput400(
              'graceSeconds out of range or not a whole number, or not a JSON object (field-level issues); nothing changed',
            ),
            '409': errorResponse(`${notHttp}; or another rotation of this secret happened meanwhile`),
            ...tooLarge,
            ...commonErrors,
          },
        }),
      },
    },
    schemas: {
      SigningSecretRotate: schemaOf(SigningSecretRotateSchema, 'input'),
      SigningSecret: schemaOf(SigningSecretJsonSchema, 'output'),
    },
    webhooks: {
      httpJobDelivery: {
        post: {
          summary: 'What an http job sends to its URL (with the method, headers and body of its payload; POST shown)',
          description: DELIVERY_HELP,
          operationId: 'httpJobDelivery',
          tags: ['jobs'],
          parameters: [
            header(
              WEBHOOK_HEADERS.id,
              "The occurrence's id: the same on every attempt of one occurrence, e.g. cp_<job id>_<due time in ms>",
            ),
            header(
              WEBHOOK_HEADERS.timestamp,
              'Unix seconds when this attempt was sent; refuse it when too old (Standard Webhooks: 5 minutes)',
            ),
            header(WEBHOOK_HEADERS.signature, 'Space-separated `v1,<base64 HMAC-SHA256>` entries over `id.timestamp.body`'),
            header(IDEMPOTENCY_KEY_HEADER, `The same value as ${WEBHOOK_HEADERS.id}`),
            header(DELIVERY_HEADERS.jobId, 'The job'),
            header(DELIVERY_HEADERS.jobName, "The job's name, percent-encoded"),
            header(DELIVERY_HEADERS.runId, 'The run record of this occurrence'),
            header(DELIVERY_HEADERS.scheduledFor, 'When the occurrence was due, ISO 8601'),
            header(DELIVERY_HEADERS.attempt, 'The attempt number, 1 for the first'),
            header(DELIVERY_HEADERS.trigger, 'schedule, manual (run now), catch-up (late) or retry'),
          ],
          requestBody: { required: false, content: { '*/*': { schema: { type: 'string', description: "The payload's body, as is" } } } },
          responses: {
            '2XX': { description: 'Delivered (a job with expectedStatus wants that status instead)' },
            default: { description: 'Anything else fails the attempt (retried when the job allows)' },
          },
        },
      },
    },
  };
}
