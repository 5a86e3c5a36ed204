// Sessions: signing in (the body of POST /api/session and the username typed at the login form), the session and the
// caller as the API answers them, and how many sessions an admin ended. A session is created by signing in and ended
// by signing out or revocation: no update schema, no list query.
import { z } from 'zod';
import { DateTimeJsonSchema } from './date';
import { isSingleLineText } from './text';
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

/** Body of POST /api/session, for the document. login() reads it leniently (missing fields are a 400 from there). */
export const SessionCreateSchema = z.object({ username: z.string(), password: z.string() });

export const SessionJsonSchema = z.object({ name: z.string(), role: RoleSchema, expiresAt: DateTimeJsonSchema });
/** The caller (GET /api/session): a signed-in user, an API token, or the app itself. */
export const WhoAmIJsonSchema = z.object({ kind: z.enum(['user', 'token', 'system']), name: z.string(), role: RoleSchema });
/** The answer of DELETE /api/users/{id}/sessions. */
export const SessionsRevokedJsonSchema = z.object({ revoked: z.number().int().describe('How many sessions ended') });
