/**
 * Every http delivery says which occurrence it belongs to (Cronplane-* headers, and the Standard Webhooks webhook-id,
 * the same as Idempotency-Key), so a target can deduplicate a takeover's or a retry's second call; it is signed over the
 * exact bytes sent (verified here with the standardwebhooks package); a payload cannot set or forge those headers.
 * Against a local server.
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { webhookId } from '../../lib/domain';
import { DELIVERY_HEADERS, httpJob, httpPayloadSchema } from '../../lib/jobs/http';
import { jobContext, TEST_SIGNING_SECRET } from '../support/job-context';
import { startLocalTarget, type LocalTarget } from '../support/local-target';

let target: LocalTarget;
const received: IncomingHttpHeaders[] = [];
const bodies: string[] = [];

before(async () => {
  target = await startLocalTarget((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push(req.headers);
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200).end('ok');
    });
  });
});

after(() => target.close());

/** Clears what the receiver kept. */
function reset(): void {
  received.length = 0;
  bodies.length = 0;
}

/** The receiver's view of one request, as a verifier takes it. */
const headersOf = (h: IncomingHttpHeaders) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, String(v)]));

test('a delivery carries the job, run, occurrence, attempt and trigger', async () => {
  const scheduledFor = new Date('2026-12-06T10:00:02.000Z');
  const { ctx } = jobContext({ jobId: 'job-1', jobName: 'nightly répört', runId: 'run-9', scheduledFor, attempt: 3, trigger: 'retry' });
  reset();
  await httpJob.run(httpPayloadSchema.parse({ url: `${target.base}/hook`, headers: { 'X-Custom': 'kept' } }), ctx);
  assert.equal(received.length, 1);
  const headers = received[0]!;
  assert.equal(headers['cronplane-job-id'], 'job-1');
  assert.equal(decodeURIComponent(String(headers['cronplane-job-name'])), 'nightly répört');
  assert.equal(headers['cronplane-run-id'], 'run-9');
  assert.equal(headers['cronplane-scheduled-for'], '2026-12-06T10:00:02.000Z');
  assert.equal(headers['cronplane-attempt'], '3');
  assert.equal(headers['cronplane-trigger'], 'retry');
  assert.equal(headers['x-custom'], 'kept');
});

test('a payload header named like a delivery header is refused at save, in any case', () => {
  const signed = ['webhook-id', 'Webhook-Timestamp', 'WEBHOOK-SIGNATURE', 'Idempotency-Key', 'idempotency-key'];
  for (const name of [...Object.values(DELIVERY_HEADERS), 'cronplane-attempt', 'CRONPLANE-Other', ...signed]) {
    const parsed = httpPayloadSchema.safeParse({ url: `${target.base}/hook`, headers: { [name]: '1' } });
    assert.equal(parsed.success, false, name);
    const issue = parsed.error!.issues[0]!;
    assert.deepEqual(issue.path, ['headers', name]);
    assert.match(issue.message, /set by Cronplane/);
  }
  // Names that merely resemble them are the payload's own.
  for (const name of ['webhook-ids', 'X-Webhook-Id', 'Idempotency', 'X-Cronplane-Trace']) {
    assert.equal(httpPayloadSchema.safeParse({ url: `${target.base}/hook`, headers: { [name]: '1' } }).success, true, name);
  }
});

test('a delivery is signed per Standard Webhooks over the body sent: the standardwebhooks package verifies it', async () => {
  const jobId = '0d5c2a4e-8f1b-4c3d-9e7a-6b5f4e3d2c1b';
  const scheduledFor = new Date('2026-12-06T10:00:02.345Z');
  const { ctx } = jobContext({ jobId, scheduledFor, attempt: 2, trigger: 'retry' });
  reset();
  const before = Math.floor(Date.now() / 1000);
  const body = '{"hello":"wörld"}';
  await httpJob.run(httpPayloadSchema.parse({ url: `${target.base}/hook`, method: 'POST', body }), ctx);
  const headers = headersOf(received[0]!);
  assert.equal(bodies[0], body);
  const id = webhookId(jobId, scheduledFor);
  assert.equal(id, 'cp_0d5c2a4e8f1b4c3d9e7a6b5f4e3d2c1b_1796551202345');
  assert.equal(headers['webhook-id'], id);
  assert.equal(headers['idempotency-key'], id);
  const timestamp = Number(headers['webhook-timestamp']);
  assert.ok(timestamp >= before && timestamp <= Math.floor(Date.now() / 1000), 'sent now, in Unix seconds');
  assert.match(headers['webhook-signature']!, /^v1,[A-Za-z0-9+/]+=*$/, 'one signature');
  assert.deepEqual(new Webhook(TEST_SIGNING_SECRET).verify(bodies[0]!, headers), { hello: 'wörld' });
  // The library is no rubber stamp: another body, another id or another secret fail.
  assert.throws(() => new Webhook(TEST_SIGNING_SECRET).verify('{"hello":"world"}', headers), /signature/i);
  assert.throws(() => new Webhook(TEST_SIGNING_SECRET).verify(body, { ...headers, 'webhook-id': `${id}0` }), /signature/i);
  const other = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
  assert.throws(() => new Webhook(other).verify(body, headers), /signature/i);
});

test('a GET sends no body and signs the empty string, whatever the payload holds', async () => {
  const { ctx } = jobContext({ jobId: 'j-get', scheduledFor: new Date('2026-12-06T10:00:00.000Z') });
  reset();
  await httpJob.run(httpPayloadSchema.parse({ url: `${target.base}/hook`, method: 'GET', body: 'not sent' }), ctx);
  assert.equal(bodies[0], '');
  assert.equal(new Webhook(TEST_SIGNING_SECRET).verify('', headersOf(received[0]!)), undefined);
  assert.throws(() => new Webhook(TEST_SIGNING_SECRET).verify('not sent', headersOf(received[0]!)), /signature/i);
});

test('during a rotation both secrets sign: a receiver holding either one accepts, a third secret does not', async () => {
  const current = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
  const previous = `whsec_${Buffer.alloc(24, 2).toString('base64')}`;
  const { ctx } = jobContext({ signingSecrets: () => Promise.resolve([current, previous]) });
  reset();
  await httpJob.run(httpPayloadSchema.parse({ url: `${target.base}/hook`, method: 'PUT', body: 'plain text' }), ctx);
  const headers = headersOf(received[0]!);
  assert.equal(headers['webhook-signature']!.split(' ').length, 2);
  assert.ok(headers['webhook-signature']!.split(' ').every((entry) => entry.startsWith('v1,')));
  const options = { jsonParse: false };
  new Webhook(current).verify('plain text', headers, options);
  new Webhook(previous).verify('plain text', headers, options);
  assert.throws(() => new Webhook(TEST_SIGNING_SECRET).verify('plain text', headers, options), /signature/i);
});

test('one id per occurrence: every attempt of it the same, other occurrences (a run-now included) another', async () => {
  const jobId = '11111111-2222-4333-8444-555555555555';
  const due = new Date('2026-12-06T10:00:00.000Z');
  const ids: string[] = [];
  reset();
  for (const [scheduledFor, attempt, trigger] of [
    [due, 1, 'schedule'],
    [due, 2, 'retry'],
    [due, 3, 'catch-up'],
    [new Date(due.getTime() + 1), 1, 'manual'],
    [new Date(due.getTime() + 60_000), 1, 'schedule'],
  ] as const) {
    await httpJob.run(httpPayloadSchema.parse({ url: `${target.base}/hook` }), jobContext({ jobId, scheduledFor, attempt, trigger }).ctx);
    ids.push(String(received.at(-1)!['webhook-id']));
  }
  assert.equal(new Set(ids.slice(0, 3)).size, 1, 'a retry and a takeover repeat the id');
  assert.equal(new Set(ids).size, 3, 'every other occurrence has its own');
  assert.notEqual(webhookId(jobId, due), webhookId('11111111-2222-4333-8444-555555555556', due), 'and every other job');
});

test('no signing secret: nothing is sent unsigned', async () => {
  const { ctx } = jobContext({ signingSecrets: () => Promise.resolve([]) });
  reset();
  await assert.rejects(httpJob.run(httpPayloadSchema.parse({ url: `${target.base}/hook` }), ctx), /no signing secret/);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(received.length, 0);
});

test('a stored payload from before the names were reserved cannot override them', async () => {
  const { ctx } = jobContext({ runId: 'run-real', attempt: 1, trigger: 'schedule' });
  reset();
  // Bypasses the schema, as a row written by an older version would.
  await httpJob.run(
    {
      method: 'GET',
      url: `${target.base}/hook`,
      headers: {
        'Cronplane-Run-Id': 'forged',
        'cronplane-attempt': '99',
        'Webhook-Id': 'forged-id',
        'WEBHOOK-SIGNATURE': 'v1,forged',
        'webhook-timestamp': '1',
        'idempotency-KEY': 'forged-key',
      },
      timeoutSeconds: 5,
    },
    ctx,
  );
  assert.equal(received[0]!['cronplane-run-id'], 'run-real');
  assert.equal(received[0]!['cronplane-attempt'], '1');
  assert.equal(received[0]!['webhook-id'], webhookId(ctx.jobId, ctx.scheduledFor));
  assert.equal(received[0]!['idempotency-key'], webhookId(ctx.jobId, ctx.scheduledFor));
  assert.doesNotMatch(String(received[0]!['webhook-signature']), /forged/);
  new Webhook(TEST_SIGNING_SECRET).verify('', headersOf(received[0]!));
});

test("fencing before the send: once the run is no longer this instance's, nothing reaches the target", async () => {
  let owned = true;
  const { ctx } = jobContext({ runId: 'run-fenced', stillOwned: () => owned });
  reset();
  await httpJob.run(httpPayloadSchema.parse({ url: `${target.base}/hook` }), ctx);
  assert.equal(received.length, 1, 'sent while owned');
  // As after a freeze: the lease lapsed while the handler was on its way to the target.
  owned = false;
  reset();
  await assert.rejects(
    httpJob.run(httpPayloadSchema.parse({ url: `${target.base}/hook`, method: 'POST', body: 'x' }), ctx),
    /not sent: this instance no longer holds the run/,
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(received.length, 0, 'nothing reached the target');
});
