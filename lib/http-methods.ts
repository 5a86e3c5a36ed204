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
  status: 404 | 405 | 501;
  /** For a 405: the methods the path does take. */
  allow?: string;
  body: string;
  contentType: string;
}

/**
 * Standard methods no route implements: TRACE and CONNECT (RFC 9110; CONNECT goes to the server's 'connect' event)
 * and QUERY (the safe method with a body, draft-ietf-httpbis-safe-method-w-body, in OpenAPI 3.2). The method is known,
 * the resource does not take it: 405 with the resource's Allow, as for any other method it does not take (a page:
 * GET, HEAD, POST; an API route: its own methods).
 */
const STANDARD_UNROUTED = new Set(['TRACE', 'CONNECT', 'QUERY']);

/**
 * Every API route (app/api, as the OpenAPI document names it) with the methods it implements, for the Allow of the
 * 405s answered before Next routes a request. tests/api/methods.unit.test.ts checks it against the document, which
 * tests/api/openapi.unit.test.ts checks against the route files.
 */
export const API_ROUTES: Readonly<Record<string, readonly string[]>> = {
  '/api/health': ['GET'],
  '/api/openapi.json': ['GET'],
  '/api/events': ['GET'],
  '/api/jobs': ['GET', 'POST'],
  '/api/jobs/{id}': ['GET', 'PATCH', 'DELETE'],
  '/api/jobs/{id}/pause': ['POST'],
  '/api/jobs/{id}/resume': ['POST'],
  '/api/jobs/{id}/run': ['POST'],
  '/api/jobs/{id}/runs': ['GET'],
  '/api/jobs/{id}/signing-secret/reveal': ['POST'],
  '/api/jobs/{id}/signing-secret/rotate': ['POST'],
  '/api/runs': ['GET'],
  '/api/runs/{id}': ['GET'],
  '/api/runs/{id}/output': ['GET'],
  '/api/runs/{id}/cancel': ['POST'],
  '/api/instances': ['GET'],
  '/api/users': ['GET', 'POST'],
  '/api/users/{id}': ['PATCH', 'DELETE'],
  '/api/users/{id}/sessions': ['DELETE'],
  '/api/tokens': ['GET', 'POST'],
  '/api/tokens/{id}': ['DELETE'],
  '/api/session': ['GET', 'POST', 'DELETE'],
  '/api/audit': ['GET'],
  '/api/channels': ['GET', 'POST'],
  '/api/channels/{id}': ['GET', 'PATCH', 'DELETE'],
  '/api/channels/{id}/test': ['POST'],
  '/api/channels/{id}/signing-secret/reveal': ['POST'],
  '/api/alerts': ['GET'],
  '/api/alerts/defaults': ['GET', 'PUT'],
};

const API_ROUTE_PATTERNS = Object.entries(API_ROUTES).map(([path, methods]) => ({
  pattern: new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}/?$`),
  methods,
}));

/** The methods of the API route that serves `pathname` (upper case, as in Allow); null when no route serves it. */
export function apiRouteMethods(pathname: string): readonly string[] | null {
  return API_ROUTE_PATTERNS.find((route) => route.pattern.test(pathname))?.methods ?? null;
}

/** The methods of the API route serving a path, upper case; null when none serves it. */
export type ApiRouteMethods = (pathname: string) => readonly string[] | null;

/**
 * Null when the method may go on to the route; else the answer. A routed method a page does not take, and TRACE, are
 * 405 with Allow; a method no route implements anywhere and that is not a standard one (PROPFIND, TRACK, anything
 * unknown) is 501. Under /api/ the route handlers answer their own 405s (with the route's Allow), so only the methods
 * Next does not route are refused here: TRACE, QUERY with the route's methods (API_ROUTES; 404 for a path no route
 * serves).
 */
export function methodRefusal(
  method: string | undefined,
  pathname: string,
  apiRoutes: ApiRouteMethods = apiRouteMethods,
): MethodRefusal | null {
  const api = pathname === '/api' || pathname.startsWith('/api/');
  const shown = (method ?? '').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || '(none)';
  const routed = method !== undefined && ROUTED_METHODS.has(method);
  if (routed && (api || (PAGE_METHODS as readonly string[]).includes(method))) return null;
  const json = (status: MethodRefusal['status'], error: string, allow?: string): MethodRefusal => ({
    status,
    allow,
    body: JSON.stringify({ error }),
    contentType: 'application/json; charset=utf-8',
  });
  const known = routed || (method !== undefined && STANDARD_UNROUTED.has(method));
  if (api && known) {
    const methods = apiRoutes(pathname);
    if (!methods) return json(404, `no such endpoint: ${pathname.slice(0, 200)}`);
    const allow = methods.join(', ');
    return json(405, `method ${shown} not allowed; use ${allow}`, allow);
  }
  const status = known && !api ? 405 : 501;
  const allow = status === 405 ? PAGE_METHODS.join(', ') : undefined;
  const error = status === 405 ? `method ${shown} not allowed; use ${allow}` : `method ${shown} not implemented`;
  return api ? json(status, error, allow) : { status, allow, body: `${error}.`, contentType: 'text/plain; charset=utf-8' };
}

/**
 * OPTIONS on an API path: 204 with the route's real Allow (its methods, HEAD with GET, and OPTIONS), or the JSON 404 of
 * an unknown path. Next's own answer listed every method a route file exports, the 405 stubs included. Null for
 * anything else.
 */
export function apiOptions(
  method: string | undefined,
  pathname: string,
): { status: 204 | 404; allow?: string; body: string | null } | null {
  if (method !== 'OPTIONS' || !(pathname === '/api' || pathname.startsWith('/api/'))) return null;
  const methods = apiRouteMethods(pathname);
  if (!methods) return { status: 404, body: JSON.stringify({ error: `no such endpoint: ${pathname.slice(0, 200)}` }) };
  const allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : []), 'OPTIONS'];
  return { status: 204, allow: allow.join(', '), body: null };
}
