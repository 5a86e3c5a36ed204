import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Alert, NewAlert, Store } from '../../../lib/store/types';
import { at, freshStoreEachTest, newJob, newRun, T, type ConformanceTarget, type Open } from './support';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function newAlert(overrides: Partial<NewAlert> = {}): NewAlert {
  return {
    eventKey: `failure:${randomUUID()}`,
    event: 'failure',
    ruleKey: 'job:0',
    channelId: 'channel-a',
    throttleSeconds: 0,
    jobId: randomUUID(),
    jobName: 'nightly',
    runId: randomUUID(),
    runScheduledFor: at(60),
    runStatus: 'failed',
    runAttempt: 1,
    instanceId: 'instance-a',
    at: at(61),
    title: 'nightly failed (attempt 1)',
    text: 'Error: boom',
    ...overrides,
  };
}

export function alertConformance(open: Open): void {
  describe('alerts (outbox, throttles, daily caps, defaults, scan)', () => {
    let target: ConformanceTarget;
    let store: Store;
    freshStoreEachTest(open, (fresh) => {
      target = fresh;
      store = fresh.store;
    });
    const other = async (): Promise<Store> => (target.another ? target.another() : store);

    it('one row per (eventKey, channelId): three concurrent detectors on two clients insert each alert once', T, async () => {
      const second = await other();
      const rows = [newAlert(), newAlert(), newAlert({ channelId: 'channel-b' })];
      rows[2]!.eventKey = rows[0]!.eventKey; // the same event for another channel is another alert
      const inserted = await Promise.all([store.insertAlerts(rows), second.insertAlerts(rows), store.insertAlerts([...rows].reverse())]);
      assert.equal(
        inserted.reduce((a, b) => a + b, 0),
        3,
        'each row written by exactly one detector',
      );
      const page = await store.listAlerts({ limit: 10 });
      assert.equal(page.items.length, 3);
      const first = page.items.find((a) => a.eventKey === rows[1]!.eventKey)!;
      assert.deepEqual(
        { ...first, id: null, createdAt: null, nextAttemptAt: null },
        {
          ...rows[1]!,
          id: null,
          createdAt: null,
          nextAttemptAt: null,
          status: 'pending',
          attempts: 0,
          lastError: null,
          leaseOwner: null,
          leaseExpiresAt: null,
          admitted: false,
          suppressedCount: 0,
          sentAt: null,
        },
      );
      assert.deepEqual(await store.getAlert(first.id), first);
      assert.equal(await store.insertAlerts([]), 0);
    });

    it('claims: concurrent claimers never get the same alert while its lease lasts; an expired lease is claimed again', T, async () => {
      const second = await other();
      await store.insertAlerts(Array.from({ length: 6 }, () => newAlert()));
      const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? second : store).claimAlert(`owner-${i}`, 60_000)));
      const got = claims.filter((a): a is Alert => a !== null);
      assert.equal(got.length, 6, 'six alerts, six claims');
      assert.equal(new Set(got.map((a) => a.id)).size, 6, 'no alert claimed twice');
      for (const a of got) {
        assert.ok(a.leaseOwner?.startsWith('owner-'));
        assert.ok(a.leaseExpiresAt && a.leaseExpiresAt.getTime() > Date.now() + 30_000);
      }
      assert.equal(await store.claimAlert('late', 60_000), null, 'all held');

      // A short lease: its holder "dies"; after expiry another instance takes it, and the first can no longer finish it.
      await store.insertAlerts([newAlert()]);
      const held = await store.claimAlert('dying', 1_000);
      assert.ok(held);
      assert.equal(await second.claimAlert('rescuer', 60_000), null, 'the lease still holds');
      await sleep(1_200);
      const retaken = await second.claimAlert('rescuer', 60_000);
      assert.equal(retaken?.id, held.id, 'the same alert (same id: the same message id)');
      assert.equal(await store.finishAlert(held.id, 'dying', { status: 'sent' }), false, 'the old holder lost it');
      assert.equal(await second.finishAlert(held.id, 'rescuer', { status: 'sent' }), true);
      const sent = (await store.getAlert(held.id))!;
      assert.equal(sent.status, 'sent');
      assert.equal(sent.attempts, 1);
      assert.equal(sent.leaseOwner, null);
      assert.ok(sent.sentAt);
      assert.equal(await store.claimAlert('again', 60_000), null, 'a sent alert is never claimed');
    });

    it('a failed attempt waits for its retry time (backoff), counts, and a last failure ends as failed', T, async () => {
      await store.insertAlerts([newAlert()]);
      const claimed = (await store.claimAlert('a', 60_000))!;
      assert.equal(await store.admitAlert(claimed.id, 'a', 3), true);
      const now = await store.now();
      assert.equal(
        await store.finishAlert(claimed.id, 'a', { status: 'failed', error: 'HTTP 500', retryAt: new Date(now.getTime() + 1_500) }),
        true,
      );
      let row = (await store.getAlert(claimed.id))!;
      assert.deepEqual(
        [row.status, row.attempts, row.lastError, row.leaseOwner, row.admitted, row.suppressedCount],
        ['pending', 1, 'HTTP 500', null, true, 3],
      );
      assert.equal(await store.claimAlert('b', 60_000), null, 'not due before its retry time');
      await sleep(1_700);
      const again = (await store.claimAlert('b', 60_000))!;
      assert.equal(again.id, claimed.id);
      assert.equal(again.admitted, true, 'admission is decided once');
      assert.equal(await store.finishAlert(again.id, 'b', { status: 'failed', error: 'HTTP 502', retryAt: null }), true);
      row = (await store.getAlert(claimed.id))!;
      assert.deepEqual([row.status, row.attempts, row.lastError], ['failed', 2, 'HTTP 502']);
      assert.equal(await store.claimAlert('c', 60_000), null);

      await store.insertAlerts([newAlert()]);
      const third = (await store.claimAlert('c', 60_000))!;
      assert.equal(await store.finishAlert(third.id, 'c', { status: 'suppressed', reason: 'throttled' }), true);
      row = (await store.getAlert(third.id))!;
      assert.deepEqual([row.status, row.attempts, row.lastError], ['suppressed', 0, 'throttled']);
    });

    it('throttle: of concurrent takes in one window exactly one passes; the next window reports how many were held back', T, async () => {
      const second = await other();
      const ids = Array.from({ length: 8 }, () => randomUUID());
      const results = await Promise.all(ids.map((id, i) => (i % 2 ? second : store).takeAlertThrottle('job:0', 'job-1', 1, id)));
      const granted = results.filter((r) => r.granted);
      assert.equal(granted.length, 1, 'one alert per window');
      const holder = ids[results.findIndex((r) => r.granted)]!;
      assert.deepEqual(
        await store.takeAlertThrottle('job:0', 'job-1', 1, holder),
        { granted: true, suppressed: 0 },
        'idempotent for its holder',
      );
      assert.deepEqual(await store.takeAlertThrottle('job:0', 'job-2', 1, randomUUID()), { granted: true, suppressed: 0 }, 'per job');
      await sleep(1_200);
      assert.deepEqual(await store.takeAlertThrottle('job:0', 'job-1', 1, randomUUID()), { granted: true, suppressed: 7 });
    });

    it('daily cap: of concurrent takes on two clients exactly `cap` pass; other channels have their own budget', T, async () => {
      const second = await other();
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? second : store).takeChannelDay('ch-1', 2)));
      assert.equal(results.filter(Boolean).length, 2);
      assert.equal(await store.takeChannelDay('ch-2', 2), true);
      assert.equal(await store.takeChannelDay('ch-3', 0), false, 'a cap of 0 lets nothing through');
    });

    it('listAlerts: newest first, filters by status, event and job, keyset pages', T, async () => {
      const jobId = randomUUID();
      for (let i = 0; i < 5; i++) {
        await store.insertAlerts([newAlert({ jobId: i % 2 ? jobId : randomUUID(), event: i === 4 ? 'missed' : 'failure' })]);
        await sleep(5);
      }
      const all = await store.listAlerts({ limit: 10 });
      const times = all.items.map((a) => a.createdAt.getTime());
      assert.deepEqual(
        times,
        [...times].sort((a, b) => b - a),
      );
      const ids: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await store.listAlerts({ limit: 2, cursor });
        ids.push(...page.items.map((a) => a.id));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      assert.deepEqual(
        ids,
        all.items.map((a) => a.id),
      );
      assert.equal((await store.listAlerts({ limit: 10, jobId })).items.length, 2);
      assert.equal((await store.listAlerts({ limit: 10, event: 'missed' })).items.length, 1);
      assert.equal((await store.listAlerts({ limit: 10, status: 'sent' })).items.length, 0);
      assert.equal((await store.listAlerts({ limit: 10, status: 'pending' })).items.length, 5);
    });

    it('jobs keep their rules; defaults and the watermark round-trip; the watermark never moves back', T, async () => {
      const rules = [{ channelId: 'ch-1', on: ['failure' as const, 'slow' as const], throttleSeconds: 60, slowAfterSeconds: 30 }];
      const job = await store.createJob(newJob({ alerts: rules, tags: ['x'] }));
      assert.deepEqual(job.alerts, rules);
      assert.deepEqual((await store.getJob(job.id))!.alerts, rules);
      const plain = await store.createJob(newJob({ tags: ['y'] }));
      assert.deepEqual(plain.alerts, [], 'no rules by default');
      const tagged = await store.createJob(newJob({ tags: ['ops'] }));

      assert.deepEqual(
        (await store.listAlertingJobs({ tags: [], all: false })).map((j) => j.id),
        [job.id],
        'only jobs with rules',
      );
      assert.deepEqual((await store.listAlertingJobs({ tags: ['ops'], all: false })).map((j) => j.id).sort(), [job.id, tagged.id].sort());
      assert.equal((await store.listAlertingJobs({ tags: [], all: true })).length, 3);
      // The pause record comes with the job (an auto-pause is an alert event), null while it is active.
      assert.ok((await store.listAlertingJobs({ tags: [], all: true })).every((j) => j.pause === null));
      const pause = {
        at: at(7),
        by: { type: 'system' as const, id: null, name: 'cronplane' },
        note: 'paused after 3 consecutive failures',
      };
      await store.updateJob(job.id, { paused: true, pause });
      assert.deepEqual(
        (await store.listAlertingJobs({ tags: [], all: false })).map((j) => j.pause),
        [pause],
      );
      await store.updateJob(job.id, { paused: false, pause: null });
      assert.deepEqual(
        (await store.listAlertingJobs({ tags: [], all: false })).map((j) => j.pause),
        [null],
      );
      const updated = await store.updateJob(job.id, { alerts: [] });
      assert.deepEqual(updated!.alerts, []);

      assert.deepEqual(await store.getAlertDefaults(), []);
      const defaults = [{ channelId: 'ch-1', on: ['instance-lost' as const], throttleSeconds: 0, slowAfterSeconds: null, tag: null }];
      assert.deepEqual(await store.setAlertDefaults(defaults), defaults);
      assert.deepEqual(await store.getAlertDefaults(), defaults);

      assert.equal(await store.getAlertWatermark(), null);
      await store.advanceAlertWatermark(at(100));
      await store.advanceAlertWatermark(at(50));
      assert.equal((await store.getAlertWatermark())?.getTime(), at(100).getTime());
      assert.deepEqual(await store.getAlertDefaults(), defaults, 'the watermark leaves the defaults alone');
    });

    it('the scan reads finished runs of given jobs by finishedAt, running ones by start, and the previous outcome', T, async () => {
      const job = await store.createJob(newJob());
      const other = await store.createJob(newJob());
      const failed = (await store.insertRun(
        newRun(job, { scheduledFor: at(60), status: 'failed', startedAt: at(60), finishedAt: at(61) }),
      ))!;
      const ok = (await store.insertRun(
        newRun(job, { scheduledFor: at(120), status: 'succeeded', startedAt: at(120), finishedAt: at(121) }),
      ))!;
      await store.insertRun(newRun(other, { scheduledFor: at(60), status: 'failed', startedAt: at(60), finishedAt: at(61) }));
      const running = (await store.insertRun(newRun(job, { scheduledFor: at(180), status: 'running', startedAt: at(180) })))!;

      assert.deepEqual(
        (await store.listFinishedRunsOf([job.id], at(0), at(200), 10)).map((r) => r.id),
        [failed.id, ok.id],
      );
      assert.deepEqual(
        (await store.listFinishedRunsOf([job.id], at(100), at(200), 10)).map((r) => r.id),
        [ok.id],
      );
      assert.deepEqual(await store.listFinishedRunsOf([], at(0), at(200), 10), []);
      assert.deepEqual(
        (await store.listRunningRunsOf([job.id, other.id], at(190), 10)).map((r) => r.id),
        [running.id],
      );
      assert.deepEqual(await store.listRunningRunsOf([job.id], at(170), 10), []);
      assert.equal((await store.previousOutcome(job.id, at(120), ['succeeded', 'failed', 'timed-out']))?.id, failed.id);
      assert.equal(await store.previousOutcome(job.id, at(60), ['succeeded', 'failed']), null);
    });
  });
}
