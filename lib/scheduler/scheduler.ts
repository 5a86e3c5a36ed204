import 'server-only';
import { MongoBackend, MongoChangeStreamNotificationChannel } from '@agendajs/mongo-backend';
import { Agenda, type AgendaBackend, type Job as AgendaJob } from 'agenda';
import { hostname } from 'node:os';
import packageJson from '../../package.json' with { type: 'json' };
import { getJobType } from '../jobs/registry';
import type { JobContext } from '../jobs/define';
import { nextOccurrence } from '../schedule';
import { revealPayload } from '../secrets';
import type { Job, NewRun, Run, RunPatch, RunStatus, RunTrigger, Store } from '../store/types';
import { guardBackendErrors, muteStateNotifications, skipDistantNotifications, skipTicketStateSaves } from './backend';
import { installQueueFilling } from './queue-filling';
import { TICKET_NAME, type SchedulerConfig } from './config';
import { OutputBuffer } from './output';
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

interface Execution {
  run: Run;
  controller: AbortController;
}

/** How often each instance compacts Agenda's table (Store.compactTickets): dead index entries cost every lock scan. */
const TICKET_COMPACT_EVERY_MS = 5_000;
/** How many claimed jobs an instance remembers (a job's row is then not read again for its next occurrence). */
const RECENT_JOBS_LIMIT = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** A deadline for Promise.race that does not keep the process alive once the race is decided. */
const deadline = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One instance's scheduler: an Agenda worker over the store's Agenda backend plus the loops that keep
 * it honest (heartbeat, overdue-job safety net, expired-lease sweeper). The job row decides what runs;
 * Agenda only delivers "tickets" (one-off Agenda jobs) at the right moment to one instance.
 */
export class Scheduler {
  readonly agenda: Agenda;
  private readonly backend: AgendaBackend;
  readonly startedAt = new Date();
  private state: SchedulerState = 'created';
  /** Local clock minus database clock; leases and lateness are judged on the database's clock. */
  private skewMs = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly executions = new Map<string, Execution>();
  /** Every ticket handler in flight, so a graceful stop can wait for them. */
  private readonly handling = new Set<Promise<void>>();
  private stopPromise: Promise<void> | null = null;
  private changeStream: MongoChangeStreamNotificationChannel | undefined;
  /** The jobs this instance claimed an occurrence of lately, as it left them: see handleScheduled. */
  private readonly recentJobs = new Map<string, Job>();
  /** Renews a running ticket's Agenda lock (Agenda's own state saves of tickets are skipped). */
  private readonly renewTicketLock: (ticket: AgendaJob) => Promise<void>;

  constructor(
    readonly store: Store,
    readonly instanceId: string,
    readonly config: SchedulerConfig,
  ) {
    this.backend = store.createAgendaBackend();
    this.agenda = new Agenda({
      backend: this.backend,
      // Shows up as last_modified_by on Agenda's rows: which instance touched a ticket last.
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
    this.renewTicketLock = skipTicketStateSaves(this.backend, TICKET_NAME);
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

  /** Now, on the database's clock (as of the last heartbeat). */
  dbNow(): Date {
    return new Date(Date.now() - this.skewMs);
  }

  async start(): Promise<void> {
    if (this.state !== 'created') return;
    this.state = 'starting';
    await this.heartbeat();
    await this.useChangeStreamIfAvailable();
    await this.agenda.start();
    if (!installQueueFilling(this.agenda, this.backend)) {
      console.warn(`[scheduler] ${this.instanceId}: Agenda's job processor is not the expected shape; keeping its own queue filling`);
    }
    this.every(this.config.heartbeatMs, () => this.heartbeat());
    this.every(this.config.sweepEveryMs, () => this.sweep());
    this.every(TICKET_COMPACT_EVERY_MS, () => this.store.compactTickets());
    this.state = 'running';
    console.log(
      `[scheduler] instance ${this.instanceId} started on ${this.store.description} ` +
        `(poll ${this.config.processEveryMs} ms, concurrency ${this.config.concurrency}, lock limit ${this.config.lockLimit}, lock ${this.config.lockLifetimeMs} ms)`,
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
   * Graceful stop: take no new tickets (tickets locked but not started are unlocked for others), let running
   * handlers finish within the grace period, abort and mark the rest abandoned, then record the instance as stopped.
   */
  stop(graceMs = this.config.shutdownGraceMs): Promise<void> {
    this.stopPromise ??= this.doStop(graceMs);
    return this.stopPromise;
  }

  private async doStop(graceMs: number): Promise<void> {
    const wasStarted = this.state !== 'created';
    this.state = 'stopping';
    for (const timer of this.timers) clearInterval(timer);
    if (wasStarted) {
      // stop(false): unlock queued tickets but keep the pool open for the handlers still running.
      await this.agenda.stop(false).catch((err: unknown) => console.error(`[scheduler] agenda stop: ${message(err)}`));
      const allDone = (): Promise<boolean> => Promise.allSettled([...this.handling]).then(() => true);
      const finished = await Promise.race([allDone(), deadline(graceMs).then(() => false)]);
      if (!finished) {
        console.warn(`[scheduler] ${this.instanceId}: ${this.executions.size} run(s) still going after ${graceMs} ms, abandoning them`);
        for (const execution of this.executions.values()) execution.controller.abort(new ShutdownAbort(this.instanceId));
        // The abort settles each handler at once; this only bounds the final database writes.
        await Promise.race([allDone(), deadline(5_000)]);
      }
      await this.heartbeat(true).catch((err: unknown) => console.error(`[scheduler] final heartbeat: ${message(err)}`));
      // agenda.stop(false) left the pool open; Agenda has no processor any more, so close it directly.
      await this.backend.disconnect().catch((err: unknown) => console.error(`[scheduler] close agenda backend: ${message(err)}`));
    }
    this.state = 'stopped';
    console.log(`[scheduler] instance ${this.instanceId} stopped`);
  }

  /**
   * Creates the ticket for job.nextRunAt (no-op when paused or without a next occurrence). Called only by the instance
   * whose compare-and-set moved the job to that occurrence, so no other writer makes the same ticket: saved without
   * Agenda's dedup (a stray duplicate would be dropped when it fires anyway).
   */
  async enqueueOccurrence(job: Job, replay = false): Promise<void> {
    if (job.paused || !job.nextRunAt) return;
    await saveTicket(
      this.agenda,
      { jobId: job.id, version: job.version, scheduledFor: job.nextRunAt.toISOString(), trigger: 'schedule', ...(replay ? { replay } : {}) },
      { leadMs: this.config.prefetchMs, dedup: false },
    );
  }

  private every(ms: number, fn: () => Promise<unknown>): void {
    let busy = false;
    const timer = setInterval(() => {
      // Skip a beat rather than pile up calls when the database is slow.
      if (busy || this.state !== 'running') return;
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

  /** Writes the heartbeat and measures clock skew against the database. */
  private async heartbeat(stopped = false): Promise<void> {
    const before = Date.now();
    const dbNow = await this.store.now();
    const after = Date.now();
    this.skewMs = Math.round((before + after) / 2 - dbNow.getTime());
    const stoppedAt = stopped ? this.dbNow() : null;
    await this.store.upsertInstance({
      id: this.instanceId,
      host: hostname(),
      pid: process.pid,
      version: packageJson.version,
      startedAt: this.startedAt,
      lastSeenAt: stoppedAt ?? this.dbNow(),
      clockSkewMs: this.skewMs,
      stoppedAt,
    });
  }

  /** Safety net: re-enqueue overdue occurrences (lost tickets) and close runs whose instance vanished. */
  private async sweep(): Promise<void> {
    const now = this.dbNow();
    const due = await this.store.listDueJobs(new Date(now.getTime() - this.config.missedGraceMs), 100);
    // One rescue ticket per overdue occurrence and lock lifetime: the regular ticket may be lost (crash between
    // the job write and the enqueue) or locked by a dead instance until its lock expires. Duplicates are harmless.
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
    await this.rescueRetries(now, rescue).catch((err: unknown) => console.error(`[scheduler] rescue retries: ${message(err)}`));
    const expired = await this.store.listExpiredRuns(now, 100);
    for (const run of expired) {
      if (this.executions.has(run.id) || this.state !== 'running') continue;
      await this.takeOver(run, now).catch((err: unknown) => console.error(`[scheduler] take over run ${run.id}: ${message(err)}`));
    }
  }

  /** True when the job's latest run is part of a run-all replay (a catch-up, or the 'missed' record that began it). */
  private async replaying(job: Job): Promise<boolean> {
    const latest = (await this.store.listRuns({ jobId: job.id, limit: 1 })).items[0];
    return latest !== undefined && (latest.trigger === 'catch-up' || latest.status === 'missed');
  }

  /**
   * A run whose lease expired: its instance died (or lost the database longer than the lease). The occurrence is
   * still owed, so it is taken over as the next attempt of the same run (same (job, scheduledFor) row), unless the
   * job is gone or the run already used its takeover attempts; then it is closed as abandoned. The store's
   * compare-and-set lets exactly one instance take it over.
   */
  private async takeOver(run: Run, now: Date): Promise<void> {
    const lost = `instance ${run.instanceId ?? '?'} stopped renewing the run's lease (crashed or lost the database)`;
    const job = await this.store.getJob(run.jobId);
    // Retries use attempts too: a job allowing more of them than the takeover limit keeps its own.
    if (!job || run.attempt >= Math.max(this.config.maxTakeoverAttempts, job.retry.maxAttempts)) {
      const why = job ? `; not retried after ${run.attempt} attempt(s)` : '; its job was deleted';
      await this.store.updateRun(
        run.id,
        { status: 'abandoned', finishedAt: now, leaseExpiresAt: null, error: `${lost}${why}` },
        { attempt: run.attempt, instanceId: run.instanceId },
      );
      return;
    }
    // A full instance leaves the run to the others (their sweep finds it too), like Agenda's lock limit does for tickets.
    if (this.executions.size >= this.config.concurrency) return;
    const taken = await this.store.takeOverRun(
      run.id,
      { attempt: run.attempt, leaseExpiredBefore: now },
      { instanceId: this.instanceId, at: now, leaseExpiresAt: this.lease(now), error: `${lost}; taken over by ${this.instanceId}` },
    );
    if (!taken) return; // renewed after all, finished, or another instance was faster
    console.warn(`[scheduler] ${this.instanceId}: took over run ${run.id} of ${job.name} (attempt ${taken.attempt}) from ${run.instanceId ?? '?'}`);
    // Not awaited: the sweep goes on; the handler is tracked so a graceful stop waits for it.
    void this.track(this.runOwned(job, taken, null).catch((err: unknown) => console.error(`[scheduler] run ${run.id}: ${message(err)}`)));
  }

  /** Agenda's handler for one ticket. Never throws: outcomes live in our runs table, not in Agenda. */
  private async handleTicket(agendaJob: AgendaJob<Ticket>): Promise<void> {
    try {
      const parsed = TicketSchema.safeParse(agendaJob.attrs.data);
      if (!parsed.success) {
        console.warn(`[scheduler] dropping malformed ticket ${String(agendaJob.attrs._id)}`);
        return;
      }
      const ticket = parsed.data;
      if (ticket.trigger === 'retry') {
        await this.handleRetry(ticket, agendaJob);
      } else if (ticket.trigger === 'manual') {
        const job = await this.store.getJob(ticket.jobId);
        if (job) await this.execute(job, new Date(ticket.scheduledFor), 'manual', agendaJob);
      } else {
        await this.handleScheduled(ticket, agendaJob);
      }
    } catch (err) {
      // Typically the database: the job stays overdue and the safety net re-enqueues it.
      console.error(`[scheduler] ticket ${String(agendaJob.attrs._id)} failed: ${message(err)}`);
    } finally {
      // Done tickets go, so Agenda's table holds only pending work. Agenda's own final save then
      // finds no row, which it ignores by design.
      await agendaJob.remove().catch(() => undefined);
    }
  }

  private async handleScheduled(ticket: Ticket, agendaJob: AgendaJob<Ticket>): Promise<void> {
    const scheduledFor = new Date(ticket.scheduledFor);
    const now = this.dbNow();
    const grace = this.config.missedGraceMs;
    const late = now.getTime() - scheduledFor.getTime() > grace;
    // The job as this instance left it when it claimed the previous occurrence saves a read; the CAS below checks it
    // (version and pointer), and a failed CAS on a remembered copy reads the row and tries once more.
    let remembered = this.recentJobs.get(ticket.jobId);
    if (remembered?.nextRunAt?.getTime() !== scheduledFor.getTime()) remembered = undefined;
    let current = remembered ?? (await this.store.getJob(ticket.jobId));
    let job: Job;
    let planned: { next: Date | null; dropped: number };
    for (;;) {
      // The row is the source of truth: a ticket for another occurrence, a paused or a deleted job is stale. The
      // version is deliberately not compared with the ticket's: an edit that keeps the schedule (payload, name...)
      // bumps it without a new ticket, and the pending occurrence is still owed. The CAS uses the version just read.
      if (!current || current.paused || current.nextRunAt?.getTime() !== scheduledFor.getTime()) {
        this.recentJobs.delete(ticket.jobId);
        return;
      }
      job = current;
      planned = this.planNext(job, ticket, now);
      // Compare-and-set: of all instances holding a ticket for this occurrence, exactly one moves the pointer.
      if (await this.store.advanceJob(job.id, { version: job.version, nextRunAt: scheduledFor }, planned.next)) break;
      this.recentJobs.delete(ticket.jobId);
      if (!remembered) return;
      remembered = undefined;
      current = await this.store.getJob(ticket.jobId);
    }
    const { next, dropped } = planned;
    this.rememberJob({ ...job, nextRunAt: next });
    const replay = next !== null && job.missedPolicy === 'run-all' && next.getTime() < now.getTime() - grace;
    const enqueueNext = async (): Promise<void> => {
      if (!next) return;
      await this.enqueueOccurrence({ ...job, nextRunAt: next }, replay).catch((err: unknown) =>
        console.error(`[scheduler] enqueue next occurrence of ${job.id}: ${message(err)} (the safety net retries)`),
      );
    };
    // A replay's next ticket is due at once: written before this run ended, it would start beside it and its overlap
    // policy would skip it. So a replay goes on one occurrence after the other (a crash in between: the sweep).
    if (!replay) await enqueueNext();
    try {
      if (late && (job.missedPolicy === 'skip' || dropped > 0)) {
        const why =
          dropped > 0
            ? `; this and ${dropped - 1} later occurrence(s) up to ${next?.toISOString() ?? 'now'} (exclusive) were not replayed (run-all limit ${this.config.runAllLimit})`
            : '';
        await this.insertOwned({
          jobId: job.id,
          jobName: job.name,
          scheduledFor,
          startedAt: null,
          finishedAt: now,
          status: 'missed',
          trigger: 'schedule',
          instanceId: this.instanceId,
          attempt: 1,
          error: `due at ${scheduledFor.toISOString()}, no instance could start it before ${now.toISOString()}${why}`,
          output: null,
          leaseExpiresAt: null,
        });
        return;
      }
      // The ticket fired up to prefetchMs early (the claim above happened meanwhile): start when due, on the database's
      // clock. Always waited out, even while stopping: the pointer has moved on, so nobody else would run it.
      let wait: number;
      while ((wait = scheduledFor.getTime() - this.dbNow().getTime()) > 0) await sleep(wait);
      await this.execute(job, scheduledFor, late ? 'catch-up' : 'schedule', agendaJob);
    } finally {
      if (replay) await enqueueNext();
    }
  }

  /**
   * The occurrence after `ticket`'s, anchored on its due time (not on now, so occurrences never drift), with the missed
   * policy applied when instances were down: `dropped` > 0 when a run-all replay was cut to its limit.
   */
  private planNext(job: Job, ticket: Ticket, now: Date): { next: Date | null; dropped: number } {
    const scheduledFor = new Date(ticket.scheduledFor);
    const grace = this.config.missedGraceMs;
    const next = nextOccurrence(job.schedule, scheduledFor, job.anchorAt);
    if (!next || next.getTime() >= now.getTime() - grace) return { next, dropped: 0 };
    // Instances were down: do not replay every missed occurrence, continue with the first future one.
    if (job.missedPolicy !== 'run-all') return { next: nextOccurrence(job.schedule, now, job.anchorAt), dropped: 0 };
    if (ticket.replay) return { next, dropped: 0 };
    // Replay the missed occurrences one after another, but at most the last runAllLimit of them (this one included).
    const window = lastOccurrences(job, scheduledFor, new Date(now.getTime() - grace), this.config.runAllLimit);
    return window.dropped > 0 ? { next: window.first, dropped: window.dropped } : { next, dropped: 0 };
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
  private async handleRetry(ticket: Ticket, agendaJob: AgendaJob<Ticket>): Promise<void> {
    if (!ticket.runId || ticket.attempt === undefined) return;
    const run = await this.store.getRun(ticket.runId);
    if (!run || run.status !== 'retrying' || run.attempt !== ticket.attempt) return; // started elsewhere, or done
    const job = await this.store.getJob(run.jobId);
    const now = this.dbNow();
    const claimed = await this.store.claimRetry(run.id, run.attempt, { instanceId: this.instanceId, at: now, leaseExpiresAt: this.lease(now) });
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
    await this.runOwned(job, claimed, agendaJob);
  }

  private lease(from: Date = this.dbNow()): Date {
    return new Date(from.getTime() + this.config.leaseMs);
  }

  /**
   * Inserts the run record of an occurrence this instance may claim, retried while the database is away: once the
   * job's pointer has moved past the occurrence, nobody else will ever insert it, so giving up here would lose it
   * (a database restart right at the due time did). Bounded by the lock lifetime and the lease. Null when the
   * occurrence has a record already, unless it is the one an earlier try of ours committed without an answer, and
   * for a scheduled occurrence of a job paused or deleted since it was claimed.
   */
  private async insertOwned(newRun: NewRun): Promise<Run | null> {
    const until = Date.now() + Math.min(this.config.lockLifetimeMs, this.config.leaseMs);
    for (let tries = 0; ; tries++) {
      try {
        // A later try starts (and leases) from now, not from the first try.
        const now = this.dbNow();
        const attempt = tries === 0 ? newRun : { ...newRun, startedAt: newRun.startedAt && now, leaseExpiresAt: newRun.leaseExpiresAt && this.lease(now) };
        // A scheduled occurrence is claimed up to the prefetch lead before it starts: a pause (or delete) meanwhile
        // wins, so nothing starts after pauseJob returned. A manual run is for paused jobs too.
        const run = await this.store.insertRun(attempt, { onlyIfJobActive: newRun.trigger !== 'manual' });
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

  /** Records and runs one occurrence. The (job, scheduledFor) unique key makes it run at most once. */
  private async execute(job: Job, scheduledFor: Date, trigger: RunTrigger, agendaJob: AgendaJob<Ticket>): Promise<void> {
    const queued = job.overlapPolicy === 'queue-one';
    const start = this.dbNow();
    const run = await this.insertOwned({
      jobId: job.id,
      jobName: job.name,
      scheduledFor,
      // A queue-one run waiting for its predecessor has no start yet: that is how others see it waiting.
      startedAt: queued ? null : start,
      finishedAt: null,
      status: 'running',
      trigger,
      instanceId: this.instanceId,
      attempt: 1,
      error: null,
      output: null,
      leaseExpiresAt: this.lease(start),
    });
    if (!run) return; // this occurrence already ran (or runs) elsewhere
    await this.runOwned(job, run, agendaJob);
  }

  /**
   * Runs a run this instance owns (inserted here, or taken over): renews its lease (and the ticket's Agenda lock)
   * while the handler runs, and writes the outcome. Every write is guarded by (attempt, instance): once another
   * instance has taken the run over, this one can no longer touch it, and it stops its handler (self-fencing).
   */
  private async runOwned(job: Job, run: Run, agendaJob: AgendaJob<Ticket> | null): Promise<void> {
    const queued = job.overlapPolicy === 'queue-one';
    const owner = { attempt: run.attempt, instanceId: this.instanceId };
    const controller = new AbortController();
    this.executions.set(run.id, { run, controller });
    // Renewal every third of the lease (and of the Agenda lock). Fencing, on the local clock: when no renewal was
    // confirmed for 2/3 of the lease, the handler is stopped. Checked every sixth, so it stops by 5/6 of the lease after
    // the last confirmed renewal was sent, while that renewal's lease (database time) runs until a full lease after:
    // the dead-or-cut-off owner stops before anyone may take over, as long as clock error stays under lease / 6.
    const renewEvery = Math.max(100, Math.floor(Math.min(this.config.leaseMs, this.config.lockLifetimeMs) / 3));
    let renewedAt = Date.now();
    let attemptedAt = Date.now();
    let renewing = false;
    const renew = setInterval(() => {
      if (Date.now() - renewedAt > (this.config.leaseMs * 2) / 3) controller.abort(new LeaseLost(this.instanceId));
      if (renewing || controller.signal.aborted || Date.now() - attemptedAt < renewEvery) return;
      renewing = true;
      const sentAt = Date.now();
      attemptedAt = sentAt;
      Promise.all([
        this.store.updateRun(run.id, { leaseExpiresAt: this.lease() }, owner),
        // Keeps Agenda from handing the ticket to another instance while this run goes on.
        agendaJob && this.renewTicketLock(agendaJob),
      ])
        .then(([renewed]) => {
          if (renewed) renewedAt = sentAt;
          else controller.abort(new LeaseLost(this.instanceId));
        })
        .catch((err: unknown) => console.error(`[scheduler] renew lease of run ${run.id}: ${message(err)}`))
        .finally(() => {
          renewing = false;
        });
    }, Math.max(50, Math.floor(renewEvery / 2)));
    renew.unref();
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
          if (controller.signal.reason instanceof LeaseLost || Date.now() - renewedAt > (this.config.leaseMs * 2) / 3) {
            console.error(`[scheduler] ${this.instanceId}: could not record the outcome of run ${run.id}: ${message(err)}; left to a takeover`);
            return;
          }
          await sleep(250);
        }
      }
    };
    const settle = (patch: RunPatch): Promise<void> =>
      persist(() => this.store.updateRun(run.id, { ...patch, finishedAt: this.dbNow(), leaseExpiresAt: null }, owner));
    try {
      if (job.overlapPolicy !== 'allow' || job.concurrencyLimit !== null) {
        const reason = await this.waitForTurn(job, run, controller.signal);
        if (controller.signal.reason instanceof LeaseLost) return;
        if (reason) {
          await settle({ status: 'skipped', error: reason });
          return;
        }
        if (queued && !run.startedAt) await retrying(() => this.store.updateRun(run.id, { startedAt: this.dbNow() }, owner), controller.signal);
      }
      const outcome = await this.invoke(job, run, controller);
      // The run is (or is about to be) another instance's: leave the record to it.
      if (controller.signal.reason instanceof LeaseLost) {
        console.warn(`[scheduler] ${this.instanceId}: lost the lease of run ${run.id} (attempt ${run.attempt}); left to a takeover`);
        return;
      }
      if ((outcome.status === 'failed' || outcome.status === 'timed-out') && run.attempt < job.retry.maxAttempts) {
        await persist(() => this.scheduleRetry(job, run, outcome));
        return;
      }
      await settle(outcome);
    } finally {
      clearInterval(renew);
      this.executions.delete(run.id);
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
      const others = running.filter((o) => o.id !== run.id && o.leaseExpiresAt !== null && o.leaseExpiresAt.getTime() > now);
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
      if (active.length === 0) return null;
      if (signal.aborted) return `skipped: ${message(signal.reason)}`;
      await sleep(Math.min(500, this.config.processEveryMs));
    }
  }

  /** The job's running runs (all pages). countActiveRuns answers "how many" first, so the common case lists nothing. */
  private async runningRuns(jobId: string): Promise<Run[]> {
    if ((await this.store.countActiveRuns(jobId, this.dbNow())) <= 1) return [];
    const runs: Run[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.listRuns({ jobId, status: 'running', limit: 200, cursor });
      runs.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return runs;
  }

  /** Runs the handler with a timeout and an abort signal; turns what happened into a run outcome. */
  private async invoke(job: Job, run: Run, controller: AbortController): Promise<Outcome> {
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
      trigger: run.trigger,
      instanceId: this.instanceId,
      signal: controller.signal,
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
      if (reason instanceof ShutdownAbort) return { status: 'abandoned', error: reason.message, output: output.toString() };
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

/** Most occurrences walked to bound a run-all replay: beyond it (a per-second cron down for a day), older ones are dropped too. */
const MAX_WALK = 200_000;

/**
 * For run-all: the occurrences from `from` (inclusive) up to `until` (inclusive), keeping only the last `limit`.
 * `first` is the earliest kept one (or the first after `until` when the walk was cut short); `dropped` counts those before it.
 */
function lastOccurrences(job: Job, from: Date, until: Date, limit: number): { first: Date | null; dropped: number } {
  const kept: Date[] = [from];
  let dropped = 0;
  let cursor = from;
  for (let walked = 0; walked < MAX_WALK; walked++) {
    const next = nextOccurrence(job.schedule, cursor, job.anchorAt);
    if (!next || next.getTime() > until.getTime()) return { first: dropped > 0 ? kept[0]! : from, dropped };
    kept.push(next);
    if (kept.length > limit) {
      kept.shift();
      dropped++;
    }
    cursor = next;
  }
  return { first: nextOccurrence(job.schedule, until, job.anchorAt), dropped: dropped + kept.length };
}

/** Total order of runs for tie-breaks: earlier time first, then smaller id. */
function precedes(aTime: Date, aId: string, bTime: Date, bId: string): boolean {
  return aTime.getTime() < bTime.getTime() || (aTime.getTime() === bTime.getTime() && aId < bId);
}
