import { guardedHttpRequest } from '../../net/guard';

// What the webhook and Slack senders share: one POST through the SSRF guard (lib/net/guard.ts, HTTP_JOB_ALLOW applies,
// every address checked after DNS, no redirects followed), a 10 s bound, 2xx = accepted, errors without secrets.

export const SEND_TIMEOUT_MS = 10_000;
const RESPONSE_MAX_BYTES = 4 * 1024;

/** The URL as an error may name it: the origin only (paths and query strings of these URLs carry tokens). */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the target';
  }
}

/** POSTs `body` to `url`; resolves on a 2xx, else throws an Error naming the origin and the status (or the failure). */
export async function postJson(url: string, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<void> {
  const timeout = AbortSignal.timeout(SEND_TIMEOUT_MS);
  const origin = originOf(url);
  let response;
  try {
    response = await guardedHttpRequest({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', 'user-agent': 'Cronplane-Alerts', ...headers },
      body,
      signal: AbortSignal.any([signal, timeout]),
      maxRedirects: 0,
      maxBytes: RESPONSE_MAX_BYTES,
      // A redirect is not an acceptance: the alert would go to an address nobody saved.
      followRedirects: false,
    });
  } catch (err) {
    if (timeout.aborted && !signal.aborted) throw new Error(`no answer from ${origin} within ${SEND_TIMEOUT_MS / 1000}s`);
    if (signal.aborted) throw new Error(`not sent to ${origin}: aborted`);
    const message = err instanceof Error ? err.message : String(err);
    // Guard and socket errors name hosts and addresses, never paths or query strings; scrub the URL anyway.
    throw new Error(`not sent to ${origin}: ${message.split(url).join(origin)}`);
  }
  if (response.status < 200 || response.status > 299) {
    throw new Error(`${origin} answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
  }
}
