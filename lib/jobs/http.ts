import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import { IDEMPOTENCY_KEY_HEADER, WEBHOOK_HEADERS, charCount, isReservedDeliveryHeader, webhookId } from '../domain';
import { literalUrlProblem } from '../net/allow';
import { bodyToSend, guardedHttpRequest } from '../net/guard';
import { defineJobType, type JobContext } from './define';

/** The response body excerpt kept in the run output, in characters. */
export const RESPONSE_EXCERPT_CHARS = 2_000;
/** Reading stops past this many bytes of response body (the excerpt only needs the start). */
export const RESPONSE_MAX_BYTES = 64 * 1024;
export const MAX_REDIRECTS = 5;

export const USERINFO_MESSAGE =
  'url must not contain a user name or password (https://user:pass@host): the URL is stored and logged in clear. Send the credentials in a header instead, e.g. Authorization: Basic <base64 of user:pass>, which is encrypted and masked';

/** Credentials in the URL itself (userinfo) would be stored unencrypted and written to every run's output. */
function userinfoProblem(value: string): string | null {
  try {
    const url = new URL(value);
    return url.username !== '' || url.password !== '' ? USERINFO_MESSAGE : null;
  } catch {
    // Not a URL: z.url() already says so.
    return null;
  }
}

/** The URL as run output shows it: any user name and password (jobs saved before they were refused) left out. */
export function displayUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.username === '' && url.password === '') return value;
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return value;
  }
}

/**
 * Headers Cronplane sets on every delivery so the target can tell which occurrence a call belongs to (and deduplicate
 * repeated deliveries of one occurrence: a takeover or a retry). Reserved: a payload cannot set or forge them, nor the
 * signed headers below (signedHeaders).
 */
export const DELIVERY_HEADERS = {
  jobId: 'Cronplane-Job-Id',
  jobName: 'Cronplane-Job-Name',
  runId: 'Cronplane-Run-Id',
  scheduledFor: 'Cronplane-Scheduled-For',
  attempt: 'Cronplane-Attempt',
  trigger: 'Cronplane-Trigger',
} as const;

/** The delivery headers of one attempt. The job name is percent-encoded: header values are bytes, names are Unicode. */
export function deliveryHeaders(
  ctx: Pick<JobContext, 'jobId' | 'jobName' | 'runId' | 'scheduledFor' | 'attempt' | 'trigger'>,
): Record<string, string> {
  return {
    [DELIVERY_HEADERS.jobId]: ctx.jobId,
    [DELIVERY_HEADERS.jobName]: encodeURIComponent(ctx.jobName),
    [DELIVERY_HEADERS.runId]: ctx.runId,
    [DELIVERY_HEADERS.scheduledFor]: ctx.scheduledFor.toISOString(),
    [DELIVERY_HEADERS.attempt]: String(ctx.attempt),
    [DELIVERY_HEADERS.trigger]: ctx.trigger,
  };
}

/**
 * The Standard Webhooks headers of one attempt, and Idempotency-Key: the occurrence's id, the time this attempt is sent,
 * and one `v1,` signature of "id.timestamp.body" per secret (during a rotation, the new and the previous one). `body`
 * is exactly what is sent ('' when nothing is). Never unsigned: no secret is an error.
 */
export function signedHeaders(id: string, sentAt: Date, body: string, secrets: readonly string[]): Record<string, string> {
  if (secrets.length === 0) throw new Error('no signing secret for this job: the delivery was not sent');
  return {
    [WEBHOOK_HEADERS.id]: id,
    [WEBHOOK_HEADERS.timestamp]: String(Math.floor(sentAt.getTime() / 1000)),
    [WEBHOOK_HEADERS.signature]: secrets.map((secret) => new Webhook(secret).sign(id, sentAt, body)).join(' '),
    [IDEMPOTENCY_KEY_HEADER]: id,
  };
}

/** An HTTP header name: an RFC 9110 token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Control characters (C0, DEL, C1) a header value cannot carry; HTAB is allowed, as RFC 9110 and Node allow it. */
const HEADER_VALUE_CONTROL = /(?!\t)\p{Cc}/u;

export const httpPayloadSchema = z
  .object({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).default('GET').describe('HTTP method'),
    url: z
      .url({ protocol: /^https?$/, message: 'url must be an http:// or https:// URL' })
      .max(2048)
      // Obvious internal targets are refused when saved; names are checked again after DNS at run time.
      .superRefine((value, ctx) => {
        const problem = userinfoProblem(value) ?? literalUrlProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .describe('Address to call'),
    headers: z
      .record(
        z.string().min(1).max(256).regex(HEADER_NAME, 'invalid header name'),
        z
          .string()
          .refine((value) => charCount(value) <= 8192, 'a header value is at most 8192 characters')
          // A CR or LF would end the header line (an injected header at best); Node refuses them at run time anyway.
          .refine((value) => !HEADER_VALUE_CONTROL.test(value), {
            message: 'header value must not contain control characters (line breaks CR or LF, NUL, ...); a tab is allowed',
          })
          .meta({ maxLength: 8192, pattern: '^[^\\u0000-\\u0008\\u000A-\\u001F\\u007F-\\u009F]*$' }),
      )
      .default({})
      .superRefine((headers, ctx) => {
        for (const name of Object.keys(headers)) {
          if (isReservedDeliveryHeader(name)) {
            ctx.addIssue({
              code: 'custom',
              path: [name],
              message: /^cronplane-/i.test(name)
                ? `${name}: headers starting with Cronplane- are set by Cronplane on every delivery and cannot be set here`
                : `${name}: set by Cronplane on every delivery (the occurrence's id and signature, Standard Webhooks) and cannot be set here`,
            });
          }
        }
      })
      // Authorization, Cookie, X-Api-Key, ... values (and those named in secretHeaders) are encrypted at rest and masked
      // when shown (lib/secrets). `x-` names: they reach the OpenAPI document as schema extensions.
      .meta({
        description:
          'Request headers. Not these, which Cronplane sets on every delivery: Cronplane-*, webhook-id, webhook-timestamp, webhook-signature, Idempotency-Key (any case)',
        'x-secret': 'header-values',
        'x-marked-by': 'secretHeaders',
      }),
    secretHeaders: z
      .array(z.string().min(1).max(256).regex(HEADER_NAME, 'invalid header name'))
      .max(50)
      .optional()
      .describe(
        'Names of headers whose values are secrets too (encrypted, masked, scrubbed from output), beside those that look like credentials (Authorization, Cookie, *-Key, *Token, ...). Each must be the name of one of the headers (any case)',
      ),
    body: z
      .string()
      .refine((value) => charCount(value) <= 1_000_000, 'body is at most 1000000 characters')
      // NUL: refused in every payload string (lib/validation/text.ts: the database cannot store it).
      .meta({ maxLength: 1_000_000, pattern: '^[^\\u0000]*$' })
      .optional()
      .describe('Request body (sent as is)'),
    timeoutSeconds: z.number().int().min(1).max(300).default(30).describe('Give up after this many seconds'),
    expectedStatus: z.number().int().min(100).max(599).optional().describe('Fail unless the response has this status (default: any 2xx)'),
  })
  .strict()
  .superRefine((payload, ctx) => {
    // A misspelt name would leave the header it meant in clear: each must name one of the headers.
    const names = new Set(Object.keys(payload.headers).map((name) => name.toLowerCase()));
    (payload.secretHeaders ?? []).forEach((name, i) => {
      if (!names.has(name.toLowerCase()))
        ctx.addIssue({ code: 'custom', path: ['secretHeaders', i], message: `${name}: no such header in headers` });
    });
  });

function withoutReserved(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !isReservedDeliveryHeader(name)));
}

/** Calls `line` with each complete line of a body that arrives in pieces (UTF-8 decoded across pieces). */
function streamedLines(line: (text: string) => void): (piece: Buffer) => void {
  const decoder = new TextDecoder();
  let pending = '';
  return (piece) => {
    pending += decoder.decode(piece, { stream: true });
    // Whole lines only: each is scrubbed whole (a secret holds no line break) before it is cut.
    let end: number;
    while ((end = pending.indexOf('\n')) >= 0) {
      line(pending.slice(0, end).replace(/\r$/, ''));
      pending = pending.slice(end + 1);
    }
  };
}

export const httpJob = defineJobType({
  name: 'http',
  title: 'HTTP request',
  description:
    'Calls a URL and records the status code and an excerpt of the response; a response that streams lines shows them on the run page as they arrive.',
  payloadSchema: httpPayloadSchema,
  examplePayload: { method: 'GET', url: 'https://example.com/health', headers: {}, timeoutSeconds: 30 },
  signsDeliveries: true,
  async run(payload, ctx) {
    const timeout = AbortSignal.timeout(payload.timeoutSeconds * 1000);
    const signal = AbortSignal.any([ctx.signal, timeout]);
    const secrets = await ctx.signingSecrets();
    const body = bodyToSend(payload.method, payload.body);
    const started = Date.now();
    const signed = signedHeaders(webhookId(ctx.jobId, ctx.scheduledFor), new Date(started), body ?? '', secrets);
    // The response's lines as they stream in (a target that reports progress), on the run page while the run runs: at
    // most the excerpt's length of them, each scrubbed whole before it is cut. The final output keeps the excerpt below.
    let shown = 0;
    const progress = streamedLines((line) => {
      if (shown >= RESPONSE_EXCERPT_CHARS) return;
      ctx.log(line, { maxChars: RESPONSE_EXCERPT_CHARS - shown, liveOnly: true });
      shown += line.length + 1;
    });
    let response;
    try {
      response = await guardedHttpRequest({
        onBody: progress,
        method: payload.method,
        url: payload.url,
        // Ours last: a stored payload from before the names were reserved cannot override them.
        headers: { ...withoutReserved(payload.headers), ...deliveryHeaders(ctx), ...signed },
        body,
        signal,
        // A frozen instance that wakes after its run was taken over sends nothing: the takeover calls the target.
        beforeSend: () =>
          ctx.stillOwned() ? null : 'not sent: this instance no longer holds the run (its lease lapsed or it was taken over)',
        maxRedirects: MAX_REDIRECTS,
        maxBytes: RESPONSE_MAX_BYTES,
        // A job that expects a 3xx wants to see the redirect itself.
        followRedirects: payload.expectedStatus === undefined || payload.expectedStatus < 300 || payload.expectedStatus > 399,
      });
    } catch (err) {
      if (timeout.aborted)
        throw new Error(`no response within ${payload.timeoutSeconds}s from ${payload.method} ${displayUrl(payload.url)}`);
      throw err;
    }
    const via =
      response.redirects > 0
        ? ` (after ${response.redirects} redirect${response.redirects === 1 ? '' : 's'} to ${displayUrl(response.url)})`
        : '';
    ctx.log(
      `${payload.method} ${displayUrl(payload.url)} -> ${response.status} ${response.statusText}${via} in ${Date.now() - started} ms`,
    );
    // Cut by the context, after the scrubber saw the whole body (RESPONSE_MAX_BYTES is far past the excerpt).
    if (response.body) ctx.log(response.truncated ? `${response.body}…` : response.body, { maxChars: RESPONSE_EXCERPT_CHARS });
    const ok =
      payload.expectedStatus === undefined ? response.status >= 200 && response.status < 300 : response.status === payload.expectedStatus;
    if (!ok) {
      const wanted = payload.expectedStatus === undefined ? 'a 2xx status' : `status ${payload.expectedStatus}`;
      throw new Error(`expected ${wanted}, got ${response.status}`);
    }
  },
});
