// Paging cursors as they arrive in query strings. They are opaque to callers (base64url JSON of the last item's
// [sort key, uuid], made and read by the stores' one codec, lib/store/shared/cursor.ts) but anyone can craft one: the
// sort key then reaches the database as a name or a timestamp. These schemas refuse, with a 400, every cursor the stores
// could not use: one that does not decode, a name with a NUL (PostgreSQL: 22021) or a time outside years 1-9999
// (timestamptz refuses it). Pure: the codec uses atob and TextDecoder only.
import { z } from 'zod';
import { decodeCursorKey } from '../store/shared/cursor';
import { parseIsoDate } from './date';
import { isSingleLineText } from './text';

export { decodeCursorKey };

export const CURSOR_MESSAGE = 'invalid cursor: pass back the nextCursor of a previous page';

/** Longer cursors are refused before decoding (a job name's cursor, 100 characters of 3 UTF-8 bytes, is about 460). */
const MAX_CURSOR_LENGTH = 500;

function cursorSchema(validKey: (key: string) => boolean) {
  // One check, one message (a .max() before it would add a second issue for the same cursor).
  return (
    z
      .string()
      .refine((cursor) => {
        const key = cursor.length <= MAX_CURSOR_LENGTH ? decodeCursorKey(cursor) : null;
        return key !== null && validKey(key[0]);
      }, CURSOR_MESSAGE)
      .describe(
        `Opaque: the nextCursor of the previous page, passed back as is (base64url, at most ${MAX_CURSOR_LENGTH} characters; anything this list did not make is a 400)`,
      )
      // The document: the custom format `paging-cursor`, which only the list makes (a client cannot build one, so no
      // pattern: base64url text that is not a cursor is refused all the same).
      .meta({ format: 'paging-cursor' })
  );
}

/** Cursors of lists sorted by name (jobs). */
export const NameCursorSchema = cursorSchema((name) => name.length <= 200 && isSingleLineText(name));

/** Cursors of lists sorted by time (runs, audit entries). */
export const TimeCursorSchema = cursorSchema((at) => parseIsoDate(at) !== null);

/** A cursor from a page's URL: kept when `schema` takes it, else undefined (the first page) rather than an error page. */
export function validCursor(schema: z.ZodType, value: string | undefined): string | undefined {
  return value !== undefined && value !== '' && schema.safeParse(value).success ? value : undefined;
}
