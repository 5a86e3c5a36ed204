// Text as both stores compare and search it: code point order (PostgreSQL's COLLATE "C", MongoDB's binary
// comparison), and literal case-insensitive substring patterns for listJobs.search and listRuns.jobSearch.

/** LIKE pattern (PostgreSQL, ILIKE) matching `text` literally anywhere. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Regex source (MongoDB, $regex with 'i') matching `text` literally (valid for MongoDB's PCRE and for Java's regex in the test server). */
export function literalPattern(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
}

/** Code point order, as PostgreSQL's COLLATE "C" (JS's default sort compares UTF-16 units instead). */
export function byCodePoint(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0) ?? 0);
  const y = [...b].map((c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}
