// Paging cursors as they arrive in query strings. They are opaque to callers (base64url JSON of the last item's
// [sort key, uuid], made by lib/store/common.ts) but anyone can craft one: the sort key then reaches the database as
// a name or a timestamp. These schemas refuse, with a 400, every cursor the stores could not use: a name with a NUL
// (PostgreSQL: 22021) or a time outside years 1-9999 (timestamptz refuses it). Pure: atob and TextDecoder only.
import { z } from 'zod';
import { parseIsoDate } from './date';
import { isSingleLineText } from './text';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const CURSOR_MESSAGE = 'invalid cursor: pass back the nextCursor of a previous page';

/** The [sort key, uuid] pair of a cursor, or null when it is not one. */
export function decodeCursorKey(cursor: string): [string, string] | null {
  if (!/^[A-Za-z0-9_-]{1,500}$/.test(cursor) || cursor.length % 4 === 1) return null;
  try {
    const binary = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'));
    const text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    const key: unknown = JSON.parse(text);
    if (Array.isArray(key) && key.length === 2 && typeof key[0] === 'string' && typeof key[1] === 'string' && UUID.test(key[1])) return [key[0], key[1]];
  } catch {
    // not base64url, not UTF-8 or not JSON
  }
  return null;
}

function cursorSchema(validKey: (key: string) => boolean) {
  // One check, one message (a .max() before it would add a second issue for the same cursor).
  return z
    .string()
    .refine((cursor) => {
      const key = decodeCursorKey(cursor);
      return key !== null && validKey(key[0]);
    }, CURSOR_MESSAGE)
    .describe('Opaque: the nextCursor of the previous page');
}

/** Cursors of lists sorted by name (jobs). */
export const NameCursorSchema = cursorSchema((name) => name.length <= 200 && isSingleLineText(name));

/** Cursors of lists sorted by time (runs, audit entries). */
export const TimeCursorSchema = cursorSchema((at) => parseIsoDate(at) !== null);

/** A cursor from a page's URL: kept when `schema` takes it, else undefined (the first page) rather than an error page. */
export function validCursor(schema: z.ZodType, value: string | undefined): string | undefined {
  return value !== undefined && value !== '' && schema.safeParse(value).success ? value : undefined;
}
