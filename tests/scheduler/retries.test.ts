/**
 * Retries with backoff, timeouts and the cluster-wide concurrency limit, with two real worker processes on one
 * database, PostgreSQL and then MongoDB (tests/scheduler/stores.ts). Jobs are created through the service layer;
 * assertions read what the store recorded and what the local HTTP target saw.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Run, Store } from '../../lib/store/types';
import { delay, waitFor, type HttpTarget, startSchedulerWorld, type SchedulerWorld } from './harness';
import { SCHEDULER_STORES } from './stores';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';

let world: SchedulerWorld;
let store: Store;
let services: SchedulerWorld['services'];
let http: HttpTarget;
const runsOf = (jobId: string): Promise<Run[]> => world.runsOf(jobId);

const FINAL = new Set(['succeeded', 'failed', 'timed-out', 'skipped', 'missed', 'abandoned', 'unknown']);
const inSeconds = (s: number): string => new Date(Date.now() + s * 1000).toISOString();

for (const factory of SCHEDULER_STORES) {
  describe(`${factory.name}: retries, timeouts and the concurrency limit`, () => {
    before(async () => {
      world = await startSchedulerWorld(['retry-a', 'retry-b'], {}, factory.start);
      ({ store, services, http } = world);
    });

    after(async () => {
      await world?.close();
    });

    test('backoff delay doubles per failed attempt and stops at the cap', async () => {
      const { retryDelayMs } = await import('../../lib/scheduler/scheduler');
      const job = { retry: { maxAttempts: 10, backoffSeconds: 3, maxBackoffSeconds: 20 } };
      assert.deepEqual(
        [1, 2, 3, 4, 5].map((n) => retryDelayMs(job, n)),
        [3_000, 6_000, 12_000, 20_000, 20_000],
      );
    });

    test('a handler failing twice then succeeding: 3 attempts on one run record, spaced by the backoff, each exactly once', async () => {
      const path = '/flaky?key=twice&fail=2';
      const job = await services.createJob(
        {
          name: 'flaky-twice',
          type: 'http',
          payload: { url: `${http.url}${path}` },
          schedule: { kind: 'once', at: inSeconds(1) },
          retry: { maxAttempts: 3, backoffSeconds: 1, maxBackoffSeconds: 60 },
        },
        SYSTEM_ACTOR,
      );
      const seen: Run[] = [];
      const final = await waitFor(
        'the run to finish after its retries',
        async () => {
          const runs = await runsOf(job.id);
          if (runs[0]) seen.push(runs[0]);
          return runs[0] && FINAL.has(runs[0].status) ? runs : undefined;
        },
        20_000,
      );
      assert.equal(final.length, 1, "retries reuse the occurrence's run record");
      const run = final[0]!;
      assert.equal(run.status, 'succeeded');
      assert.equal(run.attempt, 3);
      assert.equal(run.error, null);
      assert.equal(http.hits.get(path), 3, 'each attempt ran exactly once across both workers');

      // While waiting, the run said so, and when the next attempt is due.
      const waiting = seen.find((r) => r.status === 'retrying');
      assert.ok(waiting, `a 'retrying' state was visible (saw ${[...new Set(seen.map((r) => r.status))].join(', ')})`);
      assert.match(waiting.error ?? '', /attempt [12] of 3 failed: .*500.*; attempt [23] at \d{4}-/);
      assert.equal(waiting.leaseExpiresAt, null, 'a waiting retry holds no lease');

      const history = await store.listRunAttempts(run.id);
      assert.deepEqual(
        history.map((a) => [a.attempt, a.status]),
        [
          [1, 'failed'],
          [2, 'failed'],
        ],
      );
      for (const a of history) assert.match(a.error ?? '', /500/);
      // Attempt n+1 starts no earlier than backoff * 2^(n-1) after attempt n ended (allowing for the clock estimate).
      const starts = [...history.map((a) => a.startedAt!), run.startedAt!];
      const ends = history.map((a) => a.finishedAt);
      assert.ok(
        starts[1]!.getTime() - ends[0]!.getTime() >= 1_000 - 100,
        `first retry waited ${starts[1]!.getTime() - ends[0]!.getTime()} ms`,
      );
      assert.ok(
        starts[2]!.getTime() - ends[1]!.getTime() >= 2_000 - 100,
        `second retry waited ${starts[2]!.getTime() - ends[1]!.getTime()} ms`,
      );
    });

    test('a run that keeps failing ends as failed after maxAttempts, with every attempt in its history', async () => {
      const path = '/fail?key=always';
      const job = await services.createJob(
        {
          name: 'always-fails',
          type: 'http',
          payload: { url: `${http.url}${path}` },
          schedule: { kind: 'once', at: inSeconds(1) },
          retry: { maxAttempts: 2, backoffSeconds: 1, maxBackoffSeconds: 1 },
        },
        SYSTEM_ACTOR,
      );
      const [run] = await waitFor(
        'the run to give up',
        async () => {
          const runs = await runsOf(job.id);
          return runs[0] && FINAL.has(runs[0].status) ? runs : undefined;
        },
        20_000,
      );
      assert.equal(run!.status, 'failed');
      assert.equal(run!.attempt, 2);
      assert.match(run!.error ?? '', /503/);
      const history = await store.listRunAttempts(run!.id);
      assert.deepEqual(
        history.map((a) => [a.attempt, a.status]),
        [[1, 'failed']],
      );
      // Give a stray duplicate retry time to show up before counting.
      await delay(1_500);
      assert.equal(http.hits.get(path), 2);
    });

    test('a timed-out run is aborted and releases its lease at once: the next occurrence is not skipped', async () => {
      const job = await services.createJob(
        {
          name: 'times-out',
          type: 'http',
          payload: { url: `${http.url}/slow?ms=30000&key=timeout`, timeoutSeconds: 60 },
          schedule: { kind: 'interval', seconds: 2 },
          timeoutSeconds: 1,
          overlapPolicy: 'skip',
        },
        SYSTEM_ACTOR,
      );
      await delay(7_500);
      await services.pauseJob(job.id, SYSTEM_ACTOR);
      const runs = await waitFor(
        'runs to finish',
        async () => {
          const all = await runsOf(job.id);
          return all.every((r) => FINAL.has(r.status)) ? all : undefined;
        },
        10_000,
      );
      assert.ok(runs.length >= 3, `expected at least 3 occurrences, got ${runs.length}`);
      for (const r of runs) {
        assert.equal(r.status, 'timed-out', `run due ${r.scheduledFor.toISOString()}: ${r.status} ${r.error ?? ''}`);
        assert.equal(r.leaseExpiresAt, null);
        assert.match(r.error ?? '', /timeout of 1s/);
        const took = r.finishedAt!.getTime() - r.startedAt!.getTime();
        assert.ok(took >= 900 && took < 2_000, `timed out after ${took} ms`);
      }
      // The handler was aborted: the target saw each request's connection dropped soon after the timeout.
      const calls = http.requests.filter((q) => q.path.includes('key=timeout'));
      assert.equal(calls.length, runs.length);
      for (const q of calls)
        assert.ok(q.end !== null && q.end - q.start < 2_500, `request held ${q.end === null ? 'open' : `${q.end - q.start} ms`}`);
    });

    test('concurrencyLimit caps the running runs across both instances; the rest are skipped with the reason', async () => {
      const key = 'limit';
      const job = await services.createJob(
        {
          name: 'limited',
          type: 'http',
          payload: { url: `${http.url}/slow?ms=3500&key=${key}` },
          schedule: { kind: 'interval', seconds: 1 },
          overlapPolicy: 'allow',
          concurrencyLimit: 2,
          timeoutSeconds: 30,
        },
        SYSTEM_ACTOR,
      );
      await delay(8_000);
      await services.pauseJob(job.id, SYSTEM_ACTOR);
      const runs = await waitFor(
        'runs to finish',
        async () => {
          const all = await runsOf(job.id);
          return all.every((r) => FINAL.has(r.status)) ? all : undefined;
        },
        15_000,
      );
      const ran = runs.filter((r) => r.status === 'succeeded');
      const skipped = runs.filter((r) => r.status === 'skipped');
      assert.ok(ran.length >= 2, `runs that ran: ${ran.length}`);
      assert.ok(skipped.length >= 1, 'some occurrences hit the limit');
      for (const r of skipped) assert.match(r.error ?? '', /concurrency limit of 2 running run\(s\) reached/);
      assert.ok(new Set(ran.map((r) => r.instanceId)).size >= 1);
      // Never more than 2 requests in flight at the target, and the limit was used (2 at once at some point).
      const calls = http.requests.filter((q) => q.path.includes(`key=${key}`));
      assert.equal(calls.length, ran.length);
      let peak = 0;
      for (const q of calls) {
        const overlapping = calls.filter((o) => o.start <= q.start && (o.end ?? Infinity) > q.start).length;
        peak = Math.max(peak, overlapping);
      }
      assert.equal(peak, 2, `peak concurrent requests ${peak}`);
    });
  });
}
