/**
 * Deleting an alert channel that rules use (README "Alert channels"), on both stores through a real `next start`:
 * a 409 naming the jobs whose rules use it and "the alert defaults", nothing deleted, nothing audited; once no rule
 * names it the delete is a 204. The store's listJobsUsingChannel finds the jobs (jsonb containment / 'alerts.channelId').
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startApp, type StartedApp } from '../support/app';
import { startTestMongo } from '../support/mongo';
import { startTestPostgres } from '../support/postgres';

interface Answer {
  status: number;
  // Tests read fields of many shapes; each assertion checks what it reads.
  json: Record<string, any>;
  text: string;
}

const stores = [
  { name: 'postgres', start: async () => startTestPostgres() },
  { name: 'mongodb', start: async () => startTestMongo() },
];

for (const store of stores) {
  describe(`deleting a channel that alert rules use (${store.name})`, { timeout: 240_000 }, () => {
    let db: { url: string; stop(): Promise<void> };
    let app: StartedApp;

    async function call(method: string, path: string, body?: unknown): Promise<Answer> {
      const headers: Record<string, string> = { authorization: `Bearer ${app.apiToken}` };
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

    async function channel(name: string): Promise<string> {
      const answer = await call('POST', '/api/channels', { name, type: 'slack', config: { url: 'http://127.0.0.1:9/services/T/B/x' } });
      assert.equal(answer.status, 201, answer.text);
      return String(answer.json.id);
    }

    async function job(name: string, alerts: unknown): Promise<string> {
      const answer = await call('POST', '/api/jobs', {
        name,
        type: 'log',
        payload: { message: 'x' },
        schedule: { kind: 'interval', seconds: 3600 },
        paused: true,
        alerts,
      });
      assert.equal(answer.status, 201, answer.text);
      return String(answer.json.id);
    }

    const deletes = async (id: string): Promise<number> =>
      ((await call('GET', `/api/audit?targetId=${id}&action=channel.delete`)).json.entries as unknown[] | undefined)?.length ?? 0;

    before(
      async () => {
        db = await store.start();
        app = await startApp({ databaseUrl: db.url, env: { HTTP_JOB_ALLOW: '127.0.0.1' } });
      },
      { timeout: 120_000 },
    );

    after(
      async () => {
        await app?.stop();
        await db?.stop();
      },
      { timeout: 30_000 },
    );

    test('a channel used by jobs or the defaults is a 409 naming them; nothing is deleted until no rule uses it', async () => {
      const used = await channel(`used ${randomUUID().slice(0, 6)}`);
      const other = await channel(`other ${randomUUID().slice(0, 6)}`);
      const a = await job('nightly backup', [
        { channelId: other, on: ['failure'] },
        { channelId: used, on: ['failure', 'recovery'] },
      ]);
      const b = await job('billing export', [{ channelId: used, on: ['missed'] }]);
      await job('unrelated', [{ channelId: other, on: ['failure'] }]);
      const defaults = await call('PUT', '/api/alerts/defaults', { rules: [{ channelId: used, on: ['instance-lost'], tag: null }] });
      assert.equal(defaults.status, 200, defaults.text);

      let answer = await call('DELETE', `/api/channels/${used}`);
      assert.equal(answer.status, 409, answer.text);
      assert.match(answer.json.error, /jobs "billing export" and "nightly backup" and the alert defaults/);
      assert.doesNotMatch(answer.json.error, /unrelated/);
      assert.equal((await call('GET', `/api/channels/${used}`)).status, 200, 'the channel is still there');
      assert.equal(await deletes(used), 0, 'a refused delete is not audited');

      // The defaults no longer use it: the jobs alone still hold it.
      assert.equal((await call('PUT', '/api/alerts/defaults', { rules: [] })).status, 200);
      answer = await call('DELETE', `/api/channels/${used}`);
      assert.equal(answer.status, 409, answer.text);
      assert.doesNotMatch(answer.json.error, /alert defaults/);
      assert.match(answer.json.error, /jobs "billing export" and "nightly backup"/);

      // One job left using it.
      assert.equal((await call('PATCH', `/api/jobs/${a}`, { alerts: [{ channelId: other, on: ['failure'] }] })).status, 200);
      answer = await call('DELETE', `/api/channels/${used}`);
      assert.equal(answer.status, 409, answer.text);
      assert.match(answer.json.error, /job "billing export";/);

      // Only the defaults (for a tag) use it.
      assert.equal((await call('PATCH', `/api/jobs/${b}`, { alerts: [] })).status, 200);
      const tagged = await call('PUT', '/api/alerts/defaults', { rules: [{ channelId: used, on: ['failure'], tag: 'ops' }] });
      assert.equal(tagged.status, 200, tagged.text);
      answer = await call('DELETE', `/api/channels/${used}`);
      assert.equal(answer.status, 409, answer.text);
      assert.match(answer.json.error, /used by the alert defaults/);

      // No rule names it: deleted and audited; the other channel (still used) stays.
      assert.equal((await call('PUT', '/api/alerts/defaults', { rules: [] })).status, 200);
      answer = await call('DELETE', `/api/channels/${used}`);
      assert.equal(answer.status, 204, answer.text);
      assert.equal((await call('GET', `/api/channels/${used}`)).status, 404);
      assert.equal(await deletes(used), 1);
      assert.equal((await call('DELETE', `/api/channels/${other}`)).status, 409);
      assert.equal((await call('GET', `/api/channels/${other}`)).status, 200);
    });
  });
}
