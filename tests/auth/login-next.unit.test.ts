/**
 * Where sign-in goes: the `next` parameter (the login page's query, the form's hidden field) survives only as a path on
 * this site (lib/validation/session.ts, safeNextPath); anything a browser would take to another origin, and anything
 * that cannot be a Location header, goes to the default page.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_NEXT_PATH, safeNextPath } from '../../lib/validation/session';

const HOSTILE: unknown[] = [
  // Other origins, written plainly.
  'https://evil.example/',
  'http:/evil.example',
  'HTTPS://evil.example',
  'javascript:alert(1)',
  'data:text/html,x',
  'evil.example',
  '',
  ' //evil.example',
  '\t//evil.example',
  // Network paths, and what browsers read as one: a backslash is a slash.
  '//evil.example',
  '//evil.example/x',
  '///evil.example',
  '/\\evil.example',
  '/\\/evil.example',
  '\\\\evil.example',
  '\\/evil.example',
  '/jobs\\..\\..\\/evil.example',
  // Browsers drop tabs and line breaks anywhere in a URL: "/\t/evil.example" is "//evil.example".
  '/\t/evil.example',
  '/\\\t/evil.example',
  '/\t\\evil.example',
  '/\n/evil.example',
  '/\r/evil.example',
  '/\r\n/evil.example',
  '/\u0000/evil.example',
  '/\u001f/evil.example',
  '/\u007f/evil.example',
  // A CR/LF in the Location header (it was a 500), anywhere in the value.
  '/jobs\r\nSet-Cookie: sid=x',
  '/jobs?tag=x\r\nLocation: https://evil.example',
  '/jobs#a\nb',
  // The same percent-encoded once (a proxy or a second decode turns them back).
  '/%2F%2Fevil.example',
  '/%2f/evil.example',
  '/%5Cevil.example',
  '/%5c%5cevil.example',
  '/%09/evil.example',
  '/%0D%0ASet-Cookie:%20sid=x',
  '/jobs?tag=%0A',
  '/%E0%A4%A',
  '/jobs?search=%',
  // Dot segments that resolve to a network path.
  '/.//evil.example',
  '/..//evil.example',
  '/a/../..//evil.example',
  '/%2e%2e//evil.example',
  '/%2E/%2Fevil.example',
  // The login page itself (a loop).
  '/login',
  '/login?next=/jobs',
  '/login/',
  '/jobs/../login',
  // Not a string, or too long.
  undefined,
  null,
  42,
  ['/jobs'],
  { toString: () => '/jobs' },
  `/${'a'.repeat(3000)}`,
];

test('hostile next values go to the default page', () => {
  for (const value of HOSTILE) assert.equal(safeNextPath(value), DEFAULT_NEXT_PATH, JSON.stringify(value));
});

test('same-origin paths survive, as the URL parser resolves them', () => {
  for (const [value, expected] of [
    ['/', '/'],
    ['/jobs', '/jobs'],
    ['/jobs?tag=x', '/jobs?tag=x'],
    ['/jobs?search=hello%20world&status=failed', '/jobs?search=hello%20world&status=failed'],
    ['/jobs?search=100%25', '/jobs?search=100%25'],
    ['/runs/0d5c2a4e-8f1b-4c3d-9e7a-6b5f4e3d2c1b#log', '/runs/0d5c2a4e-8f1b-4c3d-9e7a-6b5f4e3d2c1b#log'],
    ['/jobs/../runs', '/runs'],
    ['/a b', '/a%20b'],
    ['/jobs/répört', '/jobs/r%C3%A9p%C3%B6rt'],
    ['/settings/users', '/settings/users'],
    ['/loginx', '/loginx'],
  ] as const) {
    assert.equal(safeNextPath(value), expected, value);
  }
});

test('whatever survives stays on the site and can be a Location header', () => {
  const base = 'https://app.example';
  // Every short combination of the characters that matter, at the start of the value.
  const parts = ['/', '\\', '.', '%2F', '%5C', '%2e', '\t', '\n', '\r', ' ', 'a', '@', ':', '?', '#', '%'];
  const values: string[] = [];
  for (const a of parts) for (const b of parts) for (const c of parts) values.push(`${a}${b}${c}evil.example`);
  for (const value of [...values, ...HOSTILE.filter((v): v is string => typeof v === 'string')]) {
    const path = safeNextPath(value);
    assert.ok(path.startsWith('/') && !path.startsWith('//'), `${JSON.stringify(value)} -> ${path}`);
    assert.doesNotMatch(path, /[\\\p{Cc}]/u, JSON.stringify(value));
    // As a browser resolves the Location header, and after one more decoding.
    assert.equal(new URL(path, base).origin, base, `${JSON.stringify(value)} -> ${path}`);
    assert.equal(new URL(decodeURIComponent(path), base).origin, base, `${JSON.stringify(value)} -> ${path} (decoded)`);
  }
});
