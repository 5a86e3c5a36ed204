/**
 * GET /api/runs and GET /api/runs/{id} against a real `next start`, on PostgreSQL and then on MongoDB:
 * - each filter of the run history (job, q, status, instance, from/to) narrows the list to exactly the runs it names,
 *   and they combine;
 * - keyset paging walks every run exactly once, newest first, while runs are recorded meanwhile (newer ones stay out of
 *   a walk under way, older ones appear once at its end);
 * - range records (one missed record for an outage) carry rangeEnd and rangeCount;
 * - a run retried by the scheduler lists every attempt with its outcome and output;
 * - bad filters are 400s naming the parameter; unknown and malformed ids are 404s; a viewer may read both.
 * Runs are written through the store contract (as the scheduler writes them) by this process, on the database the
 * app reads; the retried run is made by the app's own scheduler against a local HTTP target.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NewRun, Run, Store } from '../../lib/store/types';
import { openTestServices, startHttpTarget, waitFor, type HttpTarget, type TestServices } from '../scheduler/harness';
import { startApp, type StartedApp } from '../support/app';
import { startTestMongo } from '../support/mongo';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

interface RunJson {
  id: string;
  jobId: string;
  jobName: string;
  scheduledFor: string;
  status: string;
  instanceId: string | null;
  attempt: number;
  output: string | null;
  rangeEnd: string | null;
  rangeCount: number | null;
}
interface RunPage {
  runs: RunJson[];
  nextCursor: string | null;
}
interface AttemptJson {
  attempt: number;
  status: string;
  instanceId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  output: string | null;
  current: boolean;
}
type RunDetail = RunJson & { attempts: AttemptJson[]; webhookId: string | null };

const STORES: Array<{ name: string; start: () => Promise<TestPostgres> }> = [
  { name: 'postgres', start: startTestPostgres },
  { name: 'mongodb', start: () => startTestMongo() },
];

/** Seeded occurrences are due from here on, one minute apart (well before anything the scheduler records). */
const BASE = Date.parse('2026-01-01T00:00:00.000Z');
const minute = (n: number): Date => new Date(BASE + n * 60_000);

for (const store of STORES) {
  describe(`GET /api/runs and /api/runs/{id} (${store.name})`, () => {
    let world: TestServices;
    let db: Store;
    let app: StartedApp;
    let target: HttpTarget;
    let viewerToken = '';
    const jobs: Record<'alpha' | 'beta', { id: string; name: string }> = { alpha: { id: '', name: '' }, beta: { id: '', name: '' } };
    let seeded: Run[] = [];

    async function call<T>(path: string, token = app.apiToken): Promise<{ status: number; body: T }> {
      const response = await fetch(`${app.baseUrl}${path}`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(15_000),
      });
      return { status: response.status, body: (await response.json()) as T };
    }

    async function post<T>(path: string, body?: unknown): Promise<T> {
      const response = await fetch(`${app.baseUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${app.apiToken}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await response.text();
      assert.ok(response.ok, `POST ${path}: ${response.status} ${text}`);
      return JSON.parse(text) as T;
    }

    /** Every page of GET /api/runs?query, following nextCursor (limit per page). */
    async function walk(query: Record<string, string>, limit = 4, between?: (page: number) => Promise<void>): Promise<RunJson[]> {
      const runs: RunJson[] = [];
      let cursor: string | null = null;
      for (let page = 0; ; page++) {
        const params: URLSearchParams = new URLSearchParams({ ...query, limit: String(limit), ...(cursor ? { cursor } : {}) });
        const { status, body }: { status: number; body: RunPage } = await call<RunPage>(`/api/runs?${params}`);
        assert.equal(status, 200, `GET /api/runs?${params}: ${JSON.stringify(body)}`);
        assert.ok(body.runs.length <= limit);
        runs.push(...body.runs);
        cursor = body.nextCursor;
        if (cursor === null) return runs;
        assert.ok(page < 200, 'paging ends');
        await between?.(page);
      }
    }

    function seed(
      job: { id: string; name: string },
      n: number,
      status: Run['status'],
      instanceId: string | null,
      extra: Partial<NewRun> = {},
    ): NewRun {
      const at = minute(n);
      const ran = status !== 'missed' && status !== 'skipped';
      return {
        jobId: job.id,
        jobName: job.name,
        scheduledFor: at,
        startedAt: ran ? at : null,
        finishedAt: ran ? new Date(at.getTime() + 1500) : at,
        status,
        trigger: 'schedule',
        instanceId,
        attempt: 1,
        error: status === 'failed' ? 'boom' : null,
        output: ran ? `output of ${job.name} at ${n}` : null,
        leaseExpiresAt: null,
        ...extra,
      };
    }

    before(
      async () => {
        world = await openTestServices(store.start);
        db = world.store;
        target = await startHttpTarget();
        app = await startApp({
          databaseUrl: world.db.url,
          env: { SECRETS_KEY: process.env.SECRETS_KEY, SCHEDULER_PROCESS_EVERY_MS: '200' },
        });
        for (const [key, name] of [
          ['alpha', 'Alpha Nightly'],
          ['beta', 'beta report'],
        ] as const) {
          const job = await post<{ id: string }>('/api/jobs', {
            name,
            type: 'log',
            payload: { message: name },
            schedule: { kind: 'interval', seconds: 86_400 },
          });
          jobs[key] = { id: job.id, name };
        }
        const rows: NewRun[] = [
          seed(jobs.alpha, 0, 'succeeded', 'inst-1'),
          seed(jobs.beta, 1, 'failed', 'inst-2'),
          seed(jobs.alpha, 2, 'failed', 'inst-1'),
          seed(jobs.beta, 3, 'succeeded', 'inst-1'),
          seed(jobs.alpha, 4, 'timed-out', 'inst-2'),
          // One record for an outage: occurrences at minutes 5..9.
          seed(jobs.beta, 5, 'missed', null, { rangeEnd: minute(9), rangeCount: 5 }),
          seed(jobs.alpha, 10, 'succeeded', 'inst-2'),
          seed(jobs.beta, 11, 'skipped', null),
          seed(jobs.alpha, 12, 'failed', 'inst-2'),
          seed(jobs.beta, 13, 'succeeded', 'inst-2'),
          seed(jobs.alpha, 14, 'succeeded', 'inst-1'),
          seed(jobs.beta, 15, 'failed', 'inst-1'),
        ];
        seeded = [];
        for (const row of rows) {
          const run = await db.insertRun(row);
          assert.ok(run, 'seeded');
          seeded.push(run);
        }
        const viewer = await post<{ secret: string }>('/api/tokens', { name: 'runs viewer', role: 'viewer' });
        viewerToken = viewer.secret;
      },
      { timeout: 180_000 },
    );

    after(
      async () => {
        await app?.stop();
        await target?.close();
        await world?.close();
      },
      { timeout: 60_000 },
    );

    /** The seeded runs (all of them, between minute 0 and minute 16), as the API lists them: newest first. */
    const seededWindow = { from: minute(0).toISOString(), to: minute(16).toISOString() };
    const newestFirst = (runs: Run[]): string[] =>
      [...runs].sort((a, b) => b.scheduledFor.getTime() - a.scheduledFor.getTime() || (b.id < a.id ? -1 : 1)).map((r) => r.id);

    test('each filter narrows the list to exactly the runs it names, and they combine', async () => {
      const all = await walk(seededWindow);
      assert.deepEqual(
        all.map((r) => r.id),
        newestFirst(seeded),
        'the window holds every seeded run, newest first',
      );
      const cases: Array<[string, Record<string, string>, (r: Run) => boolean]> = [
        ['job', { job: jobs.alpha.id }, (r) => r.jobId === jobs.alpha.id],
        ['status', { status: 'failed' }, (r) => r.status === 'failed'],
        ['instance', { instance: 'inst-2' }, (r) => r.instanceId === 'inst-2'],
        ['q (case-insensitive substring of the job name)', { q: 'NIGHT' }, (r) => r.jobName === 'Alpha Nightly'],
        ['q matching nothing', { q: 'no such job' }, () => false],
        [
          'from/to (from inclusive, to exclusive)',
          { from: minute(4).toISOString(), to: minute(12).toISOString() },
          (r) => r.scheduledFor >= minute(4) && r.scheduledFor < minute(12),
        ],
        ['job + status', { job: jobs.beta.id, status: 'failed' }, (r) => r.jobId === jobs.beta.id && r.status === 'failed'],
        [
          'instance + status + q',
          { instance: 'inst-1', status: 'succeeded', q: 'alpha' },
          (r) => r.instanceId === 'inst-1' && r.status === 'succeeded' && r.jobName === 'Alpha Nightly',
        ],
        ['a job id that has no runs', { job: '00000000-0000-4000-8000-000000000000' }, () => false],
      ];
      for (const [what, query, keep] of cases) {
        const expected = newestFirst(seeded.filter(keep));
        const got = await walk({ ...seededWindow, ...query }, 3);
        assert.deepEqual(
          got.map((r) => r.id),
          expected,
          what,
        );
        if (what !== 'q matching nothing' && !what.startsWith('a job id')) {
          assert.ok(expected.length > 0 && expected.length < seeded.length, `${what} narrows (${expected.length} of ${seeded.length})`);
        }
      }
      // The time window only: without it the list holds the runs the scheduler records too, all in the same order.
      const everything = await walk({}, 50);
      assert.ok(everything.length >= seeded.length);
    });

    test('a range record carries rangeEnd and rangeCount, in the list and on its own', async () => {
      const [range] = (await walk({ ...seededWindow, status: 'missed' })).filter((r) => r.rangeEnd !== null);
      assert.ok(range, 'the missed range is listed');
      assert.equal(range.scheduledFor, minute(5).toISOString());
      assert.equal(range.rangeEnd, minute(9).toISOString());
      assert.equal(range.rangeCount, 5);
      const { status, body } = await call<RunDetail>(`/api/runs/${range.id}`);
      assert.equal(status, 200);
      assert.equal(body.rangeEnd, minute(9).toISOString());
      assert.equal(body.rangeCount, 5);
      assert.equal(body.webhookId, null, 'a range was never delivered');
      const single = (await walk(seededWindow)).find((r) => r.status === 'succeeded')!;
      assert.equal(single.rangeEnd, null);
      assert.equal(single.rangeCount, null);
    });

    test('paging walks every run exactly once, newest first, while runs are recorded meanwhile', async () => {
      const window = { from: minute(-100).toISOString(), to: minute(100).toISOString() };
      const before = await walk(window, 50);
      const older: Run[] = [];
      let n = 0;
      const walked = await walk(window, 3, async () => {
        n++;
        // Newer than everything walked so far: behind the cursor, not on a later page.
        assert.ok(await db.insertRun(seed(jobs.alpha, 50 + n, 'succeeded', 'inst-3')));
        // Older than everything: ahead of the cursor, so on a later page, once.
        const old = await db.insertRun(seed(jobs.beta, -n, 'failed', 'inst-3'));
        assert.ok(old);
        older.push(old);
      });
      assert.ok(n >= 3, `several pages (${n + 1})`);
      const ids = walked.map((r) => r.id);
      assert.equal(new Set(ids).size, ids.length, 'no run on two pages');
      assert.deepEqual(
        ids,
        [...before.map((r) => r.id), ...older.map((r) => r.id)],
        'the walk is the list as it was, then the older runs recorded meanwhile',
      );
      const times = walked.map((r) => Date.parse(r.scheduledFor));
      for (let i = 1; i < times.length; i++) assert.ok(times[i - 1]! > times[i]!, 'strictly newest first across page boundaries');
      // And the newer ones are there for the next walk.
      const again = await walk(window, 50);
      assert.equal(again.length, before.length + 2 * n);
    });

    test('a run retried by the scheduler lists every attempt, oldest first, with its outcome and output', async () => {
      const job = await post<{ id: string }>('/api/jobs', {
        name: 'flaky once',
        type: 'http',
        payload: { url: `${target.url}/flaky?key=${store.name}&fail=1` },
        schedule: { kind: 'interval', seconds: 86_400 },
        retry: { maxAttempts: 3, backoffSeconds: 1, maxBackoffSeconds: 1 },
      });
      await post(`/api/jobs/${job.id}/run`);
      const run = await waitFor(
        'the retried run to succeed',
        async () => {
          const { body } = await call<RunPage>(`/api/runs?job=${job.id}`);
          const found = body.runs[0];
          return found && found.status === 'succeeded' ? found : undefined;
        },
        30_000,
      );
      assert.equal(run.attempt, 2);
      const { status, body } = await call<RunDetail>(`/api/runs/${run.id}`);
      assert.equal(status, 200);
      assert.equal(body.id, run.id);
      assert.equal(body.status, 'succeeded');
      assert.deepEqual(
        body.attempts.map((a) => [a.attempt, a.status, a.current]),
        [
          [1, 'failed', false],
          [2, 'succeeded', true],
        ],
      );
      const [first, second] = body.attempts as [AttemptJson, AttemptJson];
      assert.match(first.error ?? '', /500/);
      assert.ok(first.finishedAt && first.startedAt);
      assert.match(first.output ?? '', /flaky failure 1/, 'the first attempt keeps its own output');
      assert.match(second.output ?? '', /flaky-ok/);
      assert.equal(second.output, body.output, "the current attempt's output is the run's");
      assert.match(body.webhookId ?? '', /^cp_/, 'an http job delivers with a webhook-id');
      // The same through the store: nothing invented, nothing left out.
      assert.deepEqual(
        (await db.listRunAttempts(run.id)).map((a) => a.attempt),
        [1],
      );
    });

    test('unknown and malformed ids are 404s', async () => {
      for (const id of ['00000000-0000-4000-8000-000000000000', 'not-an-id', '1', "x' OR '1'='1", 'a'.repeat(300)]) {
        const { status, body } = await call<{ error: string }>(`/api/runs/${encodeURIComponent(id)}`);
        assert.equal(status, 404, id);
        assert.equal(typeof body.error, 'string');
      }
    });

    test('bad filters are 400s with one issue naming the parameter', async () => {
      const bad: Array<[Record<string, string>, string]> = [
        [{ from: minute(5).toISOString(), to: minute(4).toISOString() }, 'to'],
        [{ status: 'exploded' }, 'status'],
        [{ cursor: 'not-a-cursor' }, 'cursor'],
        [{ cursor: Buffer.from('["-010000-01-01T00:00:00Z","00000000-0000-4000-8000-000000000000"]').toString('base64url') }, 'cursor'],
        [{ job: 'not-an-id' }, 'job'],
        [{ from: 'yesterday' }, 'from'],
        [{ to: '2026-02-30' }, 'to'],
        [{ limit: '0' }, 'limit'],
        [{ limit: '201' }, 'limit'],
        [{ instance: 'a\u0000b' }, 'instance'],
        [{ q: 'x'.repeat(201) }, 'q'],
      ];
      for (const [query, param] of bad) {
        const { status, body } = await call<{ error: string; issues: Array<{ path: string }> }>(`/api/runs?${new URLSearchParams(query)}`);
        assert.equal(status, 400, JSON.stringify(query));
        assert.deepEqual(
          body.issues.map((i) => i.path),
          [param],
          JSON.stringify(query),
        );
      }
      // from == to is an empty window, not an error.
      const empty = await call<RunPage>(`/api/runs?from=${minute(3).toISOString()}&to=${minute(3).toISOString()}`);
      assert.equal(empty.status, 200);
      assert.deepEqual(empty.body.runs, []);
    });

    test('a viewer may read the list and a run; without credentials both are 401', async () => {
      const list = await call<RunPage>(`/api/runs?job=${jobs.alpha.id}&limit=1`, viewerToken);
      assert.equal(list.status, 200);
      assert.equal(list.body.runs.length, 1);
      const one = await call<RunDetail>(`/api/runs/${list.body.runs[0]!.id}`, viewerToken);
      assert.equal(one.status, 200);
      assert.equal(one.body.jobId, jobs.alpha.id);
      for (const path of ['/api/runs', `/api/runs/${list.body.runs[0]!.id}`]) {
        assert.equal((await fetch(`${app.baseUrl}${path}`)).status, 401, path);
      }
    });
  });
}
