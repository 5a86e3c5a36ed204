/**
 * Cancel (issue #14, item 4) with real processes on one database, PostgreSQL and then MongoDB: instance A is a web-only
 * `next start` (SCHEDULER_DISABLED=1) that takes the API call, instance B a scheduler worker that runs the job. The
 * cancel reaches B through the database (LISTEN/NOTIFY, a change stream, or B's lease renewal), and B aborts the
 * handler: the local HTTP target records when the handler's request was cut off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Run, Store } from '../../lib/store/types';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';
import { startApp, type StartedApp } from '../support/app';
import {
  delay,
  FAST_ENV,
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

/** The bound: the handler is aborted within 2 s of the request. */
const CANCEL_BOUND_MS = 2_000;
const FINAL = new Set(['succeeded', 'failed', 'timed-out', 'skipped', 'missed', 'abandoned', 'unknown', 'cancelled']);
const inSeconds = (s: number): string => new Date(Date.now() + s * 1000).toISOString();

for (const factory of SCHEDULER_STORES) {
  describe(`${factory.name}: cancel a run through instance A while instance B runs it`, () => {
    let base: TestServices;
    let store: Store;
    let services: TestServices['services'];
    let http: HttpTarget;
    let web: StartedApp;
    let worker: Worker;

    before(
      async () => {
        base = await openTestServices(factory.start);
        // Tickets are saved with the lead of the process that saves them (this one creates the jobs).
        process.env.SCHEDULER_PREFETCH_MS = '3000';
        ({ store, services } = base);
        http = await startHttpTarget();
        // B: the default heartbeat (1 s), so the renewal fallback is the one the bound is about; a long prefetch
        // (3 s) keeps a claimed run waiting for its due time long enough to be cancelled before it starts.
        worker = await startWorker(base.db.url, 'cancel-b', { SCHEDULER_HEARTBEAT_MS: '1000', SCHEDULER_PREFETCH_MS: '3000' });
        web = await startApp({ databaseUrl: base.db.url, env: { ...FAST_ENV, SCHEDULER_PREFETCH_MS: '3000', SCHEDULER_DISABLED: '1' } });
      },
      { timeout: 120_000 },
    );

    after(
      async () => {
        await web?.stop();
        if (worker) await stopWorker(worker, 'SIGKILL', 5_000);
        await http?.close();
        await base?.close();
        delete process.env.SCHEDULER_PREFETCH_MS;
      },
      { timeout: 60_000 },
    );

    async function cancel(runId: string, body?: unknown, token = web.apiToken): Promise<{ status: number; json: any }> {
      const response = await fetch(`${web.baseUrl}/api/runs/${runId}/cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, json: text ? JSON.parse(text) : null };
    }

    const firstRun = (jobId: string, what: string, ok: (run: Run) => boolean, timeoutMs = 15_000): Promise<Run> =>
      waitFor(
        what,
        async () => {
          const run = (await store.listRuns({ jobId, limit: 1 })).items[0];
          return run && ok(run) ? run : undefined;
        },
        timeoutMs,
      );

    test('a running run on B is stopped within 2 s of the cancel sent to A; recorded cancelled with who, when, why; audited', async () => {
      const path = `/slow?ms=60000&key=${factory.name}-running`;
      const job = await services.createJob(
        {
          name: 'long-running',
          type: 'http',
          payload: { url: `${http.url}${path}` },
          schedule: { kind: 'once', at: inSeconds(1) },
          timeoutSeconds: 120,
        },
        SYSTEM_ACTOR,
      );
      const running = await firstRun(job.id, 'the run to start on B', (r) => r.status === 'running' && r.startedAt !== null);
      assert.equal(running.instanceId, 'cancel-b');
      const request = await waitFor('the handler to call the target', async () => http.requests.find((r) => r.path === path));

      const sent = Date.now();
      const answer = await cancel(running.id, { reason: '  hung since 3 a.m.  ' });
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      assert.equal(answer.json.outcome, 'requested');
      assert.equal(answer.json.run.status, 'running', 'still running until B has stopped it');
      assert.equal(answer.json.run.cancel.reason, 'hung since 3 a.m.');

      await waitFor('the handler request to be aborted', async () => request.end !== null, 10_000);
      const tookMs = request.end! - sent;
      assert.ok(tookMs < CANCEL_BOUND_MS, `the handler was aborted ${tookMs} ms after the cancel (bound ${CANCEL_BOUND_MS} ms)`);

      const done = await firstRun(job.id, 'the run to be recorded cancelled', (r) => FINAL.has(r.status), 10_000);
      assert.equal(done.status, 'cancelled');
      assert.equal(done.instanceId, 'cancel-b', 'recorded by the instance that ran it');
      assert.equal(done.attempt, 1);
      assert.ok(done.finishedAt);
      assert.match(done.error ?? '', /cancelled on request: the handler was aborted on instance cancel-b/);
      assert.ok(done.cancel);
      assert.equal(done.cancel.by.type, 'token');
      assert.equal(done.cancel.reason, 'hung since 3 a.m.');
      assert.ok(Math.abs(done.cancel.at.getTime() - sent) < 5_000, 'when: the database time of the request');

      const audit = await fetch(`${web.baseUrl}/api/audit?action=run.cancel`, { headers: { authorization: `Bearer ${web.apiToken}` } });
      const entries = ((await audit.json()) as { entries: Array<Record<string, unknown>> }).entries;
      assert.equal(entries.filter((e) => e.targetId === running.id).length, 1, 'one run.cancel audit entry');

      // Once more: the run has ended now.
      const again = await cancel(running.id);
      assert.equal(again.status, 409);
      assert.match(again.json.error, /already ended \(cancelled\)/);
      await delay(1_500);
      assert.equal(http.requests.filter((r) => r.path === path).length, 1, 'no further attempt');
    });

    test('a finished run: 409, nothing changes; an unknown run: 404; a viewer: 403', async () => {
      const job = await services.createJob(
        {
          name: 'quick',
          type: 'http',
          payload: { url: `${http.url}/ok?key=${factory.name}-quick` },
          schedule: { kind: 'once', at: inSeconds(1) },
        },
        SYSTEM_ACTOR,
      );
      const done = await firstRun(job.id, 'the run to succeed', (r) => r.status === 'succeeded');
      const answer = await cancel(done.id, { reason: 'too late' });
      assert.equal(answer.status, 409);
      assert.match(answer.json.error, /already ended \(succeeded\)/);
      assert.deepEqual(await store.getRun(done.id), done, 'nothing changed');
      assert.equal((await cancel('00000000-0000-4000-8000-000000000000')).status, 404);

      const token = await fetch(`${web.baseUrl}/api/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${web.apiToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `viewer-${factory.name}`, role: 'viewer' }),
      });
      const viewer = ((await token.json()) as { secret: string }).secret;
      const slow = await services.createJob(
        {
          name: 'viewer target',
          type: 'http',
          payload: { url: `${http.url}/slow?ms=4000&key=${factory.name}-viewer` },
          schedule: { kind: 'once', at: inSeconds(1) },
        },
        SYSTEM_ACTOR,
      );
      const running = await firstRun(slow.id, 'the run to start', (r) => r.status === 'running' && r.startedAt !== null);
      const refused = await cancel(running.id, undefined, viewer);
      assert.equal(refused.status, 403);
      const after = await firstRun(slow.id, 'the run to end by itself', (r) => FINAL.has(r.status), 15_000);
      assert.equal(after.status, 'succeeded', 'the viewer changed nothing');
      assert.equal(after.cancel, null);
    });

    test('a claimed run (waiting for its due time) is closed cancelled at once and never starts', async () => {
      const path = `/ok?key=${factory.name}-claimed`;
      const due = inSeconds(5);
      const job = await services.createJob(
        { name: 'claimed-then-cancelled', type: 'http', payload: { url: `${http.url}${path}` }, schedule: { kind: 'once', at: due } },
        SYSTEM_ACTOR,
      );
      const claimed = await firstRun(job.id, 'B to claim the occurrence ahead of its due time', (r) => r.status === 'claimed', 10_000);
      assert.ok(Date.now() < Date.parse(due) - 300, 'claimed well before its due time');
      const answer = await cancel(claimed.id);
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      assert.equal(answer.json.outcome, 'cancelled');
      assert.equal(answer.json.run.status, 'cancelled');
      assert.equal(answer.json.run.startedAt, null);
      await delay(Math.max(0, Date.parse(due) - Date.now()) + 2_000);
      const after = (await store.getRun(claimed.id))!;
      assert.equal(after.status, 'cancelled');
      assert.equal(after.startedAt, null, 'it never started');
      assert.equal(http.hits.get(path) ?? 0, 0, 'the handler was never called');
    });

    test('a retrying run is closed cancelled and gets no further attempt', async () => {
      const path = `/fail?key=${factory.name}-retrying`;
      const job = await services.createJob(
        {
          name: 'failing-with-retries',
          type: 'http',
          payload: { url: `${http.url}${path}` },
          schedule: { kind: 'once', at: inSeconds(1) },
          retry: { maxAttempts: 3, backoffSeconds: 3, maxBackoffSeconds: 3 },
        },
        SYSTEM_ACTOR,
      );
      const waiting = await firstRun(job.id, 'the run to wait for its retry', (r) => r.status === 'retrying');
      assert.equal(http.hits.get(path), 1);
      const answer = await cancel(waiting.id, { reason: 'the target is down for the day' });
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      assert.equal(answer.json.outcome, 'cancelled');
      // Past the backoff (3 s) and a sweep's rescue of a lost retry ticket (grace 3 s): nothing more.
      await delay(7_000);
      const after = (await store.getRun(waiting.id))!;
      assert.equal(after.status, 'cancelled');
      assert.equal(after.attempt, 2, 'the attempt that would have been next');
      assert.equal(http.hits.get(path), 1, 'no further attempt');
      assert.equal((await store.listRunAttempts(waiting.id)).length, 1, 'the failed attempt stays in the history');
    });

    test('overlap policy replace: the next occurrence cancels the running one (by the system, naming it) and runs once it has stopped', async () => {
      const path = `/slow?ms=60000&key=${factory.name}-replace`;
      const job = await services.createJob(
        {
          name: 'replaced-each-time',
          type: 'http',
          payload: { url: `${http.url}${path}` },
          schedule: { kind: 'interval', seconds: 4 },
          overlapPolicy: 'replace',
          timeoutSeconds: 120,
        },
        SYSTEM_ACTOR,
      );
      try {
        const first = await firstRun(job.id, 'the first occurrence to run', (r) => r.status === 'running' && r.startedAt !== null, 15_000);
        const replaced = await waitFor(
          'the first run to be replaced',
          async () => {
            const run = await store.getRun(first.id);
            return run && run.status === 'cancelled' ? run : undefined;
          },
          15_000,
        );
        assert.ok(replaced.cancel);
        assert.deepEqual(replaced.cancel.by, { type: 'system', id: null, name: 'replace' });
        const named = /^replaced by the run due at (\S+) \(run ([0-9a-f-]+)\)$/.exec(replaced.cancel.reason ?? '');
        assert.ok(named, `the reason names the new run: ${replaced.cancel.reason}`);
        assert.match(replaced.error ?? '', /cancelled on request/);
        const next = await waitFor(
          'the replacing run to start',
          async () => {
            const run = await store.getRun(named[2]!);
            return run && run.status === 'running' && run.startedAt ? run : undefined;
          },
          10_000,
        );
        assert.equal(next.scheduledFor.toISOString(), named[1]);
        assert.ok(next.scheduledFor > first.scheduledFor);
        assert.ok(next.startedAt!.getTime() >= replaced.finishedAt!.getTime(), 'it started once the replaced run had stopped');
        const calls = await waitFor('both calls to reach the target', async () => {
          const seen = http.requests.filter((r) => r.path === path);
          return seen.length >= 2 ? seen : undefined;
        });
        assert.ok(calls[0]!.end !== null && calls[0]!.end <= calls[1]!.start + 50, "the replaced run's handler was stopped first");
      } finally {
        await services.pauseJob(job.id, SYSTEM_ACTOR);
        for (const run of (await store.listRuns({ jobId: job.id, limit: 20 })).items) {
          if (run.status === 'running') await cancel(run.id);
        }
      }
    });

    // Last: it kills the instance that runs the job (B or C).
    test('a dead owner: the cancel is not lost, and the run is closed cancelled by another instance with no further attempt', async () => {
      const other = await startWorker(base.db.url, 'cancel-c', { SCHEDULER_HEARTBEAT_MS: '1000' });
      try {
        const path = `/slow?ms=60000&key=${factory.name}-dead-owner`;
        const job = await services.createJob(
          {
            name: 'owner-dies',
            type: 'http',
            payload: { url: `${http.url}${path}` },
            schedule: { kind: 'once', at: inSeconds(1) },
            timeoutSeconds: 120,
          },
          SYSTEM_ACTOR,
        );
        const running = await firstRun(job.id, 'the run to start', (r) => r.status === 'running' && r.startedAt !== null);
        await waitFor('the handler to call the target', async () => http.requests.some((r) => r.path === path));
        const owner = [worker, other].find((w) => w.instanceId === running.instanceId)!;
        await stopWorker(owner, 'SIGKILL', 5_000);
        const answer = await cancel(running.id, { reason: 'owner is gone' });
        assert.equal(answer.status, 200, JSON.stringify(answer.json));
        assert.equal(answer.json.outcome, 'requested');
        // Its lease (6 s) expires, then the survivor's sweep closes it instead of taking it over.
        const closed = await firstRun(job.id, 'the run to be closed cancelled', (r) => FINAL.has(r.status), 20_000);
        assert.equal(closed.status, 'cancelled');
        assert.equal(closed.attempt, 1, 'no further attempt');
        assert.match(closed.error ?? '', /^cancelled on request; .*its handler may have been cut short/);
        assert.equal(closed.cancel?.reason, 'owner is gone');
        await delay(2_000);
        assert.equal(http.requests.filter((r) => r.path === path).length, 1, 'the handler was not called again');
        assert.deepEqual(await store.listRunAttempts(running.id), []);
      } finally {
        await stopWorker(other, 'SIGKILL', 5_000);
      }
    });
  });
}
