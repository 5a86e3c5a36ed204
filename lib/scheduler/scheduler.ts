import 'server-only';
import { MongoBackend, MongoChangeStreamNotificationChannel } from '@agendajs/mongo-backend';
import { Agenda, type AgendaBackend, type Job as AgendaJob } from 'agenda';
import { sendToChannel } from '../alerts/send';
import { errorMessage, logger, type Logger } from '../log';
import type { Job, StopWatching, Store } from '../store/types';
import { deadline, ShutdownAbort } from './aborts';
import {
  checkAgendaInternals,
  guardBackendErrors,
  installQueueFilling,
  muteStateNotifications,
  skipDistantNotifications,
  skipTicketStateSaves,
} from './agenda';
import { AutoPauseSystem } from './auto-pause';
import { AlertSystem, loadAlertConfig } from './alerts';
import { ClaimSystem } from './claims';
import { DatabaseClock } from './clock';
import { TICKET_NAME, type SchedulerConfig } from './config';
import { ExecutionSystem } from './execution';
import { Heartbeat } from './heartbeat';
import { HeldRuns } from './leases';
import { OverlapSystem } from './overlap';
import { RecoverySystem } from './recovery';
import type { SchedulerResources, SchedulerState } from './resources';
import { RetrySystem } from './retries';
import { TicketHandle, TicketSchema, type Ticket } from './tickets';

export { retryDelayMs } from './retries';

/**
 * How due tickets reach this instance: PostgreSQL LISTEN/NOTIFY, a MongoDB change stream (replica sets only), or
 * polling alone (also while a notification channel is down). Polling every processEveryMs is the safety net in all modes.
 */
export type DispatchMode = 'notify' | 'change-stream' | 'polling';

/** How often each instance compacts Agenda's table (Store.compactTickets): dead index entries cost every lock scan. */
const TICKET_COMPACT_EVERY_MS = 5_000;

/**
 * One instance's scheduler: its lifecycle (start, heartbeat, graceful stop) and the routing of Agenda's tickets to the
 * systems that share one SchedulerResources: claims (claims.ts), execution (execution.ts), overlap (overlap.ts),
 * retries (retries.ts), recovery (recovery.ts), leases (leases.ts). The job row decides what is owed; Agenda only
 * delivers "tickets" (one-off Agenda jobs) at the right moment to one instance. See docs/coordination.md.
 */
export class Scheduler {
  readonly agenda: Agenda;
  private readonly backend: AgendaBackend;
  private state: SchedulerState = 'created';
  private readonly clock = new DatabaseClock();
  private readonly log: Logger;
  private readonly held: HeldRuns;
  private readonly heartbeat: Heartbeat;
  private readonly claims: ClaimSystem;
  private readonly retries: RetrySystem;
  private readonly recovery: RecoverySystem;
  private readonly alerts: AlertSystem;
  private readonly alertPollMs: number;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Every ticket handler and takeover in flight, so a graceful stop can wait for them. */
  private readonly handling = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private stopPromise: Promise<void> | null = null;
  private changeStream: MongoChangeStreamNotificationChannel | undefined;
  private stopWatchingCancels: StopWatching | null = null;

  constructor(
    readonly store: Store,
    readonly instanceId: string,
    readonly config: SchedulerConfig,
  ) {
    this.log = logger('scheduler');
    this.backend = store.createAgendaBackend();
    this.agenda = new Agenda({
      backend: this.backend,
      // Shows up as last_modified_by on Agenda's rows: which instance locked a ticket last.
      name: instanceId,
      // Jittered per instance: with one fixed period everywhere, the instance whose poll phase comes first
      // locks every ticket due within the next period, every time (measured: one worker took 94% of the runs).
      processEvery: Math.round(config.processEveryMs * (1 + Math.random() * 0.5)),
      maxConcurrency: config.concurrency,
      defaultConcurrency: config.concurrency,
      lockLimit: config.lockLimit,
      defaultLockLifetime: config.lockLifetimeMs,
    });
    this.agenda.define<Ticket>(TICKET_NAME, (agendaJob) => this.track(this.handleTicket(agendaJob)), {
      concurrency: config.concurrency,
      lockLimit: config.lockLimit,
      lockLifetime: config.lockLifetimeMs,
    });
    guardBackendErrors(this.backend, instanceId);
    // A fired ticket is deleted once its occurrence is claimed; nothing reads Agenda's state of tickets.
    skipTicketStateSaves(this.backend, TICKET_NAME);
    // Every instance's poll locks what is due before its next poll (at most 1.5 x the period with the jitter).
    skipDistantNotifications(this.agenda, 2 * config.processEveryMs);
    muteStateNotifications(this.backend.notificationChannel);
    this.agenda.on('error', (err: unknown) => this.log.error({ err: errorMessage(err) }, 'agenda error'));

    this.held = new HeldRuns({ store, agenda: this.agenda, config, instanceId, clock: this.clock, log: this.log });
    const res: SchedulerResources = {
      store,
      agenda: this.agenda,
      backend: this.backend,
      config,
      instanceId,
      clock: this.clock,
      log: this.log,
      held: this.held,
      state: () => this.state,
      stopping: this.stopping.signal,
      track: (work) => this.track(work),
    };
    this.heartbeat = new Heartbeat(res);
    const overlap = new OverlapSystem(res);
    // The retry system schedules failed attempts and starts retries through execution: a late-bound callback each way.
    const autoPause = new AutoPauseSystem(res);
    const execution = new ExecutionSystem(
      res,
      overlap,
      (job, run, outcome) => this.retries.scheduleRetry(job, run, outcome),
      (job, run) => autoPause.afterFinalOutcome(job, run),
    );
    this.retries = new RetrySystem(res, execution);
    this.claims = new ClaimSystem(res, execution, (at) => this.heartbeat.recordedAliveAt(at));
    this.recovery = new RecoverySystem(res, this.claims, execution, this.retries);
    const alertConfig = loadAlertConfig();
    this.alertPollMs = alertConfig.pollMs;
    this.alerts = new AlertSystem(res, alertConfig, sendToChannel);
  }

  get running(): boolean {
    return this.state === 'running';
  }

  get status(): SchedulerState {
    return this.state;
  }

  get startedAt(): Date {
    return this.heartbeat.startedAt;
  }

  /** Now, on the database's clock (best estimate). */
  dbNow(): Date {
    return this.clock.now();
  }

  async start(): Promise<void> {
    if (this.state !== 'created') return;
    this.state = 'starting';
    await this.heartbeat.calibrate();
    await this.heartbeat.beat();
    await this.useChangeStreamIfAvailable();
    // Cancel requests reach this instance through the database at once (LISTEN/NOTIFY, a change stream); the lease
    // renewal (HeldRuns.renew) carries them too, within a renewal period, if a notification is lost.
    this.stopWatchingCancels = await this.store
      .watchCancelRequests((runId) => this.held.cancel(runId))
      .catch((err: unknown) => {
        this.log.warn({ err: errorMessage(err) }, 'cannot watch cancel requests: they arrive with the lease renewal');
        return null;
      });
    await this.agenda.start();
    const problems = checkAgendaInternals(this.agenda, this.backend);
    if (problems.length > 0) {
      this.log.error(
        { problems },
        "this Agenda is not the 6.2 the scheduler's patches expect: keeping Agenda's own behaviour where they do not fit (slower, not wrong)",
      );
    }
    installQueueFilling(this.agenda, this.backend);
    // Heartbeats, lease renewals and fencing go on while stopping: running handlers still hold their runs. Renewals have
    // a timer of their own: a slow heartbeat write must not delay them.
    this.every(this.config.heartbeatMs, () => this.heartbeat.beat(), true);
    this.every(Math.min(this.config.heartbeatMs, Math.floor(this.config.leaseMs / 4)), () => this.held.renew(), true);
    this.every(Math.max(50, Math.floor(this.config.leaseMs / 6)), async () => this.held.fence(), true);
    this.every(this.config.sweepEveryMs, () => this.recovery.sweep());
    // Alerts: events of durable records into alert rows (on the sweep's period), and the outbox's deliveries.
    this.every(this.config.sweepEveryMs, () => this.alerts.scan());
    this.every(this.alertPollMs, () => this.alerts.deliverDue());
    this.every(TICKET_COMPACT_EVERY_MS, () => this.store.compactTickets());
    this.state = 'running';
    this.log.info(
      {
        store: this.store.description,
        pollMs: this.config.processEveryMs,
        concurrency: this.config.concurrency,
        lockLimit: this.config.lockLimit,
        leaseMs: this.config.leaseMs,
        heartbeatMs: this.config.heartbeatMs,
        clockOffsetMs: this.clock.offsetMs,
        clockErrorMs: Math.ceil(this.clock.errorMs),
      },
      `instance ${this.instanceId} started on ${this.store.description}`,
    );
  }

  /** The dispatch path right now: a notification channel counts only while it is connected. */
  get dispatch(): DispatchMode {
    const channel = this.changeStream ?? this.backend.notificationChannel;
    if (!channel || channel.state !== 'connected') return 'polling';
    return channel instanceof MongoChangeStreamNotificationChannel ? 'change-stream' : 'notify';
  }

  /**
   * MongoDB has no LISTEN/NOTIFY; a change stream on Agenda's collection plays its part, but only a replica set
   * (or sharded cluster) offers change streams. A standalone server (and the test server) stays on polling.
   */
  private async useChangeStreamIfAvailable(): Promise<void> {
    if (!(this.backend instanceof MongoBackend)) return;
    await this.agenda.ready;
    const repository = this.backend.repository as unknown as { getDb(): import('mongodb').Db; collection: { collectionName: string } };
    const db = repository.getDb();
    // `hello` needs MongoDB 4.4.2+ (mongo-java-server lacks it); older servers answer the same fields to `isMaster`.
    const hello = await db
      .admin()
      .command({ hello: 1 })
      .catch(() => db.admin().command({ isMaster: 1 }))
      .catch(() => null);
    const replicated = hello !== null && (typeof hello.setName === 'string' || hello.msg === 'isdbgrid');
    if (!replicated) {
      this.log.info({ pollMs: this.config.processEveryMs }, 'MongoDB is not a replica set, no change streams: dispatch by polling');
      return;
    }
    this.changeStream = new MongoChangeStreamNotificationChannel({ db, collection: repository.collection.collectionName });
    this.changeStream.on('error', (err: unknown) => this.log.error({ err: errorMessage(err) }, 'change stream error'));
    muteStateNotifications(this.changeStream);
    this.agenda.notifyVia(this.changeStream);
  }

  /**
   * Graceful stop: start nothing new. Tickets locked but not fired are unlocked, claims not started yet are given back
   * at once (with a ticket, so another instance takes them over on time), running handlers get the grace period; those
   * still going after it are aborted and given back for a takeover (their outcome is unknown). Then the instance is
   * recorded as stopped.
   */
  stop(graceMs = this.config.shutdownGraceMs): Promise<void> {
    this.stopPromise ??= this.doStop(graceMs);
    return this.stopPromise;
  }

  private async doStop(graceMs: number): Promise<void> {
    const wasStarted = this.state !== 'created';
    this.state = 'stopping';
    // Wakes every claim waiting for its due time: each gives itself back (ClaimSystem.runClaim).
    this.stopping.abort();
    if (wasStarted) {
      // stop(false): unlock queued tickets but keep the pool open for the handlers still running.
      await this.agenda.stop(false).catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'agenda stop failed'));
      const allDone = (): Promise<boolean> => Promise.allSettled([...this.handling]).then(() => true);
      const finished = await Promise.race([allDone(), deadline(graceMs).then(() => false)]);
      if (!finished) {
        this.log.warn({ runs: this.held.size, graceMs }, 'runs still going after the grace period: giving them back');
        for (const held of this.held.values()) held.controller.abort(new ShutdownAbort(this.instanceId));
        // The abort settles each handler at once; this only bounds the final database writes.
        await Promise.race([allDone(), deadline(5_000)]);
      }
      for (const timer of this.timers) clearInterval(timer);
      await this.stopWatchingCancels?.().catch(() => undefined);
      await this.heartbeat.beat(true).catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'final heartbeat failed'));
      // agenda.stop(false) left the pool open; Agenda has no processor any more, so close it directly.
      await this.backend
        .disconnect()
        .catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'could not close the agenda backend'));
    }
    for (const timer of this.timers) clearInterval(timer);
    this.state = 'stopped';
    this.log.info(`instance ${this.instanceId} stopped`);
  }

  /** Creates the ticket for job.nextRunAt (see ClaimSystem.enqueueOccurrence). */
  enqueueOccurrence(job: Job, replay = false): Promise<void> {
    return this.claims.enqueueOccurrence(job, replay);
  }

  private every(ms: number, fn: () => Promise<unknown>, whileStopping = false): void {
    let busy = false;
    const timer = setInterval(() => {
      // Skip a beat rather than pile up calls when the database is slow.
      const active = this.state === 'running' || (whileStopping && this.state === 'stopping');
      if (busy || !active) return;
      busy = true;
      fn()
        .catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'periodic task failed'))
        .finally(() => {
          busy = false;
        });
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private track(promise: Promise<void>): Promise<void> {
    this.handling.add(promise);
    void promise.finally(() => this.handling.delete(promise));
    return promise;
  }

  /** Agenda's handler for one ticket. Never throws: outcomes live in our runs table, not in Agenda. */
  private async handleTicket(agendaJob: AgendaJob<Ticket>): Promise<void> {
    const handle = new TicketHandle(agendaJob, this.agenda);
    try {
      const parsed = TicketSchema.safeParse(agendaJob.attrs.data);
      if (!parsed.success) {
        this.log.warn({ ticket: String(agendaJob.attrs._id) }, 'dropping a malformed ticket');
        return;
      }
      const ticket = parsed.data;
      if (this.state !== 'running') {
        // Stopping: start nothing new. Another instance fires the ticket.
        await handle.handBack();
        return;
      }
      if (ticket.trigger === 'retry') await this.retries.handleRetry(ticket, handle);
      else if (ticket.trigger === 'manual') await this.claims.handleManual(ticket, handle);
      else if (ticket.trigger === 'takeover') await this.recovery.handleTakeover(ticket, handle);
      else await this.claims.handleScheduled(ticket, handle);
    } catch (err) {
      // Typically the database: the job stays overdue and the safety net re-enqueues it.
      this.log.error({ ticket: String(agendaJob.attrs._id), err: errorMessage(err) }, 'ticket failed');
    } finally {
      // Done tickets go, so Agenda's table holds only pending work.
      await handle.remove();
    }
  }
}
