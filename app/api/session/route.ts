import { assertSameOrigin, requireApiAuth } from '@/lib/auth/api';
import { login, logout } from '@/lib/services/login';
import { clientIp } from '@/lib/auth/rate-limit';
import { SESSION_COOKIE, isHttps, sessionCookieOptions } from '@/lib/auth/token';
import { apiRoute, json, methodNotAllowed, noContent, readJsonObject } from '@/lib/api/http';
import { AppError } from '@/lib/errors';

export const dynamic = 'force-dynamic';

function cookieHeader(value: string, secure: boolean, maxAge: number): string {
  const o = sessionCookieOptions(secure);
  return `${SESSION_COOKIE}=${value}; Path=${o.path}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** Who am I: the caller's name, kind and role. */
export const GET = apiRoute(
  async ({ request }) => {
    const p = await requireApiAuth(request);
    return json({ kind: p.kind, name: p.name, role: p.role });
  },
  { public: true },
);

/**
 * JSON sign-in for scripts and tests: `{ "username", "password" }` -> the session cookie (same limits, lock-out and
 * audit as the form; a 429 says in Retry-After when to try again). Cross-origin posts are refused, so another site
 * cannot sign a browser into an account.
 */
export const POST = apiRoute(
  async ({ request }) => {
    assertSameOrigin(request);
    const body = await readJsonObject(request);
    const result = await login({
      username: body.username,
      password: body.password,
      ip: clientIp(request.headers),
      userAgent: request.headers.get('user-agent'),
    });
    // A 400 has the shape of every 400 ({error, issues}); wrong credentials and limits are {error}.
    if (!result.ok && result.status === 400) throw new AppError(result.error, 400);
    if (!result.ok)
      return json({ error: result.error }, result.status, result.status === 429 ? { 'retry-after': String(result.retryAfterSeconds) } : {});
    const secure = isHttps(request.url, request.headers.get('x-forwarded-proto'));
    return json({ name: result.principal.name, role: result.principal.role, expiresAt: result.expiresAt.toISOString() }, 200, {
      'set-cookie': cookieHeader(result.cookie, secure, sessionCookieOptions(secure).maxAge),
    });
  },
  { public: true },
);

/** Sign-out: the session is revoked in the store. */
export const DELETE = apiRoute(
  async ({ request }) => {
    const principal = await requireApiAuth(request);
    await logout(principal, clientIp(request.headers));
    const response = noContent();
    response.headers.set('set-cookie', cookieHeader('', false, 0));
    return response;
  },
  { public: true },
);

const notAllowed = methodNotAllowed(['GET', 'POST', 'DELETE']);
export { notAllowed as PUT, notAllowed as PATCH };
