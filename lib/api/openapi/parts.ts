import 'server-only';
import { z } from 'zod';
import type { UserRole } from '../../domain';
import { withPortablePatterns } from './patterns';

// The building blocks of the OpenAPI document: every resource's file (./jobs.ts, ./users.ts, ...) describes its paths
// and its component schemas with these, and ./index.ts puts the sections together.

export type JsonSchema = Record<string, unknown>;

/** One resource's part of the document: its paths and the component schemas they refer to. */
export interface ApiSection {
  paths: Record<string, JsonSchema>;
  schemas: Record<string, JsonSchema>;
}

/**
 * OpenAPI 3.1 uses JSON Schema 2020-12 as is; only the $schema marker goes, and patterns with Unicode property escapes
 * are spelled out portably (./patterns.ts).
 */
export function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return withPortablePatterns(rest);
}

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const jsonContent = (schema: JsonSchema) => ({ 'application/json': { schema } });
export const errorResponse = (description: string) => ({ description, content: jsonContent(ref('Error')) });

export const commonErrors = {
  '401': errorResponse('Missing or wrong credentials: {"error":"unauthorized"}'),
  '500': errorResponse('Unexpected failure (logged; no details in the answer)'),
  '503': errorResponse('The database is unreachable'),
};
/** A 400: every one is {error, issues} (lib/api/http.ts errorResponse); `description` says when this operation answers it. */
export const invalidInput400 = (description: string) => ({ description, content: jsonContent(ref('ValidationError')) });
export const invalidInput = {
  '400': invalidInput400(
    'Invalid input, with field-level issues (a wrong Content-Type, malformed JSON or a body that is not an object: one issue at path "")',
  ),
};
export const tooLarge = { '413': errorResponse('Body larger than 1 MB') };
export const idOf = (what: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', format: 'uuid' },
  description: `${what} id`,
});
export const notFoundOf = (what: string) => ({ '404': errorResponse(`No ${what} with this id (malformed ids included)`) });

/** `null`: public, no credentials needed. Otherwise the least role that may call the operation. */
type RequiredRole = UserRole | null;
const ROLE_HELP: Record<UserRole, string> = {
  viewer: 'Any signed-in user or token (viewer and up).',
  operator: 'Needs the operator role (or admin).',
  admin: 'Needs the admin role.',
};

/**
 * Stamps the role an operation needs, as `x-required-role` and in its description, and documents the 403 that a
 * lower role gets. The handlers and services enforce the role (requireRole); tests/api check the two agree.
 */
export function withRole<T extends JsonSchema>(role: RequiredRole, operation: T): T {
  const responses = operation.responses as JsonSchema;
  const description = [operation.description, role ? ROLE_HELP[role] : 'Public: no credentials needed.'].filter(Boolean).join(' ');
  return {
    ...operation,
    description,
    'x-required-role': role,
    ...(role === null ? { security: [] } : {}),
    responses:
      role === 'operator' || role === 'admin' ? { ...responses, '403': errorResponse(`The caller's role is below ${role}`) } : responses,
  };
}

/**
 * Turns a zod object of query parameters into OpenAPI parameter objects (a field's description becomes the
 * parameter's). Every one allows an empty value: `?tag=` means "not given", as HTML forms send it (parseQuery).
 */
export function queryParameters(schema: z.ZodObject): JsonSchema[] {
  const json = schemaOf(schema, 'input') as { properties?: Record<string, JsonSchema> };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    const help = [description, 'Empty (`' + name + '=`): not given.'].filter(Boolean).join('. ');
    return { name, in: 'query', required: false, allowEmptyValue: true, schema: rest, description: help };
  });
}
