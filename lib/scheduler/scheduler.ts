import 'server-only';
import { MongoBackend, MongoChangeStreamNotificationChannel } from '@agendajs/mongo-backend';
import { Agenda, type AgendaBackend, type Job as AgendaJob } from 'agenda';
import { hostname } from 'node:os';
import packageJson from '../../package.json' with { type: 'json' };
import { getJobType } from '../jobs/registry';
import type { DeliveryTrigger, JobContext } from '../jobs/define';
import { nextOccurrence } from '../schedule';
import { revealPayload } from '../secrets';
import type { HeldRun, Job, NewRun, Run, RunPatch, RunStatus, Store } from '../store/types';
import { guardBackendErrors, muteStateNotifications, skipDistantNotifications, skipTicketStateSaves } from './backend';
import { DatabaseClock } from './clock';
import { installQueueFilling } from './queue-filling';
import { TICKET_NAME, type SchedulerConfig } from './config';
import { OutputBuffer } from './output';
import { planClaim } from './plan';
import { saveTicket, TicketSchema, type Ticket } from './tickets';

type SchedulerState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * How due tickets reach this instance: PostgreSQL LISTEN/NOTIFY, a MongoDB change stream (replica sets only), or
 * polling alone (also while a notification channel is down). Polling every processEveryMs is the safety net in all modes.
 */
export type DispatchMode = 'notify' | 'change-stream' | 'polling';

/** Abort reason when a stopping instance gives up on a handler after its grace period. */
class ShutdownAbort extends Error {
  constructor(instanceId: string) {
    super(`instance ${instanceId} shut down before the run finished`);
    this.name = 'ShutdownAbort';
  }
}

/** Abort reason when this instance can no longer renew a run's lease (database unreachable, or taken over). */
class LeaseLost extends Error {
  constructor(instanceId: string) {
    super(`instance ${instanceId} lost the run's lease`);
    this.name = 'LeaseLost';
  }
}

/** Abort reason when a run exceeds job.timeoutSeconds. */
class TimeoutAbort extends Error {
  constructor(seconds: number) {
    super(`exceeded its timeout of ${seconds}s`);
    this.name = 'TimeoutAbort';
  }
}

interface Outcome {
  status: RunStatus;
  error: string | null;
  output: string | null;
}

/**
 * A run this instance holds: claimed (waiting for its due time) or running. Its lease is renewed with every heartbeat
 * while it is held; the controller aborts whatever this instance still does for it (fencing, timeout, shutdown).
 */
interface Held {
  run: Run;
  controller: AbortController;
  /** Local time at which the last write that set its lease (claim, start, renewal) was sent, once confirmed. */
  renewedAt: number;
  /** The Agenda ticket that delivered it, if any: Agenda's in-memory lock is kept fresh while the run is held. */
  ticket: AgendaJob | null;
}

/** A fired ticket: deleted once its occurrence is claimed (or dropped), handed back to Agenda when this instance stops. */
class TicketHandle {
  private settled = false;

  constructor(
    readonly agendaJob: AgendaJob<Ticket>,
    private readonly agenda: Agenda,
  ) {}

  /** The ticket has done its job: its run record (or nothing) takes over. */
  async remove(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    // Agenda's own final save then finds no row, which it ignores by design.
    await this.agendaJob.remove().catch(() => undefined);
  }

  /** This instance is stopping: unlock the ticket so that another instance fires it. */
  async handBack(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    const id = this.agendaJob.attrs._id;
    if (id !== undefined) await this.agenda.db.unlockJobs([id]).catch(() => undefined);
  }
}

/** How often each instance compacts Agenda's table (Store.compactTickets): dead index entries cost every lock scan. */
const TICKET_COMPACT_EVERY_MS = 5_000;
/** How many claimed jobs an instance remembers (a job's row is then not read again for its next occurrence). */
const RECENT_JOBS_LIMIT = 10_000;
/** Lost retry tickets are looked for every this many sweeps (each look reads the waiting runs and their history). */
const RETRY_RESCUE_EVERY_SWEEPS = 5;
/** Clock samples taken at start-up, before anything is judged on the database's clock. */
const START_CLOCK_SAMPLES = 5;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** A deadline for Promise.race that does not keep the process alive once the race is decided. */
const deadline = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Sleeps `ms`, or less if one of the signals is aborted first. */
function pause(ms: number, ...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    for (const s of signals) s.addEventListener('abort', done, { once: true });
  });
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One instance's scheduler: an Agenda worker over the store's Agenda backend plus the loops that keep it honest
 * (heartbeat with lease renewals, the safety net of overdue occurrences and expired leases). The job row decides what
 * is owed; Agenda only delivers "tickets" (one-off Agenda jobs) at the right moment to one instance. An occurrence is
 * claimed by writing its run record ('claimed') in the same step that moves the job's pointer past it, so that it is
 * owed by a record from then on, never only by an instance's memory. See docs/coordination.md.
 */
export class Scheduler {
  readonly agenda: Agenda;
  private readonly backend: AgendaBackend;
  readonly startedAt = new Date();
  private state: SchedulerState = 'created';
  /** Leases, lateness and due times are judged on the database's clock. */
  private readonly clock = new DatabaseClock();
  /** Start of this instance's current unbroken run of heartbeats (database time), and when the last one was sent. */
  private aliveSince: Date | null = null;
  private lastBeatAt: number | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Runs this instance holds, claimed or running: their leases ride on the heartbeat. */
  private readonly held = new Map<string, Held>();
  /** Every ticket handler and takeover in flight, so a graceful stop can wait for them. */
  private readonly handling = new Set<Promise<void>>();
  /** Aborted when the instance starts stopping: wakes every claim waiting for its due time, so it is given back. */
  private readonly stopping = new AbortController();
  private stopPromise: Promise<void> | null = null;
  private sweeps = 0;
  private changeStream: MongoChangeStreamNotificationChannel | undefined;
  /** The jobs this instance claimed an occurrence of lately, as it left them: see handleScheduled. */
  private readonly recentJobs = new Map<string, Job>();

  constructor(
    readonly store: Store,
    readonly instanceId: string,
    readonly config: SchedulerConfig,
  ) {
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
    this.agenda.on('error', (err: unknown) => {
      console.error(`[scheduler] ${this.instanceId}: agenda error: ${message(err)}`);
    });
  }

  get running(): boolean {
    return this.state === 'running';
  }

  get status(): SchedulerState {
    return this.state;
  }

  /** Now, on the database's clock (best estimate). */
  dbNow(): Date {
    return this.clock.now();
  }

  async start(): Promise<void> {
    if (this.state !== 'created') return;
    this.state = 'starting';
    // Several round trips before anything is judged on the database's clock: the first ones carry connection set-up,
    // and a start computed from them could come early (measured: up to ~77 ms right after start-up).
    for (let i = 0; i < START_CLOCK_SAMPLES; i++) await this.sampleClock();
    await this.heartbeat();
    await this.useChangeStreamIfAvailable();
    await this.agenda.start();
    if (!installQueueFilling(this.agenda, this.backend)) {
      console.warn(`[scheduler] ${this.instanceId}: Agenda's job processor is not the expected shape; keeping its own queue filling`);
    }
    // Heartbeats, lease renewals and fencing go on while stopping: running handlers still hold their runs. Renewals have
    // a timer of their own: a slow heartbeat write must not delay them.
    this.every(this.config.heartbeatMs, () => this.heartbeat(), true);
    this.every(Math.min(this.config.heartbeatMs, Math.floor(this.config.leaseMs / 4)), () => this.renewLeases(), true);
    this.every(Math.max(50, Math.floor(this.config.leaseMs / 6)), async () => this.fence(), true);
    this.every(this.config.sweepEveryMs, () => this.sweep());
    this.every(TICKET_COMPACT_EVERY_MS, () => this.store.compactTickets());
    this.state = 'running';
    console.log(
      `[scheduler] instance ${this.instanceId} started on ${this.store.description} ` +
        `(poll ${this.config.processEveryMs} ms, concurrency ${this.config.concurrency}, lock limit ${this.config.lockLimit}, ` +
        `lease ${this.config.leaseMs} ms, heartbeat ${this.config.heartbeatMs} ms, clock offset ${this.clock.offsetMs} ± ${Math.ceil(this.clock.errorMs)} ms)`,
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
      console.log(`[scheduler] ${this.instanceId}: MongoDB is not a replica set, no change streams: dispatch by polling every ~${this.config.processEveryMs} ms`);
      return;
    }
    this.changeStream = new MongoChangeStreamNotificationChannel({ db, collection: repository.collection.collectionName });
    this.changeStream.on('error', (err: unknown) => console.error(`[scheduler] ${this.instanceId}: change stream: ${message(err)}`));
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
    // Wakes every claim waiting for its due time: each gives itself back (runClaim).
    this.stopping.abort();
    if (wasStarted) {
      // stop(false): unlock queued tickets but keep the pool open for the handlers still running.
      await this.agenda.stop(false).catch((err: unknown) => console.error(`[scheduler] agenda stop: ${message(err)}`));
      const allDone = (): Promise<boolean> => Promise.allSettled([...this.handling]).then(() => true);
      const finished = await Promise.race([allDone(), deadline(graceMs).then(() => false)]);
      if (!finished) {
        console.warn(`[scheduler] ${this.instanceId}: ${this.held.size} run(s) still going after ${graceMs} ms, giving them back`);
        for (const held of this.held.values()) held.controller.abort(new ShutdownAbort(this.instanceId));
        // The abort settles each handler at once; this only bounds the final database writes.
        await Promise.race([allDone(), deadline(5_000)]);
      }
      for (const timer of this.timers) clearInterval(timer);
      await this.heartbeat(true).catch((err: unknown) => console.error(`[scheduler] final heartbeat: ${message(err)}`));
      // agenda.stop(false) left the pool open; Agenda has no processor any more, so close it directly.
      await this.backend.disconnect().catch((err: unknown) => console.error(`[scheduler] close agenda backend: ${message(err)}`));
    }
    for (const timer of this.timers) clearInterval(timer);
    this.state = 'stopped';
    console.log(`[scheduler] instance ${this.instanceId} stopped`);
  }

  /**
   * Creates the ticket for job.nextRunAt (no-op when paused or without a next occurrence). Called only by the instance
   * whose claim moved the job to that occurrence, so no other writer makes the same ticket: saved without Agenda's
   * dedup (a stray duplicate would be dropped when it fires anyway).
   */
  async enqueueOccurrence(job: Job, replay = false): Promise<void> {
    if (job.paused || !job.nextRunAt) return;
    await saveTicket(
      this.agenda,
      { jobId: job.id, version: job.version, scheduledFor: job.nextRunAt.toISOString(), trigger: 'schedule', ...(replay ? { replay } : {}) },
      { leadMs: this.config.prefetchMs, dedup: false },
    );
  }

  private every(ms: number, fn: () => Promise<unknown>, whileStopping = false): void {
    let busy = false;
    const timer = setInterval(() => {
      // Skip a beat rather than pile up calls when the database is slow.
      const active = this.state === 'running' || (whileStopping && this.state === 'stopping');
      if (busy || !active) return;
      busy = true;
      fn()
        .catch((err: unknown) => console.error(`[scheduler] ${this.instanceId}: ${message(err)}`))
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

  private lease(from: Date = this.dbNow()): Date {
    return new Date(from.getTime() + this.config.leaseMs);
  }

  /** One timed round trip to the database's clock. */
  private async sampleClock(): Promise<Date> {
    const sent = Date.now();
    const databaseNow = await this.store.now();
    this.clock.record(sent, databaseNow.getTime(), Date.now());
    return databaseNow;
  }

  /**
   * The heartbeat: measures the database clock and writes the instance row (leases are renewed on the same cadence, by
   * renewLeases). A heartbeat after a gap longer than the lease (a freeze, a lost database) starts a new run of
   * heartbeats (aliveSince): the instance was not up in between, as far as the missed policy is concerned.
   */
  private async heartbeat(stopped = false): Promise<void> {
    const sent = Date.now();
    await this.sampleClock();
    const now = this.dbNow();
    if (this.lastBeatAt === null || sent - this.lastBeatAt > this.config.leaseMs) this.aliveSince = now;
    await this.store.upsertInstance({
      id: this.instanceId,
      host: hostname(),
      pid: process.pid,
      version: packageJson.version,
      startedAt: this.startedAt,
      lastSeenAt: now,
      clockSkewMs: this.clock.offsetMs,
      stoppedAt: stopped ? now : null,
      aliveSince: this.aliveSince ?? now,
    });
    this.lastBeatAt = sent;
  }

  /** Renews the lease of every held run in one write; a run it no longer holds (taken over, closed) is abandoned here. */
  private async renewLeases(): Promise<void> {
    const entries = [...this.held.values()];
    if (entries.length === 0) return;
    const sent = Date.now();
    const renewed = new Set(
      await this.store.renewLeases(
        this.instanceId,
        entries.map((h) => ({ id: h.run.id, attempt: h.run.attempt })),
        this.lease(),
      ),
    );
    for (const held of entries) {
      if (this.held.get(held.run.id) !== held) continue; // finished meanwhile
      if (renewed.has(held.run.id)) held.renewedAt = Math.max(held.renewedAt, sent);
      else held.controller.abort(new LeaseLost(this.instanceId));
      // Agenda aborts a ticket whose in-memory lock it finds older than the lock lifetime: the run is the lock now.
      if (held.ticket) held.ticket.attrs.lockedAt = new Date();
    }
  }

  /**
   * Fencing: a held run whose lease was not confirmed for 2/3 of the lease (checked every sixth) is given up here: its
   * handler is aborted and nothing more is written for it. The lease in the database runs until a full lease after the
   * last confirmed write was sent, so this instance stops before anyone may take over, as long as the clock error stays
   * under lease / 6.
   */
  private fence(): void {
    const limit = (this.config.leaseMs * 2) / 3;
    for (const held of this.held.values()) {
      if (Date.now() - held.renewedAt > limit && !held.controller.signal.aborted) held.controller.abort(new LeaseLost(this.instanceId));
    }
  }

  /** Registers a run this instance now holds; `confirmedAt` is when the write that leased it was sent. */
  private hold(run: Run, ticket: AgendaJob | null, confirmedAt: number): Held {
    const held: Held = { run, controller: new AbortController(), renewedAt: confirmedAt, ticket };
    this.held.set(run.id, held);
    return held;
  }

  private unhold(held: Held): void {
    if (this.held.get(held.run.id) === held) this.held.delete(held.run.id);
  }

  /**
   * The safety net: rescue tickets for occurrences still unclaimed `rescueAfterMs` after they were due (a lost ticket,
   * or one locked by an instance that died or froze before firing it), lost retry tickets, and takeovers of runs whose
   * lease expired (claimed or running on an instance that died, froze, was cut off or gave them back).
   */
  private async sweep(): Promise<void> {
    const now = this.dbNow();
    const due = await this.store.listDueJobs(new Date(now.getTime() - this.config.rescueAfterMs), 100);
    // One rescue ticket per overdue occurrence and lock lifetime: the regular ticket may be lost or sit locked by a dead
    // instance until its lock expires. Duplicates are harmless: the claim lets one through.
    const rescue = Math.floor(now.getTime() / this.config.lockLifetimeMs);
    for (const job of due) {
      if (!job.nextRunAt) continue;
      // A run-all job whose replay is under way is overdue the whole time: its rescue ticket must not cut the window again.
      const replay = job.missedPolicy === 'run-all' && (await this.replaying(job));
      const ticket: Ticket = { jobId: job.id, version: job.version, scheduledFor: job.nextRunAt.toISOString(), trigger: 'schedule', rescue };
      await saveTicket(this.agenda, replay ? { ...ticket, replay } : ticket).catch(
        (err: unknown) => console.error(`[scheduler] re-enqueue ${job.id}: ${message(err)}`),
      );
    }
    if (this.sweeps++ % RETRY_RESCUE_EVERY_SWEEPS === 0) {
      await this.rescueRetries(now, rescue).catch((err: unknown) => console.error(`[scheduler] rescue retries: ${message(err)}`));
    }
    const expired = await this.store.listExpiredRuns(now, 100);
    for (const run of expired) {
      if (this.held.has(run.id) || this.state !== 'running') continue;
      await this.adopt(run, now).catch((err: unknown) => console.error(`[scheduler] take over run ${run.id}: ${message(err)}`));
    }
  }

  /** True when the job's latest run is part of a run-all replay (a catch-up, or the 'missed' record that began it). */
  private async replaying(job: Job): Promise<boolean> {
    const latest = (await this.store.listRuns({ jobId: job.id, limit: 1 })).items[0];
    return latest !== undefined && (latest.trigger === 'catch-up' || latest.status === 'missed');
  }

  /** A run whose lease expired (found by the sweep, or given back with a takeover ticket): take it over if still owed. */
  private async adopt(run: Run, now: Date): Promise<void> {
    // A full instance leaves the run to the others (their sweep finds it too), like Agenda's lock limit does for tickets.
    if (this.held.size >= this.config.concurrency) return;
    if (run.status === 'claimed') await this.takeOverClaim(run, now);
    else if (run.status === 'running') await this.takeOver(run, now);
  }

  /**
   * A claimed occurrence whose claimer stopped renewing it (died or froze before starting it, or gave it back while
   * stopping): nothing ran yet, so it is simply claimed again, here, and started as its claimer would have (in order, not
   * before it is due). The missed policy does not apply: a live instance is starting it.
   */
  private async takeOverClaim(run: Run, now: Date): Promise<void> {
    const job = await this.store.getJob(run.jobId);
    const sent = Date.now();
    const taken = await this.store.takeOverClaim(
      run.id,
      { instanceId: run.instanceId, leaseExpiredBefore: now },
      { instanceId: this.instanceId, leaseExpiresAt: this.lease(now) },
    );
    if (!taken) return; // renewed after all, started, or another instance was faster
    if (!job || job.paused) {
      // Paused or deleted since (its pause closes claims; a claimer that died mid-way can leave one): not owed.
      await this.store.updateRun(run.id, {
        status: 'skipped',
        finishedAt: now,
        leaseExpiresAt: null,
        error: `skipped: the job was ${job ? 'paused' : 'deleted'} before this occurrence started`,
      });
      return;
    }
    console.warn(`[scheduler] ${this.instanceId}: took over the claim of ${job.name} due at ${run.scheduledFor.toISOString()} from ${run.instanceId ?? '?'}`);
    // Its claimer may have died between recording the occurrence and moving the pointer (MongoDB: two writes).
    if (job.nextRunAt?.getTime() === run.scheduledFor.getTime()) await this.completeAdvance(job, run.scheduledFor);
    void this.track(this.runClaim(job, taken, this.hold(taken, null, sent)).catch((err: unknown) => console.error(`[scheduler] run ${run.id}: ${message(err)}`)));
  }

  /**
   * A running run whose lease expired: its instance died, froze, lost the database or gave it back while stopping. The
   * occurrence is still owed, so it is taken over as the next attempt of the same run (same (job, scheduledFor) row;
   * the attempt before goes to the history as 'unknown': it may or may not have done its work), unless the job is gone
   * or the run used its attempts; then it is closed with outcome unknown. The store's compare-and-set lets exactly one
   * instance take it over.
   */
  private async takeOver(run: Run, now: Date): Promise<void> {
    // A run given back by a stopping instance says so in its error; otherwise all that is known is the silence.
    const lost = run.error ?? `instance ${run.instanceId ?? '?'} stopped renewing the run's lease (crashed, froze or lost the database)`;
    const job = await this.store.getJob(run.jobId);
    // Retries use attempts too: a job allowing more of them than the takeover limit keeps its own.
    if (!job || run.attempt >= Math.max(this.config.maxTakeoverAttempts, job.retry.maxAttempts)) {
      const why = job ? `; not retried after ${run.attempt} attempt(s)` : '; its job was deleted';
      await this.store.updateRun(
        run.id,
        { status: run.startedAt ? 'unknown' : 'abandoned', finishedAt: now, leaseExpiresAt: null, error: `${lost}${why}` },
        { attempt: run.attempt, instanceId: run.instanceId },
      );
      return;
    }
    const sent = Date.now();
    const taken = await this.store.takeOverRun(
      run.id,
      { attempt: run.attempt, leaseExpiredBefore: now },
      { instanceId: this.instanceId, at: now, leaseExpiresAt: this.lease(now), error: `${lost}; taken over by ${this.instanceId}` },
    );
    if (!taken) return; // renewed after all, finished, or another instance was faster
    console.warn(`[scheduler] ${this.instanceId}: took over run ${run.id} of ${job.name} (attempt ${taken.attempt}) from ${run.instanceId ?? '?'}`);
    // Not awaited: the sweep goes on; the handler is tracked so a graceful stop waits for it.
    void this.track(
      this.runOwned(job, taken, this.hold(taken, null, sent), taken.trigger, run.startedAt !== null).catch((err: unknown) =>
        console.error(`[scheduler] run ${run.id}: ${message(err)}`),
      ),
    );
  }

  /** Agenda's handler for one ticket. Never throws: outcomes live in our runs table, not in Agenda. */
  private async handleTicket(agendaJob: AgendaJob<Ticket>): Promise<void> {
    const handle = new TicketHandle(agendaJob, this.agenda);
    try {
      const parsed = TicketSchema.safeParse(agendaJob.attrs.data);
      if (!parsed.success) {
        console.warn(`[scheduler] dropping malformed ticket ${String(agendaJob.attrs._id)}`);
        return;
      }
      const ticket = parsed.data;
      if (this.state !== 'running') {
        // Stopping: start nothing new. Another instance fires the ticket.
        await handle.handBack();
        return;
      }
      if (ticket.trigger === 'retry') await this.handleRetry(ticket, handle);
      else if (ticket.trigger === 'manual') await this.handleManual(ticket, handle);
      else if (ticket.trigger === 'takeover') await this.handleTakeover(ticket, handle);
      else await this.handleScheduled(ticket, handle);
    } catch (err) {
      // Typically the database: the job stays overdue and the safety net re-enqueues it.
      console.error(`[scheduler] ticket ${String(agendaJob.attrs._id)} failed: ${message(err)}`);
    } finally {
      // Done tickets go, so Agenda's table holds only pending work.
      await handle.remove();
    }
  }

  /** A run given back by a stopping instance: take it over at once instead of at the next sweep. */
  private async handleTakeover(ticket: Ticket, handle: TicketHandle): Promise<void> {
    await handle.remove();
    if (!ticket.runId) return;
    const run = await this.store.getRun(ticket.runId);
    const now = this.dbNow();
    if (!run || !run.leaseExpiresAt || run.leaseExpiresAt.getTime() >= now.getTime() || this.held.has(run.id)) return;
    await this.adopt(run, now);
  }

  private async handleManual(ticket: Ticket, handle: TicketHandle): Promise<void> {
    const job = await this.store.getJob(ticket.jobId);
    if (!job) return;
    const queued = job.overlapPolicy === 'queue-one';
    const sent = Date.now();
    const start = this.dbNow();
    // A run-now is its own occurrence (scheduledFor = when it was asked for), outside the schedule's order.
    const run = await this.insertOwned({
      jobId: job.id,
      jobName: job.name,
      scheduledFor: new Date(ticket.scheduledFor),
      startedAt: queued ? null : start,
      finishedAt: null,
      status: 'running',
      trigger: 'manual',
      instanceId: this.instanceId,
      attempt: 1,
      error: null,
      output: null,
      leaseExpiresAt: this.lease(start),
    });
    await handle.remove();
    if (!run) return; // this occurrence already ran (or runs) elsewhere
    await this.runOwned(job, run, this.hold(run, handle.agendaJob, sent), 'manual');
  }

  /**
   * A schedule ticket, fired up to the prefetch lead before its occurrence is due. The job row says whether the
   * occurrence is still owed; the claim records it and moves the pointer in one step (Store.claimOccurrence); the
   * ticket is deleted at once (the run record is the claim from then on); the run starts at its due time.
   */
  private async handleScheduled(ticket: Ticket, handle: TicketHandle): Promise<void> {
    const scheduledFor = new Date(ticket.scheduledFor);
    // The job as this instance left it when it claimed the previous occurrence saves a read; the claim checks it
    // (version and pointer), and a stale remembered copy is read again once.
    let remembered = this.recentJobs.get(ticket.jobId);
    if (remembered?.nextRunAt?.getTime() !== scheduledFor.getTime()) remembered = undefined;
    let current = remembered ?? (await this.store.getJob(ticket.jobId));
    let job: Job;
    let plan: ReturnType<typeof planClaim>;
    let run: Run;
    let sent: number;
    for (;;) {
      // The row is the source of truth: a ticket for another occurrence, a paused or a deleted job is stale. The
      // version is deliberately not compared with the ticket's: an edit that keeps the schedule (payload, name...)
      // bumps it without a new ticket, and the pending occurrence is still owed. The claim uses the version just read.
      if (!current || current.paused || current.nextRunAt?.getTime() !== scheduledFor.getTime()) {
        this.recentJobs.delete(ticket.jobId);
        return;
      }
      job = current;
      const now = this.dbNow();
      const late = now.getTime() - scheduledFor.getTime() > this.config.missedGraceMs;
      plan = planClaim({
        job,
        scheduledFor,
        now,
        graceMs: this.config.missedGraceMs,
        runAllLimit: this.config.runAllLimit,
        instanceId: this.instanceId,
        leaseExpiresAt: this.lease(now),
        // Only a late occurrence asks: was any instance up when it fell due (a fault), or none (an outage)?
        someoneAlive: late ? await this.store.anyInstanceAliveAt(scheduledFor) : true,
        replay: ticket.replay === true,
      });
      if (this.state !== 'running') return handle.handBack();
      sent = Date.now();
      const result = await this.store.claimOccurrence({
        jobId: job.id,
        expected: { version: job.version, nextRunAt: scheduledFor },
        nextRunAt: plan.next,
        runs: plan.records,
      });
      if (result.outcome === 'claimed') {
        run = result.run;
        break;
      }
      this.recentJobs.delete(ticket.jobId);
      // 'taken': recorded by a claimer that has not moved the pointer yet (MongoDB's two writes). If it is alive it will;
      // if it died, its claim's lease runs out and whoever takes the claim over moves the pointer (takeOverClaim).
      if (result.outcome === 'taken' || !remembered) return;
      remembered = undefined;
      current = await this.store.getJob(ticket.jobId);
    }
    await handle.remove();
    const next = plan.next;
    this.rememberJob({ ...job, nextRunAt: next });
    const enqueueNext = async (): Promise<void> => {
      if (!next) return;
      await this.enqueueOccurrence({ ...job, nextRunAt: next }, plan.replay).catch((err: unknown) =>
        console.error(`[scheduler] enqueue next occurrence of ${job.id}: ${message(err)} (the safety net retries)`),
      );
    };
    if (!plan.chain) await enqueueNext();
    try {
      if (plan.starts) await this.runClaim(job, run, this.hold(run, handle.agendaJob, sent));
    } finally {
      if (plan.chain) await enqueueNext();
    }
  }

  /**
   * The occurrence is recorded but the job's pointer did not move past it: its claimer died between its two writes
   * (MongoDB has no transaction). The pointer moves as that claim planned it: past every occurrence its records cover
   * (the occurrence's own range, or the range record of a run-once fold right after it). Its claimed record itself is
   * taken over once its lease expires.
   */
  private async completeAdvance(job: Job, scheduledFor: Date): Promise<void> {
    const own = await this.store.getRunByOccurrence(job.id, scheduledFor);
    if (!own) return;
    let last = own.rangeEnd ?? scheduledFor;
    const following = nextOccurrence(job.schedule, scheduledFor, job.anchorAt);
    if (following && !own.rangeEnd) {
      const fold = await this.store.getRunByOccurrence(job.id, following);
      if (fold?.rangeEnd) last = fold.rangeEnd;
    }
    const next = nextOccurrence(job.schedule, last, job.anchorAt);
    if (await this.store.advanceJob(job.id, { version: job.version, nextRunAt: scheduledFor }, next)) {
      console.warn(`[scheduler] ${this.instanceId}: moved ${job.name} past its recorded occurrence ${scheduledFor.toISOString()} (its claimer stopped half-way)`);
      await this.enqueueOccurrence({ ...job, nextRunAt: next });
    }
  }

  /**
   * A claim this instance holds: waits for its due time on the database's clock (never early: the estimate plus its
   * error bound), then starts it, in order (after the job's earlier claimed occurrences). Fenced before the start: a
   * claim whose lease this instance could not keep (a freeze, a lost database) or that was taken over is dropped, and
   * a stopping instance gives its claims back at once.
   */
  private async runClaim(job: Job, claimed: Run, held: Held): Promise<void> {
    const signal = held.controller.signal;
    let handedOn = false;
    try {
      for (;;) {
        if (signal.aborted) {
          console.warn(`[scheduler] ${this.instanceId}: dropped its claim of ${job.name} due at ${claimed.scheduledFor.toISOString()}: ${message(signal.reason)}`);
          return;
        }
        if (this.state !== 'running') return await this.release(held, null);
        const wait = this.clock.localTimeWhenPassed(claimed.scheduledFor) - Date.now();
        if (wait > 0) {
          await pause(wait, signal, this.stopping.signal);
          continue;
        }
        const now = this.dbNow();
        const late = now.getTime() - claimed.scheduledFor.getTime() > this.config.missedGraceMs;
        const sent = Date.now();
        let result: Awaited<ReturnType<Store['startRun']>>;
        try {
          result = await this.store.startRun(claimed, this.instanceId, {
            at: now,
            queued: job.overlapPolicy === 'queue-one',
            leaseExpiresAt: this.lease(now),
            // Started late (after a takeover, or behind an earlier occurrence), it says so.
            trigger: late && claimed.trigger === 'schedule' ? 'catch-up' : claimed.trigger,
          });
        } catch (err) {
          // The database is away: try again while the lease holds (fencing aborts the signal otherwise).
          console.error(`[scheduler] start run ${claimed.id}: ${message(err)}`);
          await pause(250, signal, this.stopping.signal);
          continue;
        }
        if (result.outcome === 'lost') {
          console.warn(`[scheduler] ${this.instanceId}: the claim of ${job.name} due at ${claimed.scheduledFor.toISOString()} is no longer its own (taken over, paused or deleted)`);
          return;
        }
        if (result.outcome === 'waiting') {
          await pause(result.reason === 'early' ? 2 : Math.min(250, this.config.processEveryMs), signal, this.stopping.signal);
          continue;
        }
        held.run = result.run;
        held.renewedAt = Math.max(held.renewedAt, sent);
        handedOn = true;
        return await this.runOwned(job, result.run, held, result.run.trigger);
      }
    } finally {
      if (!handedOn) this.unhold(held);
    }
  }

  /**
   * Gives a held run back for another instance to take over at once (a stopping instance): its lease is expired now,
   * and a takeover ticket fires it on another instance without waiting for a sweep.
   */
  private async release(held: Held, note: string | null): Promise<void> {
    const run = held.run;
    const expiredAt = new Date(this.dbNow().getTime() - 1);
    const released = await this.store
      .releaseRuns(this.instanceId, [{ id: run.id, attempt: run.attempt }], expiredAt, note ?? undefined)
      .catch((err: unknown) => {
        console.error(`[scheduler] give back run ${run.id}: ${message(err)} (taken over once its lease expires)`);
        return 0;
      });
    this.unhold(held);
    if (released === 0) return;
    await saveTicket(this.agenda, { jobId: run.jobId, version: 0, scheduledFor: new Date().toISOString(), trigger: 'takeover', runId: run.id }).catch(
      (err: unknown) => console.error(`[scheduler] takeover ticket for run ${run.id}: ${message(err)} (the safety net takes it over)`),
    );
  }

  /**
   * Runs a run this instance owns (started here, or taken over): its lease rides on the heartbeat; every write is
   * guarded by (attempt, instance), so once another instance has taken the run over this one can no longer touch it,
   * and it stops its handler (fencing). Writes the outcome, or schedules a retry, or gives the run back (shutdown).
   */
  private async runOwned(job: Job, run: Run, held: Held, trigger: DeliveryTrigger, turnTaken = false): Promise<void> {
    const queued = job.overlapPolicy === 'queue-one';
    const owner = { attempt: run.attempt, instanceId: this.instanceId };
    const controller = held.controller;
    const fenced = (): boolean => controller.signal.reason instanceof LeaseLost || Date.now() - held.renewedAt > (this.config.leaseMs * 2) / 3;
    /**
     * The final write, retried while the database is away (a restart): a run left 'running' would be taken over
     * and executed again once its lease expired. Gives up when the lease is lost anyway.
     */
    const persist = async (write: () => Promise<unknown>): Promise<void> => {
      for (;;) {
        try {
          await write();
          return;
        } catch (err) {
          if (fenced()) {
            console.error(`[scheduler] ${this.instanceId}: could not record the outcome of run ${run.id}: ${message(err)}; left to a takeover`);
            return;
          }
          await sleep(250);
        }
      }
    };
    const settle = (patch: RunPatch): Promise<void> =>
      persist(() => this.store.updateRun(run.id, { ...patch, finishedAt: this.dbNow(), leaseExpiresAt: null }, owner));
    const giveBack = (reason: string): Promise<void> => persist(() => this.release(held, `${reason}; outcome unknown`));
    try {
      if (this.state !== 'running') {
        // The stop began while the start was on its way to the database: nothing ran yet, so the run goes back as not
        // started (a takeover then records this attempt as abandoned, not as an unknown outcome).
        await persist(() => this.store.updateRun(run.id, { startedAt: null }, owner));
        await persist(() => this.release(held, `instance ${this.instanceId} was stopping: given back before its handler started`));
        return;
      }
      // A takeover of an attempt that had started its handler continues that occurrence: it had its turn already, and
      // skipping it now would record as not run what may have reached the target.
      if (!turnTaken && (job.overlapPolicy !== 'allow' || job.concurrencyLimit !== null)) {
        const reason = await this.waitForTurn(job, run, controller.signal);
        if (controller.signal.reason instanceof LeaseLost) return;
        if (controller.signal.reason instanceof ShutdownAbort) return await giveBack(message(controller.signal.reason));
        if (reason) {
          await settle({ status: 'skipped', error: reason });
          return;
        }
        if (queued && !run.startedAt) await retrying(() => this.store.updateRun(run.id, { startedAt: this.dbNow() }, owner), controller.signal);
      }
      // Fencing right before the handler, not only on the fence's timer: after a freeze the handler's continuation would
      // otherwise run before any timer does.
      if (fenced()) {
        console.warn(`[scheduler] ${this.instanceId}: no confirmed lease of run ${run.id} for 2/3 of the lease; not calling its handler`);
        return;
      }
      const outcome = await this.invoke(job, run, controller, trigger, fenced);
      // The run is (or is about to be) another instance's: leave the record to it.
      if (controller.signal.reason instanceof LeaseLost) {
        console.warn(`[scheduler] ${this.instanceId}: lost the lease of run ${run.id} (attempt ${run.attempt}); left to a takeover`);
        return;
      }
      // Cut short by a shutdown: another instance takes it over as the next attempt (its call may have got through).
      if (controller.signal.reason instanceof ShutdownAbort) return await giveBack(message(controller.signal.reason));
      if ((outcome.status === 'failed' || outcome.status === 'timed-out') && run.attempt < job.retry.maxAttempts) {
        await persist(() => this.scheduleRetry(job, run, outcome));
        return;
      }
      await settle(outcome);
    } finally {
      this.unhold(held);
    }
  }

  /**
   * Ends a failed attempt for a retry (fenced like every run write: only this attempt of this instance) and writes the
   * retry ticket for when the backoff is over. Losing the ticket (crash in between) is covered by the sweep.
   */
  private async scheduleRetry(job: Job, run: Run, outcome: Outcome): Promise<void> {
    const finishedAt = this.dbNow();
    const due = new Date(finishedAt.getTime() + retryDelayMs(job, run.attempt));
    const waiting =
      `attempt ${run.attempt} of ${job.retry.maxAttempts} ${outcome.status === 'timed-out' ? 'timed out' : 'failed'}` +
      `${outcome.error ? `: ${outcome.error}` : ''}; attempt ${run.attempt + 1} at ${due.toISOString()}`;
    const waitingRun = await this.store.retryRun(
      run.id,
      { attempt: run.attempt, instanceId: this.instanceId },
      { status: outcome.status, finishedAt, error: outcome.error, output: outcome.output, waiting: waiting.slice(0, 4_000) },
    );
    if (!waitingRun) return; // taken over meanwhile: the run is another instance's
    await this.saveRetryTicket(job, waitingRun, due).catch((err: unknown) =>
      console.error(`[scheduler] retry ticket for run ${run.id}: ${message(err)} (the safety net retries)`),
    );
  }

  private saveRetryTicket(job: Pick<Job, 'id' | 'version'>, run: Run, due: Date, rescue?: number): Promise<void> {
    return saveTicket(this.agenda, {
      jobId: job.id,
      version: job.version,
      scheduledFor: due.toISOString(),
      trigger: 'retry',
      runId: run.id,
      attempt: run.attempt,
      ...(rescue !== undefined ? { rescue } : {}),
    });
  }

  /** Safety net for retry tickets lost between retryRun and the ticket write: waiting runs overdue by more than the grace. */
  private async rescueRetries(now: Date, rescue: number): Promise<void> {
    const waiting = await this.store.listRuns({ status: 'retrying', limit: 100 });
    for (const run of waiting.items) {
      const job = await this.store.getJob(run.jobId);
      const last = (await this.store.listRunAttempts(run.id)).at(-1);
      // A deleted job's run gets a ticket at once: the claim (handleRetry) closes it.
      let due = now;
      if (job && last) {
        due = new Date(last.finishedAt.getTime() + retryDelayMs(job, last.attempt));
        if (due.getTime() > now.getTime() - this.config.missedGraceMs) continue; // its ticket is still on its way
      }
      await this.saveRetryTicket(job ?? { id: run.jobId, version: 0 }, run, due, rescue).catch((err: unknown) =>
        console.error(`[scheduler] re-enqueue retry of run ${run.id}: ${message(err)}`),
      );
    }
  }

  /**
   * Overlap policy. Returns null when the run may start, else why it is skipped.
   * 'skip': another live run that started first wins. 'queue-one': wait for the live run to finish,
   * unless another run already waits ahead of this one.
   */
  private async waitForTurn(job: Job, run: Run, signal: AbortSignal): Promise<string | null> {
    for (;;) {
      const now = this.dbNow().getTime();
      // Retried while the database is away: giving up here would leave the run 'running' (and block the next
      // occurrences) until its lease expired. Fencing aborts the signal if it stays away too long.
      const running = await retrying(() => this.runningRuns(job.id), signal);
      // A run whose lease expired counts too: its instance is gone, but the occurrence is still going (its takeover
      // continues it within a sweep). Left out, a later occurrence slipped into the gap and overlapped the takeover.
      const others = running.filter((o) => o.id !== run.id && o.leaseExpiresAt !== null);
      const active = others.filter((o) => o.startedAt !== null);
      if (job.concurrencyLimit !== null) {
        // Cluster-wide limit: only runs that started before this one count (the same total order as 'skip'), so of
        // several runs starting at once exactly the first `limit` go ahead, on whichever instances.
        const ahead = active.filter((o) => precedes(o.startedAt!, o.id, run.startedAt ?? new Date(now), run.id)).length;
        if (ahead >= job.concurrencyLimit) {
          const why = `skipped: concurrency limit of ${job.concurrencyLimit} running run(s) reached`;
          if (job.overlapPolicy !== 'queue-one') return why;
          if (signal.aborted) return `skipped: ${message(signal.reason)}`;
          await sleep(Math.min(500, this.config.processEveryMs));
          continue;
        }
        if (job.overlapPolicy === 'allow') return null;
      }
      if (job.overlapPolicy === 'skip') {
        const first = active.find((o) => precedes(o.startedAt!, o.id, run.startedAt ?? new Date(now), run.id));
        return first ? `skipped: the run due at ${first.scheduledFor.toISOString()} was still running` : null;
      }
      const waitingAhead = others.find((o) => o.startedAt === null && precedes(o.scheduledFor, o.id, run.scheduledFor, run.id));
      if (waitingAhead) return `skipped: the run due at ${waitingAhead.scheduledFor.toISOString()} was already queued`;
      // Only an earlier occurrence holds this one back: two runs waiting for each other would wait forever.
      if (!active.some((o) => precedes(o.scheduledFor, o.id, run.scheduledFor, run.id))) return null;
      if (signal.aborted) return `skipped: ${message(signal.reason)}`;
      await sleep(Math.min(500, this.config.processEveryMs));
    }
  }

  /**
   * The job's running runs with a lease, expired or not (all pages). countActiveRuns answers "how many" first (from the
   * epoch: any lease), so the common case lists nothing.
   */
  private async runningRuns(jobId: string): Promise<Run[]> {
    if ((await this.store.countActiveRuns(jobId, new Date(0))) <= 1) return [];
    const runs: Run[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.listRuns({ jobId, status: 'running', limit: 200, cursor });
      runs.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return runs;
  }

  /** Keeps the most recently claimed jobs (bounded; the oldest entry goes first). */
  private rememberJob(job: Job): void {
    this.recentJobs.delete(job.id);
    this.recentJobs.set(job.id, job);
    if (this.recentJobs.size > RECENT_JOBS_LIMIT) this.recentJobs.delete(this.recentJobs.keys().next().value!);
  }

  /**
   * A retry ticket: the next attempt of a failed run. The store's compare-and-set on (status 'retrying', attempt) lets
   * exactly one instance start it, however many tickets (regular, rescue) fire. A job paused or deleted meanwhile is not
   * retried: the run ends with the last attempt's status.
   */
  private async handleRetry(ticket: Ticket, handle: TicketHandle): Promise<void> {
    if (!ticket.runId || ticket.attempt === undefined) return;
    const run = await this.store.getRun(ticket.runId);
    if (!run || run.status !== 'retrying' || run.attempt !== ticket.attempt) return; // started elsewhere, or done
    const job = await this.store.getJob(run.jobId);
    const now = this.dbNow();
    const sent = Date.now();
    const claimed = await this.store.claimRetry(run.id, run.attempt, { instanceId: this.instanceId, at: now, leaseExpiresAt: this.lease(now) });
    await handle.remove();
    if (!claimed) return;
    if (!job || job.paused) {
      const last = (await this.store.listRunAttempts(run.id)).at(-1);
      await this.store.updateRun(
        run.id,
        {
          status: last?.status ?? 'failed',
          startedAt: last?.startedAt ?? null,
          finishedAt: now,
          leaseExpiresAt: null,
          error: `${last?.error ?? 'failed'}; not retried: the job was ${job ? 'paused' : 'deleted'}`,
        },
        { attempt: claimed.attempt, instanceId: this.instanceId },
      );
      return;
    }
    await this.runOwned(job, claimed, this.hold(claimed, handle.agendaJob, sent), 'retry');
  }

  /**
   * Inserts the run record of a run-now, retried while the database is away (bounded by the lease). Null when the
   * occurrence has a record already, unless it is the one an earlier try of ours committed without an answer.
   */
  private async insertOwned(newRun: NewRun): Promise<Run | null> {
    const until = Date.now() + this.config.leaseMs;
    for (let tries = 0; ; tries++) {
      try {
        // A later try starts (and leases) from now, not from the first try.
        const now = this.dbNow();
        const attempt = tries === 0 ? newRun : { ...newRun, startedAt: newRun.startedAt && now, leaseExpiresAt: newRun.leaseExpiresAt && this.lease(now) };
        const run = await this.store.insertRun(attempt);
        if (run || tries === 0) return run;
        const existing = await this.store.getRunByOccurrence(newRun.jobId, newRun.scheduledFor);
        const ours = existing?.instanceId === this.instanceId && existing.status === newRun.status && existing.attempt === newRun.attempt;
        return ours ? existing : null;
      } catch (err) {
        if (Date.now() > until || this.state === 'stopped') throw err;
        await sleep(250);
      }
    }
  }

  /** Runs the handler with a timeout and an abort signal; turns what happened into a run outcome. */
  private async invoke(job: Job, run: Run, controller: AbortController, trigger: DeliveryTrigger, fenced: () => boolean): Promise<Outcome> {
    const output = new OutputBuffer(this.config.outputLimitChars);
    const type = getJobType(job.type);
    if (!type) return { status: 'failed', error: `unknown job type "${job.type}"`, output: null };
    let stored: Record<string, unknown>;
    try {
      // Secrets are stored encrypted (lib/secrets); only the handler sees them in clear.
      stored = revealPayload(job.type, job.payload);
    } catch (err) {
      return { status: 'failed', error: message(err), output: null };
    }
    const payload = type.payloadSchema.safeParse(stored);
    if (!payload.success) {
      const issues = payload.error.issues.map((i) => `${i.path.map(String).join('.') || 'payload'}: ${i.message}`).join('; ');
      return { status: 'failed', error: `invalid payload: ${issues}`, output: null };
    }
    const ctx: JobContext = {
      jobId: job.id,
      jobName: job.name,
      runId: run.id,
      scheduledFor: run.scheduledFor,
      attempt: run.attempt,
      trigger,
      instanceId: this.instanceId,
      signal: controller.signal,
      stillOwned: () => !controller.signal.aborted && !fenced(),
      log: (line) => output.append(String(line)),
    };
    const timeout = setTimeout(() => controller.abort(new TimeoutAbort(job.timeoutSeconds)), job.timeoutSeconds * 1000);
    // A handler that ignores its signal cannot hold the run hostage: the race ends at the abort.
    const aborted = new Promise<never>((_, reject) => {
      if (controller.signal.aborted) reject(controller.signal.reason);
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    aborted.catch(() => undefined);
    const handler = Promise.resolve().then(() => type.run(payload.data, ctx));
    handler.catch(() => undefined);
    try {
      await Promise.race([handler, aborted]);
      return { status: 'succeeded', error: null, output: output.toString() };
    } catch (err) {
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : err;
      if (reason instanceof TimeoutAbort) return { status: 'timed-out', error: reason.message, output: output.toString() };
      // Cut short by a shutdown past its grace period: the caller gives the run back for a takeover.
      if (reason instanceof ShutdownAbort) return { status: 'unknown', error: reason.message, output: output.toString() };
      return { status: 'failed', error: message(err).slice(0, 4_000) || 'failed', output: output.toString() };
    } finally {
      clearTimeout(timeout);
    }
  }
}

/** Calls `fn` until it succeeds, every 250 ms; rethrows once `signal` is aborted. */
async function retrying<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (signal.aborted) throw err;
      await sleep(250);
    }
  }
}

/** Backoff before attempt `failed + 1`: min(backoffSeconds * 2^(failed - 1), maxBackoffSeconds). */
export function retryDelayMs(job: Pick<Job, 'retry'>, failed: number): number {
  const { backoffSeconds, maxBackoffSeconds } = job.retry;
  return Math.min(backoffSeconds * 2 ** Math.max(0, failed - 1), maxBackoffSeconds) * 1000;
}

/** Total order of runs for tie-breaks: earlier time first, then smaller id. */
function precedes(aTime: Date, aId: string, bTime: Date, bId: string): boolean {
  return aTime.getTime() < bTime.getTime() || (aTime.getTime() === bTime.getTime() && aId < bId);
}
