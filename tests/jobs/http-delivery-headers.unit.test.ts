/**
 * Every http delivery says which occurrence it belongs to (Cronplane-* headers), so a target can deduplicate a
 * takeover's or a retry's second call; a payload cannot set or forge those headers. Against a local server.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { DELIVERY_HEADERS, httpJob, httpPayloadSchema } from '../../lib/jobs/http';
import { jobContext } from '../support/job-context';

let server: Server;
let base = '';
const received: IncomingHttpHeaders[] = [];
const savedAllow = process.env.HTTP_JOB_ALLOW;

before(async () => {
  process.env.HTTP_JOB_ALLOW = '127.0.0.1';
  server = createServer((req, res) => {
    received.push(req.headers);
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  if (savedAllow === undefined) delete process.env.HTTP_JOB_ALLOW;
  else process.env.HTTP_JOB_ALLOW = savedAllow;
  await new Promise((resolve) => server.close(resolve));
});

test('a delivery carries the job, run, occurrence, attempt and trigger', async () => {
  const scheduledFor = new Date('2026-12-06T10:00:02.000Z');
  const { ctx } = jobContext({ jobId: 'job-1', jobName: 'nightly répört', runId: 'run-9', scheduledFor, attempt: 3, trigger: 'retry' });
  received.length = 0;
  await httpJob.run(httpPayloadSchema.parse({ url: `${base}/hook`, headers: { 'X-Custom': 'kept' } }), ctx);
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
  for (const name of [...Object.values(DELIVERY_HEADERS), 'cronplane-attempt', 'CRONPLANE-Other']) {
    const parsed = httpPayloadSchema.safeParse({ url: `${base}/hook`, headers: { [name]: '1' } });
    assert.equal(parsed.success, false, name);
    const issue = parsed.error!.issues[0]!;
    assert.deepEqual(issue.path, ['headers', name]);
    assert.match(issue.message, /set by Cronplane/);
  }
});

test('a stored payload from before the names were reserved cannot override them', async () => {
  const { ctx } = jobContext({ runId: 'run-real', attempt: 1, trigger: 'schedule' });
  received.length = 0;
  // Bypasses the schema, as a row written by an older version would.
  await httpJob.run(
    { method: 'GET', url: `${base}/hook`, headers: { 'Cronplane-Run-Id': 'forged', 'cronplane-attempt': '99' }, timeoutSeconds: 5 },
    ctx,
  );
  assert.equal(received[0]!['cronplane-run-id'], 'run-real');
  assert.equal(received[0]!['cronplane-attempt'], '1');
});

test("fencing before the send: once the run is no longer this instance's, nothing reaches the target", async () => {
  let owned = true;
  const { ctx } = jobContext({ runId: 'run-fenced', stillOwned: () => owned });
  received.length = 0;
  await httpJob.run(httpPayloadSchema.parse({ url: `${base}/hook` }), ctx);
  assert.equal(received.length, 1, 'sent while owned');
  // As after a freeze: the lease lapsed while the handler was on its way to the target.
  owned = false;
  received.length = 0;
  await assert.rejects(
    httpJob.run(httpPayloadSchema.parse({ url: `${base}/hook`, method: 'POST', body: 'x' }), ctx),
    /not sent: this instance no longer holds the run/,
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(received.length, 0, 'nothing reached the target');
});
