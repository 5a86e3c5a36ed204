import http from 'node:http';
import { isForbiddenByFetch, methodRefusal } from './http-methods';
import { API_CSP, HSTS, STATIC_SECURITY_HEADERS } from './security-headers.mjs';

const INSTALLED = Symbol.for('cronplane.methodGuard');

type Emit = (this: http.Server, event: string | symbol, ...args: unknown[]) => boolean;

/** Answers a request whose method Next cannot route, with the headers every answer carries. */
function refuse(req: http.IncomingMessage, res: http.ServerResponse): void {
  const refusal = methodRefusal(req.method, (req.url ?? '/').split('?')[0] ?? '/');
  if (!refusal) return;
  // Read (and drop) any body, so that a kept-alive connection stays usable for the next request.
  req.resume();
  res.statusCode = refusal.status;
  for (const [name, value] of Object.entries(STATIC_SECURITY_HEADERS)) res.setHeader(name, value);
  // The body is plain text or JSON: nothing for a browser to load or run.
  res.setHeader('content-security-policy', API_CSP);
  if (req.headers['x-forwarded-proto']?.toString().split(',')[0]?.trim() === 'https') res.setHeader('strict-transport-security', HSTS);
  res.setHeader('content-type', refusal.contentType);
  res.setHeader('cache-control', 'no-store');
  if (refusal.allow) res.setHeader('allow', refusal.allow);
  res.end(refusal.body);
}

/**
 * TRACE never reaches proxy.ts: Next builds a fetch Request for the proxy and the route, which the Fetch
 * standard forbids for it, so each one was a 500 without the security headers and a stack trace in the log. The
 * guard answers them (405 with the resource's Allow, see lib/http-methods.ts) before Next sees them, on every http.Server of the process
 * (`next start` has one). Installed once, from instrumentation.ts.
 */
export function guardUnsupportedMethods(): void {
  const proto = http.Server.prototype as unknown as { emit: Emit; [INSTALLED]?: true };
  if (proto[INSTALLED]) return;
  const emit = proto.emit;
  proto.emit = function (this: http.Server, event, ...args) {
    if (event === 'request') {
      const [req, res] = args as [http.IncomingMessage, http.ServerResponse];
      if (isForbiddenByFetch(req.method)) {
        refuse(req, res);
        return true;
      }
    }
    return emit.call(this, event, ...args);
  };
  proto[INSTALLED] = true;
}
