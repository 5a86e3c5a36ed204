import { NextResponse, type NextRequest } from 'next/server';
import { SESSION_COOKIE, bearerToken, verifySessionCookie } from '@/lib/auth/token';
import { apiOptions, methodRefusal } from '@/lib/http-methods';
import { API_CSP, HSTS, pageCsp } from '@/lib/security-headers.mjs';

/**
 * Reachable without signing in. /api/health answers load balancers with its status alone (its handler checks the
 * credentials that unlock the details); /api/session is the JSON sign-in (its handler authenticates GET/DELETE itself).
 */
function isPublic(pathname: string): boolean {
  return pathname === '/login' || pathname === '/api/health' || pathname === '/api/session';
}

function isApi(pathname: string): boolean {
  return pathname === '/api' || pathname.startsWith('/api/');
}

/** HTTPS as the browser saw it: directly, or behind a proxy that says so. */
function viaHttps(request: NextRequest): boolean {
  return request.nextUrl.protocol === 'https:' || request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim() === 'https';
}

/**
 * Pages get a CSP with a fresh nonce: Next reads it from the forwarded request's CSP header and puts it
 * on its own inline scripts (the pages are rendered per request anyway: they need the session).
 */
function withSecurity(request: NextRequest, respond: (requestHeaders?: Headers) => NextResponse): NextResponse {
  const api = isApi(request.nextUrl.pathname);
  const csp = api ? API_CSP : pageCsp(btoa(crypto.randomUUID()));
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set('content-security-policy', csp);
  const response = respond(requestHeaders);
  response.headers.set('content-security-policy', csp);
  if (viaHttps(request)) response.headers.set('strict-transport-security', HSTS);
  return response;
}

/**
 * Why the path cannot be routed, or null. Next's router decodes each segment and answered a malformed escape
 * ("/api/%", "/jobs/%E0%A4%A", "/api/%C0%AE") with a 500.
 */
function pathProblem(pathname: string): string | null {
  for (const segment of pathname.split('/')) {
    try {
      decodeURIComponent(segment);
    } catch {
      return 'malformed percent-encoding in the path';
    }
  }
  return null;
}

const NO_STORE = { 'cache-control': 'no-store' };

/**
 * First gate, without a database: pages need a cookie with our signature (else /login?next=...), /api/** needs a
 * well-formed bearer token or such a cookie (else 401 JSON). Whether the session is still live, the token known and
 * unrevoked, and the role sufficient is checked by the pages, route handlers and server actions themselves.
 */
export function proxy(request: NextRequest) {
  return withSecurity(request, (requestHeaders) => {
    const pass = () => NextResponse.next({ request: { headers: requestHeaders } });
    const { pathname, search } = request.nextUrl;
    // Before authentication: a method nothing here implements is refused the same way with or without a session.
    const refusal = methodRefusal(request.method, pathname);
    if (refusal) {
      return new NextResponse(refusal.body, {
        status: refusal.status,
        headers: { 'content-type': refusal.contentType, ...NO_STORE, ...(refusal.allow ? { allow: refusal.allow } : {}) },
      });
    }
    // OPTIONS on the API: what the route really takes, for anyone (it is no secret), as the refusals above.
    const options = apiOptions(request.method, pathname);
    if (options) {
      return new NextResponse(options.body, {
        status: options.status,
        headers: {
          ...NO_STORE,
          ...(options.body ? { 'content-type': 'application/json; charset=utf-8' } : {}),
          ...(options.allow ? { allow: options.allow } : {}),
        },
      });
    }
    const problem = pathProblem(pathname);
    if (problem) {
      return isApi(pathname)
        ? NextResponse.json({ error: problem }, { status: 400, headers: NO_STORE })
        : new NextResponse(`Bad request: ${problem}.`, {
            status: 400,
            headers: { 'content-type': 'text/plain; charset=utf-8', ...NO_STORE },
          });
    }
    if (isPublic(pathname)) return pass();
    const session = verifySessionCookie(request.cookies.get(SESSION_COOKIE)?.value);
    if (isApi(pathname)) {
      const authorization = request.headers.get('authorization');
      const ok = authorization ? bearerToken(authorization) !== null : session !== null;
      // "/api" itself has no route (the catch-all needs a segment): the same JSON 404 as any unknown /api path.
      if (ok && (pathname === '/api' || pathname === '/api/'))
        return NextResponse.json({ error: `no such endpoint: ${pathname}` }, { status: 404, headers: NO_STORE });
      if (ok) return pass();
      return NextResponse.json(
        { error: 'unauthorized' },
        { status: 401, headers: { 'www-authenticate': 'Bearer realm="cronplane"', ...NO_STORE } },
      );
    }
    if (session) return pass();
    const login = new URL('/login', request.url);
    if (pathname !== '/') login.searchParams.set('next', `${pathname}${search}`);
    return NextResponse.redirect(login);
  });
}

export const config = {
  // Static assets and metadata files need no session (the login page itself needs its CSS and JS).
  matcher: ['/((?!_next/static|_next/image|favicon\\.ico|robots\\.txt|icon\\.|apple-icon\\.).*)'],
};
