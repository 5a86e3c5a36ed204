/**
 * How long a text is: its characters, i.e. code points. That is what JSON Schema's minLength and maxLength (and a
 * pattern's quantifiers) count, so the OpenAPI document and the handlers agree; `.length` (and zod's .min/.max) count
 * UTF-16 units, an emoji twice.
 */
export function charCount(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A surrogate pair is one character.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}
