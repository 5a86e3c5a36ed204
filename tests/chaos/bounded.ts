/**
 * The bounded chaos run that `npm test` includes (chaos-postgres.test.ts, chaos-mongo.test.ts): 3 instances, 12 jobs
 * every 2 s and 2 long ones every 20 s, about 2.5 minutes of mostly aimed faults, then the checker; violations must
 * be 0. CHAOS_SECONDS and CHAOS_SEED change the length and the seed; the reports go to .test-results/chaos (or CHAOS_OUT).
 */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { StoreName } from './cluster';
import { runChaos } from './scenario';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export function boundedChaosTest(store: StoreName): void {
  const seconds = Number(process.env.CHAOS_SECONDS ?? '150');
  const seed = Number(process.env.CHAOS_SEED ?? String(Date.now() % 1_000_000));
  // Faults, settle (up to lease + 60 s, then that + two long calls), long runs finishing: well inside 15 minutes on a loaded machine.
  test(
    `${store}: ${seconds} s of aimed faults on 3 next start instances, every occurrence accounted for (seed ${seed})`,
    { timeout: 15 * 60_000 },
    async () => {
      const lines: string[] = [];
      const result = await runChaos({
        store,
        durationMs: seconds * 1000,
        instances: 3,
        seed,
        out: process.env.CHAOS_OUT ?? join(ROOT, '.test-results', 'chaos'),
        shortJobs: 12,
        longJobs: 2,
        label: 'bounded',
        weights: {
          'aimed-kill': 4,
          'aimed-freeze': 4,
          'aimed-term': 3,
          kill: 1,
          term: 1,
          // PostgreSQL only (the nemesis leaves it out on MongoDB: the test server is in memory).
          'db-restart': 1,
        },
        gapMs: [8_000, 15_000],
        log: (line) => {
          lines.push(line);
          console.log(`[chaos ${store}] ${line}`);
        },
      });
      assert.ok(result.faults.length >= 3, `only ${result.faults.length} fault(s) applied:\n${lines.join('\n')}`);
      // 12 jobs every 2 s for about `seconds`: the guard is against a run that checked little (instances that never
      // came up, a nemesis that ended the run early), not an exact count; on a loaded machine the window from the jobs'
      // first occurrences to their pause came out a few seconds short of `seconds` (CI: 899 of a nominal 900).
      const expected = Math.floor(0.9 * ((12 * seconds) / 2));
      assert.ok(
        result.report.occurrencesChecked >= expected,
        `only ${result.report.occurrencesChecked} occurrences checked (expected ${expected} at least)`,
      );
      assert.equal(result.report.violations.length, 0, `${result.summary}\nreports: ${result.files.join(', ')}`);
    },
  );
}
