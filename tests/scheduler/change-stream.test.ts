/**
 * MongoDB dispatch: change streams when the server offers them, polling otherwise (what /api/health reports), and
 * due work really arriving through the change stream. One `next start` per server, polling every 20-30 s and the
 * safety-net sweep as slow, so within a few seconds only a notification can start a job created after the app's
 * first poll.
 *
 * Without MONGODB_URL: the replica-set test server (mongo-java-server with --oplog --replica-set rs0, which serves
 * change streams) and, as the control, the plain standalone test server, where the same job must wait for the poll.
 * With MONGODB_URL: that server, expecting whatever it offers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Store } from '../../lib/store/types';
import { startApp, type StartedApp } from '../support/app';
import { offersChangeStreams, startTestMongo, type TestMongo, type TestMongoOptions } from '../support/mongo';
import { inFlight, allRuns, delay, FAST_ENV, startHttpTarget, useTestEnv, waitFor, type HttpTarget } from './harness';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';

const SLOW_POLL_ENV = { ...FAST_ENV, SCHEDULER_PROCESS_EVERY_MS: '20000', SCHEDULER_SWEEP_MS: '20000' };
/** A notified ticket starts at its due time; a polled one 20-30 s after the app's previous poll. */
const NOTIFIED_LAG_MS = 2_000;

/** GET /api/health with credentials: the scheduler state and dispatch are not in the public answer. */
const health = (app: StartedApp): Promise<Response> =>
  fetch(`${app.baseUrl}/api/health`, { headers: { authorization: `Bearer ${app.apiToken}` } });

const servers: Array<{ label: string; options: TestMongoOptions }> = process.env.MONGODB_URL?.trim()
  ? [{ label: 'MONGODB_URL', options: {} }]
  : [
      { label: 'test server as a one-member replica set (--oplog --replica-set)', options: { replicaSet: true } },
      { label: 'test server, standalone (control)', options: {} },
    ];

for (const { label, options } of servers) {
  describe(`mongodb dispatch: ${label}`, () => {
    let db: TestMongo;
    let store: Store;
    let services: typeof import('../../lib/services/jobs');
    let closeDispatch: () => Promise<void>;
    let http: HttpTarget;
    let app: StartedApp | undefined;
    let changeStreams: boolean;

    before(async () => {
      db = await startTestMongo(options);
      changeStreams = await offersChangeStreams(db.url);
      useTestEnv(db.url);
      Object.assign(process.env, SLOW_POLL_ENV);
      const { getStore } = await import('../../lib/store');
      store = await getStore();
      services = await import('../../lib/services/jobs');
      ({ closeDispatchClient: closeDispatch } = await import('../../lib/scheduler/dispatch'));
      http = await startHttpTarget();
      app = await startApp({ databaseUrl: db.url, env: SLOW_POLL_ENV });
      // Past the scheduler's start (its first poll included): from here on a new ticket waits for the next poll,
      // 20-30 s away, unless a notification brings it.
      await waitFor(
        'the scheduler to run',
        async () => ((await (await health(app!)).json()) as { scheduler: string }).scheduler === 'running',
      );
      await delay(1_000);
    });

    after(async () => {
      await app?.stop('SIGKILL');
      if (process.env.SHOW_WORKER_LOGS) console.log(`--- ${app?.instanceId}\n${app?.logs()}`);
      await closeDispatch?.();
      await store?.close();
      // The next suite in this process opens its own store (another DATABASE_URL): forget the process-wide one.
      delete (globalThis as Record<symbol, unknown>)[Symbol.for('cronplane.store')];
      await http?.close();
      await db?.stop();
    });

    test('the server offers what the options promise', () => {
      if (options.replicaSet && !process.env.MONGODB_URL?.trim())
        assert.equal(changeStreams, true, 'the replica-set test server reports setName');
      if (!options.replicaSet && !process.env.MONGODB_URL?.trim())
        assert.equal(changeStreams, false, 'the standalone test server does not');
    });

    test('health reports the dispatch the server offers', async () => {
      const answer = (await (await health(app!)).json()) as { status: string; dispatch: string };
      assert.equal(answer.status, 'ok');
      assert.equal(answer.dispatch, changeStreams ? 'change-stream' : 'polling', app!.logs());
    });

    test(`a job created after the poll starts at its due time only through the change stream`, async () => {
      const dueIn = 1_500;
      const job = await services.createJob(
        {
          name: `notified-${Date.now()}`,
          type: 'http',
          payload: { url: `${http.url}/ok?notified=1` },
          schedule: { kind: 'once', at: new Date(Date.now() + dueIn).toISOString() },
        },
        SYSTEM_ACTOR,
      );
      const due = job.nextRunAt!.getTime();
      if (changeStreams) {
        const run = await waitFor('the run to finish', async () => (await allRuns(store, job.id)).find((r) => !inFlight(r)), 15_000);
        assert.equal(run.status, 'succeeded', `${run.error}`);
        assert.equal(run.instanceId, app!.instanceId);
        const lag = run.startedAt!.getTime() - due;
        console.log(`# ${label}: notified run started ${lag} ms after its due time`);
        assert.ok(lag >= -50 && lag < NOTIFIED_LAG_MS, `started ${lag} ms after it was due: not by notification (poll every 20-30 s)`);
        assert.equal(http.hits.get('/ok?notified=1'), 1);
      } else {
        // Polling: nothing brings the ticket before the next poll, so the job is still waiting well after its due time.
        await delay(Math.max(0, due - Date.now()) + NOTIFIED_LAG_MS + 1_000);
        assert.deepEqual(await allRuns(store, job.id), [], 'no run yet: the control shows that only a notification starts it this early');
        assert.equal(http.hits.get('/ok?notified=1'), undefined);
      }
    });
  });
}
