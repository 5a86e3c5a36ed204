/**
 * The PostgreSQL server restarts under two running `next start` instances: they report the outage instead of
 * crashing, reconnect by themselves, and after recovery every occurrence runs exactly once (run records plus the
 * requests their HTTP jobs made).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Job, Store } from '../../lib/store/types';
import { startApp, type StartedApp } from '../support/app';
import { restartTestPostgresServer, type TestPostgres } from '../support/postgres';
import { assertContiguous, CLUSTER_ENV } from './cluster-suite';
import { allRuns, inFlight, delay, openTestServices, startHttpTarget, waitFor, type HttpTarget, type TestServices } from './harness';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';

type Services = typeof import('../../lib/services/jobs');

let db: TestPostgres;
let store: Store;
let services: Services;
let http: HttpTarget;
let opened: TestServices | undefined;
let apps: StartedApp[] = [];
// A lease longer than the outage: running handlers are not fenced off by a short restart.
const ENV = { ...CLUSTER_ENV, SCHEDULER_LEASE_MS: '15000', SCHEDULER_LOCK_LIFETIME_MS: '15000' };

async function get(app: StartedApp, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const response = await fetch(`${app.baseUrl}${path}`, { headers, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.text() };
}

before(async () => {
  opened = await openTestServices();
  ({ db, store, services } = opened);
  http = await startHttpTarget();
  apps = await Promise.all([0, 1].map(() => startApp({ databaseUrl: db.url, env: ENV })));
});

after(async () => {
  await Promise.allSettled(apps.map((a) => a.stop('SIGKILL')));
  if (process.env.SHOW_WORKER_LOGS) for (const a of apps) console.log(`--- ${a.instanceId}\n${a.logs()}`);
  await http?.close();
  await opened?.close();
});

describe('database restart under 2 next start instances', () => {
  test('health shows the outage, the servers keep answering, and after recovery no occurrence is lost or doubled', async () => {
    const jobs: Job[] = [];
    for (let i = 0; i < 5; i++) {
      jobs.push(
        await services.createJob(
          {
            name: `through-restart-${i}`,
            type: 'http',
            payload: { url: `${http.url}/ok?restart=${i}` },
            schedule: { kind: 'interval', seconds: 1 },
            // run-all: the occurrences that fell due during the outage are owed too, so the whole chain must be there.
            missedPolicy: 'run-all',
            overlapPolicy: 'allow',
          },
          SYSTEM_ACTOR,
        ),
      );
    }
    await delay(3_000);

    // During the outage (probed from a parallel loop): health is degraded (503), the app answers.
    const seen = { degraded: 0, loginPage: 0, apiError: 0, redirect: 0 };
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const app = apps[0]!;
        // With credentials: the details (error, dispatch) are not in the public answer.
        const health = await get(app, '/api/health', { authorization: `Bearer ${app.apiToken}` }).catch(() => null);
        if (health?.status === 503) {
          const body = JSON.parse(health.body) as { status: string; error?: string };
          if (body.status === 'degraded' && body.error === 'database unreachable') {
            seen.degraded++;
            const api = await get(app, '/api/jobs', { authorization: `Bearer ${app.apiToken}` }).catch(() => null);
            if (api && api.status >= 500 && /"error"/.test(api.body)) seen.apiError++;
            const login = await get(app, '/login').catch(() => null);
            if (login?.status === 200 && /<html/i.test(login.body)) seen.loginPage++;
            const page = await get(app, '/jobs').catch(() => null);
            if (page && page.status >= 300 && page.status < 600) seen.redirect++;
          }
        }
        await delay(200);
      }
    })();
    const { upAt } = await restartTestPostgresServer(4_000);
    probing = false;
    await probe;
    assert.ok(seen.degraded > 0, 'health reported the outage');
    assert.ok(seen.apiError > 0, 'the API answered with an error, not a dropped connection');
    assert.ok(seen.loginPage > 0, 'pages kept rendering');
    assert.ok(seen.redirect > 0, 'a dashboard page answered');

    await waitFor(
      'both instances healthy again, LISTEN/NOTIFY reconnected',
      async () => {
        for (const app of apps) {
          const health = await get(app, '/api/health', { authorization: `Bearer ${app.apiToken}` }).catch(() => null);
          if (health?.status !== 200 || (JSON.parse(health.body) as { dispatch: string }).dispatch !== 'notify') return false;
        }
        return true;
      },
      20_000,
    );
    await delay(Math.max(0, upAt.getTime() + 9_000 - Date.now()));
    for (const job of jobs) await services.pauseJob(job.id, SYSTEM_ACTOR);
    await waitFor(
      'runs to finish',
      async () => {
        for (const job of jobs) if ((await allRuns(store, job.id)).some((r) => inFlight(r))) return false;
        return true;
      },
      20_000,
    );

    for (const app of apps) assert.equal((await get(app, '/api/health')).status, 200, app.logs().slice(-3000));
    const recovered = upAt.getTime() + 3_000; // reconnect, plus the grace the safety net waits before re-enqueueing
    for (const [i, job] of jobs.entries()) {
      const runs = await allRuns(store, job.id);
      // Every run record is one execution: no occurrence ran twice, during or after the outage.
      const executed = runs.filter((r) => r.startedAt !== null && r.status !== 'skipped');
      assert.equal(http.hits.get(`/ok?restart=${i}`), executed.length, `${job.name}: requests vs runs`);
      // No gap anywhere, not even during the outage (run-all replays what fell due meanwhile).
      assertContiguous(job, runs, 1);
      assert.equal(runs[0]!.scheduledFor.getTime(), job.anchorAt.getTime() + 1_000);
      for (const r of runs) assert.equal(r.status, 'succeeded', `${job.name} ${r.scheduledFor.toISOString()}: ${r.status} ${r.error}`);
      const afterRecovery = runs.filter((r) => r.scheduledFor.getTime() >= recovered);
      const described = runs.map(
        (r) =>
          `${r.scheduledFor.toISOString()} ${r.status}/${r.trigger} ${r.instanceId} start+${r.startedAt ? r.startedAt.getTime() - r.scheduledFor.getTime() : '-'}`,
      );
      assert.ok(
        afterRecovery.length >= 4,
        `${job.name}: ${afterRecovery.length} runs after recovery (up at ${upAt.toISOString()}):\n${described.join('\n')}`,
      );
      assertContiguous(job, afterRecovery, 1);
      for (const r of afterRecovery) assert.equal(r.status, 'succeeded', `${job.name} ${r.scheduledFor.toISOString()}: ${r.error}`);
      // The chain did not stall: the first occurrence after recovery is there.
      assert.ok(afterRecovery[0]!.scheduledFor.getTime() < recovered + 1_000);
    }
  });
});
