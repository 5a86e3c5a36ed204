/**
 * Ctrl-C (SIGINT) stops a `next start` instance as gracefully as SIGTERM does: the running handler finishes within
 * the grace period, the instance is recorded as stopped, and the process exits the same way. Also: with INSTANCE_ID
 * unset, the instance names itself host-pid-random.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants, hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { openStore } from '../../lib/store';
import type { Store } from '../../lib/store/types';
import { startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

const SLOW_MS = 3_000;

let target: Server;
let targetUrl = '';
/** Requests the target has received: the handler is really running (its call is in flight) once this grows. */
let received = 0;
const dbs: TestPostgres[] = [];
const stores: Store[] = [];
const apps: StartedApp[] = [];
const exits = new Map<'SIGINT' | 'SIGTERM', { code: number | null; signal: NodeJS.Signals | null } | null>();

before(async () => {
  target = createServer((req, res) => {
    received++;
    const timer = setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('slow done'), SLOW_MS);
    res.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/slow`;
});

after(async () => {
  await Promise.all(apps.map((a) => a.stop('SIGKILL')));
  await Promise.all(stores.map((s) => s.close()));
  await Promise.all(dbs.map((db) => db.stop()));
  await new Promise((resolve) => target.close(resolve));
});

async function api<T>(app: StartedApp, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${app.apiToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

async function waitFor<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const escapeRe = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('graceful stop of next start', { timeout: 180_000 }, () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal}: the running handler finishes, the instance is marked stopped, the process exits cleanly`, async () => {
      const db = await startTestPostgres();
      dbs.push(db);
      // INSTANCE_ID unset: the default id.
      const app = await startApp({ databaseUrl: db.url, env: { INSTANCE_ID: undefined, SHUTDOWN_GRACE_SECONDS: '15' } });
      apps.push(app);
      const health = await api<{ instanceId: string }>(app, 'GET', '/api/health');
      assert.match(health.instanceId, new RegExp(`^${escapeRe(hostname())}-${app.pid}-[0-9a-f]{6}$`), 'host-pid-random');
      const instanceId = health.instanceId;

      const job = await api<{ id: string }>(app, 'POST', '/api/jobs', {
        name: `slow ${signal}`,
        type: 'http',
        payload: { url: targetUrl },
        schedule: { kind: 'interval', seconds: 3600 },
      });
      const before = received;
      await api(app, 'POST', `/api/jobs/${job.id}/run`);
      const running = await waitFor('the run to start', async () => {
        const { runs } = await api<{ runs: Array<{ id: string; status: string }> }>(app, 'GET', `/api/jobs/${job.id}/runs?limit=5`);
        return runs.find((r) => r.status === 'running');
      });
      // 'running' is recorded just before the handler is called; the signal must find the handler's call in flight
      // (a signal before it gives the run back unstarted, which another test covers).
      await waitFor('the handler to call the target', async () => (received > before ? true : undefined));

      const signalledAt = Date.now();
      await app.stop(signal);
      const took = Date.now() - signalledAt;
      exits.set(signal, app.exitStatus());
      assert.ok(took < 10_000, `exited ${took} ms after ${signal} (no SIGKILL needed)`);
      const logs = app.logs();
      assert.ok(logs.includes(`[scheduler] ${signal}: stopping instance ${instanceId}`), logs);
      assert.ok(logs.includes(`[scheduler] instance ${instanceId} stopped`), logs);

      const store = await openStore({ kind: 'postgres', url: db.url });
      stores.push(store);
      const run = await store.getRun(running.id);
      assert.equal(run?.status, 'succeeded', `the run finished within the grace period: ${run?.status} ${run?.error ?? ''}\n${logs}`);
      assert.ok(run?.finishedAt && run.finishedAt.getTime() >= signalledAt, 'it finished after the signal');
      assert.match(run?.output ?? '', /-> 200 OK/);
      const instance = (await store.listInstances()).find((i) => i.id === instanceId);
      assert.ok(instance?.stoppedAt, 'the instance is recorded as stopped');
    });
  }

  test('both signals end the process the same way: it exits by itself with 128 + the signal number', () => {
    assert.equal(exits.size, 2);
    for (const [signal, status] of exits) {
      assert.deepEqual(status, { code: 128 + constants.signals[signal], signal: null }, `${signal}: ${JSON.stringify(status)}`);
    }
  });
});
