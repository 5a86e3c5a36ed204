// Which request methods the app answers, and the refusal of the others: one rule for proxy.ts and for the Node
// server's guard (lib/method-guard.ts), which answers the methods Next cannot represent as a Request (TRACE; Node's
// parser itself answers TRACK with a 400, and CONNECT goes to its 'connect' event, not to Next).

/** The methods Next routes (route handlers export some of these; a route without one answers 405). */
const ROUTED_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** What pages take: GET and HEAD, and POST for server actions. */
export const PAGE_METHODS = ['GET', 'HEAD', 'POST'] as const;

/**
 * Methods the Fetch standard forbids: `new Request(url, { method })` throws for them, in any letter case, so Next
 * answered them with a 500 (and a stack trace in the log) before proxy.ts could run.
 */
const FORBIDDEN_BY_FETCH = new Set(['CONNECT', 'TRACE', 'TRACK']);

export function isForbiddenByFetch(method: string | undefined): boolean {
  return FORBIDDEN_BY_FETCH.has((method ?? '').toUpperCase());
}

export interface MethodRefusal {
  status: 405 | 501;
  /** For a 405: the methods the path does take. */
  allow?: string;
  body: string;
  contentType: string;
}

/**
 * Null when the method may go on to the route; else the answer. A method no route implements anywhere (TRACE,
 * PROPFIND, anything unknown) is 501; a routed method a page does not take is 405 with Allow. Under /api/ the route
 * handlers answer their own 405s (with the route's Allow), so only unknown methods are refused here.
 */
export function methodRefusal(method: string | undefined, pathname: string): MethodRefusal | null {
  const api = pathname === '/api' || pathname.startsWith('/api/');
  const shown = (method ?? '').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || '(none)';
  const known = method !== undefined && ROUTED_METHODS.has(method);
  if (known && (api || (PAGE_METHODS as readonly string[]).includes(method))) return null;
  const status = known ? 405 : 501;
  const allow = known ? PAGE_METHODS.join(', ') : undefined;
  const error = known ? `method ${shown} not allowed; use ${allow}` : `method ${shown} not implemented`;
  return api
    ? { status, allow, body: JSON.stringify({ error }), contentType: 'application/json; charset=utf-8' }
    : { status, allow, body: `${error}.`, contentType: 'text/plain; charset=utf-8' };
}
