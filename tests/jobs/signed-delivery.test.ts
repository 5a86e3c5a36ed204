/**
 * Signed, idempotent http deliveries end to end: a real `next start` on PostgreSQL calls a local receiver, and every
 * request it receives is verified with the `standardwebhooks` npm package (Webhook.verify) using the secret the 201 of
 * POST /api/jobs returned. A retried occurrence repeats its webhook-id and Idempotency-Key with a fresh timestamp, other
 * occurrences differ; a tampered body, a wrong secret and a replay outside the 5-minute tolerance are refused; after a
 * rotation a receiver holding only the old or only the new secret accepts, and after the grace period only the new
 * one. Then: no secret in clear anywhere else (job JSON, lists, live events, audit entries, run output, pages, the
 * database, the server's log).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { loginCookie, startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

interface Delivery {
  path: string;
  headers: Record<string, string>;
  body: string;
}

let db: TestPostgres;
let app: StartedApp;
let receiver: Server;
let receiverUrl = '';
const deliveries: Delivery[] = [];
/** /flaky answers 500 to the first delivery of each webhook-id, so the job retries that occurrence. */
const failedOnce = new Set<string>();
/** Every signing secret this file saw in clear (create, reveal and rotate answers): none may appear anywhere else. */
const seenSecrets = new Set<string>();
/** The live event stream, read for the whole file. */
let events = '';
const eventsAbort = new AbortController();

before(
  async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        deliveries.push({ path: req.url ?? '', headers, body: Buffer.concat(chunks).toString('utf8') });
        const id = headers['webhook-id'] ?? '';
        if (req.url === '/flaky' && !failedOnce.has(id)) {
          failedOnce.add(id);
          res.writeHead(500, { 'content-type': 'text/plain' }).end('not now');
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`applied ${id}`);
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    db = await startTestPostgres();
    app = await startApp({
      databaseUrl: db.url,
      env: { SECRETS_KEY: randomBytes(32).toString('base64'), LOG_LEVEL: 'debug', SCHEDULER_PROCESS_EVERY_MS: '100' },
    });
    void fetch(`${app.baseUrl}/api/events`, { headers: { authorization: `Bearer ${app.apiToken}` }, signal: eventsAbort.signal })
      .then(async (response) => {
        const decoder = new TextDecoder();
        for await (const chunk of response.body!) events += decoder.decode(chunk as Uint8Array, { stream: true });
      })
      .catch(() => undefined);
  },
  { timeout: 120_000 },
);

after(
  async () => {
    eventsAbort.abort();
    await app?.stop();
    await db?.stop();
    receiver?.closeAllConnections();
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  },
  { timeout: 30_000 },
);

interface Answer {
  status: number;
  text: string;
  // Tests read fields of many shapes; each assertion checks what it reads.
  json: Record<string, any>;
}

async function call(method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${app.apiToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    json: text && (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : {},
  };
}

function ok(answer: Answer, status = 200): Answer {
  assert.equal(answer.status, status, answer.text.slice(0, 500));
  return answer;
}

async function createHttpJob(path: string, extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const created = ok(
    await call('POST', '/api/jobs', {
      name: `signed ${randomBytes(3).toString('hex')}`,
      type: 'http',
      payload: { method: 'POST', url: `${receiverUrl}${path}`, headers: { 'content-type': 'application/json' }, body: '{"hello":"wörld"}' },
      // Active (a paused job's retries are dropped), with its first occurrence an hour away: runs come from run-now.
      schedule: { kind: 'interval', seconds: 3600 },
      overlapPolicy: 'allow',
      ...extra,
    }),
    201,
  );
  const secret = String(created.json.signingSecret);
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/, 'the 201 carries the secret');
  seenSecrets.add(secret);
  return { id: String(created.json.id), secret };
}

async function waitFor<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) {
      const seen = deliveries.map((d) => `${d.path} ${d.headers['webhook-id']} attempt ${d.headers['cronplane-attempt']}`).join('\n');
      throw new Error(`timed out waiting for ${what}; deliveries:\n${seen}\n${app.logs().slice(-3000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs the job now; resolves to the delivery that run caused (the first one to `path` after `count` deliveries). */
async function runNow(jobId: string, path: string): Promise<Delivery> {
  const count = deliveries.length;
  ok(await call('POST', `/api/jobs/${jobId}/run`), 202);
  return waitFor(`a delivery to ${path}`, () => deliveries.slice(count).find((d) => d.path === path));
}

/** Verifies as a receiver does; throws the library's error when it refuses. */
const verify = (secret: string, delivery: Pick<Delivery, 'body' | 'headers'>): unknown =>
  new Webhook(secret).verify(delivery.body, delivery.headers);

/** The verifier's clock moved by `seconds`, as when a delivery is replayed later (or arrives from a clock that is ahead). */
function verifyAt(seconds: number, secret: string, delivery: Delivery): unknown {
  const realNow = Date.now;
  Date.now = () => realNow() + seconds * 1000;
  try {
    return verify(secret, delivery);
  } finally {
    Date.now = realNow;
  }
}

const expectedId = (jobId: string, scheduledFor: string) => `cp_${jobId.replace(/-/g, '')}_${new Date(scheduledFor).getTime()}`;

describe('signed deliveries', () => {
  test(
    'every delivery verifies; a retried occurrence repeats its webhook-id with a fresh timestamp; other occurrences differ',
    { timeout: 90_000 },
    async () => {
      const job = await createHttpJob('/flaky', { retry: { maxAttempts: 3, backoffSeconds: 2, maxBackoffSeconds: 2 } });
      ok(await call('POST', `/api/jobs/${job.id}/run`), 202);
      await new Promise((resolve) => setTimeout(resolve, 20));
      ok(await call('POST', `/api/jobs/${job.id}/run`), 202);
      // Two occurrences, each refused once and retried: four deliveries.
      await waitFor('four deliveries to /flaky', () => deliveries.filter((d) => d.path === '/flaky').length >= 4);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const flaky = deliveries.filter((d) => d.path === '/flaky');
      assert.equal(flaky.length, 4, 'no more than the four');

      for (const delivery of flaky) {
        assert.deepEqual(verify(job.secret, delivery), { hello: 'wörld' }, 'the library accepts every delivery');
        assert.equal(delivery.headers['idempotency-key'], delivery.headers['webhook-id']);
        assert.equal(delivery.headers['cronplane-job-id'], job.id);
        assert.equal(delivery.headers['webhook-id'], expectedId(job.id, delivery.headers['cronplane-scheduled-for']!));
      }
      const byId = new Map<string, Delivery[]>();
      for (const d of flaky) byId.set(d.headers['webhook-id']!, [...(byId.get(d.headers['webhook-id']!) ?? []), d]);
      assert.equal(byId.size, 2, 'one webhook-id per occurrence');
      for (const [id, attempts] of byId) {
        assert.deepEqual(
          attempts.map((d) => [d.headers['cronplane-attempt'], d.headers['cronplane-trigger']]),
          [
            ['1', 'manual'],
            ['2', 'retry'],
          ],
          id,
        );
        assert.equal(attempts[0]!.headers['cronplane-run-id'], attempts[1]!.headers['cronplane-run-id'], 'one run record');
        const [first, second] = attempts.map((d) => Number(d.headers['webhook-timestamp']));
        assert.ok(second! > first!, `the retry is signed at its own time (${first} then ${second})`);
        assert.ok(Math.abs(second! - Date.now() / 1000) < 60, 'Unix seconds, now');
      }

      // The runs say the same, and the run page shows the occurrence's id.
      const runs = ok(await call('GET', `/api/jobs/${job.id}/runs`)).json.runs as Array<Record<string, any>>;
      assert.equal(runs.length, 2);
      const cookie = await loginCookie(app, 'admin', app.adminPassword);
      for (const run of runs) {
        assert.equal(run.status, 'succeeded');
        assert.equal(run.attempt, 2);
        const id = expectedId(job.id, run.scheduledFor);
        assert.ok(byId.has(id), `${id} delivered`);
        const page = await fetch(`${app.baseUrl}/runs/${run.id}`, { headers: { cookie } });
        assert.equal(page.status, 200);
        assert.match(await page.text(), new RegExp(`data-testid="run-webhook-id"[^>]*>${id}<`));
      }
    },
  );

  test(
    'the library refuses a tampered body, a wrong secret, and a replay outside its 5-minute tolerance',
    { timeout: 60_000 },
    async () => {
      const job = await createHttpJob('/ok');
      const delivery = await runNow(job.id, '/ok');
      assert.deepEqual(verify(job.secret, delivery), { hello: 'wörld' });
      assert.throws(() => verify(job.secret, { ...delivery, body: '{"hello":"world"}' }), /No matching signature/);
      assert.throws(() => verify(job.secret, { ...delivery, body: `${delivery.body} ` }), /No matching signature/);
      const other = `whsec_${randomBytes(32).toString('base64')}`;
      assert.throws(() => verify(other, delivery), /No matching signature/);
      const another = await createHttpJob('/ok');
      assert.throws(() => verify(another.secret, delivery), /No matching signature/, "another job's secret");
      assert.throws(() =>
        verify(job.secret, { ...delivery, headers: { ...delivery.headers, 'webhook-id': `${delivery.headers['webhook-id']}1` } }),
      );
      assert.throws(() => verifyAt(6 * 60, job.secret, delivery), /too old/, 'replayed six minutes later');
      assert.throws(() => verifyAt(-6 * 60, job.secret, delivery), /too new/, 'from six minutes in the future');
      assert.deepEqual(verifyAt(4 * 60, job.secret, delivery), { hello: 'wörld' }, 'inside the tolerance');
    },
  );

  test(
    'rotation: during the grace period the old and the new secret both verify, after it only the new one',
    { timeout: 90_000 },
    async () => {
      const job = await createHttpJob('/ok');
      const first = job.secret;
      const before = await runNow(job.id, '/ok');
      verify(first, before);
      assert.equal(before.headers['webhook-signature']!.split(' ').length, 1, 'one signature outside a rotation');

      const rotated = ok(await call('POST', `/api/jobs/${job.id}/signing-secret/rotate`, { graceSeconds: 3600 })).json;
      const second = String(rotated.signingSecret);
      seenSecrets.add(second);
      assert.notEqual(second, first);
      const graceMs = new Date(rotated.previousValidUntil).getTime() - new Date(rotated.createdAt).getTime();
      assert.ok(Math.abs(graceMs - 3_600_000) < 5_000, `previous valid for the grace period (${graceMs} ms)`);
      const during = await runNow(job.id, '/ok');
      assert.equal(during.headers['webhook-signature']!.split(' ').length, 2, 'two signatures during the grace period');
      assert.deepEqual(verify(first, during), { hello: 'wörld' }, 'a receiver holding only the old secret accepts');
      assert.deepEqual(verify(second, during), { hello: 'wörld' }, 'a receiver holding only the new secret accepts');
      const revealed = ok(await call('POST', `/api/jobs/${job.id}/signing-secret/reveal`)).json;
      assert.equal(revealed.signingSecret, second, 'reveal shows the new secret');
      assert.equal(revealed.previousValidUntil, rotated.previousValidUntil);

      // A short grace this time, then past it.
      const again = ok(await call('POST', `/api/jobs/${job.id}/signing-secret/rotate`, { graceSeconds: 2 })).json;
      const third = String(again.signingSecret);
      seenSecrets.add(third);
      const soon = await runNow(job.id, '/ok');
      verify(second, soon);
      verify(third, soon);
      assert.throws(() => verify(first, soon), /No matching signature/, 'only the latest previous secret signs');
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, new Date(again.previousValidUntil).getTime() - Date.now()) + 1_000));
      const afterGrace = await runNow(job.id, '/ok');
      assert.equal(afterGrace.headers['webhook-signature']!.split(' ').length, 1, 'one signature after the grace period');
      assert.deepEqual(verify(third, afterGrace), { hello: 'wörld' }, 'the new secret verifies');
      assert.throws(() => verify(second, afterGrace), /No matching signature/, 'the previous one no longer does');
      assert.equal(ok(await call('POST', `/api/jobs/${job.id}/signing-secret/reveal`)).json.previousValidUntil, null);
      // An empty body takes the default grace: a day.
      const byDefault = ok(await call('POST', `/api/jobs/${job.id}/signing-secret/rotate`)).json;
      seenSecrets.add(String(byDefault.signingSecret));
      const dayMs = new Date(byDefault.previousValidUntil).getTime() - new Date(byDefault.createdAt).getTime();
      assert.ok(Math.abs(dayMs - 86_400_000) < 5_000, `default grace ${dayMs} ms`);
    },
  );

  test(
    'no signing secret in clear anywhere else: job JSON, lists, live events, audit entries, run output, pages, database, server log',
    { timeout: 60_000 },
    async () => {
      assert.ok(seenSecrets.size >= 5, `secrets to look for (${seenSecrets.size})`);
      // Each secret, and its key part alone (without the whsec_ prefix).
      const needles = [...seenSecrets].flatMap((s) => [s, s.slice('whsec_'.length)]);
      const clean = (where: string, text: string): void => {
        for (const needle of needles) assert.equal(text.includes(needle), false, `a signing secret in ${where}`);
      };
      const jobs = ok(await call('GET', '/api/jobs?limit=200')).json.jobs as Array<Record<string, any>>;
      assert.ok(jobs.length >= 4);
      clean('the job list', JSON.stringify(jobs));
      const cookie = await loginCookie(app, 'admin', app.adminPassword);
      let runCount = 0;
      for (const job of jobs) {
        const one = ok(await call('GET', `/api/jobs/${job.id}`));
        assert.equal('signingSecret' in one.json, false);
        clean('a job', one.text);
        const runs = ok(await call('GET', `/api/jobs/${job.id}/runs?limit=200`));
        runCount += (runs.json.runs as unknown[]).length;
        clean('run output', runs.text);
        const page = await fetch(`${app.baseUrl}/jobs/${job.id}`, { headers: { cookie } });
        const html = await page.text();
        assert.equal(page.status, 200);
        assert.match(html, /Delivery signing/, 'the job page shows the signing panel');
        clean('the job page', html);
      }
      assert.ok(runCount >= 7, `runs with output to look at (${runCount})`);
      const audit = ok(await call('GET', '/api/audit?limit=200'));
      const actions = (audit.json.entries as Array<{ action: string }>).map((e) => e.action);
      assert.ok(actions.includes('job.signing-secret.rotate') && actions.includes('job.signing-secret.reveal'), 'audited');
      clean('the audit log', audit.text);
      assert.match(events, /event: /, 'the live stream was read');
      clean('the live events', events);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const stored = await client.query<{ secret: string; previous_secret: string | null }>(
          'SELECT secret, previous_secret FROM job_signing_secrets',
        );
        assert.ok(stored.rows.length >= 4);
        for (const row of stored.rows) assert.match(row.secret, /^enc:v1:/, 'encrypted at rest');
        clean('the database', JSON.stringify(stored.rows));
        clean('the runs table', JSON.stringify((await client.query('SELECT * FROM runs')).rows));
        clean('the jobs table', JSON.stringify((await client.query('SELECT * FROM jobs')).rows));
      } finally {
        await client.end();
      }
      assert.match(app.logs(), /\[scheduler\] instance .* started/, 'the server log was captured');
      clean('the server log', app.logs());
    },
  );
});
