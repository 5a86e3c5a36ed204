/**
 * The signing-secret routes against a real `next start` on PostgreSQL: who may reveal and rotate (viewer 403, operator
 * 200, audited under the caller's name without the secret), what is refused (a job that is not http 409, an unknown or
 * malformed id 404, a bad rotate body 400 with nothing changed), and where secrets come from for jobs that have none:
 * jobs stored before signing secrets existed get one at start-up (the backfill), a job switched to http by an edit gets
 * one at once, and one that still has none when it is delivered (a crash between the job and its secret) gets one then.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { decryptSecret } from '../../lib/secrets';
import { createPostgresStore } from '../../lib/store/postgres';
import type { Job, NewJob, Store } from '../../lib/store/types';
import { loginCookie, startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

const KEY = randomBytes(32);
let db: TestPostgres;
let store: Store;
let app: StartedApp;
let receiver: Server;
let receiverUrl = '';
const received: Array<{ headers: Record<string, string>; body: string }> = [];
/** Stored before the app first started, as by a version without signing secrets. */
let oldHttp: Job;
let oldLog: Job;

function oldJob(overrides: Partial<NewJob>): NewJob {
  return {
    name: `old ${randomBytes(3).toString('hex')}`,
    description: '',
    type: 'http',
    payload: { method: 'GET', url: 'https://example.com/old', headers: {}, timeoutSeconds: 5 },
    schedule: { kind: 'interval', seconds: 3600 },
    paused: true,
    timeoutSeconds: 60,
    overlapPolicy: 'skip',
    missedPolicy: 'run-once',
    tags: [],
    nextRunAt: null,
    anchorAt: new Date(),
    ...overrides,
  };
}

before(
  async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({
          headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
          body: Buffer.concat(chunks).toString('utf8'),
        });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    db = await startTestPostgres();
    store = await createPostgresStore(db.url, 'postgres (test)');
    await store.migrate();
    oldHttp = await store.createJob(oldJob({}));
    oldLog = await store.createJob(oldJob({ type: 'log', payload: { message: 'old' } }));
    app = await startApp({ databaseUrl: db.url, env: { SECRETS_KEY: KEY.toString('base64'), SCHEDULER_PROCESS_EVERY_MS: '100' } });
  },
  { timeout: 120_000 },
);

after(
  async () => {
    await app?.stop();
    await store?.close();
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

/** `auth`: a bearer token (default the admin API_TOKEN). `raw`: a body sent as is. */
async function call(method: string, path: string, options: { body?: unknown; raw?: string; auth?: string } = {}): Promise<Answer> {
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${options.auth ?? app.apiToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    json: text && (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : {},
  };
}

function expectStatus(answer: Answer, status: number, what: string): Answer {
  assert.equal(answer.status, status, `${what}: expected ${status}, got ${answer.status}: ${answer.text.slice(0, 300)}`);
  return answer;
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${app.logs().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function createJob(body: Record<string, unknown>): Promise<Record<string, any>> {
  return expectStatus(
    await call('POST', '/api/jobs', {
      body: { name: `job ${randomBytes(3).toString('hex')}`, schedule: { kind: 'interval', seconds: 3600 }, paused: true, ...body },
    }),
    201,
    'create',
  ).json;
}

const httpJob = () => createJob({ type: 'http', payload: { url: 'https://example.com/hook' } });

async function token(role: 'viewer' | 'operator'): Promise<{ name: string; secret: string }> {
  const name = `${role} ${randomBytes(3).toString('hex')}`;
  const made = expectStatus(await call('POST', '/api/tokens', { body: { name, role } }), 201, `${role} token`);
  return { name, secret: String(made.json.secret) };
}

/** The stored ciphertext and dates: what must not move when a request is refused. */
const stored = async (jobId: string) => JSON.stringify(await store.getSigningSecret(jobId));

describe('jobs from before signing secrets', () => {
  test(
    'an http job stored without a secret gets one at start-up, and reveal shows it; other types get none',
    { timeout: 60_000 },
    async () => {
      const made = await waitFor('the backfilled secret', () => store.getSigningSecret(oldHttp.id));
      assert.match(made.secret, /^enc:v1:/, 'encrypted with SECRETS_KEY');
      const clear = decryptSecret(made.secret, KEY);
      assert.match(clear, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.equal(made.previousSecret, null);
      await waitFor('the backfill log line', () => /made the signing secret of 1 job that had none/.test(app.logs()));
      const revealed = expectStatus(await call('POST', `/api/jobs/${oldHttp.id}/signing-secret/reveal`), 200, 'reveal').json;
      assert.equal(revealed.signingSecret, clear);
      assert.equal(revealed.createdAt, made.createdAt.toISOString());
      assert.equal(await store.getSigningSecret(oldLog.id), null, 'a log job signs nothing');
      assert.deepEqual(await store.listJobsWithoutSigningSecret('http', 10), []);
    },
  );

  test('a job switched to http by an edit has its secret at once', { timeout: 30_000 }, async () => {
    const log = await createJob({ type: 'log', payload: { message: 'x' } });
    assert.equal('signingSecret' in log, false, 'a log job is created without one');
    assert.equal(await store.getSigningSecret(log.id), null);
    expectStatus(
      await call('PATCH', `/api/jobs/${log.id}`, { body: { type: 'http', payload: { url: 'https://example.com/now-http' } } }),
      200,
      'switch to http',
    );
    const made = await store.getSigningSecret(log.id);
    assert.ok(made, 'made by the edit');
    const revealed = expectStatus(await call('POST', `/api/jobs/${log.id}/signing-secret/reveal`), 200, 'reveal').json;
    assert.equal(revealed.signingSecret, decryptSecret(made.secret, KEY));
  });

  test(
    'an http job that still has none when it is delivered (a crash after the job, before its secret) gets one then',
    { timeout: 60_000 },
    async () => {
      const due = new Date(Date.now() + 500);
      const job = await store.createJob(
        oldJob({
          paused: false,
          nextRunAt: due,
          anchorAt: due,
          payload: { method: 'POST', url: `${receiverUrl}/late`, headers: {}, body: '{"late":true}', timeoutSeconds: 5 },
        }),
      );
      // Created after start-up and without a ticket: the scheduler's sweep finds it due, and its delivery makes the secret.
      const delivery = await waitFor('its delivery', () => received.find((r) => r.headers['cronplane-job-id'] === job.id));
      const revealed = expectStatus(await call('POST', `/api/jobs/${job.id}/signing-secret/reveal`), 200, 'reveal').json;
      assert.deepEqual(new Webhook(revealed.signingSecret).verify(delivery.body, delivery.headers), { late: true });
    },
  );
});

describe('who may reveal and rotate', () => {
  test(
    'a viewer gets 403 on both and nothing changes; an operator reveals and rotates, audited under its name, without the secret',
    { timeout: 60_000 },
    async () => {
      const job = await httpJob();
      const before = await stored(job.id);
      const viewer = await token('viewer');
      for (const action of ['reveal', 'rotate']) {
        for (const body of [undefined, { graceSeconds: 0 }]) {
          const answer = expectStatus(
            await call('POST', `/api/jobs/${job.id}/signing-secret/${action}`, { auth: viewer.secret, body }),
            403,
            `viewer ${action}`,
          );
          assert.match(answer.json.error, /operator/);
          assert.doesNotMatch(answer.text, /whsec_/);
        }
      }
      assert.equal(await stored(job.id), before, 'the viewer changed nothing');

      const operator = await token('operator');
      const revealed = expectStatus(
        await call('POST', `/api/jobs/${job.id}/signing-secret/reveal`, { auth: operator.secret }),
        200,
        'reveal',
      ).json;
      assert.equal(revealed.signingSecret, job.signingSecret, 'the secret of the 201');
      assert.deepEqual(Object.keys(revealed).sort(), ['createdAt', 'previousValidUntil', 'signingSecret']);
      assert.equal(revealed.previousValidUntil, null);
      const rotated = expectStatus(
        await call('POST', `/api/jobs/${job.id}/signing-secret/rotate`, { auth: operator.secret, body: { graceSeconds: 600 } }),
        200,
        'rotate',
      ).json;
      assert.match(rotated.signingSecret, /^whsec_/);
      assert.notEqual(rotated.signingSecret, job.signingSecret);
      assert.ok(new Date(rotated.createdAt) >= new Date(revealed.createdAt));

      const entries = expectStatus(await call('GET', `/api/audit?targetId=${job.id}`), 200, 'audit').json.entries as Array<
        Record<string, any>
      >;
      const byOperator = entries.filter((e) => e.actorName === operator.name);
      assert.deepEqual(
        byOperator.map((e) => e.action),
        ['job.signing-secret.rotate', 'job.signing-secret.reveal'],
      );
      assert.equal(byOperator[0]!.changes.signingSecretCreatedAt.after, rotated.createdAt);
      assert.equal(byOperator[0]!.changes.previousSigningSecretValidUntil.after, rotated.previousValidUntil);
      const text = JSON.stringify(entries);
      for (const secret of [job.signingSecret, rotated.signingSecret])
        assert.equal(text.includes(secret.slice(6)), false, 'no secret in the audit log');
    },
  );

  test('the job page: everyone sees when the secret was made, only operators get Reveal and Rotate', { timeout: 60_000 }, async () => {
    const job = await httpJob();
    const viewer = { username: `v-${randomBytes(3).toString('hex')}`, password: `pw-${randomBytes(12).toString('base64url')}` };
    const operator = { username: `o-${randomBytes(3).toString('hex')}`, password: `pw-${randomBytes(12).toString('base64url')}` };
    expectStatus(await call('POST', '/api/users', { body: { ...viewer, role: 'viewer' } }), 201, 'viewer user');
    expectStatus(await call('POST', '/api/users', { body: { ...operator, role: 'operator' } }), 201, 'operator user');
    for (const [who, canManage] of [
      [viewer, false],
      [operator, true],
    ] as const) {
      const cookie = await loginCookie(app, who.username, who.password);
      const page = await fetch(`${app.baseUrl}/jobs/${job.id}`, { headers: { cookie } });
      const html = await page.text();
      assert.equal(page.status, 200);
      assert.match(html, /data-testid="signing-secret-panel"/);
      assert.match(html, /data-testid="signing-secret-created"/);
      assert.equal(/Reveal secret/.test(html), canManage, `${who.username}: Reveal`);
      assert.equal(/Rotate secret/.test(html), canManage, `${who.username}: Rotate`);
      assert.equal(html.includes(job.signingSecret.slice(6)), false, 'never the secret itself');
    }
    const log = await createJob({ type: 'log', payload: { message: 'x' } });
    const cookie = await loginCookie(app, operator.username, operator.password);
    const logPage = await (await fetch(`${app.baseUrl}/jobs/${log.id}`, { headers: { cookie } })).text();
    assert.doesNotMatch(logPage, /signing-secret-panel/, 'a log job has no signing panel');
  });
});

describe('what is refused', () => {
  test('a job that is not http: 409; an unknown or malformed id: 404', { timeout: 30_000 }, async () => {
    const log = await createJob({ type: 'log', payload: { message: 'x' } });
    for (const action of ['reveal', 'rotate']) {
      const answer = expectStatus(await call('POST', `/api/jobs/${log.id}/signing-secret/${action}`), 409, `${action} a log job`);
      assert.match(answer.json.error, /only http jobs have a signing secret; this job's type is log/);
      for (const id of [randomUUID(), 'not-a-job', '1%27%20OR%20%271%27%3D%271']) {
        expectStatus(await call('POST', `/api/jobs/${id}/signing-secret/${action}`), 404, `${action} ${id}`);
      }
    }
    assert.equal(await store.getSigningSecret(log.id), null);
  });

  test('rotate: bad bodies are 400s with the field named, and the secret stays', { timeout: 30_000 }, async () => {
    const job = await httpJob();
    const before = await stored(job.id);
    const path = `/api/jobs/${job.id}/signing-secret/rotate`;
    for (const graceSeconds of [-1, 604_801, 1.5, '60', null, true, { $gt: 0 }]) {
      const answer = expectStatus(
        await call('POST', path, { body: { graceSeconds } }),
        400,
        `graceSeconds ${JSON.stringify(graceSeconds)}`,
      );
      assert.deepEqual([...new Set((answer.json.issues as Array<{ path: string }>).map((i) => i.path))], ['graceSeconds']);
    }
    for (const [raw, what] of [
      ['{"graceSeconds": 60, "secret": "whsec_mine"}', 'an unknown key'],
      ['{"graceSeconds": ', 'malformed JSON'],
      ['[60]', 'an array'],
      ['"60"', 'a string'],
    ] as const) {
      const answer = expectStatus(await call('POST', path, { raw }), 400, what);
      assert.equal(typeof answer.json.error, 'string');
    }
    const wrongType = await fetch(`${app.baseUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.apiToken}`, 'content-type': 'text/plain' },
      body: 'graceSeconds=60',
    });
    assert.equal(wrongType.status, 400, 'a body that is not declared as JSON');
    assert.equal(await stored(job.id), before, 'nothing changed');
    // The limits themselves are accepted.
    for (const graceSeconds of [0, 604_800]) {
      const answer = expectStatus(await call('POST', path, { body: { graceSeconds } }), 200, `graceSeconds ${graceSeconds}`).json;
      assert.equal(answer.previousValidUntil === null, graceSeconds === 0, 'no grace: the previous secret stops signing at once');
    }
  });
});
