// Text that reaches the database. PostgreSQL refuses a NUL character in `text` (22021, "invalid byte sequence")
// and in `jsonb` ("unsupported Unicode escape sequence"), and a lone UTF-16 surrogate in `jsonb`; MongoDB refuses NUL
// in field names. Without these checks such input was a 500 instead of a 400. Pure (no Node imports): the job
// form's bundle reaches it too.
import type { z } from 'zod';

/** Any C0/C1 control character (NUL, tab, newline, ESC, DEL, ...). */
export const CONTROL_CHARACTER = /\p{Cc}/u;
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const NUL_MESSAGE = 'must not contain NUL characters (\\u0000)';
export const SURROGATE_MESSAGE = 'must be valid Unicode (no lone surrogate)';

/** Why the database would refuse this text (a NUL, a lone surrogate), or null when it stores it as given. */
export function storableTextProblem(text: string): string | null {
  if (text.includes('\u0000')) return NUL_MESSAGE;
  if (LONE_SURROGATE.test(text)) return SURROGATE_MESSAGE;
  return null;
}

/** Single-line text (names, filters, usernames): no control character at all, and storable. */
export function isSingleLineText(text: string): boolean {
  return !CONTROL_CHARACTER.test(text) && !LONE_SURROGATE.test(text);
}

/** Where in a JSON value (keys included) a string the database cannot store is, and why; null when there is none. */
export function findUnstorableText(
  value: unknown,
  path: Array<string | number> = [],
  depth = 0,
): { path: Array<string | number>; message: string } | null {
  if (typeof value === 'string') {
    const problem = storableTextProblem(value);
    return problem ? { path, message: problem } : null;
  }
  // Request bodies are parsed JSON, whose depth the body size bounds; this only keeps the walk finite.
  if (depth > 256 || value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findUnstorableText(item, [...path, i], depth + 1);
      if (found) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    const keyProblem = storableTextProblem(key);
    if (keyProblem) return { path: [...path, key], message: `field name ${keyProblem}` };
    const found = findUnstorableText(item, [...path, key], depth + 1);
    if (found) return found;
  }
  return null;
}

/** Zod refinement for a JSON value (payloads): one issue at the first offending string's path. */
export function refuseUnstorableText(value: unknown, ctx: z.RefinementCtx): void {
  const found = findUnstorableText(value);
  if (found) ctx.addIssue({ code: 'custom', path: found.path, message: found.message });
}

/** Zod refinement for one string that may hold newlines and tabs (descriptions, messages). */
export function refuseUnstorableString(value: string, ctx: z.RefinementCtx): void {
  const problem = storableTextProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
}
