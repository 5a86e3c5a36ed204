import 'server-only';
import { principalFromBearer, principalFromSessionCookie, ForbiddenError, UnauthorizedError, type Principal } from './principal';
import { SESSION_COOKIE, bearerToken } from './token';

export { ForbiddenError, UnauthorizedError };
export type ApiPrincipal = Principal;

export function cookieValue(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cookies ride along on cross-site requests from other sites on the same "site" (ports, subdomains) despite
 * SameSite=Lax: state changes with a cookie must come from our own origin.
 */
export function assertSameOrigin(request: Request): void {
  if (SAFE_METHODS.has(request.method)) return;
  const origin = request.headers.get('origin');
  const host = request.headers.get('x-forwarded-host') ?? request.headers.get('host');
  if (origin === 'null') throw new ForbiddenError('cross-origin request refused');
  if (origin && host) {
    let originHost: string | null = null;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = null;
    }
    if (originHost !== host) throw new ForbiddenError('cross-origin request refused');
  }
}

/**
 * Who is calling: a valid `Authorization: Bearer <token>` (env API_TOKEN or a dashboard-made token) or a live
 * session cookie. Throws UnauthorizedError otherwise. Route handlers call it even though proxy.ts checks first.
 */
export async function requireApiAuth(request: Request): Promise<Principal> {
  const authorization = request.headers.get('authorization');
  if (authorization) {
    // A wrong token is refused even when a cookie would pass: the caller meant the token.
    const token = bearerToken(authorization);
    const principal = token ? await principalFromBearer(token) : null;
    if (!principal) throw new UnauthorizedError();
    return principal;
  }
  const principal = await principalFromSessionCookie(cookieValue(request.headers.get('cookie'), SESSION_COOKIE));
  if (!principal) throw new UnauthorizedError();
  assertSameOrigin(request);
  return principal;
}
