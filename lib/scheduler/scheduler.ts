import 'server-only';
import { Agenda, type AgendaBackend, type Job as AgendaJob } from 'agenda';
import { hostname } from 'node:os';
import packageJson from '../../package.json' with { type: 'json' };
import { getJobType } from '../jobs/registry';
import type { JobContext } from '../jobs/define';
import { nextOccurrence } from '../schedule';
import { revealPayload } from '../secrets';
import type { Job, Run, RunStatus, RunTrigger, Store } from '../store/types';
import { TICKET_NAME, type SchedulerConfig } from './config';
import { OutputBuffer } from './output';
import { saveTicket, TicketSchema, type Ticket } from './tickets';

type SchedulerState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Abort reason when a stopping instance gives up on a handler after its grace period. */
class ShutdownAbort extends Error {
  constructor(instanceId: string) {
    super(`instance ${instanceId} shut down before the run finished`);
    this.name = 'ShutdownAbort';
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
      lockLimit: config.concurrency,
      defaultLockLifetime: config.lockLifetimeMs,
    });
    this.agenda.define<Ticket>(TICKET_NAME, (agendaJob) => this.track(this.handleTicket(agendaJob)), {
      concurrency: config.concurrency,
      lockLimit: config.concurrency,
      lockLifetime: config.lockLifetimeMs,
    });
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
    await this.agenda.start();
    this.every(this.config.heartbeatMs, () => this.heartbeat());
    this.every(this.config.sweepEveryMs, () => this.sweep());
    this.state = 'running';
    console.log(
      `[scheduler] instance ${this.instanceId} started on ${this.store.description} ` +
        `(poll ${this.config.processEveryMs} ms, concurrency ${this.config.concurrency}, lock ${this.config.lockLifetimeMs} ms)`,
    );
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

  /** Creates the ticket for job.nextRunAt (no-op when paused or without a next occurrence). */
  async enqueueOccurrence(job: Job): Promise<void> {
    if (job.paused || !job.nextRunAt) return;
    await saveTicket(this.agenda, { jobId: job.id, version: job.version, scheduledFor: job.nextRunAt.toISOString(), trigger: 'schedule' });
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
      await saveTicket(this.agenda, { jobId: job.id, version: job.version, scheduledFor: job.nextRunAt.toISOString(), trigger: 'schedule', rescue }).catch(
        (err: unknown) => console.error(`[scheduler] re-enqueue ${job.id}: ${message(err)}`),
      );
    }
    const expired = await this.store.listExpiredRuns(now, 100);
    for (const run of expired) {
      if (this.executions.has(run.id)) continue;
      await this.store.updateRun(run.id, {
        status: 'abandoned',
        finishedAt: now,
        leaseExpiresAt: null,
        error: `instance ${run.instanceId ?? '?'} stopped renewing the run's lease (crashed or lost the database)`,
      });
    }
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
      if (ticket.trigger === 'manual') {
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
    const job = await this.store.getJob(ticket.jobId);
    // The row is the source of truth: a ticket for another occurrence, a paused or a deleted job is stale. The
    // version is deliberately not compared: an edit that keeps the schedule (payload, name...) bumps it without a
    // new ticket, and the pending occurrence is still owed. The CAS below uses the version just read.
    if (!job || job.paused || job.nextRunAt?.getTime() !== scheduledFor.getTime()) return;

    const now = this.dbNow();
    const grace = this.config.missedGraceMs;
    const late = now.getTime() - scheduledFor.getTime() > grace;
    // Anchored on the due time, not on now, so occurrences never drift.
    let next = nextOccurrence(job.schedule, scheduledFor, job.anchorAt);
    if (next && job.missedPolicy !== 'run-all' && next.getTime() < now.getTime() - grace) {
      // Instances were down: do not replay every missed occurrence, continue with the first future one.
      next = nextOccurrence(job.schedule, now, job.anchorAt);
    }
    // Compare-and-set: of all instances holding a ticket for this occurrence, exactly one moves the pointer.
    const won = await this.store.advanceJob(job.id, { version: job.version, nextRunAt: scheduledFor }, next);
    if (!won) return;
    if (next) {
      await this.enqueueOccurrence({ ...job, nextRunAt: next }).catch((err: unknown) =>
        console.error(`[scheduler] enqueue next occurrence of ${job.id}: ${message(err)} (the safety net retries)`),
      );
    }
    if (late && job.missedPolicy === 'skip') {
      await this.store.insertRun({
        jobId: job.id,
        jobName: job.name,
        scheduledFor,
        startedAt: null,
        finishedAt: now,
        status: 'missed',
        trigger: 'schedule',
        instanceId: this.instanceId,
        attempt: 1,
        error: `due at ${scheduledFor.toISOString()}, no instance could start it before ${now.toISOString()}`,
        output: null,
        leaseExpiresAt: null,
      });
      return;
    }
    await this.execute(job, scheduledFor, late ? 'catch-up' : 'schedule', agendaJob);
  }

  private lease(from: Date = this.dbNow()): Date {
    return new Date(from.getTime() + this.config.leaseMs);
  }

  /** Records and runs one occurrence. The (job, scheduledFor) unique key makes it run at most once. */
  private async execute(job: Job, scheduledFor: Date, trigger: RunTrigger, agendaJob: AgendaJob<Ticket>): Promise<void> {
    const queued = job.overlapPolicy === 'queue-one';
    const start = this.dbNow();
    const run = await this.store.insertRun({
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

    const controller = new AbortController();
    this.executions.set(run.id, { run, controller });
    let renewing = false;
    const renew = setInterval(() => {
      if (renewing) return;
      renewing = true;
      Promise.all([
        this.store.updateRun(run.id, { leaseExpiresAt: this.lease() }),
        // Keeps Agenda from handing the ticket to another instance while this run goes on.
        agendaJob.touch(),
      ])
        .catch((err: unknown) => console.error(`[scheduler] renew lease of run ${run.id}: ${message(err)}`))
        .finally(() => {
          renewing = false;
        });
    }, Math.max(250, Math.floor(Math.min(this.config.leaseMs, this.config.lockLifetimeMs) / 3)));
    renew.unref();
    try {
      if (job.overlapPolicy !== 'allow') {
        const reason = await this.waitForTurn(job, run, controller.signal);
        if (reason) {
          await this.store.updateRun(run.id, { status: 'skipped', finishedAt: this.dbNow(), leaseExpiresAt: null, error: reason });
          return;
        }
        if (queued) await this.store.updateRun(run.id, { startedAt: this.dbNow() });
      }
      const outcome = await this.invoke(job, run, controller);
      await this.store.updateRun(run.id, { ...outcome, finishedAt: this.dbNow(), leaseExpiresAt: null });
    } finally {
      clearInterval(renew);
      this.executions.delete(run.id);
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
      const page = await this.store.listRuns({ jobId: job.id, status: 'running', limit: 100 });
      const others = page.items.filter((o) => o.id !== run.id && o.leaseExpiresAt !== null && o.leaseExpiresAt.getTime() > now);
      const active = others.filter((o) => o.startedAt !== null);
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

/** Total order of runs for tie-breaks: earlier time first, then smaller id. */
function precedes(aTime: Date, aId: string, bTime: Date, bId: string): boolean {
  return aTime.getTime() < bTime.getTime() || (aTime.getTime() === bTime.getTime() && aId < bId);
}
