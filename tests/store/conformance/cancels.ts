// Cancels (issue #14, item 4): Store.cancelRun is a compare-and-set on the run's status; watchCancelRequests carries a
// request for a running run to every instance; the renewal, a takeover and a retry respect it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { RunCancel, Store } from '../../../lib/store/types';
import { at, freshStoreEachTest, newJob, newRun, T, time, type ConformanceTarget, type Open } from './support';

const request = (seconds: number, name = 'alice', reason: string | null = 'hung'): RunCancel => ({
  at: at(seconds),
  by: { type: 'user', id: `id-${name}`, name },
  reason,
});

export function cancelConformance(open: Open): void {
  describe('cancels', () => {
    let target: ConformanceTarget;
    let store: Store;
    freshStoreEachTest(open, (fresh) => {
      target = fresh;
      store = fresh.store;
    });

    it('a claimed run is closed cancelled at once (who, when, why) and never starts; a second cancel is final', T, async () => {
      const job = await store.createJob(newJob({ nextRunAt: at(120) }));
      const claimed = (await store.insertRun(newRun(job, { scheduledFor: at(1), status: 'claimed', leaseExpiresAt: at(50) })))!;
      const result = await store.cancelRun(claimed.id, request(10), 'cancelled by alice');
      assert.equal(result.outcome, 'cancelled');
      const run = (await store.getRun(claimed.id))!;
      assert.deepEqual(result.run, run);
      assert.equal(run.status, 'cancelled');
      assert.equal(time(run.finishedAt), time(at(10)));
      assert.equal(run.leaseExpiresAt, null);
      assert.equal(run.error, 'cancelled by alice');
      assert.deepEqual(run.cancel, request(10));
      assert.deepEqual(
        await store.startRun(claimed, 'instance-a', { at: at(11), queued: false, leaseExpiresAt: at(60), trigger: 'schedule' }),
        { outcome: 'lost' },
        'the claim holder cannot start it',
      );
      const again = await store.cancelRun(claimed.id, request(12, 'bob'), 'again');
      assert.equal(again.outcome, 'final');
      assert.deepEqual(await store.getRun(claimed.id), run, 'nothing changed');
    });

    it('a retrying run is closed cancelled and gets no further attempt', T, async () => {
      const job = await store.createJob(newJob());
      const run = (await store.insertRun(newRun(job, { startedAt: at(1), leaseExpiresAt: at(50) })))!;
      const waiting = await store.retryRun(
        run.id,
        { attempt: 1, instanceId: 'instance-a' },
        { status: 'failed', finishedAt: at(2), error: 'boom', output: null, waiting: 'attempt 2 at …' },
      );
      assert.equal(waiting?.status, 'retrying');
      const result = await store.cancelRun(run.id, request(3), 'cancelled');
      assert.equal(result.outcome, 'cancelled');
      assert.equal(await store.claimRetry(run.id, 2, { instanceId: 'instance-b', at: at(4), leaseExpiresAt: at(60) }), null);
      const after = (await store.getRun(run.id))!;
      assert.equal(after.status, 'cancelled');
      assert.equal(after.attempt, 2);
      assert.equal((await store.listRunAttempts(run.id)).length, 1, 'the failed attempt stays in the history');
    });

    it('a running run gets the request (the first is kept); renewals report it; no takeover or retry; its owner closes it', T, async () => {
      const job = await store.createJob(newJob());
      const running = (await store.insertRun(newRun(job, { startedAt: at(1), leaseExpiresAt: at(5) })))!;
      const first = await store.cancelRun(running.id, request(2), 'unused');
      assert.equal(first.outcome, 'requested');
      const second = await store.cancelRun(running.id, request(3, 'bob', null), 'unused');
      assert.equal(second.outcome, 'requested');
      const run = (await store.getRun(running.id))!;
      assert.equal(run.status, 'running', 'still running until its owner stops it');
      assert.equal(run.error, null);
      assert.deepEqual(run.cancel, request(2), 'the first request is kept');

      const renewal = await store.renewLeases('instance-a', [{ id: run.id, attempt: 1 }], at(8));
      assert.deepEqual(renewal, { renewed: [run.id], cancelRequested: [run.id] });
      assert.equal(
        await store.takeOverRun(
          run.id,
          { attempt: 1, leaseExpiredBefore: at(100) },
          {
            instanceId: 'instance-b',
            at: at(100),
            leaseExpiresAt: at(106),
            error: 'lost',
          },
        ),
        null,
        'no further attempt of a cancel-requested run',
      );
      assert.equal(
        await store.retryRun(
          run.id,
          { attempt: 1, instanceId: 'instance-a' },
          {
            status: 'failed',
            finishedAt: at(9),
            error: 'boom',
            output: null,
            waiting: 'w',
          },
        ),
        null,
        'no retry of a cancel-requested run',
      );
      const closed = await store.updateRun(
        run.id,
        { status: 'cancelled', finishedAt: at(9), leaseExpiresAt: null, error: 'aborted' },
        { attempt: 1, instanceId: 'instance-a' },
      );
      assert.equal(closed?.status, 'cancelled');
      assert.deepEqual(closed?.cancel, request(2));
      assert.equal((await store.cancelRun(run.id, request(10), 'x')).outcome, 'final');
    });

    it('a finished run is final (nothing written); an unknown id is missing', T, async () => {
      const job = await store.createJob(newJob());
      for (const status of ['succeeded', 'failed', 'timed-out', 'skipped', 'missed', 'abandoned', 'unknown', 'cancelled'] as const) {
        const done = (await store.insertRun(newRun(job, { scheduledFor: at(Math.random() * 1000), status, finishedAt: at(1) })))!;
        const result = await store.cancelRun(done.id, request(2), 'x');
        assert.equal(result.outcome, 'final', status);
        assert.deepEqual(await store.getRun(done.id), done, `${status}: nothing changed`);
      }
      assert.deepEqual(await store.cancelRun(randomUUID(), request(2), 'x'), { outcome: 'missing' });
      assert.deepEqual(await store.cancelRun('not-a-run', request(2), 'x'), { outcome: 'missing' });
    });

    it("a cancel racing the claim holder's start: exactly one wins", T, async () => {
      for (let i = 0; i < 10; i++) {
        // Due already on the database's clock (PostgreSQL's startRun refuses an early start).
        const due = new Date(Date.now() - 60_000 - i);
        const job = await store.createJob(newJob({ nextRunAt: at(120) }));
        const claimed = (await store.insertRun(newRun(job, { scheduledFor: due, status: 'claimed', leaseExpiresAt: at(50) })))!;
        const [cancel, start] = await Promise.all([
          store.cancelRun(claimed.id, request(2), 'cancelled'),
          store.startRun(claimed, 'instance-a', { at: at(2), queued: false, leaseExpiresAt: at(60), trigger: 'schedule' }),
        ]);
        const run = (await store.getRun(claimed.id))!;
        if (start.outcome === 'started') {
          assert.equal(cancel.outcome, 'requested');
          assert.equal(run.status, 'running');
          assert.ok(run.cancel, 'the request is recorded for the owner');
        } else {
          assert.equal(start.outcome, 'lost');
          assert.equal(cancel.outcome, 'cancelled');
          assert.equal(run.status, 'cancelled');
        }
      }
    });

    it("watchCancelRequests tells another connection about a running run's cancel within 2 s", T, async () => {
      const watcher = target.another ? await target.another() : store;
      // A server without change streams (a standalone MongoDB) delivers nothing here: the lease renewal carries the
      // request (checked above); its watch must still start and stop cleanly.
      await expectCancelWatch(store, watcher, target.pushesCancels !== false);
    });
  });
}

/** A running run's cancel through `store` reaches `watcher`'s watchCancelRequests within 2 s (or, if not `delivers`, nothing breaks). */
export async function expectCancelWatch(store: Store, watcher: Store, delivers = true): Promise<void> {
  const job = await store.createJob(newJob());
  const running = (await store.insertRun(newRun(job, { startedAt: at(1), leaseExpiresAt: at(5) })))!;
  const seen: string[] = [];
  const stop = await watcher.watchCancelRequests((id) => seen.push(id));
  try {
    // A change stream opens on the server a moment after the watch starts (the scheduler's renewal covers that gap).
    await new Promise((r) => setTimeout(r, 500));
    const sent = Date.now();
    await store.cancelRun(running.id, request(2), 'x');
    while (!seen.includes(running.id) && Date.now() - sent < 2_000) await new Promise((r) => setTimeout(r, 20));
    if (delivers) assert.ok(seen.includes(running.id), `notified within 2 s (saw ${JSON.stringify(seen)})`);
  } finally {
    await stop();
  }
}
