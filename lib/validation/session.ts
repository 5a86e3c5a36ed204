// Sessions: signing in (the body of POST /api/session and the username typed at the login form), the session and the
// caller as the API answers them, and how many sessions an admin ended. A session is created by signing in and ended
// by signing out or revocation: no update schema, no list query.
import { z } from 'zod';
import { DateTimeJsonSchema } from './date';
import { CONTROL_CHARACTER, SINGLE_LINE, isSingleLineText, trimmedTextPattern } from './text';
import { RoleSchema } from './user';

export const LOGIN_USERNAME_MESSAGE = 'The username must not contain control characters.';

/**
 * The username typed at sign-in. Looser than UsernameSchema (a wrong name is "wrong username or password", not a
 * lesson in naming rules), but nothing the database would refuse: a NUL reached PostgreSQL and failed with 22021.
 */
export const LoginUsernameSchema = z
  .string()
  .trim()
  .min(1)
  .transform((value) => value.slice(0, 200))
  .refine(isSingleLineText, LOGIN_USERNAME_MESSAGE);

/** Where sign-in goes when `next` names nowhere safe. */
export const DEFAULT_NEXT_PATH = '/';
const NEXT_PATH_BASE = 'http://cronplane.invalid';
const NEXT_PATH_MAX = 2048;

/** Whether this text could lead a browser (or a proxy that decodes once more) off the site, or break the header. */
function unsafeNextText(text: string): boolean {
  return (
    !text.startsWith('/') ||
    // "//host" and "/\host" are network paths; browsers read a backslash as a slash.
    text.startsWith('//') ||
    text.includes('\\') ||
    // Browsers drop tabs and line breaks inside URLs ("/\t/evil.example" is "//evil.example"); a CR/LF in the Location
    // header was a 500. No control character anywhere.
    CONTROL_CHARACTER.test(text)
  );
}

/**
 * The `next` parameter of sign-in (the login page's query, the form's hidden field) as a path on this site, or
 * DEFAULT_NEXT_PATH. Only a same-origin path survives: anything a browser would normalise to another origin (a
 * backslash, a tab or line break anywhere, "//", "/\", the same percent-encoded once), anything not a string or too
 * long, and the login page itself (a loop) go to the default page. The result is the path as a URL parser resolves
 * it ("/a/../b" is "/b"), checked again, so a dot segment cannot make "//host" of it.
 */
export function safeNextPath(value: unknown): string {
  if (typeof value !== 'string' || value.length > NEXT_PATH_MAX || unsafeNextText(value)) return DEFAULT_NEXT_PATH;
  let url: URL;
  try {
    url = new URL(value, NEXT_PATH_BASE);
  } catch {
    return DEFAULT_NEXT_PATH;
  }
  const path = `${url.pathname}${url.search}${url.hash}`;
  if (url.origin !== NEXT_PATH_BASE || unsafeNextText(path)) return DEFAULT_NEXT_PATH;
  // Decoded once, neither what was sent nor what it resolves to ("/%2E/%2Fhost" is "/%2Fhost") may be unsafe either.
  for (const text of [value, path]) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(text);
    } catch {
      return DEFAULT_NEXT_PATH;
    }
    if (unsafeNextText(decoded)) return DEFAULT_NEXT_PATH;
  }
  if (url.pathname === '/login' || url.pathname.startsWith('/login/')) return DEFAULT_NEXT_PATH;
  return path;
}

/**
 * Body of POST /api/session, for the document. login() reads it leniently: a missing or blank field, or a username
 * with a control character in it (once trimmed), is a 400 from there; anything else is checked against the accounts.
 */
export const SessionCreateSchema = z.object({
  username: z.string().meta({ pattern: trimmedTextPattern(1, null, SINGLE_LINE) }),
  password: z.string().min(1),
});

export const SessionJsonSchema = z.object({ name: z.string(), role: RoleSchema, expiresAt: DateTimeJsonSchema });
/** The caller (GET /api/session): a signed-in user, an API token, or the app itself. */
export const WhoAmIJsonSchema = z.object({ kind: z.enum(['user', 'token', 'system']), name: z.string(), role: RoleSchema });
/** The answer of DELETE /api/users/{id}/sessions. */
export const SessionsRevokedJsonSchema = z.object({ revoked: z.number().int().describe('How many sessions ended') });
