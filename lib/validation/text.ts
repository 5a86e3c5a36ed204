// Text that reaches the database. PostgreSQL refuses a NUL character in `text` (22021, "invalid byte sequence")
// and in `jsonb` ("unsupported Unicode escape sequence"), and a lone UTF-16 surrogate in `jsonb`; MongoDB refuses NUL
// in field names. Without these checks such input was a 500 instead of a 400. Pure (no Node imports): the job
// form's bundle reaches it too.
import type { z } from 'zod';
import { charCount } from '../domain';

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

// Lengths and trimmed text as the OpenAPI document states them. JSON Schema's minLength and maxLength (and a pattern's
// quantifiers) count characters, i.e. code points; zod's .min() and .max() count UTF-16 units, so an emoji counted
// twice and the handlers refused text the document allowed (or took text it refused). And a field zod trims before
// checking has its bounds on the trimmed text: "  " is refused as empty, " a " is one character. The helpers below
// check in characters and give the document keywords that say exactly what is checked (reaching it through .meta()).

/** The characters String.prototype.trim() removes (WhiteSpace and LineTerminator), as character-class text. */
export const TRIMMED_CLASS_TEXT = '\\t\\n\\u000B\\f\\r \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF';

interface LengthBounds {
  min?: number;
  max?: number;
  minMessage?: string;
  maxMessage?: string;
}

/** Length bounds counted in characters (code points), shown in the document as minLength/maxLength. */
export function charLength(schema: z.ZodString, bounds: LengthBounds): z.ZodString {
  let checked = schema;
  const { min, max } = bounds;
  if (min !== undefined)
    checked = checked.refine((value) => charCount(value) >= min, bounds.minMessage ?? `at least ${min} character${min === 1 ? '' : 's'}`);
  if (max !== undefined) checked = checked.refine((value) => charCount(value) <= max, bounds.maxMessage ?? `at most ${max} characters`);
  return checked.meta({ ...(min !== undefined ? { minLength: min } : {}), ...(max !== undefined ? { maxLength: max } : {}) });
}

/** What a trimmed field may hold: every character in `allowed`, the first and last also in `edge` (no trimmed whitespace). */
export interface TrimmedCharacters {
  allowed: string;
  edge: string;
}

/** Single-line text: no control character (C0, DEL, C1), which also rules out tabs and line breaks. */
export const SINGLE_LINE: TrimmedCharacters = {
  allowed: '[^\\p{Cc}]',
  edge: '[^\\p{Cc} \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF]',
};
/** Multi-line text the database can store: anything but NUL (lone surrogates are refused too, see above). */
export const NO_NUL: TrimmedCharacters = { allowed: '[^\\u0000]', edge: `[^\\u0000${TRIMMED_CLASS_TEXT}]` };

/**
 * A text field that is trimmed, then checked: `min` (0 or 1) to `max` characters once trimmed, every one of them in
 * `characters`. zod: pass the trimmed schema; the length is checked in characters. Document: one pattern on the text
 * as sent (any trimmed whitespace around, then the checked part) instead of length bounds on it.
 */
export function trimmedText(
  trimmed: z.ZodString,
  bounds: LengthBounds & { min: 0 | 1; max: number },
  characters: TrimmedCharacters,
): z.ZodString {
  const pattern = trimmedTextPattern(bounds.min, bounds.max, characters);
  return charLength(trimmed, bounds).meta({ pattern, minLength: undefined, maxLength: undefined });
}

/** The pattern of trimmedText: `min` (0 or 1) to `max` (null: any number of) characters once trimmed. */
export function trimmedTextPattern(min: 0 | 1, max: number | null, characters: TrimmedCharacters): string {
  const around = `[${TRIMMED_CLASS_TEXT}]*`;
  const repeat = max === null ? '*' : `{0,${max - 2}}`;
  const inside = max === null || max >= 2 ? `(?:${characters.allowed}${repeat}${characters.edge})?` : '';
  const text = `${characters.edge}${inside}`;
  return `^${around}${min === 0 ? `(?:${text})?` : text}${around}$`;
}
