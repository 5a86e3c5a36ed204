import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { DEFAULT_RETRY, NameTakenError, type Job, type Store } from '../../../lib/store/types';
import { at, freshStoreEachTest, jobOrder, newJob, newRun, T, time, type Open } from './support';

export function jobConformance(open: Open): void {
  describe('jobs', () => {
    let store: Store;
    freshStoreEachTest(open, (fresh) => ({ store } = fresh));

    it('createJob stores every field and getJob reads it back', T, async () => {
      const spec = newJob({ schedule: { kind: 'cron', expression: '*/5 * * * *', timezone: 'Europe/Berlin' }, tags: [] });
      const created = await store.createJob(spec);
      assert.match(created.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'ids are uuids');
      assert.equal(typeof created.version, 'number');
      assert.ok(created.createdAt instanceof Date && created.updatedAt instanceof Date);
      const read = await store.getJob(created.id);
      assert.ok(read);
      assert.deepEqual(read, created);
      for (const job of [created, read]) {
        assert.equal(job.name, spec.name);
        assert.equal(job.description, spec.description);
        assert.equal(job.type, spec.type);
        assert.deepEqual(job.payload, spec.payload);
        assert.deepEqual(job.schedule, spec.schedule);
        assert.equal(job.paused, false);
        assert.equal(job.timeoutSeconds, 300);
        assert.equal(job.overlapPolicy, 'skip');
        assert.equal(job.missedPolicy, 'run-once');
        assert.deepEqual(job.tags, []);
        assert.equal(time(job.nextRunAt), time(spec.nextRunAt), 'millisecond precision');
        assert.equal(time(job.anchorAt), time(spec.anchorAt));
      }
      const paused = await store.createJob(
        newJob({ paused: true, nextRunAt: null, schedule: { kind: 'once', at: '2031-05-06T07:08:09.010Z' } }),
      );
      assert.equal(paused.nextRunAt, null);
      assert.equal(paused.paused, true);
      assert.deepEqual((await store.getJob(paused.id))?.schedule, { kind: 'once', at: '2031-05-06T07:08:09.010Z' });
    });

    it('the pause record: stored by createJob and updateJob, kept by other patches, cleared by pause: null', T, async () => {
      const plain = await store.createJob(newJob());
      assert.equal(plain.pause, null, 'no pause record by default');
      const byUser = {
        at: at(30, 7),
        by: { type: 'user' as const, id: randomUUID(), name: 'alice' },
        note: 'DB migration — «until 14:00» "quoted"',
      };
      const created = await store.createJob(newJob({ paused: true, nextRunAt: null, pause: byUser }));
      assert.deepEqual(created.pause, byUser);
      assert.deepEqual((await store.getJob(created.id))?.pause, byUser);

      const bySystem = { at: at(40), by: { type: 'system' as const, id: null, name: 'system' }, note: null };
      const paused = await store.updateJob(plain.id, { paused: true, pause: bySystem, nextRunAt: null });
      assert.deepEqual(paused?.pause, bySystem, 'no id, no note: both null');
      const edited = await store.updateJob(plain.id, { description: 'edited while paused' });
      assert.deepEqual(edited?.pause, bySystem, 'a patch without pause keeps it');
      const listed = await store.listJobs({ limit: 10 });
      assert.deepEqual(listed.items.find((j) => j.id === created.id)?.pause, byUser, 'listJobs carries it');

      const resumed = await store.updateJob(created.id, { paused: false, pause: null });
      assert.equal(resumed?.pause, null);
      assert.equal((await store.getJob(created.id))?.pause, null, 'cleared in the store, not only in the answer');
      const again = { at: at(50), by: { type: 'token' as const, id: randomUUID(), name: 'ci' }, note: 'again' };
      assert.deepEqual((await store.updateJob(created.id, { paused: true, pause: again }))?.pause, again, 'a second pause replaces it');
    });

    it('getJob / updateJob / deleteJob of an unknown id: null / null / false', T, async () => {
      const id = randomUUID();
      assert.equal(await store.getJob(id), null);
      assert.equal(await store.updateJob(id, { description: 'x' }), null);
      assert.equal(await store.deleteJob(id), false);
      assert.equal(await store.getJob('not-an-id'), null, 'a malformed id is just unknown');
    });

    it('createJob with a taken name throws NameTakenError; concurrent creates of one name: exactly one wins', T, async () => {
      await store.createJob(newJob({ name: 'nightly backup' }));
      await assert.rejects(store.createJob(newJob({ name: 'nightly backup' })), (err: unknown) => {
        assert.ok(err instanceof NameTakenError);
        assert.equal(err.jobName, 'nightly backup');
        return true;
      });
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => store.createJob(newJob({ name: 'race' }))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof NameTakenError);
      const page = await store.listJobs({ limit: 50, search: 'race' });
      assert.equal(page.items.length, 1);
    });

    it('updateJob applies the patch, bumps version by one, keeps the rest; rename onto a taken name throws', T, async () => {
      const job = await store.createJob(newJob({ name: 'original' }));
      await store.createJob(newJob({ name: 'other' }));
      const updated = await store.updateJob(job.id, {
        description: 'changed',
        payload: { message: 'bye' },
        schedule: { kind: 'interval', seconds: 5 },
        tags: ['gamma'],
        nextRunAt: null,
        paused: true,
        overlapPolicy: 'queue-one',
        missedPolicy: 'run-all',
        timeoutSeconds: 9,
        anchorAt: at(1000),
      });
      assert.ok(updated);
      assert.equal(updated.version, job.version + 1);
      assert.equal(updated.name, 'original', 'fields outside the patch are kept');
      assert.equal(updated.type, job.type);
      assert.equal(updated.description, 'changed');
      assert.deepEqual(updated.payload, { message: 'bye' });
      assert.deepEqual(updated.schedule, { kind: 'interval', seconds: 5 });
      assert.deepEqual(updated.tags, ['gamma']);
      assert.equal(updated.nextRunAt, null);
      assert.equal(updated.paused, true);
      assert.equal(updated.overlapPolicy, 'queue-one');
      assert.equal(updated.missedPolicy, 'run-all');
      assert.equal(updated.timeoutSeconds, 9);
      assert.equal(time(updated.anchorAt), time(at(1000)));
      assert.equal(time(updated.createdAt), time(job.createdAt));
      assert.ok(updated.updatedAt.getTime() >= job.updatedAt.getTime());
      assert.deepEqual(await store.getJob(job.id), updated);

      const renamed = await store.updateJob(job.id, { name: 'renamed' });
      assert.equal(renamed?.name, 'renamed');
      assert.equal(renamed?.version, job.version + 2);
      await assert.rejects(store.updateJob(job.id, { name: 'other' }), NameTakenError);
      assert.equal((await store.getJob(job.id))?.name, 'renamed', 'a failed rename changes nothing');
      const same = await store.updateJob(job.id, { name: 'renamed' });
      assert.equal(same?.name, 'renamed', 'keeping its own name is not a conflict');
    });

    it('deleteJob removes the job but keeps its runs (with the job name)', T, async () => {
      const job = await store.createJob(newJob({ name: 'short-lived' }));
      const run = await store.insertRun(newRun(job, { status: 'succeeded' }));
      assert.ok(run);
      assert.equal(await store.deleteJob(job.id), true);
      assert.equal(await store.getJob(job.id), null);
      assert.equal(await store.deleteJob(job.id), false);
      const kept = await store.getRun(run.id);
      assert.equal(kept?.jobName, 'short-lived');
      assert.equal(kept?.jobId, job.id);
      const page = await store.listRuns({ limit: 10, jobId: job.id });
      assert.deepEqual(
        page.items.map((r) => r.id),
        [run.id],
      );
      const reused = await store.createJob(newJob({ name: 'short-lived' }));
      assert.notEqual(reused.id, job.id, 'the name is free again');
    });

    it('advanceJob is a compare-and-set on (version, nextRunAt) and does not bump version', T, async () => {
      const job = await store.createJob(newJob({ nextRunAt: at(60) }));
      const expected = { version: job.version, nextRunAt: at(60) };
      assert.equal(await store.advanceJob(job.id, expected, at(120)), true);
      let now = await store.getJob(job.id);
      assert.equal(time(now!.nextRunAt), time(at(120)));
      assert.equal(now!.version, job.version, 'version unchanged');
      assert.equal(await store.advanceJob(job.id, expected, at(180)), false, 'stale nextRunAt');
      assert.equal(await store.advanceJob(job.id, { version: job.version, nextRunAt: at(120, 1) }, at(180)), false, 'differs by 1 ms');
      assert.equal(time((await store.getJob(job.id))!.nextRunAt), time(at(120)));

      const bumped = await store.updateJob(job.id, { description: 'edit' });
      assert.equal(await store.advanceJob(job.id, { version: job.version, nextRunAt: at(120) }, at(180)), false, 'stale version');
      assert.equal(await store.advanceJob(job.id, { version: bumped!.version, nextRunAt: at(120) }, null), true, 'to null (one-off done)');
      now = await store.getJob(job.id);
      assert.equal(now!.nextRunAt, null);
      assert.equal(await store.advanceJob(randomUUID(), { version: 1, nextRunAt: at(0) }, at(1)), false, 'unknown job');

      const racer = await store.createJob(newJob({ nextRunAt: at(10) }));
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.advanceJob(racer.id, { version: racer.version, nextRunAt: at(10) }, at(20 + i))),
      );
      assert.equal(outcomes.filter(Boolean).length, 1, 'exactly one concurrent advance wins');
      const winner = outcomes.indexOf(true);
      assert.equal(time((await store.getJob(racer.id))!.nextRunAt), time(at(20 + winner)));
    });

    it('listDueJobs returns active jobs due before the cut-off, up to limit', T, async () => {
      const due1 = await store.createJob(newJob({ nextRunAt: at(10) }));
      const due2 = await store.createJob(newJob({ nextRunAt: at(20) }));
      const due3 = await store.createJob(newJob({ nextRunAt: at(29, 999) }));
      await store.createJob(newJob({ nextRunAt: at(30) })); // exactly at the cut-off: not before it
      await store.createJob(newJob({ nextRunAt: at(40) }));
      await store.createJob(newJob({ nextRunAt: at(5), paused: true }));
      await store.createJob(newJob({ nextRunAt: null }));
      const due = await store.listDueJobs(at(30), 100);
      assert.deepEqual(due.map((j) => j.id).sort(), [due1.id, due2.id, due3.id].sort());
      for (const j of due) assert.ok(j.nextRunAt instanceof Date);
      const limited = await store.listDueJobs(at(30), 2);
      assert.equal(limited.length, 2);
      for (const j of limited) assert.ok([due1.id, due2.id, due3.id].includes(j.id));
      await store.updateJob(due1.id, { paused: true, nextRunAt: null });
      assert.deepEqual((await store.listDueJobs(at(30), 100)).map((j) => j.id).sort(), [due2.id, due3.id].sort());
    });

    it('listTags: distinct over all jobs, code point order, limited', T, async () => {
      assert.deepEqual(await store.listTags(10), []);
      await store.createJob(newJob({ tags: ['ops', 'b', 'Zeta'] }));
      await store.createJob(newJob({ tags: ['ops', 'a_1', 'a.2', 'ñ'] }));
      await store.createJob(newJob({ tags: [] }));
      const byteOrder = ['Zeta', 'a.2', 'a_1', 'b', 'ops', 'ñ'];
      assert.deepEqual(await store.listTags(100), byteOrder, 'each tag once, upper case before lower, ñ after ASCII');
      assert.deepEqual(await store.listTags(2), byteOrder.slice(0, 2));
    });

    it('listJobNames: ids and names in listJobs order, limited', T, async () => {
      assert.deepEqual(await store.listJobNames(10), []);
      const jobs: Job[] = [];
      for (const name of ['beta', 'Alpha', 'alpha', 'épée', 'Zulu', 'a-b']) jobs.push(await store.createJob(newJob({ name })));
      const sorted = jobs
        .slice()
        .sort(jobOrder)
        .map((j) => ({ id: j.id, name: j.name }));
      assert.deepEqual(await store.listJobNames(100), sorted);
      assert.deepEqual(await store.listJobNames(3), sorted.slice(0, 3));
      assert.deepEqual(
        (await store.listJobs({ limit: 100 })).items.map((j) => ({ id: j.id, name: j.name })),
        sorted,
        'the same order as listJobs',
      );
    });

    it('listJobs: name order (code points, then id), exact-once pages, search, tag, lastRun', T, async () => {
      const names = ['beta', 'Alpha', 'alpha', 'gamma 100%', 'delta_1', 'deltaX1', 'Zulu', 'épée', 'b', 'a-b'];
      const jobs: Job[] = [];
      for (const [i, name] of names.entries()) {
        jobs.push(await store.createJob(newJob({ name, tags: i % 2 === 0 ? ['even', 'all'] : ['odd', 'all'] })));
      }
      const sorted = jobs.slice().sort(jobOrder);
      for (const limit of [1, 3, 10, 50]) {
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let pages = 0; ; pages++) {
          assert.ok(pages < 100);
          const page = await store.listJobs({ limit, cursor });
          assert.ok(page.items.length <= limit);
          seen.push(...page.items.map((j) => j.id));
          if (!page.nextCursor) break;
          cursor = page.nextCursor;
        }
        assert.deepEqual(
          seen,
          sorted.map((j) => j.id),
          `limit ${limit}`,
        );
      }

      const search = async (text: string): Promise<string[]> =>
        (await store.listJobs({ limit: 50, search: text })).items.map((j) => j.name);
      assert.deepEqual(await search('ALPHA'), ['Alpha', 'alpha'], 'case-insensitive');
      assert.deepEqual(await search('lt'), ['deltaX1', 'delta_1'], 'in name order: X (U+0058) sorts before _ (U+005F)');
      assert.deepEqual(await search('_'), ['delta_1'], '_ is literal, not a wildcard');
      assert.deepEqual(await search('%'), ['gamma 100%'], '% is literal, not a wildcard');
      assert.deepEqual(await search('.*'), [], 'no regular expressions either');
      assert.deepEqual(await search('nothing'), []);

      const byTag = (await store.listJobs({ limit: 50, tag: 'even' })).items.map((j) => j.name);
      assert.deepEqual(
        byTag,
        jobs
          .filter((_, i) => i % 2 === 0)
          .sort(jobOrder)
          .map((j) => j.name),
      );
      assert.deepEqual(
        (await store.listJobs({ limit: 50, tag: 'even', search: 'a' })).items.map((j) => j.name),
        byTag.filter((n) => n.toLowerCase().includes('a')),
      );
      assert.equal((await store.listJobs({ limit: 50, tag: 'ev' })).items.length, 0, 'tags match whole');
      const paged = await store.listJobs({ limit: 2, tag: 'all' });
      const next = await store.listJobs({ limit: 2, tag: 'all', cursor: paged.nextCursor! });
      assert.deepEqual(
        [...paged.items, ...next.items].map((j) => j.id),
        sorted.slice(0, 4).map((j) => j.id),
        'filters and cursor together',
      );

      // lastRun: the newest occurrence by scheduledFor (not insertion order), or null.
      const withRuns = jobs[0]!;
      await store.insertRun(newRun(withRuns, { scheduledFor: at(50), status: 'succeeded', instanceId: 'i-x' }));
      const newest = (await store.insertRun(
        newRun(withRuns, { scheduledFor: at(70), status: 'running', startedAt: at(70, 5), instanceId: 'i-y' }),
      ))!;
      await store.insertRun(newRun(withRuns, { scheduledFor: at(60), status: 'failed' }));
      const all = (await store.listJobs({ limit: 50 })).items;
      for (const j of all) {
        if (j.id !== withRuns.id) {
          assert.equal(j.lastRun, null);
          continue;
        }
        assert.deepEqual(j.lastRun, {
          id: newest.id,
          status: 'running',
          scheduledFor: at(70),
          startedAt: at(70, 5),
          finishedAt: null,
          instanceId: 'i-y',
        });
        const { lastRun, ...job } = j;
        void lastRun;
        assert.deepEqual(job, await store.getJob(j.id), 'job fields as getJob');
      }
    });

    it('jobs carry retry and concurrencyLimit: defaults when left out, stored, patched', T, async () => {
      const plain = await store.createJob(newJob());
      assert.deepEqual(plain.retry, DEFAULT_RETRY);
      assert.deepEqual(DEFAULT_RETRY, { maxAttempts: 1, backoffSeconds: 10, maxBackoffSeconds: 600 });
      assert.equal(plain.concurrencyLimit, null);
      const tuned = await store.createJob(
        newJob({ retry: { maxAttempts: 4, backoffSeconds: 3, maxBackoffSeconds: 30 }, concurrencyLimit: 2 }),
      );
      assert.deepEqual((await store.getJob(tuned.id))?.retry, { maxAttempts: 4, backoffSeconds: 3, maxBackoffSeconds: 30 });
      assert.equal((await store.getJob(tuned.id))?.concurrencyLimit, 2);
      const patched = await store.updateJob(tuned.id, {
        retry: { maxAttempts: 10, backoffSeconds: 1, maxBackoffSeconds: 1 },
        concurrencyLimit: null,
      });
      assert.deepEqual(patched?.retry, { maxAttempts: 10, backoffSeconds: 1, maxBackoffSeconds: 1 });
      assert.equal(patched?.concurrencyLimit, null);
      assert.deepEqual(await store.getJob(tuned.id), patched);
      const other = await store.updateJob(tuned.id, { description: 'x' });
      assert.deepEqual(other?.retry, patched?.retry, 'kept when outside the patch');
      const listed = (await store.listJobs({ limit: 10 })).items.find((j) => j.id === plain.id);
      assert.deepEqual(listed?.retry, DEFAULT_RETRY);
    });
  });
}
