import 'server-only';
import { AUTO_PAUSE_ACTOR, type AlertEvent, type AlertMessage, type AlertRule } from '../domain';
import { errorMessage } from '../log';
import type { Alert, AlertDefaultRule, AlertingJob, Channel, NewAlert, Run } from '../store/types';
import { envInt } from './config';
import type { SchedulerResources } from './resources';

// Alerts exactly once (issue #14; docs/coordination.md, "Alerts exactly once"). Two halves, both on every instance:
//
// - The scan (on the sweep's period) turns events into alert rows. Events are read from durable records only (finished
//   runs, running runs, instance heartbeats), never from an instance's memory, so an instance that dies right after
//   writing a run's outcome loses nothing: any instance's next scan sees the record. Each row is keyed by
//   (eventKey, channelId), unique in the database, so three instances detecting the same event write one row.
// - The outbox: every instance claims due rows with a lease, sends them (sendToChannel) and marks them sent; a failed
//   attempt waits with exponential backoff; a delivering instance that dies leaves its lease to expire and another
//   instance sends the same alert again, with the same id (at-least-once delivery, exactly once by id at the receiver).

/** What sends one message through one channel (lib/alerts/send.ts): resolves when the channel accepted it. */
export type AlertSender = (channel: Channel, message: AlertMessage, signal: AbortSignal) => Promise<void>;

export interface AlertConfig {
  /** How long a delivering instance holds an alert; a send is aborted at 2/3 of it, so it ends before the lease does. */
  leaseMs: number;
  /** How often each instance looks for due alerts. */
  pollMs: number;
  /** Deliveries one instance runs at once. */
  concurrency: number;
  /**
   * How far behind the watermark each scan reads again: a run whose outcome was committed up to this long after the
   * time it carries (finishedAt, stamped by its instance before the write) is still seen.
   */
  lookbackMs: number;
  /** First retry delay; doubles per attempt up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Attempts in all; after the last failed one the alert is 'failed'. */
  maxAttempts: number;
  /** An instance silent this long (no graceful stop) raises `instance-lost`. */
  instanceLostAfterMs: number;
}

export function loadAlertConfig(): AlertConfig {
  return {
    leaseMs: envInt('ALERT_LEASE_MS', 30_000, 1_000, 3_600_000),
    pollMs: envInt('ALERT_POLL_MS', 500, 50, 60_000),
    concurrency: envInt('ALERT_CONCURRENCY', 4, 1, 100),
    lookbackMs: envInt('ALERT_SCAN_LOOKBACK_MS', 60_000, 1_000, 3_600_000),
    backoffMs: envInt('ALERT_BACKOFF_MS', 5_000, 100, 3_600_000),
    maxBackoffMs: envInt('ALERT_MAX_BACKOFF_MS', 600_000, 100, 86_400_000),
    maxAttempts: envInt('ALERT_MAX_ATTEMPTS', 10, 1, 100),
    instanceLostAfterMs: envInt('ALERT_INSTANCE_LOST_AFTER_MS', INSTANCE_LOST_AFTER_MS, 1_000, 3_600_000),
  };
}

/** The delay before attempt n + 1 after n failed attempts: backoff doubling per attempt, capped. */
export function alertRetryDelayMs(config: Pick<AlertConfig, 'backoffMs' | 'maxBackoffMs'>, failedAttempts: number): number {
  return Math.min(config.maxBackoffMs, config.backoffMs * 2 ** Math.max(0, failedAttempts - 1));
}

/**
 * An instance silent this long (no graceful stop) is lost: the same bound as the instances page
 * (lib/services/instances.ts). The default of ALERT_INSTANCE_LOST_AFTER_MS.
 */
export const INSTANCE_LOST_AFTER_MS = 30_000;
/** Instances lost longer ago than this raise no alert (a rule added today does not page for last month's crash). */
const INSTANCE_LOST_HORIZON_MS = 3_600_000;
/** Auto-pauses older than this raise no alert (a rule added to a job paused yesterday does not page for it). */
const AUTO_PAUSE_HORIZON_MS = 3_600_000;
/** Runs per page of the scan. */
const SCAN_PAGE = 500;
/** Event keys this instance wrote recently: a scan re-reads its look-back window and need not insert them again. */
const SEEN_LIMIT = 20_000;

const FAILURE_STATUSES = new Set(['failed', 'timed-out', 'unknown']);
const MISSED_STATUSES = new Set(['missed', 'abandoned']);
const OUTCOME_STATUSES = ['succeeded', 'failed', 'timed-out', 'unknown'];

interface KeyedRule {
  key: string;
  rule: AlertRule;
}

/** The rules that apply to a job: its own first, then the defaults (all jobs, or its tags). */
export function rulesOfJob(job: Pick<AlertingJob, 'alerts' | 'tags'>, defaults: AlertDefaultRule[]): KeyedRule[] {
  const own = job.alerts.map((rule, i) => ({ key: `job:${i}`, rule }));
  const inherited = defaults
    .map((rule, i) => ({ key: `default:${i}`, rule }))
    .filter(({ rule }) => rule.tag === null || job.tags.includes(rule.tag));
  return [...own, ...inherited];
}

/**
 * One row per channel for the event: the first rule (job's own before defaults) that listens to it for that channel.
 * A rule matched twice for the same channel and event (a job rule and a default) sends once: the row's key is
 * (eventKey, channelId), so the choice only decides which rule's throttle applies, and every instance chooses the same.
 */
export function matchRules(rules: KeyedRule[], event: AlertEvent, accept: (rule: AlertRule) => boolean = () => true): KeyedRule[] {
  const byChannel = new Map<string, KeyedRule>();
  for (const keyed of rules) {
    if (!keyed.rule.on.includes(event) || !accept(keyed.rule)) continue;
    if (!byChannel.has(keyed.rule.channelId)) byChannel.set(keyed.rule.channelId, keyed);
  }
  return [...byChannel.values()];
}

function runEvent(run: Run): AlertEvent | null {
  if (FAILURE_STATUSES.has(run.status)) return 'failure';
  if (MISSED_STATUSES.has(run.status)) return 'missed';
  // 'cancelled' is a status another part of issue #14 adds: matched by its string.
  if ((run.status as string) === 'cancelled') return 'cancelled';
  return null;
}

function runTitle(event: AlertEvent, run: Run): string {
  const name = run.jobName;
  switch (event) {
    case 'failure':
      return `${name} ${run.status === 'timed-out' ? 'timed out' : run.status === 'unknown' ? 'ended with outcome unknown' : 'failed'} (attempt ${run.attempt})`;
    case 'recovery':
      return `${name} recovered: succeeded again`;
    case 'missed':
      return run.rangeCount && run.rangeCount > 1 ? `${name} missed ${run.rangeCount} occurrences` : `${name} ${run.status}`;
    case 'slow':
      return `${name} is slow: still running`;
    case 'cancelled':
      return `${name} was cancelled`;
    default:
      return `${name}: ${event}`;
  }
}

function runText(run: Run): string {
  return [
    run.error ? `Error: ${run.error.slice(0, 1_000)}` : null,
    `Occurrence: ${run.scheduledFor.toISOString()}`,
    run.startedAt ? `Started: ${run.startedAt.toISOString()}` : null,
    run.instanceId ? `Instance: ${run.instanceId}` : null,
  ]
    .filter((line): line is string => line !== null)
    .join('\n');
}

function runAlert(eventKey: string, event: AlertEvent, at: Date, run: Run, keyed: KeyedRule, title: string): NewAlert {
  return {
    eventKey,
    event,
    ruleKey: keyed.key,
    channelId: keyed.rule.channelId,
    throttleSeconds: keyed.rule.throttleSeconds,
    jobId: run.jobId,
    jobName: run.jobName,
    runId: run.id,
    runScheduledFor: run.scheduledFor,
    runStatus: run.status,
    runAttempt: run.attempt,
    instanceId: run.instanceId,
    at,
    title,
    text: runText(run),
  };
}

/** The message every delivery attempt of the alert sends: the same each time (its id is the row's). */
export function alertMessage(alert: Alert, baseUrl: string | null = process.env.CRONPLANE_URL?.trim() || null): AlertMessage {
  const base = baseUrl ? baseUrl.replace(/\/+$/, '') : null;
  return {
    id: `alrt_${alert.id}`,
    event: alert.event,
    at: alert.at,
    title: alert.title,
    text: alert.text,
    job: alert.jobId ? { id: alert.jobId, name: alert.jobName ?? '' } : null,
    run:
      alert.runId && alert.runScheduledFor
        ? { id: alert.runId, scheduledFor: alert.runScheduledFor, status: alert.runStatus ?? '', attempt: alert.runAttempt ?? 1 }
        : null,
    instanceId: alert.instanceId,
    suppressedCount: alert.suppressedCount,
    url: base && alert.runId ? `${base}/runs/${alert.runId}` : base && alert.jobId ? `${base}/jobs/${alert.jobId}` : null,
  };
}

export class AlertSystem {
  private readonly seen = new Set<string>();
  private delivering = 0;

  constructor(
    private readonly res: SchedulerResources,
    private readonly config: AlertConfig,
    private readonly send: AlertSender,
  ) {}

  /** Turns the events of durable records into alert rows (idempotent: rows are unique per event and channel). */
  async scan(): Promise<void> {
    const store = this.res.store;
    const now = this.res.clock.now();
    const defaults = await store.getAlertDefaults();
    const runDefaults = defaults.filter((r) => r.on.some((e) => e !== 'instance-lost'));
    const all = runDefaults.some((r) => r.tag === null);
    const tags = [...new Set(runDefaults.flatMap((r) => (r.tag === null ? [] : [r.tag])))];
    const watermark = (await store.getAlertWatermark()) ?? now;
    const rows: NewAlert[] = [];
    let scannedTo = now;

    // Jobs with no rules and no applicable defaults are never read: the hot path (claims, runs) has no alert statement.
    const jobs = await store.listAlertingJobs({ tags, all });
    const rulesById = new Map<string, KeyedRule[]>();
    for (const job of jobs) {
      const rules = rulesOfJob(job, defaults);
      if (rules.length > 0) rulesById.set(job.id, rules);
    }
    const ids = [...rulesById.keys()];
    // Auto-pauses (issue #14 item 7): read from the job row's pause record (by the system actor), not from the instance
    // that paused it, so one that dies right after the pause loses nothing; sent to the rules that listen to failure.
    for (const job of jobs) {
      const pause = job.pause;
      if (!pause || pause.by.type !== AUTO_PAUSE_ACTOR.type || pause.by.name !== AUTO_PAUSE_ACTOR.name) continue;
      const ageMs = now.getTime() - pause.at.getTime();
      if (ageMs > AUTO_PAUSE_HORIZON_MS) continue;
      const eventKey = `auto-paused:${job.id}:${pause.at.getTime()}`;
      for (const keyed of matchRules(rulesById.get(job.id) ?? [], 'failure')) {
        rows.push({
          eventKey,
          event: 'failure',
          ruleKey: keyed.key,
          channelId: keyed.rule.channelId,
          // Once per pause, and the one alert that says the job stopped: never held back by the rule's throttle.
          throttleSeconds: 0,
          jobId: job.id,
          jobName: job.name,
          runId: null,
          runScheduledFor: null,
          runStatus: null,
          runAttempt: null,
          instanceId: null,
          at: pause.at,
          title: `${job.name} was paused: ${pause.note ?? 'paused by cronplane'}`,
          text: `Paused: ${pause.at.toISOString()}\nBy: ${pause.by.name}\nIt runs again when someone resumes it.`,
        });
      }
    }
    if (ids.length > 0) {
      // Finished runs: failure, recovery, missed, cancelled.
      let from = new Date(watermark.getTime() - this.config.lookbackMs);
      const to = new Date(now.getTime() + 1);
      for (;;) {
        const runs = await store.listFinishedRunsOf(ids, from, to, SCAN_PAGE);
        for (const run of runs) rows.push(...(await this.finishedRunAlerts(run, rulesById.get(run.jobId) ?? [])));
        if (runs.length < SCAN_PAGE) break;
        from = runs[runs.length - 1]!.finishedAt!;
        if (rows.length > 5_000) {
          // The rest next time: the watermark stops where this scan did.
          scannedTo = from;
          break;
        }
      }
      // Slow runs: still running slowAfterSeconds after they started.
      const slowIds = ids.filter((id) => rulesById.get(id)!.some((k) => k.rule.on.includes('slow')));
      if (slowIds.length > 0) {
        const shortest = Math.min(
          ...slowIds.flatMap((id) => rulesById.get(id)!.flatMap((k) => (k.rule.slowAfterSeconds ? [k.rule.slowAfterSeconds] : []))),
        );
        const running = await store.listRunningRunsOf(slowIds, new Date(now.getTime() - shortest * 1000), SCAN_PAGE);
        for (const run of running) {
          const ranMs = now.getTime() - (run.startedAt?.getTime() ?? now.getTime());
          const eventKey = `slow:${run.id}:${run.attempt}`;
          const matched = matchRules(
            rulesById.get(run.jobId) ?? [],
            'slow',
            (rule) => rule.slowAfterSeconds !== null && ranMs >= rule.slowAfterSeconds * 1000,
          );
          for (const keyed of matched) {
            rows.push(runAlert(eventKey, 'slow', now, run, keyed, `${runTitle('slow', run)} after ${Math.round(ranMs / 1000)} s`));
          }
        }
      }
    }

    // Cluster events: instances lost (heartbeats lapsed, no graceful stop), for default rules that listen to them.
    const lostRules = matchRules(
      defaults.map((rule, i) => ({ key: `default:${i}`, rule })),
      'instance-lost',
    );
    if (lostRules.length > 0) {
      for (const instance of await store.listInstances()) {
        const silentMs = now.getTime() - instance.lastSeenAt.getTime();
        if (instance.stoppedAt || silentMs <= this.config.instanceLostAfterMs || silentMs > INSTANCE_LOST_HORIZON_MS) continue;
        // One event per unbroken run of heartbeats: an instance that comes back and is lost again alerts again.
        const eventKey = `instance-lost:${instance.id}:${instance.aliveSince.toISOString()}`;
        for (const keyed of lostRules) {
          rows.push({
            eventKey,
            event: 'instance-lost',
            ruleKey: keyed.key,
            channelId: keyed.rule.channelId,
            throttleSeconds: keyed.rule.throttleSeconds,
            jobId: null,
            jobName: null,
            runId: null,
            runScheduledFor: null,
            runStatus: null,
            runAttempt: null,
            instanceId: instance.id,
            at: new Date(instance.lastSeenAt.getTime() + this.config.instanceLostAfterMs),
            title: `Instance ${instance.id} lost: no heartbeat since ${instance.lastSeenAt.toISOString()}`,
            text: `Host: ${instance.host}\nPid: ${instance.pid}\nVersion: ${instance.version}\nAlive since: ${instance.aliveSince.toISOString()}`,
          });
        }
      }
    }

    const fresh = rows.filter((row) => !this.seen.has(`${row.eventKey} ${row.channelId}`));
    if (fresh.length > 0) {
      await store.insertAlerts(fresh);
      for (const row of fresh) this.remember(`${row.eventKey} ${row.channelId}`);
    }
    // Only after the rows are written: a scan that dies before this reads the same window again.
    await store.advanceAlertWatermark(scannedTo);
  }

  private remember(key: string): void {
    this.seen.add(key);
    if (this.seen.size > SEEN_LIMIT) {
      // Sets iterate in insertion order: drop the oldest half.
      let drop = SEEN_LIMIT / 2;
      for (const old of this.seen) {
        if (drop-- <= 0) break;
        this.seen.delete(old);
      }
    }
  }

  private async finishedRunAlerts(run: Run, rules: KeyedRule[]): Promise<NewAlert[]> {
    const at = run.finishedAt ?? this.res.clock.now();
    const event = runEvent(run);
    if (event) {
      const eventKey = `${event}:${run.id}`;
      return matchRules(rules, event).map((keyed) => runAlert(eventKey, event, at, run, keyed, runTitle(event, run)));
    }
    if (run.status !== 'succeeded') return [];
    const matched = matchRules(rules, 'recovery');
    if (matched.length === 0) return [];
    const eventKey = `recovery:${run.id}`;
    // Once per instance per run: the look-back re-reads it, the seen set skips it.
    if (matched.every((k) => this.seen.has(`${eventKey} ${k.rule.channelId}`))) return [];
    const previous = await this.res.store.previousOutcome(run.jobId, run.scheduledFor, OUTCOME_STATUSES);
    if (!previous || !FAILURE_STATUSES.has(previous.status)) {
      for (const k of matched) this.remember(`${eventKey} ${k.rule.channelId}`);
      return [];
    }
    return matched.map((keyed) => runAlert(eventKey, 'recovery', at, run, keyed, runTitle('recovery', run)));
  }

  /** Claims and starts due deliveries while this instance has free delivery slots. */
  async deliverDue(): Promise<void> {
    while (this.delivering < this.config.concurrency && this.res.state() === 'running') {
      const alert = await this.res.store.claimAlert(this.res.instanceId, this.config.leaseMs);
      if (!alert) return;
      this.delivering++;
      void this.res.track(
        this.deliver(alert)
          .catch((err: unknown) => this.res.log.error({ alert: alert.id, err: errorMessage(err) }, 'alert delivery failed'))
          .finally(() => {
            this.delivering--;
          }),
      );
    }
  }

  /** One attempt at one claimed alert: admission (throttle, daily cap) the first time, then the send. */
  private async deliver(alert: Alert): Promise<void> {
    const store = this.res.store;
    const owner = this.res.instanceId;
    const channel = await store.getChannel(alert.channelId);
    if (!channel) {
      await store.finishAlert(alert.id, owner, { status: 'failed', error: 'the channel was deleted', retryAt: null });
      return;
    }
    let current = alert;
    if (!alert.admitted) {
      let suppressed = 0;
      if (alert.throttleSeconds > 0) {
        const grant = await store.takeAlertThrottle(alert.ruleKey, alert.jobId ?? '-', alert.throttleSeconds, alert.id);
        if (!grant.granted) {
          await store.finishAlert(alert.id, owner, {
            status: 'suppressed',
            reason: `throttled: at most one per ${alert.throttleSeconds} s`,
          });
          return;
        }
        suppressed = grant.suppressed;
      }
      if (channel.dailyCap !== null && !(await store.takeChannelDay(channel.id, channel.dailyCap))) {
        await store.finishAlert(alert.id, owner, {
          status: 'suppressed',
          reason: `daily cap: ${channel.dailyCap} alerts a day through this channel`,
        });
        return;
      }
      if (!(await store.admitAlert(alert.id, owner, suppressed))) return;
      current = { ...alert, admitted: true, suppressedCount: suppressed };
    }
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error('the channel did not answer in time')),
      Math.floor((this.config.leaseMs * 2) / 3),
    );
    try {
      await this.send(channel, alertMessage(current), controller.signal);
      clearTimeout(timer);
      await store.finishAlert(alert.id, owner, { status: 'sent' });
    } catch (err) {
      clearTimeout(timer);
      const attempts = alert.attempts + 1;
      const retryAt =
        attempts >= this.config.maxAttempts ? null : new Date(this.res.clock.now().getTime() + alertRetryDelayMs(this.config, attempts));
      await store.finishAlert(alert.id, owner, { status: 'failed', error: errorMessage(err).slice(0, 2_000), retryAt });
    }
  }
}
