/**
 * Runs the checker again on a saved chaos run: `node --conditions=react-server --import tsx tests/chaos/recheck.ts
 * <report base>` where <report base> is the report's path without its extension (it reads <base>-input.json and
 * <base>-deliveries.jsonl). Prints the summary; `--json` prints the whole report. Exit status 1 on any violation.
 */
import { readFileSync } from 'node:fs';
import { reviveInput } from './adapter';
import { check, summarize } from './checker';

const args = process.argv.slice(2);
const base = args.find((a) => !a.startsWith('--'))?.replace(/(-input)?\.json$|\.md$/, '');
if (!base) {
  console.error('usage: recheck.ts <report base, e.g. docs/chaos/results/chaos-postgres-2026-12-06T04-24-03-767Z> [--json]');
  process.exit(2);
}
const input = reviveInput(
  JSON.parse(readFileSync(`${base}-input.json`, 'utf8')) as Record<string, unknown>,
  readFileSync(`${base}-deliveries.jsonl`, 'utf8'),
);
const report = check(input);
console.log(args.includes('--json') ? JSON.stringify(report, null, 2) : summarize(report));
process.exit(report.ok ? 0 : 1);
