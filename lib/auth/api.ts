import 'server-only';
import { principalFromBearer, principalFromSessionCookie, ForbiddenError, UnauthorizedError, type Principal } from './principal';
import { SESSION_COOKIE, bearerToken, isHttps } from './token';

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

/** An origin as browsers compare them (scheme, host, port; default ports left out), or null when it is none. */
function originOf(text: string): string | null {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null;
  } catch {
    return null;
  }
}

/**
 * Cookies ride along on cross-site requests from other sites on the same "site" (ports, subdomains, and the http://
 * page of an https:// site) despite SameSite=Lax: state changes with a cookie must come from our own origin. Ours is
 * the scheme the browser used (X-Forwarded-Proto from a TLS-terminating proxy, else the request's own) with the host
 * and port it addressed (X-Forwarded-Host or Host); the Origin header must be exactly that, not only the same host.
 */
export function assertSameOrigin(request: Request): void {
  if (SAFE_METHODS.has(request.method)) return;
  const origin = request.headers.get('origin');
  const host = request.headers.get('x-forwarded-host') ?? request.headers.get('host');
  if (origin === 'null') throw new ForbiddenError('cross-origin request refused');
  if (origin && host) {
    const scheme = isHttps(request.url, request.headers.get('x-forwarded-proto')) ? 'https' : 'http';
    const ours = /^[A-Za-z0-9.:[\]-]+$/.test(host) ? originOf(`${scheme}://${host}`) : null;
    const theirs = originOf(origin);
    if (ours === null || theirs !== ours) throw new ForbiddenError('cross-origin request refused');
  }
}

/** Whether the request brings credentials at all (an Authorization header or a session cookie), valid or not. */
export function hasApiCredentials(request: Request): boolean {
  return request.headers.has('authorization') || cookieValue(request.headers.get('cookie'), SESSION_COOKIE) !== undefined;
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
