/**
 * Auto-pause after N consecutive failed occurrences, with three real worker processes on one database, PostgreSQL and
 * then MongoDB (tests/scheduler/stores.ts): a job failing every second with afterFailures 3 is paused after exactly 3
 * failed occurrences, by the app ({ type: 'system', id: null, name: 'cronplane' }) with the note "paused after 3
 * consecutive failures", audited once; a success in between resets the count. Jobs are created through the service
 * layer; assertions read what the store recorded and what the local HTTP targets saw.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';
import type { Job, Run, Store } from '../../lib/store/types';
import { delay, ranBeforePause, startSchedulerWorld, waitFor, type SchedulerWorld } from './harness';
import { SCHEDULER_STORES } from './stores';

/**
 * A target that answers each call of /script?key=K with the next status of K's script (F = 500, S = 200), and 500 once
 * the script is used up; it records when each call came.
 */
async function startScriptedTarget(
  scripts: Record<string, string>,
): Promise<{ url: string; calls: Map<string, number[]>; close(): Promise<void> }> {
  const calls = new Map<string, number[]>();
  const server: Server = createServer((req, res) => {
    const key = new URL(req.url ?? '/', 'http://x').searchParams.get('key') ?? '';
    const seen = calls.get(key) ?? [];
    seen.push(Date.now());
    calls.set(key, seen);
    const step = (scripts[key] ?? '')[seen.length - 1] ?? 'F';
    res.writeHead(step === 'S' ? 200 : 500, { 'content-type': 'text/plain' }).end(step === 'S' ? 'ok' : `failure ${seen.length}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const SYSTEM_PAUSER = { type: 'system', id: null, name: 'cronplane' };

for (const factory of SCHEDULER_STORES) {
  describe(`${factory.name}: auto-pause after N consecutive failed occurrences (3 instances)`, () => {
    let world: SchedulerWorld;
    let store: Store;
    let target: Awaited<ReturnType<typeof startScriptedTarget>>;

    before(
      async () => {
        target = await startScriptedTarget({ always: '', reset: 'FFSFFF' });
        world = await startSchedulerWorld(['pause-a', 'pause-b', 'pause-c'], {}, factory.start);
        store = world.store;
      },
      { timeout: 120_000 },
    );

    after(
      async () => {
        await world?.close();
        await target?.close();
      },
      { timeout: 60_000 },
    );

    async function failingJob(name: string, key: string): Promise<Job> {
      return world.services.createJob(
        {
          name,
          type: 'http',
          payload: { url: `${target.url}/script?key=${key}` },
          schedule: { kind: 'interval', seconds: 1 },
          autoPause: { afterFailures: 3 },
        },
        SYSTEM_ACTOR,
      );
    }

    /** Waits for the auto-pause, then a while longer: nothing may run after it. */
    async function pausedJob(id: string, timeoutMs: number): Promise<{ job: Job; runs: Run[] }> {
      await waitFor(
        'the job to be paused',
        async () => {
          const job = await store.getJob(id);
          return job?.paused ? job : undefined;
        },
        timeoutMs,
      );
      // Occurrences already running when it was paused would end now; none may start after it.
      await delay(2_500);
      const runs = await world.runsOf(id);
      return { job: (await store.getJob(id))!, runs };
    }

    async function auditedPauses(jobId: string) {
      const page = await store.listAudit({ limit: 50, targetId: jobId, action: 'job.pause' });
      return page.items;
    }

    test(
      'failing every second with afterFailures 3: paused after exactly 3 failed occurrences, by the app, with the note, audited once',
      { timeout: 60_000 },
      async () => {
        const created = await failingJob('fails every second', 'always');
        const { job, runs } = await pausedJob(created.id, 30_000);

        assert.equal(job.paused, true);
        assert.equal(job.nextRunAt, null);
        assert.ok(job.pause, 'a pause record');
        assert.deepEqual(job.pause.by, SYSTEM_PAUSER);
        assert.equal(job.pause.note, 'paused after 3 consecutive failures');

        const ran = ranBeforePause(runs);
        assert.deepEqual(
          ran.map((r) => r.status),
          ['failed', 'failed', 'failed'],
          `exactly 3 failed occurrences, then nothing (runs: ${runs.map((r) => `${r.status}@${r.instanceId}`).join(', ')})`,
        );
        assert.equal(target.calls.get('always')?.length, 3, 'the target was called once per failed occurrence, 3 times in all');
        for (const run of runs) {
          assert.ok(!run.startedAt || run.startedAt.getTime() <= job.pause.at.getTime(), `no run started after the pause (${run.id})`);
        }

        const entries = await auditedPauses(job.id);
        assert.equal(entries.length, 1, 'one pause, audited once, however many instances saw the failures');
        const [entry] = entries;
        assert.equal(entry!.actorType, 'system');
        assert.equal(entry!.actorId, null);
        assert.equal(entry!.actorName, 'cronplane');
        assert.deepEqual(entry!.changes?.pauseNote, { before: null, after: 'paused after 3 consecutive failures' });
        assert.equal(entry!.targetName, 'fails every second');

        // Resumed, it starts counting from 0: the next failure alone does not pause it again.
        const resumed = await world.services.resumeJob(job.id, SYSTEM_ACTOR);
        assert.equal(resumed.paused, false);
        const before = target.calls.get('always')!.length;
        await waitFor('a failure after the resume', async () => target.calls.get('always')!.length > before || undefined, 10_000);
        await delay(300);
        await world.services.pauseJob(job.id, SYSTEM_ACTOR);
        const after = await store.getJob(job.id);
        assert.equal(after?.pause?.by.name, 'system', 'paused by hand (the test), not by the count');
        assert.ok(target.calls.get('always')!.length - before < 3, 'fewer than 3 failures since the resume');
      },
    );

    test('a success in between resets the count: F F S F F F pauses after the 6th occurrence', { timeout: 60_000 }, async () => {
      const created = await failingJob('fails with a success between', 'reset');
      const { job, runs } = await pausedJob(created.id, 40_000);
      assert.deepEqual(job.pause?.by, SYSTEM_PAUSER);
      assert.equal(job.pause?.note, 'paused after 3 consecutive failures');
      assert.deepEqual(
        ranBeforePause(runs).map((r) => r.status),
        ['failed', 'failed', 'succeeded', 'failed', 'failed', 'failed'],
        `runs: ${runs.map((r) => `${r.status}@${r.instanceId}`).join(', ')}`,
      );
      assert.equal(target.calls.get('reset')?.length, 6);
      assert.equal((await auditedPauses(job.id)).length, 1);
    });
  });
}
