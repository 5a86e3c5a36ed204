/**
 * GET /api/jobs/{id}/runs over HTTP with real cursors: limit=2 pages, each nextCursor followed, cover every run once,
 * in the same newest-first order as one big page, and the last page says nextCursor null.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

interface RunJson {
  id: string;
  jobId: string;
  scheduledFor: string;
  status: string;
}
interface RunPage {
  runs: RunJson[];
  nextCursor: string | null;
}

const RUNS = 5;

let db: TestPostgres;
let app: StartedApp;
let jobId = '';

async function get<T>(path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${app.baseUrl}${path}`, {
    headers: { authorization: `Bearer ${app.apiToken}` },
    signal: AbortSignal.timeout(15_000),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function post(path: string, body?: unknown): Promise<Response> {
  return fetch(`${app.baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app.apiToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

before(
  async () => {
    db = await startTestPostgres();
    app = await startApp({ databaseUrl: db.url });
    const created = await post('/api/jobs', {
      name: 'paged',
      type: 'log',
      payload: { message: 'page me' },
      schedule: { kind: 'interval', seconds: 86_400 },
    });
    assert.equal(created.status, 201, await created.clone().text());
    jobId = ((await created.json()) as { id: string }).id;
    for (let i = 0; i < RUNS; i++) {
      const run = await post(`/api/jobs/${jobId}/run`);
      assert.equal(run.status, 202, await run.text());
      // Distinct occurrences (scheduledFor is the request time, in ms).
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { body } = await get<RunPage>(`/api/jobs/${jobId}/runs?limit=100`);
      if (body.runs.length >= RUNS && body.runs.every((r) => r.status !== 'running')) break;
      if (Date.now() > deadline) throw new Error(`runs did not finish: ${JSON.stringify(body.runs)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  },
  { timeout: 120_000 },
);

after(async () => {
  await app?.stop();
  await db?.stop();
});

describe('GET /api/jobs/{id}/runs paging', () => {
  test('limit=2, following nextCursor: no overlap, every run once, newest first, the last nextCursor null', async () => {
    const { body: all } = await get<RunPage>(`/api/jobs/${jobId}/runs?limit=100`);
    assert.equal(all.runs.length, RUNS);
    assert.equal(all.nextCursor, null);

    const pages: RunJson[][] = [];
    let cursor: string | null = null;
    do {
      const query: string = `limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const { status, body }: { status: number; body: RunPage } = await get<RunPage>(`/api/jobs/${jobId}/runs?${query}`);
      assert.equal(status, 200);
      assert.ok(body.runs.length >= 1 && body.runs.length <= 2, `page of ${body.runs.length}`);
      pages.push(body.runs);
      cursor = body.nextCursor;
      assert.ok(pages.length <= RUNS, 'paging ends');
    } while (cursor !== null);

    assert.deepEqual(
      pages.map((p) => p.length),
      [2, 2, 1],
    );
    const ids = pages.flat().map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, 'no run on two pages');
    assert.deepEqual(
      ids,
      all.runs.map((r) => r.id),
      'the pages, in order, are the whole list',
    );
    const times = pages.flat().map((r) => Date.parse(r.scheduledFor));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      'newest first across page boundaries',
    );
    for (const run of pages.flat()) assert.equal(run.jobId, jobId);
  });

  test('a cursor stays valid when newer runs arrive: the next page continues where the last one ended', async () => {
    const first = (await get<RunPage>(`/api/jobs/${jobId}/runs?limit=2`)).body;
    assert.ok(first.nextCursor);
    const run = await post(`/api/jobs/${jobId}/run`);
    assert.equal(run.status, 202);
    const second = (await get<RunPage>(`/api/jobs/${jobId}/runs?limit=2&cursor=${encodeURIComponent(first.nextCursor)}`)).body;
    const { body: all } = await get<RunPage>(`/api/jobs/${jobId}/runs?limit=100`);
    const lastSeen = all.runs.findIndex((r) => r.id === first.runs[1]!.id);
    assert.deepEqual(
      second.runs.map((r) => r.id),
      all.runs.slice(lastSeen + 1, lastSeen + 3).map((r) => r.id),
    );
  });

  test("another job's cursor position does not leak its runs into this job's pages", async () => {
    const other = await post('/api/jobs', {
      name: 'other',
      type: 'log',
      payload: { message: 'x' },
      schedule: { kind: 'interval', seconds: 86_400 },
    });
    const otherId = ((await other.json()) as { id: string }).id;
    await post(`/api/jobs/${otherId}/run`);
    const first = (await get<RunPage>(`/api/jobs/${jobId}/runs?limit=1`)).body;
    const rest = (await get<RunPage>(`/api/jobs/${jobId}/runs?limit=100&cursor=${encodeURIComponent(first.nextCursor!)}`)).body;
    assert.ok(rest.runs.every((r) => r.jobId === jobId));
  });
});
