// Which payload values are secrets, how they are masked and scrubbed. Pure (no Node imports): the job
// registry wraps every handler with `scrubbingHandler`, and the registry also reaches the browser bundle.
// Encryption is in ./index.ts (server only).
import { z } from 'zod';
import type { JobContext, JobType } from '../jobs/define';
import { SECRET_HEADER_NAME } from '../domain';

/**
 * Payload field metadata, set with `.meta({ 'x-secret': ... })` on a top-level payload field (an `x-` name: it reaches the
 * OpenAPI document as it is, where only extensions may add keywords):
 * - `true`: the whole (string) value is a secret;
 * - `'header-values'`: a name -> value record whose values are secrets when the name looks like a credential, or is
 *   listed in the payload field named by `.meta({ 'x-marked-by': field })` (the operator marks any header secret).
 */
export type SecretMeta = true | 'header-values';

/** Header names whose values are credentials (the rule lives in lib/domain: lib/net uses it too). */
export { SECRET_HEADER_NAME } from '../domain';

export const ENCRYPTED_PREFIX = 'enc:v1:';
export const MASK = '••••';

export function isEncrypted(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(ENCRYPTED_PREFIX);
}

export function isMasked(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(MASK);
}

/** "••••" plus the last 4 characters when the secret is long enough that 4 characters give little away. */
export function maskValue(plain: string): string {
  return plain.length >= 16 ? `${MASK}${plain.slice(-4)}` : MASK;
}

function secretMetaOf(schema: z.ZodType): SecretMeta | undefined {
  const meta = schema.meta() as { 'x-secret'?: unknown } | undefined;
  const secret = meta?.['x-secret'];
  return secret === true || secret === 'header-values' ? secret : undefined;
}

/** For 'header-values': the payload field (a list of names) in which the operator marks more headers secret. */
function markedByOf(schema: z.ZodType): string | undefined {
  const markedBy = (schema.meta() as { 'x-marked-by'?: unknown } | undefined)?.['x-marked-by'];
  return typeof markedBy === 'string' ? markedBy : undefined;
}

/** A place in a payload that holds a secret: [field] or [field, key]. */
export type SecretPath = [string] | [string, string];

/** The secret places present in `payload`, according to the payload schema's field metadata. */
export function secretPaths(schema: z.ZodType, payload: Record<string, unknown>): SecretPath[] {
  if (!(schema instanceof z.ZodObject)) return [];
  const paths: SecretPath[] = [];
  for (const [field, fieldSchema] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    const meta = secretMetaOf(fieldSchema);
    const value = payload[field];
    if (meta === true && typeof value === 'string' && value !== '') paths.push([field]);
    if (meta === 'header-values' && value && typeof value === 'object' && !Array.isArray(value)) {
      const markedBy = markedByOf(fieldSchema);
      const listed = markedBy ? payload[markedBy] : undefined;
      const marked = new Set(Array.isArray(listed) ? listed.filter((n) => typeof n === 'string').map((n) => n.trim().toLowerCase()) : []);
      for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
        if (typeof inner !== 'string' || inner === '') continue;
        if (SECRET_HEADER_NAME.test(key) || marked.has(key.toLowerCase())) paths.push([field, key]);
      }
    }
  }
  return paths;
}

export function getAt(payload: Record<string, unknown>, path: SecretPath): unknown {
  const first = payload[path[0]];
  if (path.length === 1) return first;
  return first && typeof first === 'object' ? (first as Record<string, unknown>)[path[1]] : undefined;
}

/** A copy of `payload` with `fn` applied to every secret value (and to every encrypted value, wherever it is). */
export function mapSecrets(
  schema: z.ZodType | undefined,
  payload: Record<string, unknown>,
  fn: (value: string, path: SecretPath) => string,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...payload };
  const done = new Set<string>();
  for (const path of schema ? secretPaths(schema, payload) : []) {
    done.add(path.join('\u0000'));
    apply(out, path, fn);
  }
  // Ciphertext outside a secret place (the schema changed since it was stored) is still handled.
  for (const [field, value] of Object.entries(payload)) {
    if (isEncrypted(value) && !done.has(field)) apply(out, [field], fn);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
        if (isEncrypted(inner) && !done.has(`${field}\u0000${key}`)) apply(out, [field, key], fn);
      }
    }
  }
  return out;
}

function apply(out: Record<string, unknown>, path: SecretPath, fn: (value: string, path: SecretPath) => string): void {
  if (path.length === 1) {
    const value = out[path[0]];
    if (typeof value === 'string') out[path[0]] = fn(value, path);
    return;
  }
  const record = out[path[0]];
  if (!record || typeof record !== 'object') return;
  const copy = { ...(record as Record<string, unknown>) };
  const value = copy[path[1]];
  if (typeof value === 'string') copy[path[1]] = fn(value, path);
  out[path[0]] = copy;
}

/**
 * The forms a secret is usually echoed in: as it is, JSON-escaped (a JSON body quoting it), URL-encoded (upper- and
 * lower-case escapes, + for spaces as forms send it), and base64 / base64url with and without padding (Basic
 * credentials, tokens passed on encoded).
 */
export function encodedForms(value: string): string[] {
  const url = encodeURIComponent(value);
  // btoa over the UTF-8 bytes: this module also reaches the browser bundle, where there is no Buffer.
  let bytes = '';
  for (const byte of new TextEncoder().encode(value)) bytes += String.fromCharCode(byte);
  const base64 = btoa(bytes);
  const forms = [
    value,
    JSON.stringify(value).slice(1, -1),
    url,
    url.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()),
    url.replace(/%20/g, '+'),
    base64,
    base64.replace(/=+$/, ''),
    base64.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'),
  ];
  return [...new Set(forms)];
}

/** The strings to scrub from output: each secret value, and the credential part of "Scheme credential", in each encodedForms. */
export function secretValues(schema: z.ZodType, payload: Record<string, unknown>): string[] {
  const values = new Set<string>();
  const add = (value: string): void => {
    for (const form of encodedForms(value)) values.add(form);
  };
  for (const path of secretPaths(schema, payload)) {
    const value = getAt(payload, path);
    if (typeof value !== 'string') continue;
    if (value.length >= 4) add(value);
    const last = value.trim().split(/\s+/).at(-1);
    if (last && last.length >= 6) add(last);
  }
  // Longest first, so a value is replaced before a part of it.
  return [...values].sort((a, b) => b.length - a.length);
}

export function scrub(text: string, values: readonly string[]): string {
  let out = text;
  for (const value of values) out = out.split(value).join(MASK);
  return out;
}

/** The handler with its log lines and its error message scrubbed of the payload's secret values. */
export function scrubbingHandler<T extends JobType>(type: T): T {
  return {
    ...type,
    async run(payload: Record<string, unknown>, ctx: JobContext) {
      const values = secretValues(type.payloadSchema, payload);
      if (values.length === 0) return type.run(payload, ctx);
      // The whole line is scrubbed, then cut (LogOptions.maxChars): never cut first.
      const scrubbed: JobContext = { ...ctx, log: (line, options) => ctx.log(scrub(String(line), values), options) };
      try {
        await type.run(payload, scrubbed);
      } catch (err) {
        if (err instanceof Error) {
          const clean = new Error(scrub(err.message, values));
          clean.name = err.name;
          throw clean;
        }
        throw new Error(scrub(String(err), values));
      }
    },
  };
}
