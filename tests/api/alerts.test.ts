/**
 * Alert rules and alert routes through the REST API (a real `next start` on a real PostgreSQL): rules in the job body
 * round-trip and are audited, an unknown channel is a 400 at the rule's channelId that changes nothing, the defaults are
 * admin-only to change, GET /api/alerts is open to every role and validates its filters.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createPostgresStore } from '../../lib/store/postgres';
import type { Store } from '../../lib/store/types';
import { startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

let db: TestPostgres;
let app: StartedApp;
let store: Store;
let channelId = '';
let viewerToken = '';
let operatorToken = '';

interface Answer {
  status: number;
  // Tests read fields of many shapes; each assertion checks what it reads.
  json: Record<string, any>;
  text: string;
}

async function call(method: string, path: string, body?: unknown, token: string = app.apiToken): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, text, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, any>) : {} };
}

const job = (alerts: unknown) => ({
  name: `alerting ${randomUUID().slice(0, 8)}`,
  type: 'log',
  payload: { message: 'x' },
  schedule: { kind: 'interval', seconds: 3600 },
  paused: true,
  alerts,
});

before(
  async () => {
    db = await startTestPostgres();
    app = await startApp({ databaseUrl: db.url });
    store = await createPostgresStore(db.url, 'postgres (test)');
    // Sealing is not needed here: nothing is sent (the jobs stay paused).
    channelId = (await store.createChannel({ name: 'hooks', type: 'slack', config: {}, signingSecret: null, dailyCap: null })).id;
    for (const role of ['viewer', 'operator'] as const) {
      const answer = await call('POST', '/api/tokens', { name: `${role} token`, role });
      assert.equal(answer.status, 201, answer.text);
      if (role === 'viewer') viewerToken = String(answer.json.secret);
      else operatorToken = String(answer.json.secret);
    }
  },
  { timeout: 120_000 },
);

after(
  async () => {
    await store?.close();
    await app?.stop();
    await db?.stop();
  },
  { timeout: 30_000 },
);

describe('alert rules in the job body', () => {
  test('round-trip on create and patch, defaults filled in, audited', async () => {
    const created = await call('POST', '/api/jobs', job([{ channelId, on: ['failure', 'slow'], slowAfterSeconds: 600 }]), operatorToken);
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.json.alerts, [{ channelId, on: ['failure', 'slow'], throttleSeconds: 0, slowAfterSeconds: 600 }]);
    const patched = await call(
      'PATCH',
      `/api/jobs/${created.json.id}`,
      { alerts: [{ channelId, on: ['recovery'], throttleSeconds: 60 }] },
      operatorToken,
    );
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(patched.json.alerts, [{ channelId, on: ['recovery'], throttleSeconds: 60, slowAfterSeconds: null }]);
    assert.deepEqual((await call('GET', `/api/jobs/${created.json.id}`, undefined, viewerToken)).json.alerts, patched.json.alerts);
    const audit = await call('GET', `/api/audit?targetId=${created.json.id}&action=job.update`);
    assert.ok(audit.json.entries[0]?.changes?.alerts, 'the change of rules is in the audit log');
  });

  test('an unknown channel is a 400 at alerts.<i>.channelId and nothing is written', async () => {
    const body = job([
      { channelId, on: ['failure'] },
      { channelId: randomUUID(), on: ['failure'] },
    ]);
    const answer = await call('POST', '/api/jobs', body);
    assert.equal(answer.status, 400, answer.text);
    assert.deepEqual(
      answer.json.issues.map((i: { path: string }) => i.path),
      ['alerts.1.channelId'],
    );
    const list = await call('GET', `/api/jobs?search=${encodeURIComponent(String(body.name))}`);
    assert.equal(list.json.jobs.length, 0, 'no job created');
  });

  test('field-level issues for broken rules; instance-lost is for defaults only', async () => {
    const answer = await call(
      'POST',
      '/api/jobs',
      job([
        { channelId, on: ['slow'] },
        { channelId, on: ['instance-lost'] },
        { channelId, on: [] },
      ]),
    );
    assert.equal(answer.status, 400);
    const paths = answer.json.issues.map((i: { path: string }) => i.path);
    assert.ok(paths.includes('alerts.0.slowAfterSeconds'), paths.join());
    assert.ok(
      paths.some((p: string) => p.startsWith('alerts.1.on')),
      paths.join(),
    );
    assert.ok(paths.includes('alerts.2.on'), paths.join());
  });
});

describe('alert routes', () => {
  test('defaults: every role reads them, only admins replace them (audited); a viewer or operator gets 403 and nothing changes', async () => {
    assert.deepEqual((await call('GET', '/api/alerts/defaults', undefined, viewerToken)).json, { rules: [] });
    const rules = [{ channelId, on: ['instance-lost', 'failure'], throttleSeconds: 0, slowAfterSeconds: null, tag: 'ops' }];
    for (const token of [viewerToken, operatorToken]) {
      assert.equal((await call('PUT', '/api/alerts/defaults', { rules }, token)).status, 403);
    }
    assert.deepEqual((await call('GET', '/api/alerts/defaults')).json, { rules: [] });
    const saved = await call('PUT', '/api/alerts/defaults', { rules });
    assert.equal(saved.status, 200, saved.text);
    assert.deepEqual(saved.json, { rules });
    const bad = await call('PUT', '/api/alerts/defaults', { rules: [{ ...rules[0], channelId: randomUUID() }] });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.issues[0].path, 'rules.0.channelId');
    assert.deepEqual((await call('GET', '/api/alerts/defaults')).json, { rules }, 'unchanged by the refused change');
    const audit = await call('GET', '/api/audit?action=alerts.defaults.update');
    assert.equal(audit.json.entries.length, 1);
  });

  test('GET /api/alerts: any role, newest first, filters validated', async () => {
    await store.insertAlerts([
      {
        eventKey: `failure:${randomUUID()}`,
        event: 'failure',
        ruleKey: 'job:0',
        channelId,
        throttleSeconds: 0,
        jobId: randomUUID(),
        jobName: 'nightly',
        runId: randomUUID(),
        runScheduledFor: new Date(),
        runStatus: 'failed',
        runAttempt: 1,
        instanceId: 'i1',
        at: new Date(),
        title: 'nightly failed (attempt 1)',
        text: '',
      },
    ]);
    const answer = await call('GET', '/api/alerts', undefined, viewerToken);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.alerts.length, 1);
    assert.match(answer.json.alerts[0].messageId, /^alrt_/);
    assert.equal(answer.json.alerts[0].status, 'pending');
    assert.equal((await call('GET', '/api/alerts?status=sent')).json.alerts.length, 0);
    for (const query of ['status=bogus', 'event=nope', 'jobId=not-a-uuid', 'limit=0', 'cursor=%24%24']) {
      const refused = await call('GET', `/api/alerts?${query}`);
      assert.equal(refused.status, 400, `${query}: ${refused.text}`);
    }
  });
});
