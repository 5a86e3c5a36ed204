import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Store } from '../../../lib/store/types';
import { at, freshStoreEachTest, newJob, T, time, type ConformanceTarget, type Open } from './support';

/** What the store is given: opaque text (the app encrypts before it). */
const secret = (label: string) => `enc:v1:${label}-${randomUUID()}`;

export function signingSecretConformance(open: Open): void {
  describe('signing secrets', () => {
    let target: ConformanceTarget;
    let store: Store;
    freshStoreEachTest(open, (fresh) => {
      target = fresh;
      store = fresh.store;
    });

    it('create stores the secret with a database-clock createdAt; get reads it back; unknown jobs have none', T, async () => {
      const job = await store.createJob(newJob({ type: 'http' }));
      assert.equal(await store.getSigningSecret(job.id), null);
      const before = await store.now();
      const value = secret('a');
      const created = await store.createSigningSecret(job.id, value);
      assert.ok(created);
      assert.deepEqual(
        { ...created, createdAt: null },
        { jobId: job.id, secret: value, createdAt: null, previousSecret: null, previousUntil: null },
      );
      assert.ok(created.createdAt instanceof Date && created.createdAt.getTime() >= before.getTime() - 1);
      assert.deepEqual(await store.getSigningSecret(job.id), created);
      const unknown = randomUUID();
      assert.equal(await store.createSigningSecret(unknown, secret('x')), null, 'no secret for a job that does not exist');
      assert.equal(await store.getSigningSecret(unknown), null);
      assert.equal(await store.createSigningSecret('not-an-id', secret('x')), null);
      assert.equal(await store.getSigningSecret('not-an-id'), null);
    });

    it('create is first-wins: a later create returns the stored secret, and concurrent creators on two clients agree', T, async () => {
      const job = await store.createJob(newJob({ type: 'http' }));
      const first = await store.createSigningSecret(job.id, secret('first'));
      const second = await store.createSigningSecret(job.id, secret('second'));
      assert.deepEqual(second, first, 'the first secret stands');

      const raced = await store.createJob(newJob({ type: 'http' }));
      const other = target.another ? await target.another() : store;
      const offered = Array.from({ length: 12 }, (_, i) => secret(`race-${i}`));
      const results = await Promise.all(offered.map((value, i) => (i % 2 ? other : store).createSigningSecret(raced.id, value)));
      const winners = new Set(results.map((r) => r?.secret));
      assert.equal(winners.size, 1, 'every creator got the same secret back');
      const stored = await store.getSigningSecret(raced.id);
      assert.ok(stored && offered.includes(stored.secret) && winners.has(stored.secret));
    });

    it('rotate is a compare-and-set: a stale expected value changes nothing; the current one moves to previous', T, async () => {
      const job = await store.createJob(newJob({ type: 'http' }));
      const original = (await store.createSigningSecret(job.id, secret('v1')))!;
      const until = at(86_400, 123);
      assert.equal(await store.rotateSigningSecret(job.id, secret('stale'), secret('v2'), until), null);
      assert.deepEqual(await store.getSigningSecret(job.id), original, 'unchanged');
      const next = secret('v2');
      const rotated = await store.rotateSigningSecret(job.id, original.secret, next, until);
      assert.ok(rotated);
      assert.equal(rotated.secret, next);
      assert.equal(rotated.previousSecret, original.secret);
      assert.equal(time(rotated.previousUntil), time(until), 'millisecond precision');
      assert.ok(rotated.createdAt.getTime() >= original.createdAt.getTime(), 'createdAt is the rotation time');
      assert.deepEqual(await store.getSigningSecret(job.id), rotated);
      // Rotating again drops the oldest secret.
      const third = await store.rotateSigningSecret(job.id, next, secret('v3'), at(100));
      assert.equal(third?.previousSecret, next);
      assert.equal(await store.rotateSigningSecret(randomUUID(), next, secret('x'), until), null, 'unknown job');
      assert.equal(await store.rotateSigningSecret('not-an-id', next, secret('x'), until), null);
    });

    it('concurrent rotations from one read: exactly one wins, on two clients', T, async () => {
      const job = await store.createJob(newJob({ type: 'http' }));
      const read = (await store.createSigningSecret(job.id, secret('v1')))!;
      const other = target.another ? await target.another() : store;
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? other : store).rotateSigningSecret(job.id, read.secret, secret(`next-${i}`), at(10))),
      );
      const won = results.filter((r) => r !== null);
      assert.equal(won.length, 1, 'one rotation won');
      assert.deepEqual(await store.getSigningSecret(job.id), won[0]);
      assert.equal(won[0]!.previousSecret, read.secret);
    });

    it('deleting the job deletes its secret, and a deleted job gets none', T, async () => {
      const job = await store.createJob(newJob({ type: 'http' }));
      await store.createSigningSecret(job.id, secret('gone'));
      assert.equal(await store.deleteJob(job.id), true);
      assert.equal(await store.getSigningSecret(job.id), null);
      assert.equal(await store.createSigningSecret(job.id, secret('late')), null);
      assert.equal(await store.getSigningSecret(job.id), null);
    });

    it('lists the jobs of a type without a secret, in id order, at most limit: what the start-up backfill walks', T, async () => {
      const http = await Promise.all(Array.from({ length: 5 }, () => store.createJob(newJob({ type: 'http' }))));
      await store.createJob(newJob({ type: 'log' }));
      await store.createSigningSecret(http[0]!.id, secret('has'));
      const missing = http
        .slice(1)
        .map((j) => j.id)
        .sort();
      assert.deepEqual(await store.listJobsWithoutSigningSecret('http', 100), missing);
      assert.deepEqual(await store.listJobsWithoutSigningSecret('http', 2), missing.slice(0, 2));
      assert.deepEqual(await store.listJobsWithoutSigningSecret('prune-runs', 100), []);
      for (const id of missing) await store.createSigningSecret(id, secret('made'));
      assert.deepEqual(await store.listJobsWithoutSigningSecret('http', 100), []);
    });

    it('the secret is on no job: getJob, listJobs and updateJob carry nothing of it', T, async () => {
      const job = await store.createJob(newJob({ type: 'http' }));
      const value = secret('hidden');
      await store.createSigningSecret(job.id, value);
      const seen = [
        await store.getJob(job.id),
        await store.listJobs({ limit: 10 }),
        await store.updateJob(job.id, { description: 'edited' }),
        await store.listDueJobs(at(1_000_000), 10),
      ];
      assert.doesNotMatch(JSON.stringify(seen), /hidden/);
      assert.equal((await store.getSigningSecret(job.id))?.secret, value, 'an edit keeps it');
    });
  });
}
