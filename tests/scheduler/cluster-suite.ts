/**
 * The exactly-once promise with real `next start` instances (the build in NEXT_DIST_DIR, default .next) on one
 * database, parameterised over the store: cluster.test.ts runs it for PostgreSQL and MongoDB. Jobs are
 * created through the service layer; every assertion reads run records from the database, and side effects
 * (HTTP requests to a local target) are counted to prove that no occurrence executed twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Job, Run, Store } from '../../lib/store/types';
import { startApp, type StartedApp } from '../support/app';
import { offersChangeStreams } from '../support/mongo';
import {
  inFlight,
  ranBeforePause,
  allRuns,
  delay,
  FAST_ENV,
  openTestServices,
  startHttpTarget,
  waitFor,
  type HttpTarget,
  type TestServices,
} from './harness';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';

export interface TestDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface StoreFactory {
  name: 'postgres' | 'mongodb';
  start(): Promise<TestDatabase>;
}

type Services = typeof import('../../lib/services/jobs');

/** The product's lease (6 s, renewed by the heartbeat), so that what is tested here is what runs in production. */
export const CLUSTER_ENV = { ...FAST_ENV, SCHEDULER_LEASE_MS: '6000' };
const LEASE_MS = Number(CLUSTER_ENV.SCHEDULER_LEASE_MS);

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Each run of an interval job is the next occurrence after the previous one: no gap, no repeat. */
export function assertContiguous(job: Job, runs: Run[], seconds: number): void {
  for (let i = 1; i < runs.length; i++) {
    assert.equal(
      runs[i]!.scheduledFor.getTime() - runs[i - 1]!.scheduledFor.getTime(),
      seconds * 1000,
      `${job.name}: gap or repeat between ${runs[i - 1]!.scheduledFor.toISOString()} and ${runs[i]!.scheduledFor.toISOString()}`,
    );
  }
}

export function clusterSuite(factory: StoreFactory): void {
  let db: TestDatabase;
  let store: Store;
  let services: Services;
  let http: HttpTarget;
  let opened: TestServices | undefined;
  let apps: StartedApp[] = [];

  const live = (): StartedApp[] => apps.filter((a) => !stopped.has(a));
  const stopped = new Set<StartedApp>();

  async function pauseAndSettle(jobs: Job[]): Promise<void> {
    for (const job of jobs) await services.pauseJob(job.id, SYSTEM_ACTOR);
    await waitFor(
      'runs to finish',
      async () => {
        for (const job of jobs) if ((await allRuns(store, job.id)).some((r) => inFlight(r))) return false;
        return true;
      },
      20_000,
    );
  }

  describe(`${factory.name}: 3 next start instances`, () => {
    before(async () => {
      opened = await openTestServices(factory.start);
      ({ db, store, services } = opened);
      http = await startHttpTarget();
      apps = await Promise.all([0, 1, 2].map(() => startApp({ databaseUrl: db.url, env: CLUSTER_ENV })));
    });

    after(async () => {
      await Promise.allSettled(apps.map((a) => a.stop('SIGKILL')));
      if (process.env.SHOW_WORKER_LOGS) for (const a of apps) console.log(`--- ${a.instanceId}\n${a.logs()}`);
      await http?.close();
      await opened?.close();
    });

    test('health reports how due work is dispatched', async () => {
      // MongoDB: change streams exactly when the server offers them (a replica set or mongos, asked as the scheduler
      // asks): polling on the standalone test server, change streams on a real replica set given as MONGODB_URL.
      const expected = factory.name === 'postgres' ? 'notify' : (await offersChangeStreams(db.url)) ? 'change-stream' : 'polling';
      for (const app of apps) {
        // The details need credentials (the public answer is the status alone).
        const health = (await (
          await fetch(`${app.baseUrl}/api/health`, { headers: { authorization: `Bearer ${app.apiToken}` } })
        ).json()) as {
          status: string;
          scheduler: string;
          dispatch: string;
        };
        assert.equal(health.status, 'ok');
        assert.equal(health.scheduler, 'running');
        assert.equal(health.dispatch, expected);
      }
    });

    test('20 jobs due every second for 30 s: every occurrence ran exactly once, and the work spread', async () => {
      const jobs: Job[] = [];
      for (let i = 0; i < 20; i++) {
        jobs.push(
          await services.createJob(
            {
              name: `every-second-${i}`,
              type: 'http',
              payload: { url: `${http.url}/ok?job=${i}` },
              // Every occurrence must execute, also on a loaded machine: 'skip' would (rightly) skip one whose predecessor
              // ran late, and run-once would fold occurrences that fell more than the grace behind into one catch-up.
              overlapPolicy: 'allow',
              missedPolicy: 'run-all',
              schedule: { kind: 'interval', seconds: 1 },
            },
            SYSTEM_ACTOR,
          ),
        );
      }
      await delay(31_500);
      await pauseAndSettle(jobs);

      const perInstance = new Map<string, number>();
      const lags: number[] = [];
      const byJob = await Promise.all(jobs.map((job) => allRuns(store, job.id)));
      const summary = byJob
        .flat()
        .map((r) => ({ lag: (r.startedAt?.getTime() ?? NaN) - r.scheduledFor.getTime(), status: r.status, trigger: r.trigger }));
      const statuses: Record<string, number> = {};
      for (const r of summary) statuses[`${r.status}/${r.trigger}`] = (statuses[`${r.status}/${r.trigger}`] ?? 0) + 1;
      const sortedLags = summary
        .map((r) => r.lag)
        .filter((n) => !Number.isNaN(n))
        .sort((a, b) => a - b);
      console.log(
        `# ${factory.name}: ${summary.length} runs ${JSON.stringify(statuses)}, lag p50 ${percentile(sortedLags, 0.5)} p99 ${percentile(sortedLags, 0.99)} max ${sortedLags.at(-1)} ms`,
      );
      for (const [i, job] of jobs.entries()) {
        const runs = byJob[i]!;
        assert.ok(runs.length >= 30, `${job.name}: ${runs.length} runs in 31.5 s`);
        // The first occurrence is one period after the anchor; from there, each one once, none missing.
        assert.equal(runs[0]!.scheduledFor.getTime(), job.anchorAt.getTime() + 1000, `${job.name}: first occurrence`);
        assertContiguous(job, runs, 1);
        const ran = ranBeforePause(runs);
        for (const run of ran) {
          assert.equal(run.status, 'succeeded', `${job.name} ${run.scheduledFor.toISOString()}: ${run.status} ${run.error}`);
          // catch-up: started more than the grace (3 s) late, on a machine busy with other test files.
          assert.ok(run.trigger === 'schedule' || run.trigger === 'catch-up', run.trigger);
          assert.equal(run.attempt, 1);
          perInstance.set(run.instanceId ?? '?', (perInstance.get(run.instanceId ?? '?') ?? 0) + 1);
          lags.push(run.startedAt!.getTime() - run.scheduledFor.getTime());
        }
        // The side effect happened exactly as often as there are run records: no occurrence executed twice.
        assert.equal(http.hits.get(`/ok?job=${i}`), ran.length, `${job.name}: requests vs runs`);
      }
      lags.sort((a, b) => a - b);
      const total = lags.length;
      console.log(
        `# ${factory.name}: ${total} runs, per instance ${JSON.stringify(Object.fromEntries(perInstance))}, ` +
          `lag p50 ${percentile(lags, 0.5)} ms, p95 ${percentile(lags, 0.95)} ms, p99 ${percentile(lags, 0.99)} ms, max ${lags[total - 1]} ms`,
      );
      assert.ok(
        [...perInstance.keys()].every((id) => apps.some((a) => a.instanceId === id)),
        [...perInstance.keys()].join(),
      );
      const busy = [...perInstance.values()].filter((n) => n >= total * 0.1);
      assert.ok(busy.length >= 2, `work did not spread: ${JSON.stringify(Object.fromEntries(perInstance))}`);
      assert.ok(lags[0]! >= -50, `a run started ${-lags[0]!} ms before it was due`);
      // No bound on the lag here: on a shared 2-core machine it follows the load of whatever else runs (measured p50
      // 20-90 ms alone, seconds beside a benchmark). bench/ measures dispatch lag; this test is about exactly-once.
    });

    test('a run twice as long as its lease runs once: the lease is renewed', async () => {
      const path = `/slow?ms=${LEASE_MS * 2 + 500}&renewal=1`;
      const job = await services.createJob(
        {
          name: 'outlives-its-lock',
          type: 'http',
          payload: { url: `${http.url}${path}` },
          schedule: { kind: 'once', at: new Date(Date.now() + 1_000).toISOString() },
        },
        SYSTEM_ACTOR,
      );
      const run = await waitFor('the long run to finish', async () => (await allRuns(store, job.id)).find((r) => !inFlight(r)), 30_000);
      assert.equal(run.status, 'succeeded', `${run.error}`);
      assert.equal(run.attempt, 1, 'nobody took the run over while it was renewed');
      assert.ok(run.finishedAt!.getTime() - run.startedAt!.getTime() >= LEASE_MS * 2, 'it did outlive the lease');
      await delay(LEASE_MS); // a second copy would start once the lease expired: give it the chance to show
      assert.equal((await allRuns(store, job.id)).length, 1);
      assert.equal(http.hits.get(path), 1, 'the handler ran once');
    });

    test('SIGTERM: the instance releases its locks and the others run the next occurrences on time', async () => {
      const jobs: Job[] = [];
      for (let i = 0; i < 6; i++) {
        jobs.push(
          await services.createJob(
            {
              name: `through-sigterm-${i}`,
              type: 'http',
              payload: { url: `${http.url}/ok?sigterm=${i}` },
              schedule: { kind: 'interval', seconds: 1 },
            },
            SYSTEM_ACTOR,
          ),
        );
      }
      await delay(3_000);
      const victim = live()[0]!;
      const stoppedAt = Date.now();
      await victim.stop('SIGTERM');
      stopped.add(victim);
      assert.ok(Date.now() - stoppedAt < 10_000, 'graceful stop took too long');
      await delay(5_000);
      await pauseAndSettle(jobs);

      const row = (await store.listInstances()).find((i) => i.id === victim.instanceId);
      assert.ok(row?.stoppedAt, 'the stopped instance recorded stoppedAt');
      for (const [i, job] of jobs.entries()) {
        const all = await allRuns(store, job.id);
        assertContiguous(job, all, 1);
        const runs = ranBeforePause(all);
        assert.equal(http.hits.get(`/ok?sigterm=${i}`), runs.length);
        const afterStop = runs.filter((r) => r.scheduledFor.getTime() > stoppedAt + 500);
        assert.ok(afterStop.length >= 4, `${job.name}: ${afterStop.length} runs after the stop`);
        for (const r of afterStop) {
          assert.notEqual(r.instanceId, victim.instanceId);
          assert.equal(r.status, 'succeeded');
          const lag = r.startedAt!.getTime() - r.scheduledFor.getTime();
          // A ticket the stopped instance had kept locked would wait for its lock (3 s) or the safety net (3 s grace).
          assert.ok(lag < 1_500, `${job.name} ${r.scheduledFor.toISOString()} started ${lag} ms late`);
        }
      }
    });

    test('kill -9 mid-run: the occurrence is taken over after the lease expires, never concurrently, recorded once with attempt 2', async () => {
      const path = '/slow?ms=4000&takeover=1';
      const job = await services.createJob(
        {
          name: 'survives-a-crash',
          type: 'http',
          payload: { url: `${http.url}${path}` },
          schedule: { kind: 'once', at: new Date(Date.now() + 1_000).toISOString() },
        },
        SYSTEM_ACTOR,
      );
      const first = await waitFor(
        'the run to start',
        async () => (await allRuns(store, job.id)).find((r) => r.status === 'running'),
        10_000,
      );
      const victim = live().find((a) => a.instanceId === first.instanceId);
      assert.ok(
        victim,
        `run on ${first.instanceId}, not one of ${live()
          .map((a) => a.instanceId)
          .join()}`,
      );
      await delay(1_000);
      const killedAt = Date.now();
      await victim.stop('SIGKILL');
      stopped.add(victim);

      const run = await waitFor(
        'the run to be taken over and finish',
        async () => (await allRuns(store, job.id)).find((r) => !inFlight(r) && r.attempt >= 2),
        30_000,
      );
      assert.equal(run.id, first.id, 'the same run record: the (job, scheduledFor) key holds');
      assert.equal(run.status, 'succeeded', `${run.error}`);
      assert.equal(run.attempt, 2);
      assert.notEqual(run.instanceId, victim.instanceId);
      assert.equal((await allRuns(store, job.id)).length, 1, 'recorded once');
      const history = await store.listRunAttempts(run.id);
      assert.equal(history.length, 1);
      assert.equal(history[0]!.attempt, 1);
      assert.equal(history[0]!.status, 'unknown');
      assert.equal(history[0]!.instanceId, victim.instanceId);
      assert.match(history[0]!.error ?? '', /stopped renewing the run's lease.*taken over by/);
      // Taken over only after the lease ran out: at least the lease minus the renewal interval after the kill.
      const takenAfter = run.startedAt!.getTime() - killedAt;
      assert.ok(takenAfter >= (LEASE_MS * 2) / 3 - 200, `taken over ${takenAfter} ms after the kill`);
      assert.ok(takenAfter < LEASE_MS + 5_000, `taken over only ${takenAfter} ms after the kill`);
      assert.equal(history[0]!.finishedAt.getTime(), run.startedAt!.getTime(), 'the takeover ends attempt 1 and starts attempt 2');
      // Two executions (the killed one and the takeover), never at the same time.
      const calls = http.requests.filter((r) => r.path === path).sort((a, b) => a.start - b.start);
      assert.equal(calls.length, 2);
      assert.ok(calls[0]!.end !== null && calls[0]!.end <= calls[1]!.start, 'attempt 2 started after attempt 1 was gone');
    });
  });
}
