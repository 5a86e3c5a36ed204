/**
 * An in-process scheduler on a real PostgreSQL: a stop whose grace period runs out gives the run back (its outcome is
 * unknown) for another instance to take over, marks the instance stopped and leaves no ticket locked. Plus the output
 * bound.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { TestPostgres } from '../support/postgres';
import type { Run, Store } from '../../lib/store/types';
import { OutputBuffer } from '../../lib/scheduler/output';
import { openTestServices, startHttpTarget, waitFor, type HttpTarget, type TestServices } from './harness';
import { Scheduler } from '../../lib/scheduler/scheduler';
import { loadSchedulerConfig } from '../../lib/scheduler/config';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';

let db: TestPostgres;
let store: Store;
let http: HttpTarget;
let opened: TestServices | undefined;

before(async () => {
  opened = await openTestServices();
  ({ db, store } = opened);
  http = await startHttpTarget();
});

after(async () => {
  await http?.close();
  await opened?.close();
});

describe('graceful stop', () => {
  test('past the grace period the run is given back and taken over elsewhere, the instance stopped, no ticket left locked', async () => {
    // Agenda's channels: new tickets, and its per-ticket state events (start, success, complete), which nothing here
    // uses and the scheduler mutes (3 statements per occurrence, delivered to every instance).
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const heard: Record<string, number> = {};
    listener.on('notification', (n) => {
      heard[n.channel] = (heard[n.channel] ?? 0) + 1;
    });
    await listener.query('LISTEN "agenda:jobs"');
    await listener.query('LISTEN "agenda:jobs:state"');
    const { startScheduler } = await import('../../lib/scheduler');
    const services = await import('../../lib/services/jobs');
    const scheduler = (await startScheduler({ store, instanceId: 'in-process', handleSignals: false }))!;
    assert.equal(scheduler.running, true);
    const job = await services.createJob(
      {
        name: 'never-finishes',
        type: 'http',
        payload: { url: `${http.url}/slow?ms=30000` },
        schedule: { kind: 'interval', seconds: 3600 },
      },
      SYSTEM_ACTOR,
    );
    await services.runJobNow(job.id, SYSTEM_ACTOR);
    const running = await waitFor('the run to start', async () =>
      (await store.listRuns({ jobId: job.id, limit: 5 })).items.find((r) => r.status === 'running'),
    );
    await listener.query('SELECT 1'); // notifications sent before this round trip have arrived
    await listener.end();
    assert.ok((heard['agenda:jobs'] ?? 0) >= 1, `ticket notifications: ${JSON.stringify(heard)}`);
    assert.equal(heard['agenda:jobs:state'] ?? 0, 0, 'no Agenda state notifications');
    const started = Date.now();
    await scheduler.stop(500);
    const took = Date.now() - started;
    assert.ok(took >= 500 && took < 4_000, `stop took ${took} ms`);
    assert.equal(scheduler.running, false);

    const run = (await store.getRun(running.id)) as Run;
    assert.equal(run.status, 'running', 'given back for a takeover, not closed: the occurrence is still owed');
    assert.equal(run.error, 'instance in-process shut down before the run finished; outcome unknown');
    assert.ok(run.leaseExpiresAt && run.leaseExpiresAt.getTime() <= Date.now(), 'its lease is expired at once');
    const instance = (await store.listInstances()).find((i) => i.id === 'in-process');
    assert.ok(instance?.stoppedAt);

    // The run's ticket is gone; a takeover ticket for the run, and the next occurrence's ticket (an hour away), wait
    // unlocked for any instance.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{
        due: Date;
        locked: Date | null;
        data: { trigger: string; scheduledFor: string; runId?: string };
      }>('SELECT next_run_at AS due, locked_at AS locked, data FROM agenda_jobs ORDER BY next_run_at');
      assert.deepEqual(
        rows.map((r) => r.data.trigger),
        ['takeover', 'schedule'],
      );
      assert.equal(rows[0]!.data.runId, run.id);
      assert.ok(rows.every((r) => r.locked === null));
      const nextRunAt = (await store.getJob(job.id))!.nextRunAt!;
      assert.equal(rows[1]!.data.scheduledFor, nextRunAt.toISOString());
      assert.ok(scheduler.config.prefetchMs > 0);
      assert.equal(rows[1]!.due.getTime(), nextRunAt.getTime() - scheduler.config.prefetchMs, 'the ticket fires the prefetch lead early');
      // Deleting or pausing can clear a job's pending tickets at once instead of letting them expire.
      const { cancelTickets } = await import('../../lib/scheduler/dispatch');
      assert.equal(await cancelTickets(job.id), 2);
      assert.equal((await client.query('SELECT 1 FROM agenda_jobs')).rowCount, 0);
    } finally {
      await client.end();
    }

    // Another instance takes the run over (its sweep finds the expired lease; the takeover ticket is gone) as attempt 2.
    const successor = new Scheduler(store, 'successor', loadSchedulerConfig());
    await successor.start();
    try {
      const taken = await waitFor(
        'the takeover',
        async () => {
          const r = await store.getRun(running.id);
          return r && r.attempt === 2 ? r : undefined;
        },
        10_000,
      );
      assert.equal(taken.instanceId, 'successor');
      const [first] = await store.listRunAttempts(running.id);
      assert.equal(first?.status, 'unknown');
      assert.equal(first?.instanceId, 'in-process');
      assert.equal(first?.error, 'instance in-process shut down before the run finished; outcome unknown; taken over by successor');
      // Attempt 2 is recorded before its request leaves; wait for the call rather than read the count at once.
      await waitFor('the second call to the target', async () =>
        http.requests.filter((r) => r.path === '/slow?ms=30000').length === 2 ? true : undefined,
      );
      assert.equal(http.requests.filter((r) => r.path === '/slow?ms=30000').length, 2, 'the target was called again, once');
    } finally {
      await successor.stop(100);
    }
  });
});

describe('tickets follow pause, resume and delete', () => {
  test("pausing removes the paused occurrence's ticket (not a queued run-now), resuming adds one, deleting removes all", async () => {
    const services = await import('../../lib/services/jobs');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const tickets = async (jobId: string): Promise<string[]> => {
        const { rows } = await client.query<{ data: { trigger: string; scheduledFor: string } }>(
          "SELECT data FROM agenda_jobs WHERE data->>'jobId' = $1 ORDER BY next_run_at",
          [jobId],
        );
        return rows.map((r) => `${r.data.trigger}@${r.data.scheduledFor}`);
      };
      const job = await services.createJob(
        { name: 'monthly', type: 'log', payload: { message: 'm' }, schedule: { kind: 'cron', expression: '0 3 1 * *', timezone: 'UTC' } },
        SYSTEM_ACTOR,
      );
      assert.deepEqual(await tickets(job.id), [`schedule@${job.nextRunAt!.toISOString()}`]);
      // No scheduler runs in this process now: a run-now ticket stays queued.
      const { scheduledFor } = await services.runJobNow(job.id, SYSTEM_ACTOR);
      await services.pauseJob(job.id, SYSTEM_ACTOR);
      assert.deepEqual(await tickets(job.id), [`manual@${scheduledFor.toISOString()}`]);
      const resumed = await services.resumeJob(job.id, SYSTEM_ACTOR);
      assert.deepEqual(
        (await tickets(job.id)).sort(),
        [`manual@${scheduledFor.toISOString()}`, `schedule@${resumed.nextRunAt!.toISOString()}`].sort(),
      );
      await services.deleteJob(job.id, SYSTEM_ACTOR);
      assert.deepEqual(await tickets(job.id), []);
    } finally {
      await client.end();
    }
  });
});

describe('OutputBuffer', () => {
  test('keeps everything while it fits', () => {
    const out = new OutputBuffer(100);
    assert.equal(out.toString(), null);
    out.append('one');
    out.append('two');
    assert.equal(out.toString(), 'one\ntwo');
  });

  test('keeps the head and the tail of long output, and says how much is missing', () => {
    const out = new OutputBuffer(40);
    for (let i = 0; i < 1000; i++) out.append(`line ${String(i).padStart(4, '0')}`);
    const text = out.toString()!;
    assert.ok(text.startsWith('line 0000\nline 0001\n'), text);
    assert.ok(text.endsWith('line 0999'), text);
    const total = 1000 * 'line 0000\n'.length;
    assert.match(text, new RegExp(`… \\[${total - 40} characters omitted\\] …`));
    assert.ok(text.length < 100);
  });
});
