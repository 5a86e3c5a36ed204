import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestPostgres, type TestPostgres } from '../support/postgres';
import type { Job, Store } from '../../lib/store/types';
import { RunFilterSchema } from '../../lib/validation/run';

// The live poller and the run-history service against a real PostgreSQL: what changes in the store
// reaches subscribers as the right topic, and the filters narrow what the history returns.
let pg: TestPostgres;
let store: Store;
let live: typeof import('../../lib/services/live');
let runs: typeof import('../../lib/services/runs');

before(
  async () => {
    pg = await startTestPostgres();
    process.env.DATABASE_URL = pg.url;
    const { getStore } = await import('../../lib/store');
    store = await getStore();
    live = await import('../../lib/services/live');
    runs = await import('../../lib/services/runs');
  },
  { timeout: 60_000 },
);

after(
  async () => {
    await store?.close();
    await pg?.stop();
  },
  { timeout: 30_000 },
);

async function newJob(name: string): Promise<Job> {
  const now = await store.now();
  return store.createJob({
    name,
    description: '',
    type: 'log',
    payload: { message: 'hi' },
    schedule: { kind: 'interval', seconds: 3600 },
    paused: true,
    timeoutSeconds: 30,
    overlapPolicy: 'skip',
    missedPolicy: 'skip',
    tags: [],
    nextRunAt: null,
    anchorAt: now,
  });
}

/** Resolves with the first event of `topic`, or rejects after `ms`. */
function nextEvent(topic: string, events: string[], ms = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const check = () => {
      if (events.includes(topic)) return resolve();
      if (Date.now() > deadline) return reject(new Error(`no "${topic}" event within ${ms} ms; got ${JSON.stringify(events)}`));
      setTimeout(check, 50);
    };
    check();
  });
}

describe('live poller', () => {
  test('emits jobs and runs events for changes, one shared poller, stopped when nobody listens', { timeout: 30_000 }, async () => {
    const a: string[] = [];
    const b: string[] = [];
    const offA = live.subscribe((t) => a.push(t));
    const offB = live.subscribe((t) => b.push(t));
    assert.equal(live.listenerCount(), 2);
    // Let the first read set the baseline: nothing has changed yet, so nothing is emitted.
    await new Promise((r) => setTimeout(r, live.POLL_INTERVAL_MS * 1.5));
    assert.equal(a.length, 0, `nothing changed, yet: ${JSON.stringify(a)}`);

    const job = await newJob('live-1');
    await nextEvent('jobs', a);
    await nextEvent('jobs', b);
    assert.ok(!a.includes('runs'), `no run changed yet: ${JSON.stringify(a)}`);

    a.length = 0;
    const run = await store.insertRun({
      jobId: job.id,
      jobName: job.name,
      scheduledFor: await store.now(),
      startedAt: await store.now(),
      finishedAt: null,
      status: 'running',
      trigger: 'manual',
      instanceId: 'inst-a',
      attempt: 1,
      error: null,
      output: null,
      leaseExpiresAt: null,
    });
    assert.ok(run);
    await nextEvent('runs', a);
    a.length = 0;
    await store.updateRun(run.id, { status: 'succeeded', finishedAt: await store.now() });
    await nextEvent('runs', a);

    offA();
    offB();
    assert.equal(live.listenerCount(), 0);
    // No listener: the poller stops reading the store.
    await new Promise((r) => setTimeout(r, live.POLL_INTERVAL_MS * 1.5));
    assert.equal(live.isPolling(), false);

    // A new listener starts it again, from a fresh baseline: no stale event for what happened meanwhile.
    await newJob('live-2');
    const c: string[] = [];
    const offC = live.subscribe((t) => c.push(t));
    assert.equal(live.isPolling(), true);
    await new Promise((r) => setTimeout(r, live.POLL_INTERVAL_MS * 1.5));
    assert.equal(c.length, 0, `stale events: ${JSON.stringify(c)}`);
    await newJob('live-3');
    await nextEvent('jobs', c);
    offC();
  });
});

describe('live output events', () => {
  test(
    'a watcher of a run gets `output` (with the run id) when its chunks move, others do not; no output read without a watcher',
    { timeout: 30_000 },
    async () => {
      const job = await newJob('live-output');
      const now = await store.now();
      const insert = (offsetMs: number) =>
        store.insertRun({
          jobId: job.id,
          jobName: job.name,
          scheduledFor: new Date(now.getTime() + offsetMs),
          startedAt: now,
          finishedAt: null,
          status: 'running',
          trigger: 'manual',
          instanceId: 'inst-a',
          attempt: 1,
          error: null,
          output: null,
          leaseExpiresAt: null,
        });
      const run = (await insert(0))!;
      const other = (await insert(1))!;
      // Count the store's output reads (the poller reads the marks only while someone watches).
      let markReads = 0;
      const marks = store.runOutputMarks.bind(store);
      store.runOutputMarks = (ids) => {
        markReads++;
        return marks(ids);
      };
      try {
        const plain: string[] = [];
        const offPlain = live.subscribe((t) => plain.push(t));
        await new Promise((r) => setTimeout(r, live.POLL_INTERVAL_MS * 1.5));
        assert.equal(markReads, 0, 'nobody watches a run: no output read');

        const watched: Array<[string, string | undefined]> = [];
        const offWatch = live.subscribe((t, id) => watched.push([t, id]), { run: run.id });
        await new Promise((r) => setTimeout(r, live.OUTPUT_POLL_INTERVAL_MS * 3));
        assert.ok(markReads > 0);
        assert.equal(watched.length, 0, 'the first read is a baseline');

        const at = await store.now();
        await store.appendRunOutput({ runId: other.id, attempt: 1, seq: 1, offset: 0, text: 'elsewhere\n', at }, 1000);
        await new Promise((r) => setTimeout(r, live.OUTPUT_POLL_INTERVAL_MS * 3));
        assert.equal(watched.length, 0, "another run's output is not announced");

        const written = Date.now();
        await store.appendRunOutput({ runId: run.id, attempt: 1, seq: 1, offset: 0, text: 'hello\n', at }, 1000);
        await waitForEvent(() => watched.some(([t]) => t === 'output'));
        assert.ok(Date.now() - written < live.OUTPUT_POLL_INTERVAL_MS * 4, `announced within ${Date.now() - written} ms`);
        assert.deepEqual(
          watched.filter(([t]) => t === 'output'),
          [['output', run.id]],
        );
        assert.ok(!plain.includes('output'), 'a listener that watches no run gets no output events');

        // The chunks deleted (the run ended): announced too, so the page turns to the final output.
        watched.length = 0;
        await store.deleteRunOutput(run.id);
        await waitForEvent(() => watched.some(([t]) => t === 'output'));

        offWatch();
        offPlain();
        await new Promise((r) => setTimeout(r, live.POLL_INTERVAL_MS * 1.5));
        const reads = markReads;
        assert.equal(live.isPolling(), false);
        await new Promise((r) => setTimeout(r, live.POLL_INTERVAL_MS));
        assert.equal(markReads, reads, 'nothing read once nobody listens');
      } finally {
        store.runOutputMarks = marks;
      }
    },
  );
});

async function waitForEvent(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`no such event within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('run history', () => {
  test('filters by job, status, instance and time; keyset pages; run detail with job and attempts', { timeout: 30_000 }, async () => {
    const [x, y] = [await newJob('hist-x'), await newJob('hist-y')];
    const base = new Date((await store.now()).getTime() - 60_000);
    const statuses = ['succeeded', 'failed', 'succeeded', 'failed', 'succeeded'] as const;
    for (const [i, status] of statuses.entries()) {
      for (const job of [x, y]) {
        const at = new Date(base.getTime() + i * 1000);
        await store.insertRun({
          jobId: job.id,
          jobName: job.name,
          scheduledFor: at,
          startedAt: at,
          finishedAt: at,
          status,
          trigger: 'schedule',
          instanceId: job === x ? 'inst-x' : 'inst-y',
          attempt: 1,
          error: status === 'failed' ? 'boom' : null,
          output: null,
          leaseExpiresAt: null,
        });
      }
    }
    const f = (q: Record<string, string>) => RunFilterSchema.parse(q);

    const failedX = await runs.listRunHistory(f({ job: x.id, status: 'failed' }), { limit: 50 });
    assert.equal(failedX.page.items.length, 2);
    assert.ok(failedX.page.items.every((r) => r.jobId === x.id && r.status === 'failed'));

    const onY = await runs.listRunHistory(f({ instance: 'inst-y' }), { limit: 50 });
    assert.equal(onY.page.items.length, 5);
    assert.ok(onY.page.items.every((r) => r.jobId === y.id));

    const window = await runs.listRunHistory(
      f({ job: x.id, from: new Date(base.getTime() + 1000).toISOString(), to: new Date(base.getTime() + 3000).toISOString() }),
      { limit: 50 },
    );
    assert.deepEqual(
      window.page.items.map((r) => r.scheduledFor.getTime() - base.getTime()),
      [2000, 1000],
    );

    // Garbage in the URL is dropped, not fatal; a job filter that is not an id matches nothing.
    const junk = f({ status: 'nope', range: 'forever', from: 'yesterday' });
    assert.ok(junk.status === undefined && junk.range === undefined && junk.from === undefined, JSON.stringify(junk));
    assert.equal((await runs.listRunHistory(f({ job: 'not-an-id' }), { limit: 50 })).page.items.length, 0);

    // Keyset paging walks every run of x exactly once.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await runs.listRunHistory(f({ job: x.id }), { limit: 2, cursor });
      seen.push(...page.page.items.map((r) => r.id));
      cursor = page.page.nextCursor ?? undefined;
    } while (cursor);
    assert.equal(seen.length, 5);
    assert.equal(new Set(seen).size, 5);

    const detail = await runs.getRunDetail(seen[0]!);
    assert.equal(detail.job?.id, x.id);
    assert.deepEqual(
      detail.attempts.map((r) => r.id),
      [seen[0]],
    );
    await store.deleteJob(x.id);
    const orphan = await runs.getRunDetail(seen[0]!);
    assert.equal(orphan.job, null);
    assert.equal(orphan.run.jobName, 'hist-x');
    await assert.rejects(runs.getRunDetail('not-an-id'), /not found/);
  });
});
