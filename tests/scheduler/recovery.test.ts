/**
 * Crash recovery and policies, with two real worker processes on a real PostgreSQL:
 * kill -9 mid-run, overlap 'skip', missed-occurrence policies. Assertions read the store's records.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { TestPostgres } from '../support/postgres';
import type { NewJob, Run, Store } from '../../lib/store/types';
import {
  inFlight,
  ranBeforePause,
  delay,
  stopWorker,
  waitFor,
  type HttpTarget,
  type Worker,
  startSchedulerWorld,
  type SchedulerWorld,
} from './harness';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';

let world: SchedulerWorld;
let db: TestPostgres;
let store: Store;
let services: SchedulerWorld['services'];
let http: HttpTarget;
let workers: Worker[];
const allRuns = (jobId: string): Promise<Run[]> => world.runsOf(jobId);

const secondsFromNow = (s: number): string => new Date(Date.now() + s * 1000).toISOString();

before(async () => {
  // A long Agenda lock, short leases and grace: recovery after a crash must not wait for the lock to expire.
  const env = { SCHEDULER_LOCK_LIFETIME_MS: '20000', SCHEDULER_LEASE_MS: '3000', SCHEDULER_MISSED_GRACE_MS: '2000' };
  world = await startSchedulerWorld(['worker-c', 'worker-d'], env);
  ({ db, store, services, http, workers } = world);
});

after(async () => {
  await world?.close();
});

describe('scheduler recovery and policies', () => {
  test('overlap skip: an occurrence due while the previous run still runs is recorded as skipped', async () => {
    const job = await services.createJob(
      {
        name: 'overlapping',
        type: 'http',
        payload: { url: `${http.url}/slow?ms=2500` },
        schedule: { kind: 'interval', seconds: 1 },
      },
      SYSTEM_ACTOR,
    );
    await delay(6_500);
    await services.pauseJob(job.id, SYSTEM_ACTOR);
    await waitFor('runs to finish', async () => (await allRuns(job.id)).every((r) => !inFlight(r)), 10_000);
    const runs = await allRuns(job.id);
    const ran = runs.filter((r) => r.status === 'succeeded');
    const skipped = runs.filter((r) => r.status === 'skipped');
    assert.ok(ran.length >= 2 && skipped.length >= 2, runs.map((r) => r.status).join());
    assert.equal(ran.length + skipped.length, runs.length, runs.map((r) => `${r.status}: ${r.error}`).join('\n'));
    for (const r of skipped) assert.match(r.error ?? '', /^skipped: the run due at .* was still running$/);
    // The runs that did run never overlapped.
    for (let i = 1; i < ran.length; i++) assert.ok(ran[i]!.startedAt! >= ran[i - 1]!.finishedAt!, `runs ${i - 1} and ${i} overlap`);
  });

  test('missed occurrences: run-once runs it late as a catch-up, skip records it as missed', async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    const late = await services.createJob(
      { name: 'late-run-once', type: 'log', payload: { message: 'late' }, schedule: { kind: 'once', at: past } },
      SYSTEM_ACTOR,
    );
    const skip = await services.createJob(
      {
        name: 'late-skip',
        type: 'log',
        payload: { message: 'never' },
        schedule: { kind: 'once', at: past },
        missedPolicy: 'skip',
      },
      SYSTEM_ACTOR,
    );
    const caughtUp = await waitFor('the catch-up run', async () => (await allRuns(late.id)).find((r) => !inFlight(r)));
    assert.equal(caughtUp.trigger, 'catch-up');
    assert.equal(caughtUp.status, 'succeeded');
    assert.equal(caughtUp.scheduledFor.toISOString(), new Date(past).toISOString());
    const missed = await waitFor('the missed record', async () => (await allRuns(skip.id))[0]);
    assert.equal(missed.status, 'missed');
    assert.equal(missed.output, null);
    assert.equal(missed.startedAt, null);
  });

  test('an edit that keeps the schedule keeps the chain: no gap, the next runs use the new payload', async () => {
    const job = await services.createJob(
      { name: 'edited', type: 'log', payload: { message: 'before' }, schedule: { kind: 'interval', seconds: 1 } },
      SYSTEM_ACTOR,
    );
    await waitFor('a first run', async () => (await allRuns(job.id)).some((r) => r.status === 'succeeded'));
    const edited = await services.updateJob(job.id, { payload: { message: 'after' } }, SYSTEM_ACTOR);
    assert.ok(edited.version > job.version);
    const editedAt = Date.now();
    await delay(3_000);
    await services.pauseJob(job.id, SYSTEM_ACTOR);
    await waitFor('runs to finish', async () => (await allRuns(job.id)).every((r) => !inFlight(r)));
    const runs = await allRuns(job.id);
    for (let i = 1; i < runs.length; i++)
      assert.equal(runs[i]!.scheduledFor.getTime() - runs[i - 1]!.scheduledFor.getTime(), 1_000, 'no gap');
    const later = runs.filter((r) => r.scheduledFor.getTime() > editedAt + 1_000);
    assert.ok(later.length >= 1);
    for (const r of later) {
      assert.equal(r.output, '[info] after');
      assert.equal(r.trigger, 'schedule');
      assert.ok(r.startedAt!.getTime() - r.scheduledFor.getTime() < 1_000, 'on time, not rescued by the safety net');
    }
  });

  test('safety net: a lost ticket and a ticket locked by a dead instance are both rescued, each occurrence once', async () => {
    const now = await store.now();
    const due = new Date(Math.ceil(now.getTime() / 1000) * 1000 + 1000);
    const base: Omit<NewJob, 'name' | 'schedule'> = {
      description: '',
      type: 'log',
      payload: { message: 'rescued' },
      paused: false,
      timeoutSeconds: 60,
      overlapPolicy: 'skip',
      missedPolicy: 'run-once',
      tags: [],
      anchorAt: now,
      nextRunAt: due,
    };
    // Written straight to the store: as if the instance crashed between the job write and the enqueue.
    const lost = await store.createJob({ ...base, name: 'lost-ticket', schedule: { kind: 'once', at: due.toISOString() } });
    const held = await store.createJob({ ...base, name: 'held-ticket', schedule: { kind: 'once', at: due.toISOString() } });
    // A ticket locked by an instance that then died: Agenda will not hand it out until its 20 s lock expires.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const ticket = { jobId: held.id, version: held.version, scheduledFor: due.toISOString(), trigger: 'schedule' };
      await client.query(
        `INSERT INTO agenda_jobs (name, next_run_at, locked_at, data, type, priority, last_modified_by) VALUES ('cronplane:occurrence', $1, now(), $2, 'normal', 0, 'dead-instance')`,
        [due, JSON.stringify(ticket)],
      );
    } finally {
      await client.end();
    }
    for (const job of [lost, held]) {
      const run = await waitFor(`${job.name} to run`, async () => (await allRuns(job.id)).find((r) => r.status === 'succeeded'), 12_000);
      const lag = run.startedAt!.getTime() - due.getTime();
      // Grace 2 s + sweep 0.5 s; far below the 20 s lock.
      assert.ok(lag >= 2_000 && lag < 6_000, `${job.name} ran ${lag} ms after it was due`);
      assert.equal(run.trigger, 'catch-up');
      assert.equal(run.scheduledFor.getTime(), due.getTime());
      assert.equal((await store.getJob(job.id))?.nextRunAt, null);
    }
    await delay(1_500); // more rescue tickets may fire: they must find nothing to do
    assert.equal((await allRuns(lost.id)).length, 1);
    assert.equal((await allRuns(held.id)).length, 1);
  });

  test('kill -9 mid-run: the run is taken over by the survivor as attempt 2, the survivor carries on, no ticket is left behind', async () => {
    const slow = await services.createJob(
      {
        name: 'crashing',
        type: 'http',
        payload: { url: `${http.url}/slow?ms=6000` },
        schedule: { kind: 'once', at: secondsFromNow(1) },
      },
      SYSTEM_ACTOR,
    );
    const beats = await Promise.all(
      [1, 2, 3].map((i) =>
        services.createJob(
          { name: `beat-${i}`, type: 'log', payload: { message: 'beat' }, schedule: { kind: 'interval', seconds: 1 } },
          SYSTEM_ACTOR,
        ),
      ),
    );
    const running = await waitFor('the slow run to start', async () => (await allRuns(slow.id)).find((r) => r.status === 'running'));
    const victim = workers.find((w) => w.instanceId === running.instanceId)!;
    const survivor = workers.find((w) => w !== victim)!;
    await delay(1_500); // the victim also holds beat tickets now (locked ahead of their due time)
    const killedAt = Date.now();
    assert.equal((await stopWorker(victim, 'SIGKILL')).signal, 'SIGKILL');

    // Lease 3 s + sweep every 0.5 s, far below the 20 s Agenda lock of the victim's ticket.
    const takenOver = await waitFor(
      'the run to be taken over',
      async () => {
        const run = await store.getRun(running.id);
        return run && run.attempt === 2 ? run : undefined;
      },
      10_000,
    );
    assert.equal(takenOver.instanceId, survivor.instanceId);
    assert.ok(takenOver.startedAt!.getTime() - killedAt < 8_000);
    const [abandoned] = await store.listRunAttempts(running.id);
    assert.equal(abandoned?.status, 'unknown', 'it had started: its outcome is unknown');
    assert.match(
      abandoned?.error ?? '',
      new RegExp(`^instance ${victim.instanceId} stopped renewing the run's lease .*; taken over by ${survivor.instanceId}$`),
    );
    const finished = await waitFor(
      'attempt 2 to finish',
      async () => {
        const run = await store.getRun(running.id);
        return run?.status !== 'running' ? run : undefined;
      },
      15_000,
    );
    assert.equal(finished?.status, 'succeeded');

    // The interval jobs go on, on the survivor only, with every occurrence; an occurrence whose ticket the victim
    // had locked is rescued by the safety net well before the 20 s Agenda lock expires.
    await delay(6_000);
    for (const beat of beats) await services.pauseJob(beat.id, SYSTEM_ACTOR);
    for (const beat of beats) {
      await waitFor('beat runs to finish', async () => (await allRuns(beat.id)).every((r) => !inFlight(r)));
      const all = await allRuns(beat.id);
      for (let i = 1; i < all.length; i++)
        assert.equal(all[i]!.scheduledFor.getTime() - all[i - 1]!.scheduledFor.getTime(), 1_000, 'no gap');
      const afterKill = ranBeforePause(all).filter((r) => r.scheduledFor.getTime() > killedAt);
      assert.ok(afterKill.length >= 5, `only ${afterKill.length} runs after the kill`);
      const maxLag = Math.max(...afterKill.map((r) => r.startedAt!.getTime() - r.scheduledFor.getTime()));
      console.log(
        `# ${beat.name}: ${afterKill.length} runs after the kill, max lag ${maxLag} ms, triggers ${[...new Set(afterKill.map((r) => r.trigger))].join('/')}`,
      );
      for (const r of afterKill) {
        assert.equal(r.instanceId, survivor.instanceId);
        assert.equal(r.status, 'succeeded');
        const lag = r.startedAt!.getTime() - r.scheduledFor.getTime();
        assert.ok(lag < 8_000, `${beat.name} occurrence ${r.scheduledFor.toISOString()} started ${lag} ms late`);
      }
    }

    // The crashed instance's tickets (locked) expired after 20 s, fired on the survivor, were seen as stale and removed:
    // the one-off is one run record (two attempts), and Agenda's table holds no finished work.
    assert.equal((await allRuns(slow.id)).length, 1);
    assert.equal(http.hits.get('/slow?ms=6000'), 2);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const left = await waitFor(
        'tickets to be cleaned up',
        async () => {
          const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM agenda_jobs');
          return rows[0]!.n === 0 ? true : undefined;
        },
        30_000,
      );
      assert.equal(left, true);
    } finally {
      await client.end();
    }
    const victimRow = (await store.listInstances()).find((i) => i.id === victim.instanceId);
    assert.equal(victimRow?.stoppedAt, null, 'a crashed instance cannot mark itself stopped');
  });
});
