import 'server-only';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ADMIN_USERNAME, getCredentials, secretEquals, type Credentials } from './credentials';

export const SESSION_COOKIE = 'cronplane_session';
export const SESSION_TTL_SECONDS = 12 * 60 * 60;

/** Prefix of API tokens created in the dashboard: recognisable in logs and secret scanners. */
export const API_TOKEN_PREFIX = 'cpt_';

function sign(data: string, credentials: Credentials): Buffer {
  return createHmac('sha256', credentials.sessionSecret).update(`cronplane-session\0${data}`).digest();
}

/** The store keeps only this hash: a leaked sessions table cannot be replayed as cookies. */
export function sessionIdOf(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/**
 * A new session cookie `<secret>.<HMAC(secret)>`: 256 random bits plus a signature, so the proxy refuses forged
 * cookies without a database round trip. `id` is the store's session id (hash of the secret).
 */
export function createSessionCookie(credentials = getCredentials()): { value: string; id: string } {
  const secret = randomBytes(32).toString('base64url');
  return { value: `${secret}.${sign(secret, credentials).toString('base64url')}`, id: sessionIdOf(secret) };
}

/**
 * 32 bytes in unpadded base64url, as Node writes them: 42 characters, then one whose two unused low bits are zero
 * (A, E, I, ..., w, 0, 4, 8).
 */
const CANONICAL_256_BITS = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** The store's session id when the cookie carries our signature; null otherwise. Revocation and expiry are checked in the store. */
export function verifySessionCookie(value: string | undefined | null, credentials = getCredentials()): string | null {
  if (!value || value.length > 200) return null;
  const dot = value.indexOf('.');
  if (dot <= 0) return null;
  const secret = value.slice(0, dot);
  const signature = value.slice(dot + 1);
  // Both parts exactly as createSessionCookie writes them. Decoding the signature accepted other spellings of it
  // (padding, "+" and "/", stray characters, the unused low bits of the last character): one cookie, one spelling.
  if (!CANONICAL_256_BITS.test(secret) || !CANONICAL_256_BITS.test(signature)) return null;
  const expected = Buffer.from(sign(secret, credentials).toString('base64url'), 'ascii');
  if (!timingSafeEqual(Buffer.from(signature, 'ascii'), expected)) return null;
  return sessionIdOf(secret);
}

/** The token of `Authorization: Bearer <token>`; null for any other form. */
export function bearerToken(authorization: string | null): string | null {
  if (!authorization) return null;
  const match = /^Bearer[ \t]+(\S{1,512})[ \t]*$/i.exec(authorization);
  return match?.[1] ?? null;
}

/** True when `Authorization: Bearer <API_TOKEN>` carries the environment's automation token. */
export function bearerTokenValid(authorization: string | null, credentials = getCredentials()): boolean {
  const token = bearerToken(authorization);
  return token !== null && secretEquals(token, credentials.apiToken);
}

/** API tokens are 256 random bits, so a fast hash is enough (no dictionary to attack). */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newApiTokenSecret(): string {
  return `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
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
