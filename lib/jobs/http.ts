import { z } from 'zod';
import { defineJobType } from './define';

/** The response body excerpt kept in the run output, in characters. */
export const RESPONSE_EXCERPT_CHARS = 2_000;

export const httpPayloadSchema = z
  .object({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).default('GET').describe('HTTP method'),
    url: z
      .url({ protocol: /^https?$/, message: 'url must be an http:// or https:// URL' })
      .max(2048)
      .describe('Address to call'),
    headers: z
      .record(z.string().min(1).max(256).regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'invalid header name'), z.string().max(8192))
      .default({})
      .describe('Request headers'),
    body: z.string().max(1_000_000).optional().describe('Request body (sent as is)'),
    timeoutSeconds: z.number().int().min(1).max(300).default(30).describe('Give up after this many seconds'),
    expectedStatus: z
      .number()
      .int()
      .min(100)
      .max(599)
      .optional()
      .describe('Fail unless the response has this status (default: any 2xx)'),
  })
  .strict();

export const httpJob = defineJobType({
  name: 'http',
  title: 'HTTP request',
  description: 'Calls a URL and records the status code and an excerpt of the response.',
  payloadSchema: httpPayloadSchema,
  examplePayload: { method: 'GET', url: 'https://example.com/health', headers: {}, timeoutSeconds: 30 },
  async run(payload, ctx) {
    const timeout = AbortSignal.timeout(payload.timeoutSeconds * 1000);
    const signal = AbortSignal.any([ctx.signal, timeout]);
    const started = Date.now();
    let response: Response;
    try {
      response = await fetch(payload.url, {
        method: payload.method,
        headers: payload.headers,
        body: payload.method === 'GET' || payload.method === 'HEAD' ? undefined : payload.body,
        signal,
        redirect: 'follow',
      });
    } catch (err) {
      if (timeout.aborted) throw new Error(`no response within ${payload.timeoutSeconds}s from ${payload.method} ${payload.url}`);
      throw err;
    }
    const text = payload.method === 'HEAD' ? '' : await readExcerpt(response, RESPONSE_EXCERPT_CHARS);
    ctx.log(`${payload.method} ${payload.url} -> ${response.status} ${response.statusText} in ${Date.now() - started} ms`);
    if (text) ctx.log(text);
    const ok = payload.expectedStatus === undefined ? response.ok : response.status === payload.expectedStatus;
    if (!ok) {
      const wanted = payload.expectedStatus === undefined ? 'a 2xx status' : `status ${payload.expectedStatus}`;
      throw new Error(`expected ${wanted}, got ${response.status}`);
    }
  },
});

/** Reads at most `limit` characters of the body, then cancels the rest of the stream. */
async function readExcerpt(response: Response, limit: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}
