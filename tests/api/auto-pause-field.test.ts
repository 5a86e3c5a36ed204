/**
 * The job's autoPause field over HTTP (POST and PATCH /api/jobs): { afterFailures: 1-100 } or null (the default), read
 * back in the job JSON, changed and cleared by PATCH, audited; bad values are 400s at the field and change nothing. The
 * auto-pause itself runs in tests/scheduler/auto-pause.test.ts (3 instances, both stores).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

let db: TestPostgres;
let app: StartedApp;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${app.apiToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

const job = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: 'log',
  payload: { message: 'x' },
  schedule: { kind: 'interval', seconds: 3600 },
  paused: true,
  ...extra,
});

before(
  async () => {
    db = await startTestPostgres();
    app = await startApp({ databaseUrl: db.url, env: { SCHEDULER_DISABLED: '1' } });
  },
  { timeout: 120_000 },
);

after(async () => {
  await app?.stop();
  await db?.stop();
});

describe('autoPause on a job', () => {
  test('null by default; set on create, changed and cleared by PATCH, kept by other changes, audited', async () => {
    const plain = await call('POST', '/api/jobs', job('no auto-pause'));
    assert.equal(plain.status, 201);
    assert.equal(plain.json.autoPause, null);

    const created = await call('POST', '/api/jobs', job('auto-paused', { autoPause: { afterFailures: 3 } }));
    assert.equal(created.status, 201);
    assert.deepEqual(created.json.autoPause, { afterFailures: 3 });
    const id = created.json.id as string;
    assert.deepEqual((await call('GET', `/api/jobs/${id}`)).json.autoPause, { afterFailures: 3 });

    assert.deepEqual((await call('PATCH', `/api/jobs/${id}`, { autoPause: { afterFailures: 100 } })).json.autoPause, {
      afterFailures: 100,
    });
    assert.deepEqual((await call('PATCH', `/api/jobs/${id}`, { description: 'other change' })).json.autoPause, { afterFailures: 100 });
    assert.equal((await call('PATCH', `/api/jobs/${id}`, { autoPause: null })).json.autoPause, null);
    const listed = (await call('GET', '/api/jobs?limit=10')).json.jobs as Array<{ id: string; autoPause: unknown }>;
    assert.equal(listed.find((j) => j.id === id)?.autoPause, null);

    const audit = (await call('GET', `/api/audit?targetId=${id}&action=job.update`)).json.entries as Array<{ changes: any }>;
    assert.deepEqual(
      audit
        .map((e) => e.changes?.autoPause)
        .filter(Boolean)
        .reverse(),
      [
        { before: { afterFailures: 3 }, after: { afterFailures: 100 } },
        { before: { afterFailures: 100 }, after: null },
      ],
    );
  });

  test('bad values are 400s at the field; nothing is created or changed', async () => {
    const existing = await call('POST', '/api/jobs', job('kept', { autoPause: { afterFailures: 7 } }));
    const id = existing.json.id as string;
    const bad: Array<[unknown, string]> = [
      [{ afterFailures: 0 }, 'autoPause.afterFailures'],
      [{ afterFailures: 101 }, 'autoPause.afterFailures'],
      [{ afterFailures: 2.5 }, 'autoPause.afterFailures'],
      [{ afterFailures: '3' }, 'autoPause.afterFailures'],
      [{}, 'autoPause.afterFailures'],
      [{ afterFailures: 3, extra: true }, 'autoPause'],
      [3, 'autoPause'],
      ['3', 'autoPause'],
    ];
    const before = (await call('GET', '/api/jobs?limit=200')).json.jobs.length;
    for (const [value, path] of bad) {
      const created = await call('POST', '/api/jobs', job(`bad ${JSON.stringify(value)}`, { autoPause: value }));
      assert.equal(created.status, 400, JSON.stringify(value));
      assert.ok(
        (created.json.issues as Array<{ path: string }>).some((i) => i.path === path),
        `${JSON.stringify(value)}: ${JSON.stringify(created.json.issues)}`,
      );
      const patched = await call('PATCH', `/api/jobs/${id}`, { autoPause: value });
      assert.equal(patched.status, 400, JSON.stringify(value));
    }
    assert.equal((await call('GET', '/api/jobs?limit=200')).json.jobs.length, before, 'nothing created');
    assert.deepEqual((await call('GET', `/api/jobs/${id}`)).json.autoPause, { afterFailures: 7 }, 'nothing changed');
  });

  test('the OpenAPI document states the field and its bounds', async () => {
    const doc = (await call('GET', '/api/openapi.json')).json;
    const field = doc.components.schemas.JobCreate_log.properties.autoPause;
    const object = field.anyOf.find((s: { type: string }) => s.type === 'object');
    assert.deepEqual([object.properties.afterFailures.minimum, object.properties.afterFailures.maximum], [1, 100]);
    assert.match(field.description, /paused after N consecutive failures/);
    assert.ok(doc.components.schemas.Job.properties.autoPause);
  });
});
