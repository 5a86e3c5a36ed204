import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Instance, Run, Store } from '../../../lib/store/types';
import { at, freshStoreEachTest, newJob, newRun, T, time, type ConformanceTarget, type Open } from './support';

export function claimConformance(open: Open): void {
  describe('claims and leases', () => {
    let target: ConformanceTarget;
    let store: Store;
    freshStoreEachTest(open, (fresh) => {
      target = fresh;
      store = fresh.store;
    });

    it(
      'claimOccurrence: records the occurrence and moves the pointer in one step; a second claimer, a stale version or a paused job get nothing',
      T,
      async () => {
        const job = await store.createJob(newJob({ nextRunAt: at(60) }));
        const own = newRun(job, { scheduledFor: at(60), status: 'claimed', leaseExpiresAt: at(70) });
        const claim = { jobId: job.id, expected: { version: job.version, nextRunAt: at(60) }, nextRunAt: at(120), runs: [own] };
        const result = await store.claimOccurrence(claim);
        assert.equal(result.outcome, 'claimed');
        const run = result.outcome === 'claimed' ? result.run : null;
        assert.ok(run);
        const { id, ...rest } = run;
        assert.ok(id);
        assert.deepEqual(rest, { ...own, rangeEnd: null, rangeCount: null, cancel: null }, 'the record as written');
        assert.deepEqual(await store.getRunByOccurrence(job.id, at(60)), run);
        assert.equal(time((await store.getJob(job.id))!.nextRunAt), time(at(120)), 'the pointer moved');
        assert.equal((await store.getJob(job.id))!.version, job.version, 'a claim is not an edit');

        assert.deepEqual(
          await store.claimOccurrence({ ...claim, runs: [{ ...own, instanceId: 'instance-b' }] }),
          { outcome: 'stale' },
          'second claimer',
        );
        assert.equal((await store.getRunByOccurrence(job.id, at(60)))!.instanceId, 'instance-a');
        const next = {
          jobId: job.id,
          expected: { version: job.version + 1, nextRunAt: at(120) },
          nextRunAt: at(180),
          runs: [newRun(job, { scheduledFor: at(120), status: 'claimed' })],
        };
        assert.deepEqual(await store.claimOccurrence(next), { outcome: 'stale' }, 'stale version');
        assert.equal(await store.getRunByOccurrence(job.id, at(120)), null, 'nothing written');
        assert.equal(time((await store.getJob(job.id))!.nextRunAt), time(at(120)));

        // An occurrence recorded already while the pointer still points at it (a claimer that died between two writes).
        await store.insertRun(newRun(job, { scheduledFor: at(120), status: 'claimed', instanceId: 'dead' }));
        assert.deepEqual(await store.claimOccurrence({ ...next, expected: { version: job.version, nextRunAt: at(120) } }), {
          outcome: 'taken',
        });
        assert.equal(time((await store.getJob(job.id))!.nextRunAt), time(at(120)), 'taken: the pointer stays');
        assert.equal((await store.getRunByOccurrence(job.id, at(120)))!.instanceId, 'dead', 'and the record too');

        const paused = await store.createJob(newJob({ nextRunAt: at(60) }));
        await store.updateJob(paused.id, { paused: true });
        assert.deepEqual(
          await store.claimOccurrence({
            jobId: paused.id,
            expected: { version: paused.version + 1, nextRunAt: at(60) },
            nextRunAt: at(120),
            runs: [newRun(paused, { status: 'claimed' })],
          }),
          { outcome: 'stale' },
          'paused',
        );
        assert.equal(await store.getRunByOccurrence(paused.id, at(60)), null);
        assert.deepEqual(await store.claimOccurrence({ ...claim, jobId: randomUUID() }), { outcome: 'stale' }, 'no such job');
      },
    );

    it('claimOccurrence writes a range record with the claim; concurrent claims of one occurrence: exactly one wins', T, async () => {
      const job = await store.createJob(newJob({ nextRunAt: at(60), missedPolicy: 'run-once' }));
      const own = newRun(job, { scheduledFor: at(60), status: 'claimed', trigger: 'catch-up' });
      const fold = newRun(job, {
        scheduledFor: at(120),
        status: 'missed',
        finishedAt: at(400),
        error: 'folded',
        rangeEnd: at(360),
        rangeCount: 5,
      });
      const result = await store.claimOccurrence({
        jobId: job.id,
        expected: { version: job.version, nextRunAt: at(60) },
        nextRunAt: at(420),
        runs: [own, fold],
      });
      assert.equal(result.outcome, 'claimed');
      const range = await store.getRunByOccurrence(job.id, at(120));
      assert.ok(range);
      assert.equal(range.status, 'missed');
      assert.equal(time(range.rangeEnd), time(at(360)));
      assert.equal(range.rangeCount, 5);
      assert.equal(time((await store.getJob(job.id))!.nextRunAt), time(at(420)));
      const listed = (await store.listRuns({ jobId: job.id, limit: 10 })).items;
      assert.deepEqual(
        listed.map((r) => [r.status, r.rangeCount]),
        [
          ['missed', 5],
          ['claimed', null],
        ],
        'both records, ranges listed',
      );

      const raced = await store.createJob(newJob({ nextRunAt: at(60) }));
      const claimers = [store, target.another ? await target.another() : store];
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          claimers[i % 2]!.claimOccurrence({
            jobId: raced.id,
            expected: { version: raced.version, nextRunAt: at(60) },
            nextRunAt: at(120),
            runs: [newRun(raced, { status: 'claimed', instanceId: `instance-${i}` })],
          }),
        ),
      );
      const winners = results.filter((r) => r.outcome === 'claimed');
      assert.equal(winners.length, 1, JSON.stringify(results.map((r) => r.outcome)));
      assert.equal((await store.listRuns({ jobId: raced.id, limit: 10 })).items.length, 1);
    });

    it(
      'startRun: only the claimer, only in order, and not after a pause or delete; takeOverClaim only once the lease expired',
      T,
      async () => {
        // Occurrences in the past: PostgreSQL also judges "not due yet" on its own clock.
        const past = (s: number): Date => new Date(Date.parse('2020-01-01T00:00:00.000Z') + s * 1000);
        const job = await store.createJob(newJob({ nextRunAt: past(60), schedule: { kind: 'interval', seconds: 60 }, anchorAt: past(0) }));
        const claims: Run[] = [];
        for (const [i, s] of [60, 120, 180].entries()) {
          const r = await store.claimOccurrence({
            jobId: job.id,
            expected: { version: job.version, nextRunAt: past(s) },
            nextRunAt: past(s + 60),
            runs: [
              newRun(job, {
                scheduledFor: past(s),
                status: 'claimed',
                instanceId: i === 0 ? 'slow' : 'instance-a',
                leaseExpiresAt: past(s + 10),
              }),
            ],
          });
          assert.equal(r.outcome, 'claimed');
          if (r.outcome === 'claimed') claims.push(r.run);
        }
        const start = { at: past(200), queued: false, leaseExpiresAt: past(230), trigger: 'schedule' as const };
        assert.deepEqual(
          await store.startRun(claims[1]!, 'instance-a', start),
          { outcome: 'waiting', reason: 'earlier' },
          'an earlier occurrence is still claimed',
        );
        assert.deepEqual(await store.startRun(claims[0]!, 'instance-a', start), { outcome: 'lost' }, 'not the claimer');
        assert.equal(
          await store.takeOverClaim(
            claims[0]!.id,
            { instanceId: 'slow', leaseExpiredBefore: past(60) },
            { instanceId: 'instance-a', leaseExpiresAt: past(300) },
          ),
          null,
          'lease not expired yet',
        );
        assert.equal(
          await store.takeOverClaim(
            claims[0]!.id,
            { instanceId: 'other', leaseExpiredBefore: past(200) },
            { instanceId: 'instance-a', leaseExpiresAt: past(300) },
          ),
          null,
          'another claimer',
        );
        const taken = await store.takeOverClaim(
          claims[0]!.id,
          { instanceId: 'slow', leaseExpiredBefore: past(200) },
          { instanceId: 'instance-a', leaseExpiresAt: past(300) },
        );
        assert.ok(taken);
        assert.equal(taken.status, 'claimed');
        assert.equal(taken.instanceId, 'instance-a');
        assert.equal(time(taken.leaseExpiresAt), time(past(300)));
        assert.equal(
          await store.takeOverClaim(
            claims[0]!.id,
            { instanceId: 'slow', leaseExpiredBefore: past(400) },
            { instanceId: 'instance-b', leaseExpiresAt: past(500) },
          ),
          null,
          'exactly one taker',
        );
        assert.deepEqual(
          await store.startRun(claims[0]!, 'slow', start),
          { outcome: 'lost' },
          'the former claimer wakes up: not its own any more',
        );

        const first = await store.startRun(claims[0]!, 'instance-a', { ...start, trigger: 'catch-up' });
        assert.equal(first.outcome, 'started');
        if (first.outcome === 'started') {
          assert.equal(first.run.status, 'running');
          assert.equal(first.run.trigger, 'catch-up');
          // The instance's estimate (MongoDB) or the database's own time of the write (PostgreSQL): due, and not ahead.
          assert.ok(first.run.startedAt && first.run.startedAt.getTime() >= claims[0]!.scheduledFor.getTime());
          assert.ok(first.run.startedAt.getTime() <= (await store.now()).getTime() + 1_000);
          assert.equal(time(first.run.leaseExpiresAt), time(past(230)));
        }
        assert.deepEqual(await store.startRun(claims[0]!, 'instance-a', start), { outcome: 'lost' }, 'started once');
        const second = await store.startRun(claims[1]!, 'instance-a', { ...start, queued: true });
        assert.equal(second.outcome, 'started', 'in order now');
        if (second.outcome === 'started') assert.equal(second.run.startedAt, null, 'queued: waiting for its turn, not started');

        await store.updateJob(job.id, { paused: true });
        const closed = await store.getRun(claims[2]!.id);
        assert.equal(closed!.status, 'skipped', 'a pause closes the claims not started');
        assert.match(closed!.error ?? '', /paused/);
        assert.ok(closed!.finishedAt);
        assert.equal(closed!.leaseExpiresAt, null);
        assert.deepEqual(await store.startRun(claims[2]!, 'instance-a', start), { outcome: 'lost' });
        assert.equal((await store.getRun(claims[1]!.id))!.status, 'running', 'a started run is not touched');

        const gone = await store.createJob(newJob({ nextRunAt: past(60) }));
        const c = await store.claimOccurrence({
          jobId: gone.id,
          expected: { version: gone.version, nextRunAt: past(60) },
          nextRunAt: past(120),
          runs: [newRun(gone, { scheduledFor: past(60), status: 'claimed' })],
        });
        assert.equal(c.outcome, 'claimed');
        assert.equal(await store.deleteJob(gone.id), true);
        const left = await store.getRunByOccurrence(gone.id, past(60));
        assert.equal(left!.status, 'skipped', 'a delete closes them too (the run record stays)');
        assert.match(left!.error ?? '', /deleted/);
      },
    );

    // A claim still on its way when the pause returns (MongoDB: its record written, its compare-and-set not yet) ends
    // in a record that never starts: the claimer's compare-and-set fails and it takes the record back. So the claims are
    // awaited before looking.
    it('claims racing a pause: once it and the claims returned, no claim of the job is left to start', T, async () => {
      const past = (s: number): Date => new Date(Date.parse('2020-01-01T00:00:00.000Z') + s * 1000);
      const writers = [store, target.another ? await target.another() : store];
      let before = 0;
      let after = 0;
      for (let round = 0; round < 16; round++) {
        const jobs = await Promise.all(Array.from({ length: 6 }, () => store.createJob(newJob({ nextRunAt: past(60) }))));
        const deleting = round % 3 === 2;
        const stop = (): Promise<unknown> =>
          Promise.all(jobs.map((job) => (deleting ? writers[1]!.deleteJob(job.id) : writers[1]!.updateJob(job.id, { paused: true }))));
        // Every fourth round the pause is sent first (some claims come after it); the others 0-2 ms after the claims.
        const early = round % 4 === 3 ? stop() : null;
        const claims = jobs.map((job, i) =>
          writers[i % 2]!.claimOccurrence({
            jobId: job.id,
            expected: { version: job.version, nextRunAt: past(60) },
            nextRunAt: past(120),
            runs: [newRun(job, { scheduledFor: past(60), status: 'claimed', instanceId: 'claimer' })],
          }),
        );
        if (early) await early;
        else {
          await new Promise((resolve) => setTimeout(resolve, round % 4));
          await stop();
        }
        for (const [i, job] of jobs.entries()) {
          const result = await claims[i]!;
          const run = await store.getRunByOccurrence(job.id, past(60));
          assert.notEqual(run?.status, 'claimed', `round ${round}: a claim survived the ${deleting ? 'delete' : 'pause'}`);
          if (result.outcome === 'claimed') {
            before++;
            assert.deepEqual(
              await store.startRun(result.run, 'claimer', { at: past(61), queued: false, leaseExpiresAt: past(90), trigger: 'schedule' }),
              { outcome: 'lost' },
            );
          } else after++;
        }
      }
      assert.ok(before > 0 && after > 0, `some claims landed before the pause (${before}), some after (${after})`);
    });

    it('renewLeases and releaseRuns: only runs the instance holds, as that attempt; listExpiredRuns finds claims too', T, async () => {
      const job = await store.createJob(newJob());
      const claimed = (await store.insertRun(newRun(job, { scheduledFor: at(1), status: 'claimed', leaseExpiresAt: at(5) })))!;
      const running = (await store.insertRun(newRun(job, { scheduledFor: at(2), status: 'running', attempt: 2, leaseExpiresAt: at(5) })))!;
      const finished = (await store.insertRun(newRun(job, { scheduledFor: at(3), status: 'succeeded', leaseExpiresAt: null })))!;
      const others = (await store.insertRun(
        newRun(job, { scheduledFor: at(4), status: 'running', instanceId: 'instance-b', leaseExpiresAt: at(5) }),
      ))!;
      const held = [claimed, running, finished, others].map((r) => ({ id: r.id, attempt: r.attempt }));
      const renewal = await store.renewLeases('instance-a', held, at(50));
      assert.deepEqual(renewal.renewed.sort(), [claimed.id, running.id].sort());
      assert.deepEqual(renewal.cancelRequested, [], 'no cancel requested');
      assert.deepEqual(
        await store.renewLeases('instance-a', [{ id: running.id, attempt: 1 }], at(60)),
        { renewed: [], cancelRequested: [] },
        'another attempt',
      );
      assert.equal(time((await store.getRun(running.id))!.leaseExpiresAt), time(at(50)));
      assert.equal(time((await store.getRun(others.id))!.leaseExpiresAt), time(at(5)), "another instance's run untouched");
      assert.equal(time((await store.getRun(finished.id))!.leaseExpiresAt), null);
      assert.deepEqual(await store.renewLeases('instance-a', [], at(50)), { renewed: [], cancelRequested: [] });

      assert.deepEqual(
        (await store.listExpiredRuns(at(40), 10)).map((r) => r.id),
        [others.id],
      );
      assert.deepEqual(
        (await store.listExpiredRuns(at(51), 10)).map((r) => r.id).sort(),
        [claimed.id, running.id, others.id].sort(),
        'claimed and running',
      );
      assert.equal(await store.releaseRuns('instance-a', held, at(20), 'instance-a shut down'), 2);
      const released = await store.getRun(running.id);
      assert.equal(time(released!.leaseExpiresAt), time(at(20)));
      assert.equal(released!.error, 'instance-a shut down');
      assert.equal(released!.status, 'running', 'still running: for a takeover');
      assert.equal((await store.getRun(claimed.id))!.status, 'claimed');
      assert.equal(await store.releaseRuns('instance-b', [{ id: claimed.id, attempt: 1 }], at(20)), 0, 'not held by instance-b');
      assert.equal(await store.pruneRuns(at(100), 10), 1, 'only the finished run is prunable');
      assert.equal(await store.getRun(finished.id), null);
    });

    it(
      'anyInstanceAliveAt: an instance heartbeating without a gap since before the time, seen after it, not stopped before it',
      T,
      async () => {
        const base: Instance = {
          id: 'x',
          host: 'h',
          pid: 1,
          version: '1',
          startedAt: at(0),
          lastSeenAt: at(100),
          clockSkewMs: 0,
          stoppedAt: null,
          aliveSince: at(10),
        };
        assert.equal(await store.anyInstanceAliveAt(at(50)), false, 'no instances');
        await store.upsertInstance({ ...base, id: 'up' });
        assert.equal(await store.anyInstanceAliveAt(at(50)), true);
        assert.equal(await store.anyInstanceAliveAt(at(10)), true, 'from aliveSince (inclusive)');
        assert.equal(await store.anyInstanceAliveAt(at(100)), true, 'through lastSeenAt (inclusive)');
        assert.equal(await store.anyInstanceAliveAt(at(5)), false, 'before its current run of heartbeats (a freeze, a restart)');
        assert.equal(await store.anyInstanceAliveAt(at(101)), false, 'not seen since');
        await store.upsertInstance({ ...base, id: 'up', lastSeenAt: at(100), stoppedAt: at(40) });
        assert.equal(await store.anyInstanceAliveAt(at(50)), false, 'stopped before');
        assert.equal(await store.anyInstanceAliveAt(at(30)), true, 'stopped after');
      },
    );

    it('listExpiredRuns: running runs whose lease expired before the cut-off', T, async () => {
      const job = await store.createJob(newJob());
      const expired1 = await store.insertRun(newRun(job, { scheduledFor: at(1), status: 'running', leaseExpiresAt: at(100) }));
      const expired2 = await store.insertRun(newRun(job, { scheduledFor: at(2), status: 'running', leaseExpiresAt: at(199, 999) }));
      await store.insertRun(newRun(job, { scheduledFor: at(3), status: 'running', leaseExpiresAt: at(200) }));
      await store.insertRun(newRun(job, { scheduledFor: at(4), status: 'running', leaseExpiresAt: at(300) }));
      await store.insertRun(newRun(job, { scheduledFor: at(5), status: 'succeeded', leaseExpiresAt: at(50) }));
      await store.insertRun(newRun(job, { scheduledFor: at(6), status: 'failed', leaseExpiresAt: at(50) }));
      const ids = (await store.listExpiredRuns(at(200), 50)).map((r) => r.id).sort();
      assert.deepEqual(ids, [expired1!.id, expired2!.id].sort());
      assert.equal((await store.listExpiredRuns(at(200), 1)).length, 1);
      await store.updateRun(expired1!.id, { status: 'abandoned', leaseExpiresAt: null });
      assert.deepEqual(
        (await store.listExpiredRuns(at(200), 50)).map((r) => r.id),
        [expired2!.id],
      );
    });

    it(
      'takeOverRun: the expired attempt goes to the history with outcome unknown, the run becomes attempt + 1, exactly one taker',
      T,
      async () => {
        const job = await store.createJob(newJob());
        const run = (await store.insertRun(
          newRun(job, { status: 'running', instanceId: 'dead', attempt: 1, startedAt: at(10), leaseExpiresAt: at(100), output: 'half' }),
        ))!;
        const takeover = (instanceId: string) => ({ instanceId, at: at(105), leaseExpiresAt: at(135), error: 'dead stopped renewing' });
        assert.equal(
          await store.takeOverRun(run.id, { attempt: 1, leaseExpiredBefore: at(100) }, takeover('x')),
          null,
          'lease not expired yet',
        );
        assert.equal(await store.takeOverRun(run.id, { attempt: 2, leaseExpiredBefore: at(200) }, takeover('x')), null, 'wrong attempt');
        assert.deepEqual(await store.listRunAttempts(run.id), []);
        // Many instances race for the same expired run: one wins.
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            store.takeOverRun(run.id, { attempt: 1, leaseExpiredBefore: at(104) }, takeover(`taker-${i}`)),
          ),
        );
        const winners = results.filter((r) => r !== null);
        assert.equal(winners.length, 1);
        const taken = winners[0]!;
        assert.equal(taken.id, run.id);
        assert.equal(taken.attempt, 2);
        assert.equal(taken.status, 'running');
        assert.match(taken.instanceId ?? '', /^taker-\d$/);
        assert.equal(time(taken.startedAt), time(at(105)));
        assert.equal(time(taken.leaseExpiresAt), time(at(135)));
        assert.equal(taken.finishedAt, null);
        assert.equal(taken.output, null);
        assert.equal(time(taken.scheduledFor), time(run.scheduledFor), 'same occurrence');
        assert.deepEqual(await store.getRun(run.id), taken);
        const history = await store.listRunAttempts(run.id);
        assert.equal(history.length, 1);
        assert.deepEqual(
          { ...history[0]!, startedAt: time(history[0]!.startedAt), finishedAt: time(history[0]!.finishedAt) },
          {
            attempt: 1,
            instanceId: 'dead',
            startedAt: time(at(10)),
            finishedAt: time(at(105)),
            status: 'unknown',
            error: 'dead stopped renewing',
            output: 'half',
          },
        );
        // The dead owner cannot write over the new attempt.
        assert.equal(await store.updateRun(run.id, { status: 'succeeded' }, { attempt: 1, instanceId: 'dead' }), null);
        // A second takeover appends to the history.
        const third = await store.takeOverRun(run.id, { attempt: 2, leaseExpiredBefore: at(136) }, { ...takeover('third'), at: at(140) });
        assert.equal(third?.attempt, 3);
        assert.deepEqual(
          (await store.listRunAttempts(run.id)).map((a) => [a.attempt, a.instanceId]),
          [
            [1, 'dead'],
            [2, taken.instanceId],
          ],
        );
        assert.deepEqual(await store.listRunAttempts('00000000-0000-4000-8000-000000000000'), []);

        // A queued run (waiting for its predecessor, never started) taken over: that attempt did nothing.
        const queued = (await store.insertRun(
          newRun(job, { scheduledFor: at(500), status: 'running', instanceId: 'dead', startedAt: null, leaseExpiresAt: at(510) }),
        ))!;
        const requeued = await store.takeOverRun(queued.id, { attempt: 1, leaseExpiredBefore: at(520) }, takeover('x'));
        assert.ok(requeued);
        assert.equal(requeued.startedAt, null, 'still waiting for its turn: a queued run taken over has not started');
        assert.equal((await store.listRunAttempts(queued.id))[0]!.status, 'abandoned');
      },
    );
  });
}
