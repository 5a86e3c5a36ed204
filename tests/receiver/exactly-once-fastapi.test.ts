/**
 * Issue #12's proof, with real processes: 3 Cronplane instances (`next start`) on one PostgreSQL and the example
 * FastAPI receiver under `uvicorn --workers 4` (examples/fastapi-receiver, verifying with the official Python
 * standardwebhooks library, applying each webhook-id once under a unique key). 20 jobs due every second and 3 slow
 * ones whose target answers after 8 s (longer than the lease, so it is renewed during the call) run for ~40 s while
 * one instance is killed (kill -9) in the middle of a slow delivery and another is frozen (SIGSTOP) past its lease.
 *
 * Then, from the receiver's tables and the run records: every occurrence in the window ran and was applied exactly
 * once; every repeated delivery (takeover, resumed zombie) carried the occurrence's webhook-id and Idempotency-Key; the
 * library accepted every Cronplane delivery and refused a tampered body, a wrong secret and a stale timestamp; after a
 * rotation, a receiver holding only the old and one holding only the new secret both accepted deliveries.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { webhookId } from '../../lib/domain';
import type { Job, Run } from '../../lib/store/types';
import { Cluster, type Member } from '../chaos/cluster';
import {
  generateSigningSecret,
  sendToReceiver,
  signedDeliveryHeaders,
  startFastapiReceiver,
  type FastapiReceiver,
  type ReceivedDelivery,
} from '../support/fastapi-receiver';

const SHORT_JOBS = 20;
const SLOW_JOBS = 3;
/** Longer than the lease (6 s): the lease is renewed during the call, and a kill or freeze lands inside it. */
const SLOW_ANSWER_MS = 8_000;
const RUN_SECONDS = 40;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, read: () => Promise<T | undefined | null | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

async function allRuns(cluster: Cluster, jobId: string): Promise<Run[]> {
  const runs: Run[] = [];
  let cursor: string | undefined;
  do {
    const page = await cluster.services.store.listRuns({ jobId, limit: 200, cursor });
    runs.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return runs;
}

/** The seconds (ms since the epoch) of a `*\/period` seconds cron strictly inside (from, to). */
function ticks(from: Date, to: Date, periodSeconds: number): number[] {
  const out: number[] = [];
  const step = periodSeconds * 1000;
  for (let t = Math.floor(from.getTime() / step) * step + step; t < to.getTime(); t += step) out.push(t);
  return out;
}

describe('exactly once at a FastAPI receiver under uvicorn --workers 4, through kill -9 and a freeze', { timeout: 8 * 60_000 }, () => {
  const cluster = new Cluster({ store: 'postgres', instances: 3, log: (line) => console.log(`[receiver proof] ${line}`) });
  const dir = mkdtempSync(join(tmpdir(), 'cronplane-fastapi-proof-'));
  const receivers: FastapiReceiver[] = [];
  let receiver: FastapiReceiver;
  const jobs: Array<{ job: Job; secret: string; periodSeconds: number; slow: boolean }> = [];
  const window = new Map<string, { from: Date; to: Date }>();
  let killedRunId = '';
  let frozen: Member | null = null;
  const rotation = {
    jobId: '',
    oldSecret: '',
    newSecret: '',
    at: 0,
    movedAt: 0,
    oldReceiver: null as FastapiReceiver | null,
    newReceiver: null as FastapiReceiver | null,
  };

  before(async () => {
    await cluster.start();
    const { services } = cluster.services;
    const { SYSTEM_ACTOR } = await import('../../lib/auth/principal');
    // Created paused: the receiver must know every job's secret before the first delivery (it is given them at start).
    const create = async (name: string, url: string, expression: string) =>
      services.createJobWithSigningSecret(
        {
          name,
          type: 'http',
          payload: { method: 'POST', url, body: JSON.stringify({ job: name }), timeoutSeconds: 60 },
          schedule: { kind: 'cron', expression, timezone: 'UTC' },
          missedPolicy: 'run-all',
          overlapPolicy: 'allow',
          paused: true,
        },
        SYSTEM_ACTOR,
      );
    // The URLs need the receiver's port: start it on a port chosen first, then create the jobs against it.
    const pending: Array<{ name: string; path: string; expression: string; periodSeconds: number; slow: boolean }> = [];
    for (let i = 0; i < SHORT_JOBS; i++)
      pending.push({
        name: `every-second-${i}`,
        path: `/hooks/s${i}?answer_after_ms=${20 + i * 5}`,
        expression: '* * * * * *',
        periodSeconds: 1,
        slow: false,
      });
    for (let i = 0; i < SLOW_JOBS; i++)
      pending.push({
        name: `slow-${i}`,
        path: `/hooks/slow${i}?answer_after_ms=${SLOW_ANSWER_MS}`,
        expression: '*/4 * * * * *',
        periodSeconds: 4,
        slow: true,
      });
    const { freePort } = await import('../support/postgres');
    const receiverPort = await freePort();
    const base = `http://127.0.0.1:${receiverPort}`;
    for (const p of pending) {
      const { job, signingSecret } = await create(p.name, `${base}${p.path}`, p.expression);
      assert.ok(signingSecret?.startsWith('whsec_'), `a secret for ${p.name} in the create answer`);
      if (!signingSecret) return;
      jobs.push({ job, secret: signingSecret, periodSeconds: p.periodSeconds, slow: p.slow });
    }
    receiver = await startFastapiReceiver({
      secrets: jobs.map((j) => j.secret),
      dbPath: join(dir, 'receiver.sqlite3'),
      port: receiverPort,
    });
    receivers.push(receiver);

    // The rotation job: delivers to a one-worker receiver that holds only its first secret.
    const rotationPort = await freePort();
    const { job: rotated, signingSecret } = await create('rotation', `http://127.0.0.1:${rotationPort}/hooks/rotation`, '* * * * * *');
    rotation.jobId = rotated.id;
    rotation.oldSecret = signingSecret!;
    rotation.oldReceiver = await startFastapiReceiver({
      secrets: [rotation.oldSecret],
      dbPath: join(dir, 'old.sqlite3'),
      port: rotationPort,
      workers: 1,
    });
    receivers.push(rotation.oldReceiver);

    for (const { job } of [...jobs, { job: rotated }]) {
      await services.resumeJob(job.id, SYSTEM_ACTOR);
      window.set(job.id, { from: await cluster.services.store.now(), to: new Date(8.64e15) });
    }
  });

  after(async () => {
    await cluster.close();
    await Promise.allSettled(receivers.map((r) => r.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  test(`${RUN_SECONDS} s of deliveries with a kill -9 inside a slow delivery and a freeze past the lease`, async () => {
    const { store, services } = cluster.services;
    const { SYSTEM_ACTOR } = await import('../../lib/auth/principal');
    const startedAt = Date.now();
    const slowIds = new Set(jobs.filter((j) => j.slow).map((j) => j.job.id));

    // 1. kill -9 the instance in the middle of a slow delivery: one the receiver has applied but not answered yet.
    await sleep(6_000);
    const victim = await waitFor(
      'a slow delivery in flight on a live instance',
      async () => {
        const recent = (await receiver.deliveries()).filter(
          (d) =>
            d.outcome === 'applied' && d.path.startsWith('/hooks/slow') && Date.now() - Date.parse(d.received_at) < SLOW_ANSWER_MS - 3_000,
        );
        for (const d of recent) {
          const run = d.run_id ? await store.getRun(d.run_id) : null;
          const member = run?.instanceId ? cluster.byId(run.instanceId) : undefined;
          if (run && slowIds.has(run.jobId) && member && cluster.running().includes(member)) return { run, member };
        }
        return undefined;
      },
      20_000,
    );
    killedRunId = victim.run.id;
    console.log(
      `[receiver proof] kill -9 ${victim.member.instanceId} during run ${victim.run.id} (due ${victim.run.scheduledFor.toISOString()})`,
    );
    await cluster.kill(victim.member);
    await cluster.startInstance();

    // 2. The rotation: the old secret keeps signing (10 minutes' grace) beside the new one.
    await sleep(3_000);
    const owner = cluster.running()[0]!;
    const rotate = await fetch(`${owner.baseUrl}/api/jobs/${rotation.jobId}/signing-secret/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner.app.apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ graceSeconds: 600 }),
    });
    assert.equal(rotate.status, 200, await rotate.clone().text());
    rotation.newSecret = ((await rotate.json()) as { signingSecret: string }).signingSecret;
    assert.ok(rotation.newSecret.startsWith('whsec_') && rotation.newSecret !== rotation.oldSecret);
    rotation.at = Date.now();

    // 3. Freeze another instance past its lease (6 s), then let it go on: its runs were taken over meanwhile.
    frozen = cluster.running().find((m) => m !== owner) ?? cluster.running()[0]!;
    console.log(`[receiver proof] SIGSTOP ${frozen.instanceId} for 10 s`);
    cluster.signal(frozen, 'SIGSTOP');
    // Meanwhile the rotation job moves to a receiver that holds only the new secret (after a few deliveries at the old one).
    await waitFor(
      'deliveries signed after the rotation at the old-secret receiver',
      async () => (await rotation.oldReceiver!.deliveries()).filter((d) => Date.parse(d.received_at) > rotation.at + 1_500).length >= 2,
      20_000,
    );
    const newPortReceiver = await startFastapiReceiver({ secrets: [rotation.newSecret], dbPath: join(dir, 'new.sqlite3'), workers: 1 });
    rotation.newReceiver = newPortReceiver;
    receivers.push(newPortReceiver);
    await services.updateJob(
      rotation.jobId,
      {
        payload: {
          method: 'POST',
          url: `${newPortReceiver.url}/hooks/rotation`,
          body: JSON.stringify({ job: 'rotation' }),
          timeoutSeconds: 60,
        },
      },
      SYSTEM_ACTOR,
    );
    rotation.movedAt = Date.now();
    const frozenFor = Math.max(0, 10_000 - (Date.now() - rotation.at));
    await sleep(frozenFor);
    cluster.signal(frozen, 'SIGCONT');

    // 4. The rest of the window, then pause every job and wait for the last runs (slow ones take 8 s).
    await sleep(Math.max(0, RUN_SECONDS * 1000 - (Date.now() - startedAt)));
    for (const { job } of [...jobs, { job: { id: rotation.jobId } as Job }]) {
      await services.pauseJob(job.id, SYSTEM_ACTOR);
      window.get(job.id)!.to = await store.now();
    }
    await waitFor(
      'no run claimed, running or retrying',
      async () => {
        for (const status of ['claimed', 'running', 'retrying'] as const)
          if ((await store.listRuns({ status, limit: 1 })).items.length) return false;
        return true;
      },
      60_000,
    );
    await sleep(1_000);
  });

  test('every occurrence in the window ran once and was applied exactly once; repeats carried its id', async () => {
    const applied = await receiver.appliedOccurrences();
    const deliveries = await receiver.deliveries();
    const appliedById = new Map(applied.map((a) => [a.webhook_id, a]));
    const deliveriesByRun = new Map<string, ReceivedDelivery[]>();
    for (const d of deliveries) if (d.run_id) deliveriesByRun.set(d.run_id, [...(deliveriesByRun.get(d.run_id) ?? []), d]);
    const expectedIds = new Set<string>();
    let repeatedOccurrences = 0;

    for (const { job, periodSeconds } of jobs) {
      const { from, to } = window.get(job.id)!;
      const runs = await allRuns(cluster, job.id);
      const byTime = new Map(runs.map((r) => [r.scheduledFor.getTime(), r]));
      assert.equal(byTime.size, runs.length, `${job.name}: one run record per occurrence`);
      // Every occurrence strictly inside the window (one period of margin at each end: resume and pause) has its record.
      for (const t of ticks(
        new Date(from.getTime() + periodSeconds * 1000),
        new Date(to.getTime() - periodSeconds * 1000),
        periodSeconds,
      )) {
        assert.ok(byTime.has(t), `${job.name}: the occurrence due ${new Date(t).toISOString()} has no run record (lost)`);
      }
      for (const run of runs) {
        const id = webhookId(job.id, run.scheduledFor);
        // The pause at the window's end closes a claim made during the prefetch lead (the next occurrence, due right
        // after the pause): recorded skipped, never started, never delivered.
        if (run.status === 'skipped' && run.error?.includes('the job was paused before this occurrence started')) {
          assert.ok(
            run.scheduledFor.getTime() >= to.getTime() - 1_000,
            `${job.name} ${run.scheduledFor.toISOString()}: closed by a pause long before the window's end`,
          );
          assert.equal(run.startedAt, null, `${job.name} ${run.scheduledFor.toISOString()}: a closed claim never started`);
          assert.deepEqual(
            deliveriesByRun.get(run.id) ?? [],
            [],
            `${job.name} ${run.scheduledFor.toISOString()}: a closed claim was delivered`,
          );
          assert.ok(!appliedById.has(id), `${job.name} ${id}: a closed claim was applied`);
          continue;
        }
        expectedIds.add(id);
        assert.equal(run.status, 'succeeded', `${job.name} ${run.scheduledFor.toISOString()}: ${run.status} ${run.error ?? ''}`);
        const row = appliedById.get(id);
        assert.ok(row, `${job.name} ${run.scheduledFor.toISOString()}: ran, but the receiver never applied ${id}`);
        assert.equal(row.job_id, job.id);
        assert.equal(row.scheduled_for, run.scheduledFor.toISOString());
        const its = deliveriesByRun.get(run.id) ?? [];
        assert.ok(its.length >= 1, `${job.name}: no delivery of run ${run.id}`);
        assert.equal(its.filter((d) => d.outcome === 'applied').length, 1, `${job.name} ${id}: applied once`);
        for (const d of its) {
          assert.equal(d.webhook_id, id, `${job.name}: every delivery of the occurrence carries its webhook-id`);
          assert.equal(d.idempotency_key, id, `${job.name}: and the same Idempotency-Key`);
        }
        assert.equal(row.deliveries, its.length, `${job.name} ${id}: the receiver counted every delivery`);
        if (its.length > 1) repeatedOccurrences++;
      }
    }
    // Nothing applied that Cronplane did not run; nothing refused.
    assert.deepEqual(
      applied.map((a) => a.webhook_id).filter((id) => !expectedIds.has(id)),
      [],
      'no applied occurrence without a run record',
    );
    assert.deepEqual(
      deliveries.filter((d) => d.outcome === 'rejected').map((d) => `${d.webhook_id}: ${d.reason}`),
      [],
      'the official library accepted every delivery Cronplane made',
    );

    // The occurrence killed mid-delivery was delivered again by its takeover, with the same id, and applied once.
    const killed = await cluster.services.store.getRun(killedRunId);
    assert.ok(killed && killed.attempt >= 2, `the killed run was taken over (attempt ${killed?.attempt})`);
    const killedDeliveries = deliveriesByRun.get(killedRunId) ?? [];
    assert.ok(killedDeliveries.length >= 2, `the killed run was delivered again: ${killedDeliveries.length} delivery(ies)`);
    assert.ok(repeatedOccurrences >= 1);
    console.log(
      `[receiver proof] ${expectedIds.size} occurrences, ${deliveries.length} deliveries, ${repeatedOccurrences} occurrence(s) delivered more than once, each applied once; workers used: ${new Set(deliveries.map((d) => d.worker_pid)).size}`,
    );
  });

  test('a receiver holding only the old secret, and one holding only the new, both accepted deliveries during the grace period', async () => {
    const old = await rotation.oldReceiver!.deliveries();
    const fresh = await rotation.newReceiver!.deliveries();
    assert.deepEqual(
      old.filter((d) => d.outcome === 'rejected'),
      [],
      'old-secret receiver refused nothing',
    );
    assert.deepEqual(
      fresh.filter((d) => d.outcome === 'rejected'),
      [],
      'new-secret receiver refused nothing',
    );
    assert.ok(
      old.filter((d) => Date.parse(d.received_at) > rotation.at + 1_500).length >= 2,
      'old-secret receiver: deliveries after the rotation',
    );
    assert.ok(fresh.filter((d) => d.outcome === 'applied').length >= 2, 'new-secret receiver: deliveries during the grace period');
  });

  test('the official library refuses a tampered body, a wrong secret and a stale timestamp', async () => {
    const { job, secret } = jobs[0]!;
    const body = JSON.stringify({ job: job.name });
    const send = (headers: Record<string, string>, sent = body) =>
      sendToReceiver(receiver.url, { path: '/hooks/forged', headers, body: sent });
    const id = (n: number) => webhookId(job.id, new Date(Date.UTC(2000, 0, 1, 0, 0, n)));
    const genuine = await send(signedDeliveryHeaders({ id: id(1), secrets: [secret], body, jobId: job.id }));
    assert.equal(genuine.status, 200, 'the control: signed with the job secret, accepted');
    const tampered = await send(
      signedDeliveryHeaders({ id: id(2), secrets: [secret], body, jobId: job.id }),
      body.replace('every', 'EVERY'),
    );
    assert.equal(tampered.status, 401, 'tampered body');
    const wrong = await send(signedDeliveryHeaders({ id: id(3), secrets: [generateSigningSecret()], body, jobId: job.id }));
    assert.equal(wrong.status, 401, 'wrong secret');
    const stale = await send(
      signedDeliveryHeaders({ id: id(4), secrets: [secret], body, jobId: job.id, at: new Date(Date.now() - 10 * 60_000) }),
    );
    assert.equal(stale.status, 401, 'timestamp outside the tolerance');
    const applied = new Set((await receiver.appliedOccurrences()).map((a) => a.webhook_id));
    assert.ok(applied.has(id(1)) && !applied.has(id(2)) && !applied.has(id(3)) && !applied.has(id(4)));
  });
});
