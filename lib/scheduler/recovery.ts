import 'server-only';
import { errorMessage } from '../log';
import type { Job, Run } from '../store/types';
import type { ClaimSystem } from './claims';
import type { ExecutionSystem } from './execution';
import { leaseFrom, type SchedulerResources } from './resources';
import type { RetrySystem } from './retries';
import { saveTicket, type Ticket, type TicketHandle } from './tickets';

/** The longest the sweep waits, behind a line of late runs, before it rescues an occurrence (see sweep). */
const RESCUE_LINE_CAP_MS = 30_000;

/** Lost retry tickets are looked for every this many sweeps (each look reads the waiting runs and their history). */
const RETRY_RESCUE_EVERY_SWEEPS = 5;

/**
 * Recovery: the safety net every instance runs. Occurrences nobody claimed in time get rescue tickets; claims and runs
 * whose lease expired (their instance died, froze, was cut off or gave them back) are taken over.
 */
export class RecoverySystem {
  private sweeps = 0;

  constructor(
    private readonly res: SchedulerResources,
    private readonly claims: ClaimSystem,
    private readonly execution: ExecutionSystem,
    private readonly retries: RetrySystem,
  ) {}

  /**
   * The safety net: rescue tickets for occurrences still unclaimed `rescueAfterMs` after they were due (a lost ticket,
   * or one locked by an instance that died or froze before firing it), lost retry tickets, and takeovers of runs whose
   * lease expired (claimed or running on an instance that died, froze, was cut off or gave them back).
   */
  async sweep(): Promise<void> {
    const now = this.res.clock.now();
    // Overloaded, every job is overdue and its ticket is simply waiting in line: rescuing them all cost four statements
    // a ticket plus a losing claim each, and the 1000/s benchmark fell further behind. An occurrence twice as late as the
    // least late run this instance started since the last sweep is not in that line: its ticket is lost, or locked by
    // an instance that died.
    // Capped, so a lost ticket waits at most RESCUE_LINE_CAP_MS behind a long line (or a run-all replay's old starts).
    const rescueAfterMs = Math.max(this.res.config.rescueAfterMs, Math.min(RESCUE_LINE_CAP_MS, 2 * this.claims.takeStartLagMs()));
    const due = await this.res.store.listDueJobs(new Date(now.getTime() - rescueAfterMs), 100);
    // One rescue ticket per overdue occurrence and lock lifetime: the regular ticket may be lost or sit locked by a dead
    // instance until its lock expires. Duplicates are harmless: the claim lets one through.
    const rescue = Math.floor(now.getTime() / this.res.config.lockLifetimeMs);
    for (const job of due) {
      if (!job.nextRunAt) continue;
      // A run-all job whose replay is under way is overdue the whole time: its rescue ticket must not cut the window again.
      const replay = job.missedPolicy === 'run-all' && (await this.replaying(job));
      const ticket: Ticket = {
        jobId: job.id,
        version: job.version,
        scheduledFor: job.nextRunAt.toISOString(),
        trigger: 'schedule',
        rescue,
      };
      await saveTicket(this.res.agenda, replay ? { ...ticket, replay } : ticket).catch((err: unknown) =>
        this.res.log.error({ jobId: job.id, err: errorMessage(err) }, 'could not save a rescue ticket'),
      );
    }
    if (this.sweeps++ % RETRY_RESCUE_EVERY_SWEEPS === 0) {
      await this.retries
        .rescueRetries(now, rescue)
        .catch((err: unknown) => this.res.log.error({ err: errorMessage(err) }, 'could not rescue retries'));
    }
    const expired = await this.res.store.listExpiredRuns(now, 100);
    for (const run of expired) {
      if (this.res.held.has(run.id) || this.res.state() !== 'running') continue;
      await this.adopt(run, now).catch((err: unknown) =>
        this.res.log.error({ runId: run.id, err: errorMessage(err) }, 'could not take the run over'),
      );
    }
  }
  /** True when the job's latest run is part of a run-all replay (a catch-up, or the 'missed' record that began it). */
  private async replaying(job: Job): Promise<boolean> {
    const latest = (await this.res.store.listRuns({ jobId: job.id, limit: 1 })).items[0];
    return latest !== undefined && (latest.trigger === 'catch-up' || latest.status === 'missed');
  }
  /** A run whose lease expired (found by the sweep, or given back with a takeover ticket): take it over if still owed. */
  async adopt(run: Run, now: Date): Promise<void> {
    // A full instance leaves the run to the others (their sweep finds it too), like Agenda's lock limit does for tickets.
    if (this.res.held.size >= this.res.config.concurrency) return;
    if (run.status === 'claimed') await this.takeOverClaim(run, now);
    else if (run.status === 'running') await this.takeOver(run, now);
  }
  /**
   * A claimed occurrence whose claimer stopped renewing it (died or froze before starting it, or gave it back while
   * stopping): nothing ran yet, so it is simply claimed again, here, and started as its claimer would have (in order, not
   * before it is due). The missed policy does not apply: a live instance is starting it.
   */
  private async takeOverClaim(run: Run, now: Date): Promise<void> {
    const job = await this.res.store.getJob(run.jobId);
    const sent = Date.now();
    const taken = await this.res.store.takeOverClaim(
      run.id,
      { instanceId: run.instanceId, leaseExpiredBefore: now },
      { instanceId: this.res.instanceId, leaseExpiresAt: leaseFrom(this.res, now) },
    );
    if (!taken) return; // renewed after all, started, or another instance was faster
    if (!job || job.paused) {
      // Paused or deleted since (its pause closes claims; a claimer that died mid-way can leave one): not owed.
      await this.res.store.updateRun(run.id, {
        status: 'skipped',
        finishedAt: now,
        leaseExpiresAt: null,
        error: `skipped: the job was ${job ? 'paused' : 'deleted'} before this occurrence started`,
      });
      return;
    }
    this.res.log.warn({ job: job.name, scheduledFor: run.scheduledFor, from: run.instanceId }, 'took over a claim');
    // Its claimer may have died between recording the occurrence and moving the pointer (MongoDB: two writes).
    if (job.nextRunAt?.getTime() === run.scheduledFor.getTime()) await this.claims.completeAdvance(job, run.scheduledFor);
    void this.res.track(
      this.claims
        .runClaim(job, taken, this.res.held.hold(taken, null, sent))
        .catch((err: unknown) => this.res.log.error({ runId: run.id, err: errorMessage(err) }, 'run failed')),
    );
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
    if (run.cancel) {
      // Its cancel was requested and its owner is gone: no further attempt (the store refuses a takeover of it); it ends
      // 'cancelled' here (guarded: only while still this attempt of that instance).
      await this.res.store.updateRun(
        run.id,
        {
          status: 'cancelled',
          finishedAt: now,
          leaseExpiresAt: null,
          error: `cancelled on request; ${lost}, so ${run.startedAt ? 'its handler may have been cut short' : 'it never started'}`,
        },
        { attempt: run.attempt, instanceId: run.instanceId },
      );
      return;
    }
    const job = await this.res.store.getJob(run.jobId);
    // Attempts that called the handler count; a queued run taken over before its turn came tried nothing (counting it, a
    // queue-one run behind a long predecessor was closed unrun after three crashes). Retries use attempts too: a job
    // allowing more of them than the takeover limit keeps its own.
    const history = await this.res.store.listRunAttempts(run.id);
    const tried = history.filter((a) => a.startedAt !== null).length + (run.startedAt ? 1 : 0);
    // An attempt of this occurrence may have reached the target: the takeover continues it (see decideTurn).
    const continuing = run.startedAt !== null || history.some((a) => a.status === 'unknown');
    if (!job || tried >= Math.max(this.res.config.maxTakeoverAttempts, job.retry.maxAttempts)) {
      const why = job ? `; not retried after ${tried} attempt(s)` : '; its job was deleted';
      await this.res.store.updateRun(
        run.id,
        { status: run.startedAt ? 'unknown' : 'abandoned', finishedAt: now, leaseExpiresAt: null, error: `${lost}${why}` },
        { attempt: run.attempt, instanceId: run.instanceId },
      );
      return;
    }
    const sent = Date.now();
    const taken = await this.res.store.takeOverRun(
      run.id,
      { attempt: run.attempt, leaseExpiredBefore: now },
      {
        instanceId: this.res.instanceId,
        at: now,
        leaseExpiresAt: leaseFrom(this.res, now),
        error: `${lost}; taken over by ${this.res.instanceId}`,
      },
    );
    if (!taken) return; // renewed after all, finished, or another instance was faster
    this.res.log.warn({ runId: run.id, job: job.name, attempt: taken.attempt, from: run.instanceId }, 'took over a run');
    // Not awaited: the sweep goes on; the handler is tracked so a graceful stop waits for it.
    void this.res.track(
      this.execution
        .runOwned(job, taken, this.res.held.hold(taken, null, sent), taken.trigger, continuing)
        .catch((err: unknown) => this.res.log.error({ runId: run.id, err: errorMessage(err) }, 'run failed')),
    );
  }

  /** A run given back by a stopping instance: take it over at once instead of at the next sweep. */
  async handleTakeover(ticket: Ticket, handle: TicketHandle): Promise<void> {
    await handle.remove();
    if (!ticket.runId) return;
    const run = await this.res.store.getRun(ticket.runId);
    const now = this.res.clock.now();
    if (!run || !run.leaseExpiresAt || run.leaseExpiresAt.getTime() >= now.getTime() || this.res.held.has(run.id)) return;
    await this.adopt(run, now);
  }
}
