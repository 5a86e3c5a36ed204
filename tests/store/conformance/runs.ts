import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Instance, Job, NewRun, Run, RunListQuery, RunStatus, Store } from '../../../lib/store/types';
import { allRunPages, at, freshStoreEachTest, newJob, newRun, runOrder, T, time, type Open } from './support';

export function runConformance(open: Open): void {
  describe('runs', () => {
    let store: Store;
    freshStoreEachTest(open, (fresh) => ({ store } = fresh));

    it('insertRun stores every field; a second run for the same occurrence is refused with null', T, async () => {
      const job = await store.createJob(newJob());
      const other = await store.createJob(newJob());
      const spec = newRun(job, {
        scheduledFor: at(60, 7),
        startedAt: at(60, 9),
        leaseExpiresAt: at(90),
        attempt: 2,
        trigger: 'catch-up',
        error: 'e',
        output: 'o',
      });
      const run = await store.insertRun(spec);
      assert.ok(run);
      assert.equal(typeof run.id, 'string');
      const { id, ...rest } = run;
      void id;
      assert.deepEqual(rest, { ...spec, cancel: null }, 'no cancel on a new run');
      assert.deepEqual(await store.getRun(run.id), run);
      assert.deepEqual(await store.getRunByOccurrence(job.id, at(60, 7)), run);
      assert.equal(await store.getRunByOccurrence(job.id, at(60, 8)), null, 'occurrences are exact to the millisecond');
      assert.equal(await store.getRunByOccurrence(other.id, at(60, 7)), null);

      assert.equal(await store.insertRun(newRun(job, { scheduledFor: at(60, 7), trigger: 'manual' })), null, 'occurrence taken');
      assert.equal((await store.getRun(run.id))?.trigger, 'catch-up', 'the refused insert changed nothing');
      assert.ok(await store.insertRun(newRun(other, { scheduledFor: at(60, 7) })), 'same time, other job: fine');
      assert.ok(await store.insertRun(newRun(job, { scheduledFor: at(60, 8) })), 'next millisecond: another occurrence');
      assert.equal(await store.getRun(randomUUID()), null);
    });

    it('concurrent inserts of one occurrence: exactly one run is created', T, async () => {
      const job = await store.createJob(newJob());
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.insertRun(newRun(job, { scheduledFor: at(300), instanceId: `instance-${i}` }))),
      );
      const created = results.filter((r): r is Run => r !== null);
      assert.equal(created.length, 1);
      const page = await store.listRuns({ limit: 50, jobId: job.id });
      assert.equal(page.items.length, 1);
      assert.equal(page.items[0]!.instanceId, created[0]!.instanceId);
    });

    it('updateRun applies the patch and returns the run; unknown id gives null', T, async () => {
      const job = await store.createJob(newJob());
      const run = await store.insertRun(newRun(job, { startedAt: at(60), leaseExpiresAt: at(90) }));
      assert.ok(run);
      const done = await store.updateRun(run.id, {
        status: 'failed',
        finishedAt: at(61, 500),
        error: 'boom',
        output: 'partial output',
        leaseExpiresAt: null,
        attempt: 3,
      });
      assert.ok(done);
      assert.equal(done.status, 'failed');
      assert.equal(time(done.finishedAt), time(at(61, 500)));
      assert.equal(done.error, 'boom');
      assert.equal(done.output, 'partial output');
      assert.equal(done.leaseExpiresAt, null);
      assert.equal(done.attempt, 3);
      assert.equal(time(done.startedAt), time(at(60)), 'fields outside the patch are kept');
      assert.equal(done.instanceId, 'instance-a');
      assert.deepEqual(await store.getRun(run.id), done);
      assert.equal(await store.updateRun(randomUUID(), { status: 'succeeded' }), null);
    });

    it('listRuns pages newest first (scheduledFor, then id), every run exactly once, with each filter', T, async () => {
      const jobA = await store.createJob(newJob({ name: 'A' }));
      const jobB = await store.createJob(newJob({ name: 'B' }));
      const statuses: RunStatus[] = ['succeeded', 'failed', 'running', 'skipped'];
      const specs: NewRun[] = [];
      for (let i = 0; i < 23; i++) {
        // Shared due times between the two jobs exercise the id tie-break.
        specs.push(
          newRun(jobA, { scheduledFor: at(10 * Math.floor(i / 2)), status: statuses[i % 4]!, instanceId: i % 3 === 0 ? 'i-1' : 'i-2' }),
        );
        if (i % 2 === 0)
          specs.push(newRun(jobB, { scheduledFor: at(10 * Math.floor(i / 2)), status: statuses[(i + 1) % 4]!, instanceId: null }));
      }
      const runs: Run[] = [];
      for (const spec of specs) {
        const run = await store.insertRun(spec);
        if (run) runs.push(run);
      }
      assert.equal(runs.length, specs.length - 11, 'odd i of job A repeats the previous occurrence and is refused');

      const cases: Array<[string, Omit<RunListQuery, 'cursor' | 'limit'>, (r: Run) => boolean]> = [
        ['all', {}, () => true],
        ['jobId', { jobId: jobA.id }, (r) => r.jobId === jobA.id],
        ['status', { status: 'succeeded' }, (r) => r.status === 'succeeded'],
        ['instanceId', { instanceId: 'i-1' }, (r) => r.instanceId === 'i-1'],
        ['from (inclusive)', { from: at(30) }, (r) => r.scheduledFor.getTime() >= at(30).getTime()],
        ['to (exclusive)', { to: at(30) }, (r) => r.scheduledFor.getTime() < at(30).getTime()],
        [
          'combined',
          { jobId: jobB.id, from: at(10), to: at(90) },
          (r) => r.jobId === jobB.id && r.scheduledFor >= at(10) && r.scheduledFor < at(90),
        ],
        ['nothing matches', { status: 'abandoned' }, () => false],
      ];
      for (const [name, filter, predicate] of cases) {
        const expected = runs
          .filter(predicate)
          .sort(runOrder)
          .map((r) => r.id);
        for (const limit of [1, 4, 7, 200]) {
          const { ids, pages } = await allRunPages(store, { ...filter, limit });
          assert.deepEqual(ids, expected, `${name}, limit ${limit}`);
          // A full last page already says "no more" (no trailing empty page).
          assert.equal(pages, Math.max(1, Math.ceil(expected.length / limit)), `${name}: page count`);
        }
      }
      const first = await store.listRuns({ limit: 3 });
      assert.deepEqual(first.items, runs.slice().sort(runOrder).slice(0, 3), 'items carry every field');
      assert.equal((await store.listRuns({ limit: 10, jobId: randomUUID() })).items.length, 0);
    });

    it('listRuns keyset pages stay exact when newer runs arrive while paging', T, async () => {
      const job = await store.createJob(newJob());
      const runs: Run[] = [];
      for (let i = 0; i < 10; i++) runs.push((await store.insertRun(newRun(job, { scheduledFor: at(i) })))!);
      const page1 = await store.listRuns({ limit: 4, jobId: job.id });
      await store.insertRun(newRun(job, { scheduledFor: at(100) }));
      await store.insertRun(newRun(job, { scheduledFor: at(101) }));
      const rest: string[] = [];
      let cursor = page1.nextCursor;
      while (cursor) {
        const page = await store.listRuns({ limit: 4, jobId: job.id, cursor });
        rest.push(...page.items.map((r) => r.id));
        cursor = page.nextCursor;
      }
      const expected = runs.sort(runOrder).map((r) => r.id);
      assert.deepEqual([...page1.items.map((r) => r.id), ...rest], expected);
    });

    it('listRuns rejects a malformed cursor', T, async () => {
      await assert.rejects(store.listRuns({ limit: 5, cursor: 'garbage!' }));
      await assert.rejects(store.listJobs({ limit: 5, cursor: 'garbage!' }));
    });

    it('updateRun with an owner guard writes only while the run is still that attempt of that instance', T, async () => {
      const job = await store.createJob(newJob());
      const run = (await store.insertRun(newRun(job, { status: 'running', instanceId: 'i-a', attempt: 1, leaseExpiresAt: at(100) })))!;
      assert.equal(await store.updateRun(run.id, { leaseExpiresAt: at(200) }, { attempt: 1, instanceId: 'i-b' }), null, 'other instance');
      assert.equal(await store.updateRun(run.id, { leaseExpiresAt: at(200) }, { attempt: 2, instanceId: 'i-a' }), null, 'other attempt');
      assert.equal(time((await store.getRun(run.id))!.leaseExpiresAt), time(at(100)), 'refused writes changed nothing');
      const renewed = await store.updateRun(run.id, { leaseExpiresAt: at(200) }, { attempt: 1, instanceId: 'i-a' });
      assert.equal(time(renewed?.leaseExpiresAt ?? null), time(at(200)));
      await store.updateRun(run.id, { status: 'succeeded', leaseExpiresAt: null }, { attempt: 1, instanceId: 'i-a' });
      assert.equal(
        await store.updateRun(run.id, { error: 'late' }, { attempt: 1, instanceId: 'i-a' }),
        null,
        'a finished run is not running',
      );
      assert.equal((await store.getRun(run.id))!.error, null);
    });

    it(
      'retryRun keeps the failed attempt and leaves the run retrying; claimRetry starts the next attempt for exactly one claimer',
      T,
      async () => {
        const job = await store.createJob(newJob());
        const run = (await store.insertRun(
          newRun(job, { status: 'running', instanceId: 'i-a', attempt: 1, startedAt: at(10), leaseExpiresAt: at(100) }),
        ))!;
        const ended = { status: 'failed' as const, finishedAt: at(20), error: 'boom', output: 'out-1', waiting: 'attempt 2 at later' };
        assert.equal(await store.retryRun(run.id, { attempt: 1, instanceId: 'i-b' }, ended), null, 'not the owner');
        assert.equal(await store.retryRun(run.id, { attempt: 2, instanceId: 'i-a' }, ended), null, 'not the attempt');
        assert.deepEqual(await store.listRunAttempts(run.id), []);
        const waiting = await store.retryRun(run.id, { attempt: 1, instanceId: 'i-a' }, ended);
        assert.ok(waiting);
        assert.deepEqual(
          [
            waiting.status,
            waiting.attempt,
            waiting.instanceId,
            waiting.startedAt,
            waiting.finishedAt,
            waiting.leaseExpiresAt,
            waiting.error,
            waiting.output,
          ],
          ['retrying', 2, null, null, null, null, 'attempt 2 at later', null],
        );
        assert.deepEqual(await store.getRun(run.id), waiting);
        const history = await store.listRunAttempts(run.id);
        assert.deepEqual(
          history.map((a) => ({ ...a, startedAt: time(a.startedAt), finishedAt: time(a.finishedAt) })),
          [
            {
              attempt: 1,
              instanceId: 'i-a',
              startedAt: time(at(10)),
              finishedAt: time(at(20)),
              status: 'failed',
              error: 'boom',
              output: 'out-1',
            },
          ],
        );
        // The former attempt's owner can write nothing any more, and a waiting run is neither active nor expired.
        assert.equal(await store.updateRun(run.id, { status: 'succeeded' }, { attempt: 1, instanceId: 'i-a' }), null);
        assert.equal(await store.retryRun(run.id, { attempt: 1, instanceId: 'i-a' }, ended), null, 'already retried');
        assert.equal(await store.countActiveRuns(job.id, at(0)), 0);
        assert.deepEqual(await store.listExpiredRuns(at(1_000), 10), []);

        assert.equal(await store.claimRetry(run.id, 3, { instanceId: 'x', at: at(30), leaseExpiresAt: at(60) }), null, 'wrong attempt');
        const claims = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            store.claimRetry(run.id, 2, { instanceId: `claimer-${i}`, at: at(30), leaseExpiresAt: at(60) }),
          ),
        );
        const winners = claims.filter((r) => r !== null);
        assert.equal(winners.length, 1);
        const started = winners[0]!;
        assert.deepEqual(
          [started.status, started.attempt, time(started.startedAt), time(started.leaseExpiresAt)],
          ['running', 2, time(at(30)), time(at(60))],
        );
        assert.match(started.instanceId ?? '', /^claimer-\d$/);
        assert.equal(
          await store.claimRetry(run.id, 2, { instanceId: 'late', at: at(31), leaseExpiresAt: at(61) }),
          null,
          'already started',
        );
        // The new attempt can be retried in turn: the history grows.
        await store.retryRun(
          run.id,
          { attempt: 2, instanceId: started.instanceId },
          { ...ended, status: 'timed-out', finishedAt: at(40), error: 'slow' },
        );
        assert.deepEqual(
          (await store.listRunAttempts(run.id)).map((a) => [a.attempt, a.status, a.instanceId, time(a.startedAt)]),
          [
            [1, 'failed', 'i-a', time(at(10))],
            [2, 'timed-out', started.instanceId, time(at(30))],
          ],
        );
        assert.equal(await store.retryRun('00000000-0000-4000-8000-000000000000', { attempt: 1, instanceId: 'i-a' }, ended), null);
        assert.equal(
          await store.claimRetry('00000000-0000-4000-8000-000000000000', 2, { instanceId: 'x', at: at(1), leaseExpiresAt: at(2) }),
          null,
        );
      },
    );

    it('listRuns jobSearch: case-insensitive literal substring of current, earlier and deleted job names, pages exactly', T, async () => {
      const backup = await store.createJob(newJob({ name: 'Nightly Backup' }));
      const weekly = await store.createJob(newJob({ name: 'backup-weekly' }));
      const pct = await store.createJob(newJob({ name: 'report_100%' }));
      const gone = await store.createJob(newJob({ name: 'old BACKUP job' }));
      const renamed = await store.createJob(newJob({ name: 'cleanup' }));
      const runs: Run[] = [];
      for (let i = 0; i < 5; i++) {
        for (const [k, job] of [backup, weekly, pct, gone, renamed].entries()) {
          runs.push((await store.insertRun(newRun(job, { scheduledFor: at(i * 10 + (k % 2)), status: i % 2 ? 'failed' : 'succeeded' })))!);
        }
      }
      await store.deleteJob(gone.id);
      // Runs recorded as "cleanup"; then the job is renamed and runs once more under the new name.
      const moved = (await store.updateJob(renamed.id, { name: 'tidy' }))!;
      runs.push((await store.insertRun(newRun(moved, { scheduledFor: at(100) })))!);

      const expect = async (
        text: string,
        jobs: Job[],
        extra: Omit<RunListQuery, 'limit' | 'cursor' | 'jobSearch'> = {},
        filter: (r: Run) => boolean = () => true,
      ): Promise<void> => {
        const ids = new Set(jobs.map((j) => j.id));
        const expected = runs
          .filter((r) => ids.has(r.jobId) && filter(r))
          .sort(runOrder)
          .map((r) => r.id);
        for (const limit of [2, 50]) {
          const { ids: got } = await allRunPages(store, { ...extra, jobSearch: text, limit });
          assert.deepEqual(got, expected, `"${text}" limit ${limit}`);
        }
      };
      await expect('backup', [backup, weekly, gone]);
      await expect('BACKUP', [backup, weekly, gone]);
      await expect('old b', [gone], {}, () => true);
      await expect('_100%', [pct]);
      await expect('%', [pct]);
      await expect('_', [pct]);
      await expect('.*', []);
      await expect('cleanup', [renamed], {}, () => true);
      await expect('tidy', [renamed]);
      await expect('backup', [backup, weekly, gone], { status: 'failed' }, (r) => r.status === 'failed');
      await expect('backup', [backup], { jobId: backup.id });
      await expect('backup', [], { jobId: pct.id });
      await expect(
        'backup',
        [backup, weekly, gone],
        { from: at(10), to: at(31) },
        (r) => r.scheduledFor >= at(10) && r.scheduledFor < at(31),
      );
      await expect('no such job', []);
    });

    it('runStats: counts per status and duration percentiles per bucket of scheduledFor, only buckets with runs', T, async () => {
      const job = await store.createJob(newJob());
      const other = await store.createJob(newJob());
      const finished = (s: number, ms: number, status: RunStatus = 'succeeded'): NewRun =>
        newRun(job, { scheduledFor: at(s), startedAt: at(s, 5), finishedAt: at(s, 5 + ms), status });
      // Bucket [0, 60): four durations 100..400 ms and a run without timestamps.
      for (const [i, ms] of [300, 100, 400, 200].entries()) await store.insertRun(finished(i * 10, ms, i === 3 ? 'failed' : 'succeeded'));
      await store.insertRun(newRun(job, { scheduledFor: at(59, 999), status: 'missed' }));
      // Bucket [120, 180): one running run (no duration yet); [60, 120) stays empty.
      await store.insertRun(newRun(job, { scheduledFor: at(120), startedAt: at(120), status: 'running' }));
      // Bucket [180, 240): a single duration.
      await store.insertRun(finished(239, 42, 'timed-out'));
      // Outside [from, to) or another job.
      await store.insertRun(finished(-1, 1));
      await store.insertRun(finished(240, 1));
      await store.insertRun(newRun(other, { scheduledFor: at(1), startedAt: at(1), finishedAt: at(2), status: 'failed' }));

      const stats = await store.runStats({ from: at(0), to: at(240), bucketSeconds: 60, jobId: job.id });
      assert.equal(stats.length, 3);
      assert.deepEqual(
        stats.map((b) => b.bucketStart.toISOString()),
        [at(0), at(120), at(180)].map((d) => d.toISOString()),
      );
      assert.deepEqual(stats[0]!.counts, { succeeded: 3, failed: 1, missed: 1 });
      // percentile_cont: 100, 200, 300, 400 -> p50 250, p95 = 300 + 0.85 * 100.
      assert.ok(Math.abs(stats[0]!.durationP50Ms! - 250) < 1e-6, String(stats[0]!.durationP50Ms));
      assert.ok(Math.abs(stats[0]!.durationP95Ms! - 385) < 1e-6, String(stats[0]!.durationP95Ms));
      assert.deepEqual(stats[1], { bucketStart: at(120), counts: { running: 1 }, durationP50Ms: null, durationP95Ms: null });
      assert.deepEqual(stats[2]!.counts, { 'timed-out': 1 });
      assert.equal(stats[2]!.durationP50Ms, 42);
      assert.equal(stats[2]!.durationP95Ms, 42);

      const all = await store.runStats({ from: at(0), to: at(60), bucketSeconds: 60 });
      assert.equal(all.length, 1);
      assert.deepEqual(all[0]!.counts, { succeeded: 3, failed: 2, missed: 1 }, 'every job without jobId');
      // Buckets align to `from`, not to the epoch.
      const shifted = await store.runStats({ from: at(5), to: at(65), bucketSeconds: 30, jobId: job.id });
      assert.deepEqual(
        shifted.map((b) => [b.bucketStart.toISOString(), b.counts]),
        [
          [at(5).toISOString(), { succeeded: 2, failed: 1 }],
          [at(35).toISOString(), { missed: 1 }],
        ],
      );
      assert.deepEqual(await store.runStats({ from: at(1000), to: at(2000), bucketSeconds: 60 }), []);
    });

    it('countRunsByInstance, countActiveRuns, pruneRuns, pruneInstances', T, async () => {
      const job = await store.createJob(newJob());
      const other = await store.createJob(newJob());
      await store.insertRun(newRun(job, { scheduledFor: at(1), startedAt: at(99, 999), instanceId: 'i-a' }));
      for (let i = 0; i < 3; i++)
        await store.insertRun(newRun(job, { scheduledFor: at(10 + i), startedAt: at(100 + i), instanceId: 'i-b' }));
      await store.insertRun(newRun(job, { scheduledFor: at(20), startedAt: at(100), instanceId: 'i-a' }));
      await store.insertRun(newRun(other, { scheduledFor: at(20), startedAt: at(150), instanceId: 'i-c' }));
      await store.insertRun(newRun(other, { scheduledFor: at(21), startedAt: null, instanceId: 'i-d', status: 'skipped' }));
      await store.insertRun(newRun(other, { scheduledFor: at(22), startedAt: at(150), instanceId: null }));
      assert.deepEqual(await store.countRunsByInstance(at(100)), [
        { instanceId: 'i-b', count: 3 },
        { instanceId: 'i-a', count: 1 },
        { instanceId: 'i-c', count: 1 },
      ]);
      assert.deepEqual(await store.countRunsByInstance(at(1000)), []);

      const active = await store.createJob(newJob());
      await store.insertRun(newRun(active, { scheduledFor: at(1), status: 'running', leaseExpiresAt: at(500) }));
      await store.insertRun(newRun(active, { scheduledFor: at(2), status: 'running', leaseExpiresAt: at(500, 1) }));
      await store.insertRun(newRun(active, { scheduledFor: at(3), status: 'running', leaseExpiresAt: at(499) }));
      await store.insertRun(newRun(active, { scheduledFor: at(4), status: 'succeeded', leaseExpiresAt: at(900) }));
      await store.insertRun(newRun(active, { scheduledFor: at(5), status: 'running', leaseExpiresAt: null }));
      assert.equal(await store.countActiveRuns(active.id, at(500)), 1, 'lease must expire after now');
      assert.equal(await store.countActiveRuns(active.id, at(499, 500)), 2);
      assert.equal(await store.countActiveRuns(other.id, at(0)), 0, 'running runs without a lease do not count');
      assert.equal(await store.countActiveRuns(randomUUID(), at(0)), 0);

      const old = await store.createJob(newJob());
      const kept: string[] = [];
      const prunable: Run[] = [];
      for (let i = 0; i < 7; i++)
        prunable.push((await store.insertRun(newRun(old, { scheduledFor: at(-100 + i), status: i % 2 ? 'failed' : 'succeeded' })))!);
      kept.push((await store.insertRun(newRun(old, { scheduledFor: at(-200), status: 'running' })))!.id);
      kept.push((await store.insertRun(newRun(old, { scheduledFor: at(-300), status: 'retrying' })))!.id);
      kept.push((await store.insertRun(newRun(old, { scheduledFor: at(0), status: 'succeeded' })))!.id);
      assert.equal(await store.pruneRuns(at(0), 3), 3);
      const left = async (): Promise<string[]> => (await allRunPages(store, { jobId: old.id, limit: 50 })).ids.sort();
      assert.deepEqual(await left(), [...kept, ...prunable.slice(3).map((r) => r.id)].sort(), 'the three oldest went first');
      assert.equal(await store.pruneRuns(at(0), 100), 4);
      assert.deepEqual(await left(), kept.slice().sort(), 'running, retrying and not-older runs stay');
      assert.equal(await store.pruneRuns(at(0), 100), 0);

      const base: Instance = {
        id: 'x',
        host: 'h',
        pid: 1,
        version: '1',
        startedAt: at(0),
        lastSeenAt: at(0),
        clockSkewMs: 0,
        stoppedAt: null,
        aliveSince: at(0),
      };
      await store.upsertInstance({ ...base, id: 'stale-1', lastSeenAt: at(10) });
      await store.upsertInstance({ ...base, id: 'stale-2', lastSeenAt: at(19, 999) });
      await store.upsertInstance({ ...base, id: 'fresh', lastSeenAt: at(20) });
      assert.equal(await store.pruneInstances(at(20)), 2);
      assert.deepEqual(
        (await store.listInstances()).map((i) => i.id),
        ['fresh'],
      );
    });
  });
}
