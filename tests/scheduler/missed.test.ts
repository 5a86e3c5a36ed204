/**
 * Every instance down for a while, then up again (real worker processes; PostgreSQL, then MongoDB: see
 * tests/scheduler/stores.ts): each job's missed-occurrence policy decides what happens to the occurrences that fell due
 * meanwhile, and the runs show it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestPostgres } from '../support/postgres';
import type { Job, Run, Store } from '../../lib/store/types';
import {
  inFlight,
  allRuns as allRunsOf,
  delay,
  openTestServices,
  startWorker,
  stopWorker,
  waitFor,
  type TestServices,
  type Worker,
} from './harness';
import { SCHEDULER_STORES } from './stores';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';

type Services = typeof import('../../lib/services/jobs');

let db: TestPostgres;
let store: Store;
let services: Services;
let opened: TestServices | undefined;
const workers: Worker[] = [];
const ENV = { SCHEDULER_MISSED_GRACE_MS: '2000', SCHEDULER_RUN_ALL_LIMIT: '3' };

const allRuns = (jobId: string): Promise<Run[]> => allRunsOf(store, jobId);

const startBoth = async (round: number): Promise<Worker[]> =>
  Promise.all([startWorker(db.url, `missed-a${round}`, ENV), startWorker(db.url, `missed-b${round}`, ENV)]);

for (const factory of SCHEDULER_STORES) {
  describe(`${factory.name}: every instance down, then up`, () => {
    before(async () => {
      opened = await openTestServices(factory.start);
      ({ db, store, services } = opened);
    });

    after(async () => {
      await Promise.allSettled(workers.splice(0).map((w) => stopWorker(w, 'SIGKILL', 5_000)));
      await opened?.close();
    });

    test('run-once runs one catch-up, skip records one missed run, run-all replays the last N and records the rest as missed', async () => {
      workers.push(...(await startBoth(1)));
      const make = (name: string, missedPolicy: Job['missedPolicy']): Promise<Job> =>
        services.createJob(
          { name, type: 'log', payload: { message: name }, schedule: { kind: 'interval', seconds: 1 }, missedPolicy },
          SYSTEM_ACTOR,
        );
      const [once, skip, all] = [await make('run-once', 'run-once'), await make('skip', 'skip'), await make('run-all', 'run-all')];
      await waitFor('a few runs of each', async () => {
        for (const job of [once, skip, all]) if ((await allRuns(job.id)).filter((r) => r.status === 'succeeded').length < 2) return false;
        return true;
      });
      await Promise.all(workers.splice(0).map((w) => stopWorker(w, 'SIGTERM')));
      const downAt = Date.now();
      await delay(8_000);
      const upAt = Date.now();
      workers.push(...(await startBoth(2)));
      const readyAt = Date.now();
      await delay(4_000);
      for (const job of [once, skip, all]) await services.pauseJob(job.id, SYSTEM_ACTOR);
      await waitFor('runs to finish', async () => {
        for (const job of [once, skip, all]) if ((await allRuns(job.id)).some((r) => inFlight(r))) return false;
        return true;
      });

      /**
       * No silent gap: from the first occurrence to the last, each one is covered by exactly one record, a run or a
       * 'missed' record standing for a range (rangeEnd inclusive, rangeCount occurrences).
       */
      const assertCovered = (job: Job, runs: Run[]): void => {
        const described = runs
          .map(
            (r) =>
              `${r.scheduledFor.toISOString()} ${r.status}/${r.trigger}${r.rangeEnd ? ` through ${r.rangeEnd.toISOString()} (${r.rangeCount})` : ''}`,
          )
          .join('\n');
        let expected = runs[0]!.scheduledFor.getTime();
        for (const r of runs) {
          assert.equal(
            r.scheduledFor.getTime(),
            expected,
            `${job.name}: gap or overlap at ${new Date(expected).toISOString()}\n${described}`,
          );
          const end = r.rangeEnd?.getTime() ?? r.scheduledFor.getTime();
          if (r.rangeEnd) assert.equal(r.rangeCount, (end - r.scheduledFor.getTime()) / 1_000 + 1, `${job.name}: the range's count`);
          expected = end + 1_000;
        }
      };
      /** Runs recorded after the instances came back, in order; and the last one before they went down. */
      const split = async (job: Job): Promise<{ before: Run; afterUp: Run[] }> => {
        const runs = await allRuns(job.id);
        assertCovered(job, runs);
        // Runs the policy records after the restart either have no start (missed) or started after upAt.
        const before = runs.filter((r) => r.startedAt !== null && r.startedAt.getTime() < upAt).at(-1)!;
        assert.ok(before.scheduledFor.getTime() <= downAt);
        const afterUp = runs.filter((r) => r.scheduledFor.getTime() > before.scheduledFor.getTime());
        const described = runs.map((r) => `${r.scheduledFor.toISOString()} ${r.status}/${r.trigger}`).join('\n');
        assert.ok(afterUp.length >= 3, `${job.name}: ${afterUp.length} runs after the outage\n${described}`);
        // The occurrence right after the last run before the outage is the first one the policy handles.
        assert.equal(
          afterUp[0]!.scheduledFor.getTime() - before.scheduledFor.getTime(),
          1_000,
          `${job.name}: first missed occurrence\n${described}`,
        );
        return { before, afterUp };
      };
      /**
       * After the policy's decision the schedule goes on: every later occurrence runs. On a loaded machine one may start
       * more than the grace late; an instance was up then, so it still runs (a catch-up), it is not folded again.
       */
      const wentOn = (runs: Run[]): void => {
        for (const [i, r] of runs.entries()) {
          // The pause at the end may land after the last occurrence was claimed, before it started: that one is skipped.
          if (i === runs.length - 1 && r.status === 'skipped') assert.match(r.error ?? '', /paused before this occurrence started/);
          else assert.equal(r.status, 'succeeded', `${r.scheduledFor.toISOString()}: ${r.status}/${r.trigger} ${r.error}`);
        }
        assert.ok(runs.filter((r) => r.trigger === 'schedule').length >= 2, 'the schedule went on');
      };
      // The outage is 8 s of a 1 s schedule: at least 6 occurrences fell due while no instance ran.
      const outage = Math.floor((upAt - downAt) / 1_000) - 2;

      // run-once: the first missed occurrence runs (late, as a catch-up); the others up to the restart are one 'missed'
      // record naming their range; the schedule then continues from now.
      {
        const { afterUp } = await split(once);
        const [caughtUp, folded, ...rest] = afterUp;
        assert.equal(caughtUp!.trigger, 'catch-up');
        assert.equal(caughtUp!.status, 'succeeded');
        assert.ok(caughtUp!.startedAt!.getTime() >= upAt);
        assert.equal(folded!.status, 'missed');
        assert.equal(folded!.startedAt, null);
        assert.ok(folded!.rangeEnd && folded!.rangeCount! >= outage, `${folded!.rangeCount} occurrences folded`);
        assert.match(
          folded!.error ?? '',
          /^missed: no instance was running when it fell due .*; the missed policy run-once ran the one due at .* instead of it and \d+ later occurrence\(s\) through /,
        );
        assert.ok(rest[0]!.scheduledFor.getTime() >= upAt - 2_000, 'the occurrences in between were not run');
        wentOn(rest);
      }
      // skip: the missed occurrences are one 'missed' record for their range, nothing runs for them.
      {
        const { afterUp } = await split(skip);
        const [missed, ...rest] = afterUp;
        assert.equal(missed!.status, 'missed');
        assert.equal(missed!.startedAt, null);
        assert.ok(missed!.rangeEnd && missed!.rangeCount! >= outage, `${missed!.rangeCount} occurrences in the range`);
        assert.match(
          missed!.error ?? '',
          /^missed: no instance was running when it fell due .*; this record stands for \d+ occurrence\(s\) through .* \(missed policy skip\)$/,
        );
        assert.ok(rest[0]!.scheduledFor.getTime() >= upAt - 2_000);
        wentOn(rest);
      }
      // run-all, limit 3: the oldest missed occurrences beyond the limit are one missed record (its range); the last 3
      // are replayed, then the schedule goes on without a gap.
      {
        const { afterUp } = await split(all);
        const [missed, ...rest] = afterUp;
        assert.equal(missed!.status, 'missed');
        assert.match(missed!.error ?? '', /this and (\d+) later occurrence\(s\) through .* were not replayed \(run-all limit 3\)$/);
        assert.ok(missed!.rangeEnd && missed!.rangeCount! >= 2);
        assert.equal(rest[0]!.scheduledFor.getTime(), missed!.rangeEnd!.getTime() + 1_000, 'replay starts after the dropped ones');
        wentOn(rest);
        // The replayed ones are the last 3 that were more than the grace (2 s) late when the window was cut.
        for (const r of rest.slice(0, 3)) {
          assert.ok(r.scheduledFor.getTime() < readyAt, 'the replayed occurrences fell due while no instance ran');
          const lag = r.startedAt!.getTime() - r.scheduledFor.getTime();
          assert.ok(lag > 1_500, `replayed ${lag} ms late`);
          if (lag > 2_500) assert.equal(r.trigger, 'catch-up');
        }
        assert.ok(rest.filter((r) => r.trigger === 'catch-up').length >= 2);
      }
    });
  });
}
