/**
 * What a stopping instance gives back, and how (lib/scheduler/execution.ts notStartedBack, lib/scheduler/leases.ts
 * release), on stand-ins for the store and Agenda: the order of the writes is what matters, found by the fault harness.
 * - A run started from its claim whose handler was never called goes back as that claim, so the job's next occurrence
 *   cannot start before it (given back as a running run without a start, it no longer held the order).
 * - A give-back never lands before a lease renewal already in flight (which would push the lease a full lease ahead
 *   again, and the run would wait for it to expire instead of being taken over at once).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Agenda } from 'agenda';
import type { Logger } from '../../lib/log';
import { ExecutionSystem } from '../../lib/scheduler/execution';
import { HeldRuns } from '../../lib/scheduler/leases';
import type { OverlapSystem } from '../../lib/scheduler/overlap';
import type { SchedulerResources } from '../../lib/scheduler/resources';
import type { Job, Run, RunPatch, Store } from '../../lib/store/types';

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined } as unknown as Logger;
const config = { leaseMs: 6_000 } as SchedulerResources['config'];
const clock = { now: () => new Date() } as SchedulerResources['clock'];
// saveTicket fails on this stand-in; release logs that and relies on the safety net, which is not under test here.
const agenda = {} as Agenda;

function run(overrides: Partial<Run>): Run {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    jobId: '00000000-0000-4000-8000-0000000000aa',
    jobName: 'j',
    scheduledFor: new Date(Date.now() - 1_000),
    startedAt: new Date(),
    finishedAt: null,
    status: 'running',
    trigger: 'schedule',
    instanceId: 'stopping-instance',
    attempt: 1,
    error: null,
    output: null,
    leaseExpiresAt: new Date(Date.now() + 6_000),
    rangeEnd: null,
    rangeCount: null,
    ...overrides,
  } as Run;
}

const job = { id: run({}).jobId, name: 'j', type: 'log', overlapPolicy: 'allow', concurrencyLimit: null } as unknown as Job;

/** A store that records the scheduler's writes in order. */
function recordingStore(writes: string[], renewDelayMs = 0): Store {
  return {
    updateRun: async (_id: string, patch: RunPatch) => {
      writes.push(`updateRun ${JSON.stringify(patch)}`);
      return null;
    },
    releaseRuns: async () => {
      writes.push('releaseRuns');
      return 1;
    },
    renewLeases: async (_instance: string, runs: Array<{ id: string }>) => {
      writes.push('renew sent');
      await new Promise((r) => setTimeout(r, renewDelayMs));
      writes.push('renew done');
      return { renewed: runs.map((r) => r.id), cancelRequested: [] };
    },
  } as unknown as Store;
}

function stoppingInstance(store: Store): { res: SchedulerResources; held: HeldRuns } {
  const held = new HeldRuns({ store, agenda, config, instanceId: 'stopping-instance', clock, log: quiet });
  const res = {
    store,
    agenda,
    config,
    instanceId: 'stopping-instance',
    clock,
    log: quiet,
    held,
    state: () => 'stopping',
    stopping: AbortSignal.abort(),
    track: (work: Promise<void>) => work,
  } as unknown as SchedulerResources;
  return { res, held };
}

describe('a stopping instance gives back what it has not started', () => {
  test('a run started from its claim, handler not called: back as the claim (status claimed, no start), then released', async () => {
    const writes: string[] = [];
    const { res, held } = stoppingInstance(recordingStore(writes));
    const execution = new ExecutionSystem(res, {} as OverlapSystem, async () => undefined);
    const started = run({});
    await execution.runOwned(job, started, held.hold(started, null, Date.now()), 'schedule');
    assert.deepEqual(writes, ['updateRun {"status":"claimed","startedAt":null}', 'releaseRuns']);
  });

  test('a queued run (no start yet), a takeover (a later attempt) and a run-now go back as running runs without a start', async () => {
    for (const given of [run({ startedAt: null }), run({ attempt: 2, trigger: 'schedule' }), run({ trigger: 'manual' })]) {
      const writes: string[] = [];
      const { res, held } = stoppingInstance(recordingStore(writes));
      const execution = new ExecutionSystem(res, {} as OverlapSystem, async () => undefined);
      await execution.runOwned(job, given, held.hold(given, null, Date.now()), given.trigger === 'manual' ? 'manual' : 'schedule');
      assert.deepEqual(writes, ['updateRun {"startedAt":null}', 'releaseRuns'], `${given.trigger} attempt ${given.attempt}`);
    }
  });

  test('a give-back waits for the lease renewal in flight, and the run is out of later renewals', async () => {
    const writes: string[] = [];
    const { held } = stoppingInstance(recordingStore(writes, 100));
    const h = held.hold(run({}), null, Date.now());
    const renewal = held.renew();
    await held.release(h, 'given back');
    await renewal;
    assert.deepEqual(writes, ['renew sent', 'renew done', 'releaseRuns']);
    assert.equal(held.has(h.run.id), false);
    writes.length = 0;
    await held.renew();
    assert.deepEqual(writes, [], 'nothing left to renew');
  });
});
