/**
 * The text fields of the OpenAPI document say exactly what the handlers take: for each trimmed field, the document's
 * pattern (spelled out portably, lib/api/openapi/patterns.ts) accepts a text if and only if the zod schema the
 * handlers validate with does. Lengths are counted in characters (code points) on both sides. Property-based, over an
 * alphabet of the characters that tell the rules apart: trimmed whitespace, controls, NUL, astral letters, marks, ...
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { z } from 'zod';
import { charCount } from '../../lib/domain';
import { schemaOf } from '../../lib/api/openapi/parts';
import { AuditQuerySchema } from '../../lib/validation/audit';
import { DescriptionSchema, JobListQuerySchema, JobNameSchema, TagSchema } from '../../lib/validation/job';
import { SessionCreateSchema } from '../../lib/validation/session';
import { TRIMMED_CLASS_TEXT } from '../../lib/validation/text';
import { TokenCreateSchema } from '../../lib/validation/token';
import { PasswordSchema, UsernameSchema } from '../../lib/validation/user';

const ALPHABET = [
  'a',
  'Z',
  '7',
  'é',
  '٣', // an Arabic-Indic digit (\p{N})
  '\u0301', // a combining mark: not a letter
  '😀', // astral, not a letter
  '𝐀', // astral letter
  '-',
  '.',
  '_',
  '@',
  ':',
  '/',
  '!',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u000b',
  '\u0000',
  '\u0085', // C1 control, not trimmed
  '\u00a0',
  '\u2028',
  '\u3000',
  '\ufeff',
  '\u200b', // zero-width space: neither trimmed nor a control
];

const text = (maxLength: number) => fc.array(fc.constantFrom(...ALPHABET), { maxLength }).map((chars) => chars.join(''));

/** The document's schema of a zod string schema: its pattern, min and max length as a JSON Schema validator reads them. */
function documented(schema: z.ZodType): (value: string) => boolean {
  const json = schemaOf(schema, 'input') as { pattern?: string; minLength?: number; maxLength?: number };
  const pattern = json.pattern === undefined ? null : new RegExp(json.pattern, 'u');
  return (value) =>
    (pattern === null || pattern.test(value)) &&
    (json.minLength === undefined || charCount(value) >= json.minLength) &&
    (json.maxLength === undefined || charCount(value) <= json.maxLength);
}

function agree(name: string, schema: z.ZodType, maxLength: number, extra: string[] = []): void {
  const byDocument = documented(schema);
  const samples = fc.oneof(text(maxLength), fc.constantFrom(...extra, ''));
  fc.assert(
    fc.property(samples, (value) => {
      const byHandler = schema.safeParse(value).success;
      assert.equal(byDocument(value), byHandler, `${name}: ${JSON.stringify(value)} (document ${byDocument(value)}, handler ${byHandler})`);
    }),
    { numRuns: 3000 },
  );
}

describe('document patterns vs the handlers, field by field', () => {
  test('trimmed whitespace is what String.prototype.trim() removes', () => {
    const trimmed = new RegExp(`^[${TRIMMED_CLASS_TEXT}]$`, 'u');
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      assert.equal(trimmed.test(ch), `a${ch}`.trim() === 'a', `U+${cp.toString(16)}`);
    }
  });

  test('job name, tag, description, search and tag filter', () => {
    agree('name', JobNameSchema, 110, [' '.repeat(3), 'a'.repeat(100), 'a'.repeat(101), ` ${'a'.repeat(100)} `, '😀'.repeat(60)]);
    agree('tag', TagSchema, 45, ['a'.repeat(40), 'a'.repeat(41), '𝐀'.repeat(30), ` ${'a'.repeat(40)}\t`]);
    agree('description', DescriptionSchema, 30, [`\n${'a'.repeat(2000)}\n`, 'a'.repeat(2001), '😀'.repeat(1500)]);
    const query = JobListQuerySchema.shape;
    agree('search', query.search.unwrap(), 210, ['a'.repeat(200), 'a'.repeat(201), `\n${'a'.repeat(200)}\n`]);
    agree('tag filter', query.tag.unwrap(), 45);
  });

  test('usernames, passwords, token names and the audit filters', () => {
    agree('username', UsernameSchema, 70, ['a'.repeat(64), 'a'.repeat(65), '𝐀'.repeat(40)]);
    agree('password', PasswordSchema, 20, ['😀'.repeat(5), '😀'.repeat(10), 'a'.repeat(10), 'a'.repeat(9)]);
    agree('token name', TokenCreateSchema.shape.name, 110, ['😀'.repeat(60)]);
    agree('audit actor', AuditQuerySchema.shape.actor.unwrap(), 210);
    agree('audit action', AuditQuerySchema.shape.action.unwrap(), 110);
  });

  test('the sign-in username: blank or with a control character (once trimmed) is a 400, anything else is checked', () => {
    const byDocument = documented(SessionCreateSchema.shape.username);
    fc.assert(
      fc.property(text(30), (value) => {
        const trimmed = value.trim();
        const handler400 = !trimmed || /\p{Cc}/u.test(trimmed);
        assert.equal(byDocument(value), !handler400, JSON.stringify(value));
      }),
      { numRuns: 3000 },
    );
  });
});
