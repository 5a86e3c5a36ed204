import 'server-only';
import { createHash } from 'node:crypto';
import type { QueryConfig } from 'pg';

const names = new Map<string, string>();

/**
 * A pg query as a named statement: each connection parses and plans the text once (node-postgres keeps the
 * statement per connection by name) instead of on every call. The name is derived from the text, so the same text
 * always maps to the same statement, and different texts never share a name.
 */
export function prepared(text: string, values: unknown[]): QueryConfig {
  let name = names.get(text);
  if (!name) {
    name = `cp_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return { name, text, values };
}

type Query = (text: unknown, values?: unknown, callback?: unknown) => unknown;

/**
 * Makes a pool send its parameterised queries (text + values, no callback) as named statements. For pools whose
 * queries we do not write ourselves: Agenda's backend runs a handful of fixed texts for every ticket. Queries without
 * values (NOTIFY with an inline payload, DDL) stay unnamed, so no one-off text becomes a statement.
 */
export function prepareParameterisedQueries(pool: { query: unknown }): void {
  const query = (pool.query as Query).bind(pool);
  const named: Query = (text, values, callback) =>
    typeof text === 'string' && Array.isArray(values) && values.length > 0 && callback === undefined
      ? query(prepared(text, values))
      : query(text, values, callback);
  pool.query = named;
}
