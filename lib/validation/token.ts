// An API token: its entity as the API answers it and the create schema. A token is never changed, only revoked (no
// update schema), and tokens are listed whole (no list query).
import { z } from 'zod';
import { DateTimeJsonSchema } from './date';
import { SINGLE_LINE, isSingleLineText, trimmedText } from './text';
import { RoleSchema } from './user';

/** Body of POST /api/tokens and of the new-token form. */
export const TokenCreateSchema = z.strictObject({
  name: trimmedText(
    z.string().trim(),
    { min: 1, max: 100, minMessage: 'enter a name', maxMessage: 'at most 100 characters' },
    SINGLE_LINE,
  ).refine(isSingleLineText, 'must not contain control characters or invalid Unicode'),
  role: RoleSchema,
});

/** A token as the API answers it: never the secret nor its hash (lib/api/serialize.ts picks exactly these fields). */
export const TokenJsonSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: RoleSchema,
  prefix: z.string().describe('First characters of the secret, to recognise it'),
  createdAt: DateTimeJsonSchema,
  createdBy: z.string().nullable(),
  lastUsedAt: DateTimeJsonSchema.nullable(),
  revokedAt: DateTimeJsonSchema.nullable(),
});
export const TokenListJsonSchema = z.object({ tokens: z.array(TokenJsonSchema) });
export const TokenCreatedJsonSchema = TokenJsonSchema.extend({
  secret: z.string().describe('The bearer token: shown this once, only its hash is stored'),
});

export type TokenJson = z.input<typeof TokenJsonSchema>;
