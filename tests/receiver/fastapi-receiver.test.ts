/**
 * The example receiver (examples/fastapi-receiver) under `uvicorn --workers 4`, fed deliveries signed as Cronplane
 * signs them (the standardwebhooks npm package; the receiver verifies with the official Python library): each
 * occurrence is applied once whatever number of deliveries and workers, a repeat is answered 200 without being
 * applied again, forged, altered, stale and unsigned requests are refused, and a rotation's old and new secrets both
 * work. Needs the receiver's virtualenv (bash scripts/prereqs.sh python).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { webhookId } from '../../lib/domain/delivery';
import {
  generateSigningSecret,
  sendToReceiver,
  signedDeliveryHeaders,
  startFastapiReceiver,
  type DeliveryToSign,
  type FastapiReceiver,
  type ReceiverAnswer,
} from '../support/fastapi-receiver';

const WORKERS = 4;
const dirs: string[] = [];

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function freshDbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cronplane-fastapi-receiver-'));
  dirs.push(dir);
  return join(dir, 'receiver.sqlite3');
}

/** The webhook-id of a new occurrence, made as Cronplane makes it (from the job id and the scheduled time). */
const newId = (jobId: string = randomUUID(), scheduledFor = new Date()): string => webhookId(jobId, scheduledFor);

function deliver(
  receiver: FastapiReceiver,
  delivery: DeliveryToSign,
  method = 'POST',
  path = '/hooks/nightly-report',
): Promise<ReceiverAnswer> {
  return sendToReceiver(receiver.url, { method, path, headers: signedDeliveryHeaders(delivery), body: delivery.body });
}

async function rowsOf(receiver: FastapiReceiver, id: string) {
  return (await receiver.appliedOccurrences()).filter((row) => row.webhook_id === id);
}

describe('FastAPI receiver under uvicorn --workers 4, one signing secret', { timeout: 180_000 }, () => {
  const secret = generateSigningSecret();
  let receiver: FastapiReceiver;
  const jobId = randomUUID();
  const scheduledFor = new Date(Math.floor(Date.now() / 1000) * 1000);
  const firstId = newId(jobId, scheduledFor);

  before(async () => {
    receiver = await startFastapiReceiver({ secrets: [secret], dbPath: freshDbPath() });
  });

  after(async () => {
    if (!receiver) return;
    await receiver.stop();
    assert.throws(() => process.kill(-receiver.pid, 0), 'no process of the receiver is left');
  });

  test('the 4 workers are real processes', () => {
    assert.equal(receiver.workerPids().length, WORKERS, receiver.logs());
  });

  test('the first delivery of an occurrence is applied, with what its headers say', async () => {
    const runId = randomUUID();
    const body = JSON.stringify({ report: 'nightly', at: scheduledFor.toISOString() });
    const answer = await deliver(receiver, {
      id: firstId,
      secrets: [secret],
      body,
      jobId,
      runId,
      jobName: 'Nightly report · Zürich/EU',
      scheduledFor,
      attempt: 1,
      trigger: 'schedule',
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.equal(answer.json.applied, true);
    const rows = await rowsOf(receiver, firstId);
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.equal(row.job_id, jobId);
    assert.equal(row.job_name, 'Nightly report · Zürich/EU', 'the percent-encoded name is decoded');
    assert.equal(row.scheduled_for, scheduledFor.toISOString());
    assert.equal(row.attempt, 1);
    assert.equal(row.trigger, 'schedule');
    assert.equal(row.run_id, runId);
    assert.equal(row.deliveries, 1);
    assert.equal(row.worker_pid, answer.json.worker_pid);
    assert.ok(receiver.workerPids().includes(row.worker_pid), 'applied by one of the workers');
    assert.ok(Math.abs(Date.parse(row.received_at) - Date.now()) < 60_000, `received_at ${row.received_at}`);
  });

  test('a GET delivery with an empty body (an http job’s default) is applied', async () => {
    const id = newId();
    const answer = await deliver(receiver, { id, secrets: [secret] }, 'GET', '/');
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.equal(answer.json.applied, true);
    assert.equal((await rowsOf(receiver, id)).length, 1);
  });

  test('8 concurrent deliveries of one occurrence, spread over the workers, apply it exactly once', async (t) => {
    // Which worker accepts a connection is the kernel's choice: repeat with new occurrences until one burst has
    // reached more than one worker (every burst must apply its occurrence once either way).
    const spreads: number[] = [];
    for (let round = 0; round < 10 && !spreads.some((workers) => workers > 1); round++) {
      const id = newId();
      const body = JSON.stringify({ round });
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          deliver(receiver, { id, secrets: [secret], body, attempt: i + 1, trigger: i === 0 ? 'schedule' : 'retry' }),
        ),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        Array(8).fill(200),
        JSON.stringify(answers.map((a) => a.json)),
      );
      assert.equal(
        answers.filter((a) => a.json.applied === true).length,
        1,
        `one delivery applies it: ${JSON.stringify(answers.map((a) => a.json))}`,
      );
      assert.equal(
        answers.filter((a) => a.json.applied === false && a.json.duplicate === true).length,
        7,
        'the seven others are duplicates',
      );
      const rows = await rowsOf(receiver, id);
      assert.equal(rows.length, 1, `one row for the occurrence, found ${rows.length}`);
      assert.equal(rows[0]!.deliveries, 8, 'all 8 deliveries are counted');
      const log = (await receiver.deliveries()).filter((d) => d.webhook_id === id);
      assert.equal(log.length, 8);
      assert.ok(
        log.every((d) => d.idempotency_key === id),
        'Idempotency-Key recorded on each',
      );
      spreads.push(new Set(answers.map((a) => a.json.worker_pid)).size);
    }
    t.diagnostic(`workers reached per burst of 8: ${spreads.join(', ')}`);
    assert.ok(
      spreads.some((workers) => workers > 1),
      `a burst reached more than one worker (workers per burst: ${spreads.join(', ')})`,
    );
  });

  test('a later repeat of an applied occurrence is answered 200 duplicate and not applied again', async () => {
    const [before] = await rowsOf(receiver, firstId);
    assert.ok(before, 'the first test applied it');
    const answer = await deliver(receiver, {
      id: firstId,
      secrets: [secret],
      body: JSON.stringify({ report: 'nightly', at: scheduledFor.toISOString() }),
      scheduledFor,
      attempt: 2,
      trigger: 'retry',
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.deepEqual({ applied: answer.json.applied, duplicate: answer.json.duplicate }, { applied: false, duplicate: true });
    const rows = await rowsOf(receiver, firstId);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.deliveries, 2, 'the repeat is counted');
    assert.deepEqual(
      { attempt: rows[0]!.attempt, received_at: rows[0]!.received_at, worker_pid: rows[0]!.worker_pid },
      { attempt: before.attempt, received_at: before.received_at, worker_pid: before.worker_pid },
      'the applied record is the first delivery’s',
    );
  });

  test('forged, altered, stale and unsigned requests are refused with 401 and apply nothing', async () => {
    const countBefore = (await receiver.appliedOccurrences()).length;
    const body = JSON.stringify({ amount: 10 });
    const cases: { name: string; id: string; send: (id: string) => Promise<ReceiverAnswer>; reason: RegExp }[] = [
      {
        name: 'tampered body',
        id: newId(),
        send: (id) =>
          sendToReceiver(receiver.url, {
            path: '/hooks/pay',
            headers: signedDeliveryHeaders({ id, secrets: [secret], body }),
            body: body.replace('10', '1000'),
          }),
        reason: /no matching signature/i,
      },
      {
        name: 'wrong secret',
        id: newId(),
        send: (id) => deliver(receiver, { id, secrets: [generateSigningSecret()], body }),
        reason: /no matching signature/i,
      },
      {
        name: 'timestamp 10 minutes old (signed with it)',
        id: newId(),
        send: (id) => deliver(receiver, { id, secrets: [secret], body, at: new Date(Date.now() - 10 * 60_000) }),
        reason: /too old/i,
      },
      {
        name: 'old signature replayed with a fresh timestamp',
        id: newId(),
        send: (id) => {
          const headers = signedDeliveryHeaders({ id, secrets: [secret], body, at: new Date(Date.now() - 10 * 60_000) });
          headers['webhook-timestamp'] = String(Math.floor(Date.now() / 1000));
          return sendToReceiver(receiver.url, { path: '/hooks/pay', headers, body });
        },
        reason: /no matching signature/i,
      },
      {
        name: 'no signature',
        id: newId(),
        send: (id) => {
          const { 'webhook-signature': _signature, ...headers } = signedDeliveryHeaders({ id, secrets: [secret], body });
          return sendToReceiver(receiver.url, { path: '/hooks/pay', headers, body });
        },
        reason: /missing required headers/i,
      },
      {
        name: 'no webhook headers at all',
        id: newId(),
        send: () => sendToReceiver(receiver.url, { path: '/hooks/pay', body }),
        reason: /missing required headers/i,
      },
    ];
    for (const c of cases) {
      const answer = await c.send(c.id);
      assert.equal(answer.status, 401, `${c.name}: ${answer.status} ${JSON.stringify(answer.json)}`);
      assert.equal(answer.json.applied, false, c.name);
      assert.match(String(answer.json.error), c.reason, c.name);
      assert.equal((await rowsOf(receiver, c.id)).length, 0, `${c.name}: not applied`);
    }
    assert.equal((await receiver.appliedOccurrences()).length, countBefore, 'nothing applied');
    const rejected = (await receiver.deliveries()).filter((d) => d.outcome === 'rejected');
    assert.equal(rejected.length, cases.length, 'each refusal is logged as rejected');
  });

  test('a rotation’s two signatures (old and new): a receiver holding only one of the secrets accepts the delivery', async () => {
    const id = newId();
    const answer = await deliver(receiver, { id, secrets: [generateSigningSecret(), secret], body: '{"rotating":true}' });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.equal(answer.json.applied, true);
  });

  test('deliveries were handled by more than one of the worker processes', async () => {
    const log = await receiver.deliveries();
    const pids = new Set(log.map((d) => d.worker_pid));
    const workers = receiver.workerPids();
    assert.ok(pids.size > 1, `worker pids seen: ${[...pids].join(', ')}`);
    for (const pid of pids) assert.ok(workers.includes(pid), `${pid} is one of the workers ${workers.join(', ')}`);
  });
});

describe('FastAPI receiver during a secret rotation: old and new secret configured', { timeout: 120_000 }, () => {
  const oldSecret = generateSigningSecret();
  const newSecret = generateSigningSecret();
  let receiver: FastapiReceiver;

  before(async () => {
    receiver = await startFastapiReceiver({ secrets: [oldSecret, newSecret], dbPath: freshDbPath() });
  });

  after(async () => {
    if (!receiver) return;
    await receiver.stop();
    assert.throws(() => process.kill(-receiver.pid, 0), 'no process of the receiver is left');
  });

  for (const [name, secrets] of [
    ['signed only by the old secret', () => [oldSecret]],
    ['signed only by the new secret', () => [newSecret]],
    ['signed by both (as Cronplane signs during the grace period)', () => [newSecret, oldSecret]],
  ] as const) {
    test(`a delivery ${name} is accepted and applied once`, async () => {
      const id = newId();
      const first = await deliver(receiver, { id, secrets: secrets(), body: '{}' });
      assert.equal(first.status, 200, JSON.stringify(first.json));
      assert.equal(first.json.applied, true);
      const repeat = await deliver(receiver, { id, secrets: secrets(), body: '{}', attempt: 2, trigger: 'retry' });
      assert.equal(repeat.status, 200);
      assert.equal(repeat.json.duplicate, true);
      assert.equal((await rowsOf(receiver, id)).length, 1);
    });
  }

  test('a delivery signed by neither is refused', async () => {
    const id = newId();
    const answer = await deliver(receiver, { id, secrets: [generateSigningSecret()], body: '{}' });
    assert.equal(answer.status, 401);
    assert.equal((await rowsOf(receiver, id)).length, 0);
  });
});
