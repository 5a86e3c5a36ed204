import 'server-only';
import { errorMessage } from '../log';
import { nextOccurrence } from '../schedule';
import type { Job, NewRun, Run, Store } from '../store/types';
import { pause, sleep } from './aborts';
import type { ExecutionSystem } from './execution';
import type { Held } from './leases';
import { planClaim } from './plan';
import { leaseFrom, type SchedulerResources } from './resources';
import { saveTicket, type Ticket, type TicketHandle } from './tickets';

/** How many claimed jobs an instance remembers (a job's row is then not read again for its next occurrence). */
const RECENT_JOBS_LIMIT = 10_000;

/**
 * Claiming: a due occurrence becomes a run record ('claimed', with a lease) in the same write that moves its job's
 * pointer past it (Store.claimOccurrence), so it is owed by a record from then on, never only by an instance's memory;
 * the claim then starts at its due time, in order. Run-now tickets are claimed here too.
 */
export class ClaimSystem {
  /** The jobs this instance claimed an occurrence of lately, as it left them: see handleScheduled. */
  private readonly recentJobs = new Map<string, Job>();
  /**
   * The smallest lag (start - due) of the claims this instance started since the last takeStartLagMs: how late the
   * line is (a replay's deliberately old occurrences do not lengthen it; one on-time start shortens it to nothing).
   */
  private startLagMs = Number.POSITIVE_INFINITY;

  constructor(
    private readonly res: SchedulerResources,
    private readonly execution: ExecutionSystem,
    /** True when this instance's own heartbeat row shows it alive at that time (see Heartbeat.recordedAliveAt). */
    private readonly selfAliveAt: (at: Date) => boolean = () => false,
  ) {}

  /**
   * Creates the ticket for job.nextRunAt (no-op when paused or without a next occurrence). Called only by the instance
   * whose claim moved the job to that occurrence, so no other writer makes the same ticket: saved without Agenda's
   * dedup (a stray duplicate would be dropped when it fires anyway).
   */
  async enqueueOccurrence(job: Job, replay = false): Promise<void> {
    if (job.paused || !job.nextRunAt) return;
    await saveTicket(
      this.res.agenda,
      {
        jobId: job.id,
        version: job.version,
        scheduledFor: job.nextRunAt.toISOString(),
        trigger: 'schedule',
        ...(replay ? { replay } : {}),
      },
      { leadMs: this.res.config.prefetchMs, dedup: false },
    );
  }
  /**
   * A schedule ticket, fired up to the prefetch lead before its occurrence is due. The job row says whether the
   * occurrence is still owed; the claim records it and moves the pointer in one step (Store.claimOccurrence); the
   * ticket is deleted at once (the run record is the claim from then on); the run starts at its due time.
   */
  async handleScheduled(ticket: Ticket, handle: TicketHandle): Promise<void> {
    const scheduledFor = new Date(ticket.scheduledFor);
    // The job as this instance last claimed it saves a read, also when other instances claimed the occurrences since:
    // the claim checks the version (every edit bumps it) and the pointer at this ticket's occurrence, and a stale
    // remembered copy is read again once. (With three instances, two reads in three were spent on unchanged jobs.)
    const known = this.recentJobs.get(ticket.jobId);
    let remembered: Job | undefined = known && !known.paused ? { ...known, nextRunAt: scheduledFor } : undefined;
    let current = remembered ?? (await this.res.store.getJob(ticket.jobId));
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
      const now = this.res.clock.now();
      const late = now.getTime() - scheduledFor.getTime() > this.res.config.missedGraceMs;
      plan = planClaim({
        job,
        scheduledFor,
        now,
        graceMs: this.res.config.missedGraceMs,
        runAllLimit: this.res.config.runAllLimit,
        instanceId: this.res.instanceId,
        leaseExpiresAt: leaseFrom(this.res, now),
        // Only a late occurrence asks: was any instance up when it fell due (a fault), or none (an outage)?
        someoneAlive: late ? this.selfAliveAt(scheduledFor) || (await this.res.store.anyInstanceAliveAt(scheduledFor)) : true,
        replay: ticket.replay === true,
      });
      if (this.res.state() !== 'running') {
        // A first claim with a stale remembered copy took the ticket with it, and the occurrence is still owed: another
        // instance gets a ticket for it, due at once.
        if (handle.isDeleted) return await saveTicket(this.res.agenda, ticket, { leadMs: this.res.config.prefetchMs });
        return handle.handBack();
      }
      sent = Date.now();
      const result = await this.res.store.claimOccurrence({
        jobId: job.id,
        expected: { version: job.version, nextRunAt: scheduledFor },
        nextRunAt: plan.next,
        runs: plan.records,
        ticketId: handle.id,
      });
      if (result.ticketDeleted) handle.deleted();
      if (result.outcome === 'claimed') {
        run = result.run;
        break;
      }
      this.recentJobs.delete(ticket.jobId);
      // 'taken': recorded by a claimer that has not moved the pointer yet (MongoDB's two writes). If it is alive it will;
      // if it died, its claim's lease runs out and whoever takes the claim over moves the pointer (takeOverClaim).
      if (result.outcome === 'taken' || !remembered) return;
      remembered = undefined;
      current = await this.res.store.getJob(ticket.jobId);
    }
    await handle.remove();
    const next = plan.next;
    this.rememberJob({ ...job, nextRunAt: next });
    const enqueueNext = async (): Promise<void> => {
      if (!next) return;
      await this.enqueueOccurrence({ ...job, nextRunAt: next }, plan.replay).catch((err: unknown) =>
        this.res.log.error({ jobId: job.id, err: errorMessage(err) }, 'could not enqueue the next occurrence (the safety net retries)'),
      );
    };
    if (!plan.chain) await enqueueNext();
    try {
      if (plan.starts) await this.runClaim(job, run, this.res.held.hold(run, handle.agendaJob, sent));
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
  async completeAdvance(job: Job, scheduledFor: Date): Promise<void> {
    const own = await this.res.store.getRunByOccurrence(job.id, scheduledFor);
    if (!own) return;
    let last = own.rangeEnd ?? scheduledFor;
    const following = nextOccurrence(job.schedule, scheduledFor, job.anchorAt);
    if (following && !own.rangeEnd) {
      const fold = await this.res.store.getRunByOccurrence(job.id, following);
      if (fold?.rangeEnd) last = fold.rangeEnd;
    }
    const next = nextOccurrence(job.schedule, last, job.anchorAt);
    if (await this.res.store.advanceJob(job.id, { version: job.version, nextRunAt: scheduledFor }, next)) {
      this.res.log.warn({ job: job.name, scheduledFor }, 'moved the job past its recorded occurrence (its claimer stopped half-way)');
      await this.enqueueOccurrence({ ...job, nextRunAt: next });
    }
  }
  /**
   * A claim this instance holds: waits for its due time on the database's clock (never early: the estimate plus its
   * error bound), then starts it, in order (after the job's earlier claimed occurrences). Fenced before the start: a
   * claim whose lease this instance could not keep (a freeze, a lost database) or that was taken over is dropped, and
   * a stopping instance gives its claims back at once.
   */
  async runClaim(job: Job, claimed: Run, held: Held): Promise<void> {
    const signal = held.controller.signal;
    let handedOn = false;
    try {
      for (;;) {
        if (signal.aborted) {
          this.res.log.warn(
            { job: job.name, scheduledFor: claimed.scheduledFor, reason: errorMessage(signal.reason) },
            'dropped its claim',
          );
          return;
        }
        if (this.res.state() !== 'running') return await this.res.held.release(held, null);
        const wait = this.res.clock.localTimeWhenPassed(claimed.scheduledFor) - Date.now();
        if (wait > 0) {
          await pause(wait, signal, this.res.stopping);
          continue;
        }
        const now = this.res.clock.now();
        const late = now.getTime() - claimed.scheduledFor.getTime() > this.res.config.missedGraceMs;
        const sent = Date.now();
        let result: Awaited<ReturnType<Store['startRun']>>;
        try {
          result = await this.res.store.startRun(claimed, this.res.instanceId, {
            at: now,
            // queue-one and replace may wait for an earlier run before the handler: not started until then.
            queued: job.overlapPolicy === 'queue-one' || job.overlapPolicy === 'replace',
            leaseExpiresAt: leaseFrom(this.res, now),
            // Started late (after a takeover, or behind an earlier occurrence), it says so.
            trigger: late && claimed.trigger === 'schedule' ? 'catch-up' : claimed.trigger,
          });
        } catch (err) {
          // The database is away: try again while the lease holds (fencing aborts the signal otherwise).
          this.res.log.error({ runId: claimed.id, err: errorMessage(err) }, 'could not start the run; trying again while the lease holds');
          await pause(250, signal, this.res.stopping);
          continue;
        }
        if (result.outcome === 'lost') {
          this.res.log.warn(
            { job: job.name, scheduledFor: claimed.scheduledFor },
            'the claim is no longer its own (taken over, paused or deleted)',
          );
          return;
        }
        if (result.outcome === 'waiting') {
          await pause(result.reason === 'early' ? 2 : Math.min(250, this.res.config.processEveryMs), signal, this.res.stopping);
          continue;
        }
        held.run = result.run;
        held.renewedAt = Math.max(held.renewedAt, sent);
        this.startLagMs = Math.min(this.startLagMs, now.getTime() - claimed.scheduledFor.getTime());
        handedOn = true;
        return await this.execution.runOwned(job, result.run, held, result.run.trigger);
      }
    } finally {
      if (!handedOn) this.res.held.unhold(held);
    }
  }
  async handleManual(ticket: Ticket, handle: TicketHandle): Promise<void> {
    const job = await this.res.store.getJob(ticket.jobId);
    if (!job) return;
    const queued = job.overlapPolicy === 'queue-one' || job.overlapPolicy === 'replace';
    const sent = Date.now();
    const start = this.res.clock.now();
    // A run-now is its own occurrence (scheduledFor = when it was asked for), outside the schedule's order.
    const run = await this.insertOwned({
      jobId: job.id,
      jobName: job.name,
      scheduledFor: new Date(ticket.scheduledFor),
      startedAt: queued ? null : start,
      finishedAt: null,
      status: 'running',
      trigger: 'manual',
      instanceId: this.res.instanceId,
      attempt: 1,
      error: null,
      output: null,
      leaseExpiresAt: leaseFrom(this.res, start),
    });
    await handle.remove();
    if (!run) return; // this occurrence already ran (or runs) elsewhere
    await this.execution.runOwned(job, run, this.res.held.hold(run, handle.agendaJob, sent), 'manual');
  }
  /**
   * How far behind this instance's least late start ran since the last call (0 when it started nothing): the recovery sweep
   * tells an occurrence waiting in line behind them from one whose ticket is lost.
   */
  takeStartLagMs(): number {
    const lag = this.startLagMs;
    this.startLagMs = Number.POSITIVE_INFINITY;
    return Number.isFinite(lag) ? Math.max(0, lag) : 0;
  }
  /** Keeps the most recently claimed jobs (bounded; the oldest entry goes first). */
  private rememberJob(job: Job): void {
    this.recentJobs.delete(job.id);
    this.recentJobs.set(job.id, job);
    if (this.recentJobs.size > RECENT_JOBS_LIMIT) this.recentJobs.delete(this.recentJobs.keys().next().value!);
  }
  /**
   * Inserts the run record of a run-now, retried while the database is away (bounded by the lease). Null when the
   * occurrence has a record already, unless it is the one an earlier try of ours committed without an answer.
   */
  private async insertOwned(newRun: NewRun): Promise<Run | null> {
    const until = Date.now() + this.res.config.leaseMs;
    for (let tries = 0; ; tries++) {
      try {
        // A later try starts (and leases) from now, not from the first try.
        const now = this.res.clock.now();
        const attempt =
          tries === 0
            ? newRun
            : { ...newRun, startedAt: newRun.startedAt && now, leaseExpiresAt: newRun.leaseExpiresAt && leaseFrom(this.res, now) };
        const run = await this.res.store.insertRun(attempt);
        if (run || tries === 0) return run;
        const existing = await this.res.store.getRunByOccurrence(newRun.jobId, newRun.scheduledFor);
        const ours =
          existing?.instanceId === this.res.instanceId && existing.status === newRun.status && existing.attempt === newRun.attempt;
        return ours ? existing : null;
      } catch (err) {
        if (Date.now() > until || this.res.state() === 'stopped') throw err;
        await sleep(250);
      }
    }
  }
}
