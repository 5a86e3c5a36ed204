// Bulk test data for scale checks: `npm run seed -- --jobs 10000 --runs 1000000 [--database-url URL]`.
// Without --database-url: DATABASE_URL, or the embedded PostgreSQL cluster under .data/.
import { parseArgs } from 'node:util';
import { seed } from '../lib/store/seed';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '1000000' },
    'database-url': { type: 'string' },
  },
});

function count(name: string, text: string, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) > max) {
    console.error(`--${name} must be a whole number up to ${max}`);
    process.exit(2);
  }
  return Number(text);
}

const jobs = count('jobs', values.jobs, 1_000_000);
const runs = count('runs', values.runs, 100_000_000);
if (jobs === 0 && runs > 0) {
  console.error('--runs needs at least one job');
  process.exit(2);
}
const result = await seed({ jobs, runs, databaseUrl: values['database-url'] ?? null, log: (line) => console.log(`[seed] ${line}`) });
console.log(`[seed] done: ${result.kind}, ${result.jobs} jobs, ${result.runs} runs requested, ${(result.ms / 1000).toFixed(1)} s`);
process.exit(0);
