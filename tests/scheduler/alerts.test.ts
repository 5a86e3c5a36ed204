/**
 * Alerts exactly once (issue #14), with three real worker processes on one database, PostgreSQL and then MongoDB
 * (tests/scheduler/stores.ts): a job failing every second with a rule to a webhook channel gives the receiver exactly one
 * alert id per failed occurrence, each verified with `standardwebhooks`, also when the instance delivering one is killed
 * (-9) mid-delivery; throttling and the daily cap hold their bounds; a real SMTP server (smtp-server) gets one e-mail per
 * failure and then one recovery e-mail.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';
import { encryptSecret } from '../../lib/secrets';
import { sealChannelConfig } from '../../lib/secrets/channels';
import { newSigningSecret } from '../../lib/secrets/signing';
import type { AlertEvent } from '../../lib/domain';
import type { Alert, Channel, Run, Store } from '../../lib/store/types';
import { listAllAlerts, startAlertReceiver, type AlertReceiver } from '../support/alert-receiver';
import { startTestSmtp, type TestSmtp } from '../support/smtp';
import { startWorker, stopWorker, waitFor, delay, startSchedulerWorld, type SchedulerWorld } from './harness';
import { SCHEDULER_STORES } from './stores';

const ALERT_ENV = { ALERT_LEASE_MS: '3000', ALERT_POLL_MS: '200', ALERT_BACKOFF_MS: '500', ALERT_MAX_BACKOFF_MS: '2000' };
const FAILED = new Set(['failed', 'timed-out', 'unknown']);

interface DeliveryBody {
  type: string;
  title: string;
  suppressedCount: number;
  run: { id: string } | null;
}

/** A job target that fails (500) while `failing`, then answers 200. */
async function startToggleTarget() {
  const state = { failing: true };
  const server = createServer((_req, res) => {
    if (state.failing) res.writeHead(500).end('down');
    else res.writeHead(200).end('up');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/job`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const failedRuns = (runs: Run[]): Run[] => runs.filter((r) => FAILED.has(r.status));
const rule = (channelId: string, on: AlertEvent[], throttleSeconds = 0) => ({ channelId, on, throttleSeconds, slowAfterSeconds: null });

for (const factory of SCHEDULER_STORES) {
  describe(`${factory.name}: alerts exactly once from three instances`, { timeout: 240_000 }, () => {
    let world: SchedulerWorld;
    let store: Store;
    let services: SchedulerWorld['services'];
    const secret = newSigningSecret();
    let receiver: AlertReceiver<DeliveryBody>;

    before(async () => {
      world = await startSchedulerWorld(['alerts-a', 'alerts-b', 'alerts-c'], ALERT_ENV, factory.start);
      ({ store, services } = world);
      receiver = await startAlertReceiver<DeliveryBody>(secret);
    });

    after(async () => {
      await receiver?.close();
      await world?.close();
    });

    async function webhookChannel(name: string, dailyCap: number | null = null): Promise<Channel> {
      return store.createChannel({
        name,
        type: 'webhook',
        config: sealChannelConfig('webhook', { url: receiver.url }),
        signingSecret: encryptSecret(secret),
        dailyCap,
      });
    }

    async function failingJob(name: string, alerts: ReturnType<typeof rule>[]) {
      return services.createJob(
        { name, type: 'http', payload: { url: `${world.http.url}/fail` }, schedule: { kind: 'interval', seconds: 1 }, alerts },
        SYSTEM_ACTOR,
      );
    }

    /**
     * Waits until the job's runs are final, every failed run has its alert row (the scan runs on the sweep's period, so
     * the last failures are turned into rows a moment after they are recorded) and no alert row is pending.
     */
    async function settled(jobId: string, timeoutMs = 30_000): Promise<Alert[]> {
      return waitFor(
        'every failed run alerted and every alert settled',
        async () => {
          const runs = await world.runsOf(jobId);
          if (runs.some((r) => ['claimed', 'running', 'retrying'].includes(r.status))) return undefined;
          const rows = await listAllAlerts(store, { jobId: jobId });
          const alerted = new Set(rows.filter((a) => a.event === 'failure').map((a) => a.runId));
          if (rows.length === 0 || rows.some((a) => a.status === 'pending')) return undefined;
          return failedRuns(runs).every((r) => alerted.has(r.id) || !rows.some((a) => a.event === 'failure')) ? rows : undefined;
        },
        timeoutMs,
      );
    }

    test('one alert id per failed occurrence, verified; the instance delivering one is killed -9 and another sends the same id', async () => {
      const channel = await webhookChannel('hooks');
      // The first delivery is held open: the instance sending it is then killed.
      receiver.holdNext(() => true);
      const job = await failingJob('fails-every-second', [rule(channel.id, ['failure'])]);
      const heldOne = await waitFor('a delivery held open', async () => receiver.held[0], 20_000);
      const alertId = heldOne.id.replace(/^alrt_/, '');
      const row = (await store.getAlert(alertId))!;
      assert.equal(row.status, 'pending');
      const victim = world.workers.find((w) => w.instanceId === row.leaseOwner);
      assert.ok(victim, `the lease owner ${row.leaseOwner} is one of the workers`);
      await stopWorker(victim, 'SIGKILL');
      heldOne.res.destroy();
      world.workers.push(await startWorker(world.db.url, 'alerts-d', ALERT_ENV));

      await delay(6_000);
      await services.pauseJob(job.id, SYSTEM_ACTOR);
      const rows = await settled(job.id, 40_000);
      const runs = await world.runsOf(job.id);
      const failed = failedRuns(runs);
      assert.ok(failed.length >= 5, `the job failed every second (${failed.length} failed runs)`);

      // One alert row per failed run, each sent.
      assert.deepEqual(rows.map((a) => a.runId).sort(), failed.map((r) => r.id).sort(), 'one row per failed occurrence');
      assert.ok(
        rows.every((a) => a.event === 'failure' && a.status === 'sent'),
        JSON.stringify(rows.map((a) => [a.status, a.lastError])),
      );
      // The receiver: exactly the rows' ids, each verified; the killed delivery came again with the same id.
      assert.deepEqual(receiver.invalid, [], 'every delivery verified');
      const ids = receiver.deliveries.filter((d) => d.body.run && failed.some((r) => r.id === d.body.run!.id)).map((d) => d.id);
      assert.deepEqual([...new Set(ids)].sort(), rows.map((a) => `alrt_${a.id}`).sort(), 'one distinct id per failed run');
      assert.ok(ids.includes(heldOne.id), 'the killed delivery was sent again by another instance, with the same id');
      const redelivered = (await store.getAlert(alertId))!;
      assert.notEqual(redelivered.leaseOwner, victim.instanceId);
      assert.equal(redelivered.status, 'sent');
    });

    test('throttle 5 s with a failure every second: at most one sent alert per window, the held-back count carried', async () => {
      const channel = await webhookChannel('throttled');
      const job = await failingJob('throttled-failures', [rule(channel.id, ['failure'], 5)]);
      const started = Date.now();
      await delay(12_000);
      await services.pauseJob(job.id, SYSTEM_ACTOR);
      const elapsedS = (Date.now() - started) / 1000;
      await settled(job.id);
      // Flush: once the window is over, one more failure carries the count of those held back in the last window.
      await delay(5_500);
      await services.resumeJob(job.id, SYSTEM_ACTOR);
      await waitFor(
        'one more sent alert after the window',
        async () => {
          const rows = await listAllAlerts(store, { jobId: job.id });
          const last = rows.filter((a) => a.status === 'sent').sort((a, b) => b.sentAt!.getTime() - a.sentAt!.getTime())[0];
          return last && last.sentAt!.getTime() > started + elapsedS * 1000 ? true : undefined;
        },
        20_000,
      );
      await services.pauseJob(job.id, SYSTEM_ACTOR);
      await delay(1_000);
      const rows = await settled(job.id);
      const sent = rows.filter((a) => a.status === 'sent');
      const suppressed = rows.filter((a) => a.status === 'suppressed');
      const totalS = (Date.now() - started) / 1000;
      assert.ok(suppressed.length >= 5, `held back: ${suppressed.length}`);
      assert.ok(sent.length <= Math.ceil(totalS / 5) + 1, `${sent.length} sent in ${totalS.toFixed(1)} s: at most one per 5 s window`);
      const sentTimes = sent.map((a) => a.sentAt!.getTime()).sort((a, b) => a - b);
      for (let i = 1; i < sentTimes.length; i++) assert.ok(sentTimes[i]! - sentTimes[i - 1]! >= 4_500, 'sent alerts are a window apart');
      const carried = sent.reduce((n, a) => n + a.suppressedCount, 0);
      // Rows held back after the last sent one (the flush's window) are not reported yet.
      const lastSent = sentTimes.at(-1)!;
      const pendingCount = suppressed.filter((a) => a.createdAt.getTime() > lastSent).length;
      assert.equal(carried + pendingCount, suppressed.length, 'every held-back alert is counted in a later sent one');
      const bodies = receiver.deliveries.filter((d) => sent.some((a) => `alrt_${a.id}` === d.id));
      assert.equal(
        bodies.reduce((n, d) => n + d.body.suppressedCount, 0),
        carried,
        'the receiver saw the same suppressedCount',
      );
    });

    test('daily cap 2: exactly two alerts sent, the others suppressed', async () => {
      const channel = await webhookChannel('capped', 2);
      const job = await failingJob('capped-failures', [rule(channel.id, ['failure'])]);
      await delay(5_000);
      await services.pauseJob(job.id, SYSTEM_ACTOR);
      const rows = await settled(job.id);
      assert.equal(rows.filter((a) => a.status === 'sent').length, 2);
      assert.ok(rows.filter((a) => a.status === 'suppressed').length >= 2);
      assert.ok(rows.filter((a) => a.status === 'suppressed').every((a) => /daily cap/.test(a.lastError ?? '')));
    });

    test('auto-pause after 3 failures: exactly 3 failure alerts and 1 auto-pause alert at the receiver, each id once', async () => {
      const channel = await webhookChannel('auto-pause-hooks');
      const job = await services.createJob(
        {
          name: 'auto-paused',
          type: 'http',
          payload: { url: `${world.http.url}/fail` },
          schedule: { kind: 'interval', seconds: 1 },
          autoPause: { afterFailures: 3 },
          alerts: [rule(channel.id, ['failure'])],
        },
        SYSTEM_ACTOR,
      );
      const paused = await waitFor(
        'the auto-pause',
        async () => {
          const current = await store.getJob(job.id);
          return current?.paused ? current : undefined;
        },
        30_000,
      );
      assert.equal(paused.pause?.by.name, 'cronplane', 'paused by the app');
      const isPause = (a: Alert) => a.eventKey === `auto-paused:${job.id}:${paused.pause!.at.getTime()}`;
      await waitFor(
        'the failure alerts and the auto-pause alert sent',
        async () => {
          const rows = await listAllAlerts(store, { jobId: job.id });
          return rows.some(isPause) && rows.length >= 4 && rows.every((a) => a.status === 'sent') ? true : undefined;
        },
        30_000,
      );
      // Every instance scans again over its look-back window: nothing more may appear, nothing be sent twice.
      await delay(3_000);
      const rows = await settled(job.id);
      const failed = failedRuns(await world.runsOf(job.id));
      assert.equal(failed.length, 3, 'paused after exactly 3 failed occurrences');
      const failures = rows.filter((a) => !isPause(a));
      const pauses = rows.filter(isPause);
      assert.deepEqual(failures.map((a) => a.runId).sort(), failed.map((r) => r.id).sort(), 'one failure alert per failed run');
      assert.equal(pauses.length, 1, 'one auto-pause alert');
      const [pause] = pauses;
      assert.equal(pause!.event, 'failure', 'sent to the rules that listen to failure');
      assert.equal(pause!.runId, null);
      assert.match(pause!.title, /paused after 3 consecutive failures/);
      assert.ok(rows.every((a) => a.status === 'sent'));

      assert.deepEqual(receiver.invalid, []);
      const ids = new Set(rows.map((a) => `alrt_${a.id}`));
      const got = receiver.deliveries.filter((d) => ids.has(d.id));
      assert.equal(got.length, 4, `exactly 4 deliveries: ${got.map((d) => d.body.title).join(' | ')}`);
      assert.equal(new Set(got.map((d) => d.id)).size, 4, 'each id once');
      const pauseBody = got.find((d) => d.id === `alrt_${pause!.id}`)!.body;
      assert.equal(pauseBody.type, 'failure');
      assert.equal(pauseBody.run, null);
      assert.match(pauseBody.title, /^auto-paused was paused: paused after 3 consecutive failures$/);
    });

    test('slow: a run still going slowAfterSeconds after its start gives one alert, whichever instances see it', async () => {
      const channel = await webhookChannel('slow-hooks');
      const job = await services.createJob(
        {
          name: 'slow-run',
          type: 'http',
          payload: { url: `${world.http.url}/slow?ms=6000` },
          schedule: { kind: 'interval', seconds: 86_400 },
          timeoutSeconds: 60,
          alerts: [{ channelId: channel.id, on: ['slow'], throttleSeconds: 0, slowAfterSeconds: 2 }],
        },
        SYSTEM_ACTOR,
      );
      await services.runJobNow(job.id, SYSTEM_ACTOR);
      const run = await waitFor(
        'the run to finish',
        async () => (await world.runsOf(job.id)).find((r) => r.status === 'succeeded'),
        30_000,
      );
      const rows = await settled(job.id);
      assert.deepEqual(
        rows.map((a) => [a.event, a.runId, a.status]),
        [['slow', run.id, 'sent']],
      );
      assert.equal(receiver.deliveries.filter((d) => d.id === `alrt_${rows[0]!.id}`).length, 1);
    });

    test('e-mail over a real SMTP server: one e-mail per failure from the cluster, then one recovery e-mail', async () => {
      const smtp: TestSmtp = await startTestSmtp({ starttls: false });
      const target = await startToggleTarget();
      try {
        const channel = await store.createChannel({
          name: 'mail',
          type: 'email',
          config: sealChannelConfig('email', {
            host: smtp.host,
            port: smtp.port,
            security: 'opportunistic',
            from: 'cronplane@example.com',
            to: ['oncall@example.com'],
          }),
          signingSecret: null,
          dailyCap: null,
        });
        const job = await services.createJob(
          {
            name: 'mail-failures',
            type: 'http',
            payload: { url: target.url },
            schedule: { kind: 'interval', seconds: 1 },
            alerts: [rule(channel.id, ['failure', 'recovery'])],
          },
          SYSTEM_ACTOR,
        );
        await delay(4_000);
        target.state.failing = false;
        await waitFor(
          'a recovery alert',
          async () => (await listAllAlerts(store, { jobId: job.id })).some((a) => a.event === 'recovery'),
          20_000,
        );
        await delay(2_000);
        await services.pauseJob(job.id, SYSTEM_ACTOR);
        const rows = await settled(job.id);
        const runs = await world.runsOf(job.id);
        const failed = failedRuns(runs);
        assert.ok(failed.length >= 2);
        assert.equal(rows.filter((a) => a.event === 'failure').length, failed.length, 'one failure alert per failed run');
        assert.equal(rows.filter((a) => a.event === 'recovery').length, 1, 'one recovery: the first success after the failures');
        assert.ok(rows.every((a) => a.status === 'sent'));
        const mails = await waitFor(
          'every e-mail received',
          async () => (smtp.received.length >= rows.length ? smtp.received : undefined),
          10_000,
        );
        const messageIds = mails.map((m) => m.header('message-id'));
        assert.equal(new Set(messageIds).size, mails.length, 'no e-mail twice');
        assert.equal(mails.length, failed.length + 1, 'one e-mail per failure, plus the recovery');
      } finally {
        await target.close();
        await smtp.close();
      }
    });
  });
}
