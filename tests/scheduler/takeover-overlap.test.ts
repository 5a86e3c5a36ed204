/**
 * Takeovers and the overlap policies, with real worker processes (PostgreSQL, then MongoDB): what the fault harness
 * found. A queue-one job whose running run and queued run were both taken over after a crash must not deadlock (the
 * taken-over queued run kept looking started, and each waited for the other for ever); a taken-over run that had
 * already called its target continues as that occurrence instead of being skipped by its own overlap policy.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';
import type { Run } from '../../lib/store/types';
import {
  delay,
  inFlight,
  openTestServices,
  startHttpTarget,
  startWorker,
  stopWorker,
  waitFor,
  type HttpTarget,
  type TestServices,
  type Worker,
} from './harness';
import { SCHEDULER_STORES } from './stores';

const ENV = { SCHEDULER_LEASE_MS: '3000', SCHEDULER_HEARTBEAT_MS: '500' };

for (const factory of SCHEDULER_STORES) {
  describe(`${factory.name}: takeovers and the overlap policy`, () => {
    let opened: TestServices;
    let http: HttpTarget;
    const workers: Worker[] = [];

    before(async () => {
      opened = await openTestServices(factory.start);
      http = await startHttpTarget();
    });

    // After each test, not only at the end: a failed test's instances would otherwise take the next test's runs
    // (seen in CI: the stop test failed under load, and its instance then ran the skip test's run).
    afterEach(async () => {
      await Promise.allSettled(workers.splice(0).map((w) => stopWorker(w, 'SIGKILL', 5_000)));
    });

    after(async () => {
      await http?.close();
      await opened?.close();
    });

    const runsOf = async (jobId: string): Promise<Run[]> => {
      const runs: Run[] = [];
      let cursor: string | undefined;
      do {
        const page = await opened.store.listRuns({ jobId, limit: 100, cursor });
        runs.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return runs.sort((a, b) => a.scheduledFor.getTime() - b.scheduledFor.getTime());
    };

    /** One worker alone (so the job's first runs are surely its own) and an http job calling `path`. */
    const aloneWithJob = async (label: string, name: string, path: string, seconds: number, overlapPolicy: 'skip' | 'queue-one') => {
      const first = await startWorker(opened.db.url, `${factory.name}-${label}-a`, ENV);
      workers.push(first);
      const job = await opened.services.createJob(
        { name, type: 'http', payload: { url: `${http.url}${path}` }, schedule: { kind: 'interval', seconds }, overlapPolicy },
        SYSTEM_ACTOR,
      );
      return { first, job };
    };
    const runGoing = (jobId: string): Promise<Run> =>
      waitFor('a run going', async () => (await runsOf(jobId)).find((r) => r.status === 'running' && r.startedAt !== null), 15_000);
    /** A run going and the next one queued behind it (running, no start yet). */
    const goingAndQueued = (jobId: string): Promise<readonly [Run, Run]> =>
      waitFor(
        'a run going and the next one queued',
        async () => {
          const runs = (await runsOf(jobId)).filter((r) => r.status === 'running');
          const started = runs.find((r) => r.startedAt !== null);
          const waiting = runs.find((r) => r.startedAt === null);
          return started && waiting ? ([started, waiting] as const) : undefined;
        },
        15_000,
      );
    const takenOverAndDone = (runId: string, timeoutMs: number): Promise<Run> =>
      waitFor(
        'the takeover to finish',
        async () => {
          const run = await opened.store.getRun(runId);
          return run && run.attempt >= 2 && !inFlight(run) ? run : undefined;
        },
        timeoutMs,
      );

    test('queue-one: a crash with one run going and the next one queued, both taken over: they run one after the other, no deadlock', async () => {
      const { store, services } = opened;
      const path = '/slow?ms=3500&queue=1';
      const { first, job } = await aloneWithJob('queue', 'queued-through-a-crash', path, 2, 'queue-one');
      // One run going, the next one queued behind it (running, no start), both on the only instance.
      const [going, queued] = await goingAndQueued(job.id);
      await services.pauseJob(job.id, SYSTEM_ACTOR);
      await stopWorker(first, 'SIGKILL');
      const second = await startWorker(opened.db.url, `${factory.name}-queue-b`, ENV);
      workers.push(second);

      const settled = await waitFor(
        'both to finish after the takeovers',
        async () => {
          const a = await store.getRun(going.id);
          const b = await store.getRun(queued.id);
          return a && b && !inFlight(a) && !inFlight(b) ? ([a, b] as const) : undefined;
        },
        30_000,
      );
      const [a, b] = settled;
      assert.equal(a.status, 'succeeded', `${a.error}`);
      assert.equal(b.status, 'succeeded', `${b.error}`);
      assert.equal(a.attempt, 2);
      assert.equal(b.instanceId, second.instanceId);
      assert.ok(b.startedAt!.getTime() >= a.finishedAt!.getTime() - 50, 'the queued one started after the one ahead of it ended');
      const history = await store.listRunAttempts(queued.id);
      assert.deepEqual(
        history.map((h) => h.status),
        ['abandoned'],
        'the queued attempt had not started: abandoned, not unknown',
      );
      assert.equal((await store.listRunAttempts(going.id))[0]?.status, 'unknown');
      await stopWorker(second, 'SIGTERM');
    });

    test('queue-one: a stopping instance starts nothing, not even a queued run whose turn comes during its grace: it goes to another instance', async () => {
      const { store, services } = opened;
      // Long enough that the one ahead is still going when the SIGTERM comes (the second worker's start takes seconds,
      // over 7 on a loaded CI machine), short enough to end within the 10 s grace that starts after it.
      const path = '/slow?ms=9500&stop=1';
      const { first, job } = await aloneWithJob('stop', 'queued-through-a-stop', path, 2, 'queue-one');
      const [, queued] = await goingAndQueued(job.id);
      const second = await startWorker(opened.db.url, `${factory.name}-stop-b`, ENV);
      workers.push(second);
      await services.pauseJob(job.id, SYSTEM_ACTOR);
      const before = await store.getRun(queued.id);
      assert.ok(before?.status === 'running' && before.startedAt === null, 'still queued when the SIGTERM comes');
      const stoppedAt = Date.now();
      await stopWorker(first, 'SIGTERM');
      const done = await waitFor(
        'the queued run to finish elsewhere',
        async () => {
          const run = await store.getRun(queued.id);
          return run && !inFlight(run) ? run : undefined;
        },
        30_000,
      );
      assert.equal(done.status, 'succeeded', `${done.error}`);
      assert.equal(done.instanceId, second.instanceId, 'run by the other instance');
      const [given] = await store.listRunAttempts(queued.id);
      assert.equal(given?.instanceId, first.instanceId);
      assert.equal(given?.status, 'abandoned', 'the stopping instance never called the handler');
      assert.equal(given?.startedAt, null);
      const late = http.requests.filter((r) => r.path === path && r.start > stoppedAt);
      assert.equal(late.length, 1, 'after the SIGTERM the target was called once: by the other instance');
      await stopWorker(second, 'SIGTERM');
    });

    test('a run given back before its handler started, taken over: it is recorded with its start (else a skip job let the next occurrence beside it)', async () => {
      const { store, services } = opened;
      const path = '/slow?ms=300&given=1';
      const job = await services.createJob(
        {
          name: 'given-back-unstarted',
          type: 'http',
          payload: { url: `${http.url}${path}` },
          schedule: { kind: 'interval', seconds: 3600 },
          overlapPolicy: 'skip',
        },
        SYSTEM_ACTOR,
      );
      // What a stopping instance leaves when the stop came between the start and the handler: running, no start, its
      // lease expired at once.
      const given = await store.insertRun({
        jobId: job.id,
        jobName: job.name,
        scheduledFor: new Date(Date.now() - 2_000),
        startedAt: null,
        finishedAt: null,
        status: 'running',
        trigger: 'schedule',
        instanceId: 'stopped-instance',
        attempt: 1,
        error: 'instance stopped-instance was stopping: given back before its handler started',
        output: null,
        leaseExpiresAt: new Date(Date.now() - 1_000),
      });
      assert.ok(given);
      const worker = await startWorker(opened.db.url, `${factory.name}-given-b`, ENV);
      workers.push(worker);
      const done = await takenOverAndDone(given.id, 20_000);
      assert.equal(done.status, 'succeeded', `${done.error}`);
      assert.ok(done.startedAt, 'the taken-over attempt recorded its start');
      assert.ok(done.startedAt.getTime() >= (await store.listRunAttempts(given.id))[0]!.finishedAt.getTime(), 'at or after the takeover');
      assert.equal((await store.listRunAttempts(given.id))[0]!.status, 'abandoned');
      await services.pauseJob(job.id, SYSTEM_ACTOR);
      await stopWorker(worker, 'SIGTERM');
    });

    test('skip: a taken-over run that had called its target continues that occurrence; it is not skipped behind a later one', async () => {
      const path = '/slow?ms=5000&skip=1';
      const { first, job } = await aloneWithJob('skip', 'skip-through-a-crash', path, 3, 'skip');
      const going = await runGoing(job.id);
      assert.equal(going.instanceId, first.instanceId, 'the only instance runs it');
      await waitFor('its call to reach the target', async () => http.requests.some((r) => r.path === path) || undefined, 5_000);
      await stopWorker(first, 'SIGKILL');
      const second = await startWorker(opened.db.url, `${factory.name}-skip-b`, ENV);
      workers.push(second);
      const taken = await takenOverAndDone(going.id, 30_000);
      assert.equal(taken.status, 'succeeded', `the occurrence went on: ${taken.status} ${taken.error}`);
      await opened.services.pauseJob(job.id, SYSTEM_ACTOR);
      await delay(500);
      await stopWorker(second, 'SIGTERM');
    });

    test("skip: between a dead owner's lease expiry and its takeover, a later occurrence does not slip in (no overlap at the target)", async () => {
      const { services } = opened;
      const path = '/slow?ms=4000&gap=1';
      const { first, job } = await aloneWithJob('gap', 'skip-through-the-gap', path, 1, 'skip');
      const going = await runGoing(job.id);
      // The survivor sweeps rarely: the dead owner's run sits with an expired lease for seconds before its takeover,
      // while occurrences fall due every second.
      const second = await startWorker(opened.db.url, `${factory.name}-gap-b`, { ...ENV, SCHEDULER_SWEEP_MS: '6000' });
      workers.push(second);
      await stopWorker(first, 'SIGKILL');
      const taken = await takenOverAndDone(going.id, 40_000);
      assert.equal(taken.status, 'succeeded');
      await services.pauseJob(job.id, SYSTEM_ACTOR);
      await waitFor('runs to settle', async () => (await runsOf(job.id)).every((r) => !inFlight(r)) || undefined, 15_000);
      const calls = http.requests.filter((r) => r.path === path).sort((a, b) => a.start - b.start);
      for (let i = 1; i < calls.length; i++) {
        assert.ok(
          calls[i - 1]!.end !== null && calls[i - 1]!.end! <= calls[i]!.start,
          `call ${i} started at ${calls[i]!.start} while call ${i - 1} went on until ${calls[i - 1]!.end}`,
        );
      }
      const skipped = (await runsOf(job.id)).filter((r) => r.status === 'skipped');
      assert.ok(skipped.length >= 3, `the occurrences in between were skipped (${skipped.length})`);
      await stopWorker(second, 'SIGTERM');
    });
  });
}
