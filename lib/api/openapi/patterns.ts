import 'server-only';

// JSON Schema's `pattern` is ECMA-262, but the validators and generators people run on an OpenAPI document are not all
// JavaScript: Python's `re` (openapi-spec-validator, Schemathesis' generators), Go's RE2 and others refuse or misread
// Unicode property escapes such as \p{L} (JavaScript needs the `u` flag for them). The document therefore spells each
// property escape inside a character class out as the explicit code point ranges it stands for, computed here from the
// same JavaScript engine the handlers validate with, so the document and the handlers agree character for character.
// The pattern as the code writes it stays beside it, in `x-pattern-unicode`, for people to read.

/** The extension that keeps the pattern as written in the code (ECMA-262 with the `u` flag). */
export const UNICODE_PATTERN_EXTENSION = 'x-pattern-unicode';

const PROPERTY = /\\p\{(\w+)\}/g;
const MAX_CODE_POINT = 0x10ffff;

const rangesCache = new Map<string, Array<[number, number]>>();

/** The code point ranges (surrogates excluded) that /\p{name}/u matches in this engine. */
export function propertyRanges(name: string): Array<[number, number]> {
  const cached = rangesCache.get(name);
  if (cached) return cached;
  const re = new RegExp(`^\\p{${name}}$`, 'u');
  const ranges: Array<[number, number]> = [];
  let start = -1;
  for (let cp = 0; cp <= MAX_CODE_POINT + 1; cp++) {
    const matches = cp <= MAX_CODE_POINT && (cp < 0xd800 || cp > 0xdfff) && re.test(String.fromCodePoint(cp));
    if (matches && start < 0) start = cp;
    if (!matches && start >= 0) {
      ranges.push([start, cp - 1]);
      start = -1;
    }
  }
  rangesCache.set(name, ranges);
  return ranges;
}

/**
 * One code point inside a character class, in a form JavaScript (with or without `u`), Python's `re`, Rust's `regex`
 * and PCRE all read the same way: printable ASCII letters and digits as they are, other BMP code points as \uXXXX, and
 * code points above the BMP as the character itself (no escape for them is shared by those dialects).
 */
function classChar(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) return String.fromCodePoint(cp);
  if (cp <= 0xffff) return `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return String.fromCodePoint(cp);
}

function rangesText(ranges: Array<[number, number]>): string {
  return ranges
    .map(([a, b]) => (a === b ? classChar(a) : b === a + 1 ? classChar(a) + classChar(b) : `${classChar(a)}-${classChar(b)}`))
    .join('');
}

/**
 * The pattern with every \p{...} spelled out as ranges. Property escapes are only expected inside character classes
 * ([...]), where the ranges slot in as they are; one outside a class, or \P{...}, is refused (the document test fails).
 */
export function portablePattern(pattern: string): string {
  if (!pattern.includes('\\p{') && !pattern.includes('\\P{')) return pattern;
  if (pattern.includes('\\P{')) throw new Error(`negated property escapes are not translated: ${pattern}`);
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      PROPERTY.lastIndex = i;
      const match = PROPERTY.exec(pattern);
      if (match && match.index === i) {
        if (!inClass) throw new Error(`a property escape outside a character class is not translated: ${pattern}`);
        out += rangesText(propertyRanges(match[1]!));
        i += match[0].length - 1;
        continue;
      }
      out += ch + (pattern[i + 1] ?? '');
      i += 1;
      continue;
    }
    if (ch === '[' && !inClass) inClass = true;
    else if (ch === ']' && inClass) inClass = false;
    out += ch;
  }
  return out;
}

/**
 * Every `pattern` in a JSON Schema (nested ones included) made portable, the original kept in `x-pattern-unicode`
 * where it changed. Returns a new object; the input is not modified.
 */
export function withPortablePatterns<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map((item) => withPortablePatterns(item)) as T;
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    if (key === 'pattern' && typeof value === 'string') {
      const portable = portablePattern(value);
      out.pattern = portable;
      if (portable !== value) out[UNICODE_PATTERN_EXTENSION] = value;
    } else {
      out[key] = withPortablePatterns(value);
    }
  }
  return out as T;
}
