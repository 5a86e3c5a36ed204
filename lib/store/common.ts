import 'server-only';
import { randomBytes } from 'node:crypto';
import { ValidationError } from '../errors';
import type { Page } from './types';

/** Usernames are unique and looked up case-insensitively through this key: the same function in both stores. */
export function usernameKey(username: string): string {
  return username.toLowerCase();
}

/** Bucket width in ms for runStats; it must be positive. */
export function bucketMillis(bucketSeconds: number): number {
  const ms = Math.round(bucketSeconds * 1000);
  if (!Number.isFinite(ms) || ms < 1) throw new ValidationError([{ path: 'bucketSeconds', message: 'bucketSeconds must be positive' }]);
  return ms;
}

/** PostgreSQL's percentile_cont over ascending `sorted`: linear interpolation between the closest ranks. */
export function percentileCont(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  const pos = fraction * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Ids are uuids in both stores (lowercase randomUUID strings in MongoDB, so string order equals PostgreSQL's uuid
 * order); anything else cannot exist, and in PostgreSQL would raise a cast error.
 */
export function isUuid(id: string): boolean {
  return UUID_RE.test(id);
}

/** 256 random bits: unguessable session ids when the caller does not bring its own. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

// Cursors are opaque to callers: base64url JSON of the last item's sort key, the same encoding in both stores.
function encodeCursor(key: [string, string]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function invalidCursor(): ValidationError {
  return new ValidationError([{ path: 'cursor', message: 'invalid cursor' }]);
}

/** The [sort key, uuid] pair of a cursor; a ValidationError for anything else. */
export function decodeCursor(cursor: string): [string, string] {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === 2 && typeof key[0] === 'string' && typeof key[1] === 'string' && isUuid(key[1])) {
      return [key[0], key[1]];
    }
  } catch {
    // fall through
  }
  throw invalidCursor();
}

/** A cursor whose sort key is a timestamp (runs, audit entries). */
export function decodeRunCursor(cursor: string): [Date, string] {
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
