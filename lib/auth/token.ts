import 'server-only';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ADMIN_USERNAME, getCredentials, secretEquals, type Credentials } from './credentials';

export const SESSION_COOKIE = 'cronplane_session';
export const SESSION_TTL_SECONDS = 12 * 60 * 60;

export interface Session {
  username: string;
  role: string;
  /** Expiry, seconds since the epoch. */
  expiresAt: number;
}

const PayloadSchema = z.object({ u: z.string(), r: z.string(), iat: z.number().int(), exp: z.number().int() });

/** The signing key also depends on the admin password, so changing the password ends every session. */
function signingKey(credentials: Credentials): Buffer {
  return createHmac('sha256', credentials.sessionSecret).update(`cronplane-session\0${credentials.adminPassword}`).digest();
}

function sign(data: string, credentials: Credentials): Buffer {
  return createHmac('sha256', signingKey(credentials)).update(data).digest();
}

/** `<base64url(JSON payload)>.<base64url(HMAC-SHA256)>` */
export function createSessionToken(username: string, role: string, now = Date.now(), credentials = getCredentials()): string {
  const iat = Math.floor(now / 1000);
  const payload = Buffer.from(JSON.stringify({ u: username, r: role, iat, exp: iat + SESSION_TTL_SECONDS })).toString('base64url');
  return `${payload}.${sign(payload, credentials).toString('base64url')}`;
}

export function verifySessionToken(token: string | undefined | null, now = Date.now(), credentials = getCredentials()): Session | null {
  if (!token || token.length > 1024) return null;
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = sign(payload, credentials);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const parsed = PayloadSchema.safeParse(data);
  if (!parsed.success) return null;
  const nowSeconds = Math.floor(now / 1000);
  // Tokens "issued" in the future mean a forged clock or a bug; allow a minute of skew.
  if (parsed.data.exp <= nowSeconds || parsed.data.iat > nowSeconds + 60) return null;
  return { username: parsed.data.u, role: parsed.data.r, expiresAt: parsed.data.exp };
}

/** True when `Authorization: Bearer <API_TOKEN>` matches. */
export function bearerTokenValid(authorization: string | null, credentials = getCredentials()): boolean {
  if (!authorization) return false;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return match?.[1] !== undefined && secretEquals(match[1], credentials.apiToken);
}

/** Secure cookies only over https; TLS-terminating proxies announce it with X-Forwarded-Proto. */
export function isHttps(url: string, forwardedProto: string | null): boolean {
  const proto = forwardedProto?.split(',')[0]?.trim().toLowerCase();
  if (proto) return proto === 'https';
  return url.startsWith('https:');
}

export function sessionCookieOptions(secure: boolean) {
  return {
    httpOnly: true,
    sameSite: 'lax' as const,
    secure,
    path: '/',
    maxAge: SESSION_TTL_SECONDS,
  };
}

export { ADMIN_USERNAME };
