// The one cursor codec. Paging cursors are opaque to callers: base64url JSON of the last item's [sort key, uuid]. The
// stores make them (pageOf) and read them back (decodeCursor, decodeTimeCursor); lib/validation/cursor.ts refuses, at
// the boundary, the ones a store could not use (decodeCursorKey). Pure: btoa/atob and TextEncoder/TextDecoder only, so
// validation can use it anywhere.
import { ValidationError } from '../../errors';
import type { Page } from '../contract/database';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Ids are uuids in both stores (lowercase randomUUID strings in MongoDB, so string order equals PostgreSQL's uuid
 * order); anything else cannot exist, and in PostgreSQL would raise a cast error.
 */
export function isUuid(id: string): boolean {
  return UUID_RE.test(id);
}

/** base64url (no padding) of the key's JSON. */
export function encodeCursor(key: [string, string]): string {
  const bytes = new TextEncoder().encode(JSON.stringify(key));
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The [sort key, uuid] pair of a cursor, or null when it is not one (not base64url, not UTF-8, not JSON, not the pair). */
export function decodeCursorKey(cursor: string): [string, string] | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor) || cursor.length % 4 === 1) return null;
  try {
    const binary = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'));
    const text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    const key: unknown = JSON.parse(text);
    if (Array.isArray(key) && key.length === 2 && typeof key[0] === 'string' && typeof key[1] === 'string' && isUuid(key[1]))
      return [key[0], key[1]];
  } catch {
    // not base64url, not UTF-8 or not JSON
  }
  return null;
}

function invalidCursor(): ValidationError {
  return new ValidationError([{ path: 'cursor', message: 'invalid cursor' }]);
}

/** The [sort key, uuid] pair of a cursor; a ValidationError for anything else. */
export function decodeCursor(cursor: string): [string, string] {
  const key = decodeCursorKey(cursor);
  if (!key) throw invalidCursor();
  return key;
}

/** A cursor whose sort key is a timestamp (runs, audit entries). */
export function decodeTimeCursor(cursor: string): [Date, string] {
  const [at, id] = decodeCursor(cursor);
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) throw invalidCursor();
  return [date, id];
}

/** The first `limit` of `rows` (fetched as limit + 1), with a cursor after the last when there are more. */
export function pageOf<T>(rows: T[], limit: number, keyOf: (item: T) => [string, string]): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(keyOf(last)) : null };
}
