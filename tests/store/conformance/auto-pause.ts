import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PauseRecord, Store } from '../../../lib/store/types';
import { at, freshStoreEachTest, newJob, newRun, T, type Open } from './support';

const PAUSE: PauseRecord = {
  at: at(100),
  by: { type: 'system', id: null, name: 'cronplane' },
  note: 'paused after 3 consecutive failures',
};

/** Auto-pause (JobStore.recordOutcome, autoPauseJob): the count of final failures in a row and its compare-and-set. */
export function autoPauseConformance(open: Open): void {
  describe('auto-pause', () => {
    let store: Store;
    let another: (() => Promise<Store>) | undefined;
    freshStoreEachTest(open, (fresh) => ({ store, another } = fresh));

    it('the policy is stored by createJob and updateJob (null = never), and kept by other patches', T, async () => {
      const plain = await store.createJob(newJob());
      assert.equal(plain.autoPause, null, 'none by default');
      const created = await store.createJob(newJob({ autoPause: { afterFailures: 3 } }));
      assert.deepEqual(created.autoPause, { afterFailures: 3 });
      assert.deepEqual((await store.getJob(created.id))?.autoPause, { afterFailures: 3 });
      const changed = await store.updateJob(plain.id, { autoPause: { afterFailures: 100 } });
      assert.deepEqual(changed?.autoPause, { afterFailures: 100 });
      assert.deepEqual((await store.updateJob(plain.id, { description: 'x' }))?.autoPause, { afterFailures: 100 });
      assert.equal((await store.updateJob(plain.id, { autoPause: null }))?.autoPause, null);
      const listed = await store.listJobs({ limit: 10 });
      assert.deepEqual(listed.items.find((j) => j.id === created.id)?.autoPause, { afterFailures: 3 });
    });

    it('recordOutcome: failures count up, a success resets, nothing counts while paused, unknown jobs are null', T, async () => {
      const job = await store.createJob(newJob({ autoPause: { afterFailures: 5 } }));
      const counts: number[] = [];
      for (const outcome of ['failure', 'failure', 'success', 'failure', 'failure', 'failure'] as const) {
        counts.push((await store.recordOutcome(job.id, outcome))!.consecutiveFailures);
      }
      assert.deepEqual(counts, [1, 2, 0, 1, 2, 3]);
      assert.deepEqual((await store.recordOutcome(job.id, 'failure'))?.autoPause, { afterFailures: 5 });
      await store.updateJob(job.id, { paused: true, nextRunAt: null });
      assert.equal(await store.recordOutcome(job.id, 'failure'), null, 'a paused job counts nothing');
      await store.updateJob(job.id, { paused: false });
      assert.equal((await store.recordOutcome(job.id, 'failure'))?.consecutiveFailures, 5, 'the failure while paused was not counted');
      const without = await store.createJob(newJob());
      assert.equal(await store.recordOutcome(without.id, 'failure'), null, 'a job without a policy counts nothing');
      await store.updateJob(without.id, { autoPause: { afterFailures: 4 } });
      assert.deepEqual(await store.recordOutcome(without.id, 'failure'), { consecutiveFailures: 1, autoPause: { afterFailures: 4 } });
      await store.updateJob(job.id, { autoPause: { afterFailures: 9 } });
      assert.equal((await store.recordOutcome(job.id, 'failure'))?.consecutiveFailures, 1, 'an edit of the policy counts from zero');
      await store.updateJob(job.id, { description: 'not the policy' });
      assert.equal((await store.recordOutcome(job.id, 'failure'))?.consecutiveFailures, 2, 'other edits keep the count');
      assert.equal(await store.recordOutcome('00000000-0000-4000-8000-000000000000', 'failure'), null);
      assert.equal(await store.recordOutcome('not-an-id', 'success'), null);
    });

    it('concurrent failures are each counted once', T, async () => {
      const job = await store.createJob(newJob({ autoPause: { afterFailures: 50 } }));
      const stores = [store, ...(another ? [await another(), await another()] : [])];
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => stores[i % stores.length]!.recordOutcome(job.id, 'failure')));
      assert.deepEqual(
        results.map((r) => r!.consecutiveFailures).sort((a, b) => a - b),
        Array.from({ length: 30 }, (_, i) => i + 1),
        'every count from 1 to 30 handed out once',
      );
    });

    it('autoPauseJob: only once the count reaches the policy; pauses, records the pause, resets the count, closes claims', T, async () => {
      const job = await store.createJob(newJob({ autoPause: { afterFailures: 3 } }));
      const claimed = await store.insertRun(newRun(job, { status: 'claimed', scheduledFor: at(200), leaseExpiresAt: at(300) }));
      const done = await store.insertRun(newRun(job, { status: 'failed', scheduledFor: at(50), finishedAt: at(51) }));
      await store.recordOutcome(job.id, 'failure');
      await store.recordOutcome(job.id, 'failure');
      assert.equal(await store.autoPauseJob(job.id, PAUSE), null, 'two of three: not yet');
      assert.equal((await store.getJob(job.id))?.paused, false);
      await store.recordOutcome(job.id, 'failure');
      const paused = await store.autoPauseJob(job.id, PAUSE);
      assert.ok(paused);
      assert.equal(paused.paused, true);
      assert.deepEqual(paused.pause, PAUSE);
      assert.equal(paused.nextRunAt, null);
      assert.ok(paused.version > job.version, 'version bumped (a stale claim cannot complete)');
      assert.deepEqual(await store.getJob(job.id), paused);
      assert.equal((await store.getRun(claimed!.id))?.status, 'skipped', 'its claimed run is closed as a pause closes it');
      assert.equal((await store.getRun(done!.id))?.status, 'failed', 'finished runs stay as they were');
      assert.equal(await store.autoPauseJob(job.id, PAUSE), null, 'already paused: nothing');

      // Resumed: the count starts again from 0.
      await store.updateJob(job.id, { paused: false, pause: null, nextRunAt: at(400) });
      assert.equal((await store.recordOutcome(job.id, 'failure'))?.consecutiveFailures, 1);
      assert.equal(await store.autoPauseJob(job.id, PAUSE), null);

      const never = await store.createJob(newJob());
      for (let i = 0; i < 5; i++) await store.recordOutcome(never.id, 'failure');
      assert.equal(await store.autoPauseJob(never.id, PAUSE), null, 'no policy: never paused');
      assert.equal(await store.autoPauseJob('00000000-0000-4000-8000-000000000000', PAUSE), null);
    });

    it('autoPauseJob from several callers at once: exactly one pauses', T, async () => {
      const job = await store.createJob(newJob({ autoPause: { afterFailures: 2 } }));
      for (let i = 0; i < 4; i++) await store.recordOutcome(job.id, 'failure');
      const stores = [store, ...(another ? [await another(), await another()] : [])];
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % stores.length]!.autoPauseJob(job.id, PAUSE)));
      assert.equal(results.filter((r) => r !== null).length, 1);
      assert.equal((await store.getJob(job.id))?.paused, true);
    });
  });
}
