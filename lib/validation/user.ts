import { z } from 'zod';
import { isSingleLineText } from './text';

/** Usernames of new users: letters, digits and . _ @ - (so no control character, no NUL, no lone surrogate). */
export const UsernameSchema = z
  .string()
  .trim()
  .min(1, 'enter a username')
  .max(64, 'at most 64 characters')
  .regex(/^[\p{L}\p{N}._@-]+$/u, 'letters, digits, ".", "_", "@" and "-" only');

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
