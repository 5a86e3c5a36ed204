import { NextResponse, type NextRequest } from 'next/server';
import { SESSION_COOKIE, bearerTokenValid, verifySessionToken } from '@/lib/auth/token';

/** Reachable without signing in. /api/health answers load balancers and reveals nothing secret. */
function isPublic(pathname: string): boolean {
  return pathname === '/login' || pathname === '/api/health';
}

/**
 * First gate: pages need a session (else /login?next=...), /api/** needs the bearer token or a
 * session (else 401 JSON). Route handlers and server actions check again themselves.
 */
export function proxy(request: NextRequest) {
  const { pathname, search } = request.nextUrl;
  if (isPublic(pathname)) return NextResponse.next();
  const session = verifySessionToken(request.cookies.get(SESSION_COOKIE)?.value);
  if (pathname === '/api' || pathname.startsWith('/api/')) {
    const authorization = request.headers.get('authorization');
    const ok = authorization ? bearerTokenValid(authorization) : session !== null;
    if (ok) return NextResponse.next();
    return NextResponse.json(
      { error: 'unauthorized' },
      { status: 401, headers: { 'www-authenticate': 'Bearer realm="cronplane"', 'cache-control': 'no-store' } },
    );
  }
  if (session) return NextResponse.next();
  const login = new URL('/login', request.url);
  if (pathname !== '/') login.searchParams.set('next', `${pathname}${search}`);
  return NextResponse.redirect(login);
}

export const config = {
  // Static assets and metadata files need no session (the login page itself needs its CSS and JS).
  matcher: ['/((?!_next/static|_next/image|favicon\\.ico|robots\\.txt|icon\\.|apple-icon\\.).*)'],
};
