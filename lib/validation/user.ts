// A user: its entity as the API answers it, the create schema and the update schema derived from it. Users are listed
// whole (no list query). Signing in is ./session.ts.
import { z } from 'zod';
import { USER_ROLES } from '../domain';
import { DateTimeJsonSchema } from './date';
import { charLength, trimmedText } from './text';

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 512;

/** Usernames of new users: letters, digits and . _ @ - (so no control character, no NUL, no lone surrogate). */
const USERNAME_CHARACTERS = '[\\p{L}\\p{N}._@-]';
export const UsernameSchema = trimmedText(
  z
    .string()
    .trim()
    .regex(/^[\p{L}\p{N}._@-]+$/u, 'letters, digits, ".", "_", "@" and "-" only'),
  { min: 1, max: 64, minMessage: 'enter a username', maxMessage: 'at most 64 characters' },
  { allowed: USERNAME_CHARACTERS, edge: USERNAME_CHARACTERS },
);

export const PasswordSchema = charLength(z.string(), {
  min: MIN_PASSWORD_LENGTH,
  max: MAX_PASSWORD_LENGTH,
  minMessage: `at least ${MIN_PASSWORD_LENGTH} characters`,
  maxMessage: `at most ${MAX_PASSWORD_LENGTH} characters`,
});

/** A user's or an API token's role. */
export const RoleSchema = z.enum(USER_ROLES, { message: `one of ${USER_ROLES.join(', ')}` });

/** Body of POST /api/users and of the new-user form. */
export const UserCreateSchema = z.strictObject({ username: UsernameSchema, password: PasswordSchema, role: RoleSchema });

/**
 * Body of PATCH /api/users/{id}: a new role, a password reset, or disabling (not in the create body: a user starts
 * enabled); any subset. The username never changes. Keys in the order their issues have always been listed.
 */
export const UserUpdateSchema = UserCreateSchema.pick({ role: true })
  .extend({ disabled: z.boolean(), password: UserCreateSchema.shape.password })
  .partial();

/** A user as the API answers it: never the password hash (lib/api/serialize.ts picks exactly these fields). */
export const UserJsonSchema = z.object({
  id: z.string(),
  username: z.string(),
  role: RoleSchema,
  disabled: z.boolean(),
  failedLogins: z.number().int().describe('Wrong passwords since the last sign-in; 5 lock the account'),
  lockedUntil: DateTimeJsonSchema.nullable(),
  createdAt: DateTimeJsonSchema,
  updatedAt: DateTimeJsonSchema,
});
export const UserListJsonSchema = z.object({ users: z.array(UserJsonSchema) });

export type UserJson = z.input<typeof UserJsonSchema>;
