import 'server-only';
import { errorMessage } from '../log';
import type { Job, Run } from '../store/types';
import type { ExecutionSystem, Outcome } from './execution';
import { leaseFrom, type SchedulerResources } from './resources';
import { saveTicket, type Ticket, type TicketHandle } from './tickets';

/** Backoff before attempt `failed + 1`: min(backoffSeconds * 2^(failed - 1), maxBackoffSeconds). */
export function retryDelayMs(job: Pick<Job, 'retry'>, failed: number): number {
  const { backoffSeconds, maxBackoffSeconds } = job.retry;
  return Math.min(backoffSeconds * 2 ** Math.max(0, failed - 1), maxBackoffSeconds) * 1000;
}

/**
 * Retries: a failed or timed-out attempt whose job allows another is ended into the history and the run waits as
 * 'retrying' until its backoff is over; a retry ticket then starts the next attempt on exactly one instance.
 */
export class RetrySystem {
  constructor(
    private readonly res: SchedulerResources,
    private readonly execution: ExecutionSystem,
  ) {}

  /**
   * Ends a failed attempt for a retry (fenced like every run write: only this attempt of this instance) and writes the
   * retry ticket for when the backoff is over. Losing the ticket (crash in between) is covered by the sweep.
   */
  async scheduleRetry(job: Job, run: Run, outcome: Outcome): Promise<void> {
    const finishedAt = this.res.clock.endOf(run.startedAt);
    const due = new Date(finishedAt.getTime() + retryDelayMs(job, run.attempt));
    const ended =
      `attempt ${run.attempt} of ${job.retry.maxAttempts} ${outcome.status === 'timed-out' ? 'timed out' : 'failed'}` +
      `${outcome.error ? `: ${outcome.error}` : ''}`;
    const waiting = `${ended}; attempt ${run.attempt + 1} at ${due.toISOString()}`;
    const waitingRun = await this.res.store.retryRun(
      run.id,
      { attempt: run.attempt, instanceId: this.res.instanceId },
      { status: outcome.status, finishedAt, error: outcome.error, output: outcome.output, waiting: waiting.slice(0, 4_000) },
    );
    if (!waitingRun) {
      // Taken over meanwhile (the run is another instance's), or its cancel was requested: then, still ours, it ends
      // 'cancelled' here with this attempt's output (the guarded write matches only in that case).
      await this.res.store.updateRun(
        run.id,
        {
          status: 'cancelled',
          finishedAt,
          leaseExpiresAt: null,
          error: `${ended}; not retried: cancelled on request`.slice(0, 4_000),
          output: outcome.output,
        },
        { attempt: run.attempt, instanceId: this.res.instanceId },
      );
      return;
    }
    await this.saveRetryTicket(job, waitingRun, due).catch((err: unknown) =>
      this.res.log.error({ runId: run.id, err: errorMessage(err) }, 'could not save the retry ticket (the safety net retries)'),
    );
  }
  private saveRetryTicket(job: Pick<Job, 'id' | 'version'>, run: Run, due: Date, rescue?: number): Promise<void> {
    return saveTicket(this.res.agenda, {
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
  async rescueRetries(now: Date, rescue: number): Promise<void> {
    const waiting = await this.res.store.listRuns({ status: 'retrying', limit: 100 });
    for (const run of waiting.items) {
      const job = await this.res.store.getJob(run.jobId);
      const last = (await this.res.store.listRunAttempts(run.id)).at(-1);
      // A deleted job's run gets a ticket at once: the claim (handleRetry) closes it.
      let due = now;
      if (job && last) {
        due = new Date(last.finishedAt.getTime() + retryDelayMs(job, last.attempt));
        if (due.getTime() > now.getTime() - this.res.config.missedGraceMs) continue; // its ticket is still on its way
      }
      await this.saveRetryTicket(job ?? { id: run.jobId, version: 0 }, run, due, rescue).catch((err: unknown) =>
        this.res.log.error({ runId: run.id, err: errorMessage(err) }, 'could not re-enqueue the retry'),
      );
    }
  }
  /**
   * A retry ticket: the next attempt of a failed run. The store's compare-and-set on (status 'retrying', attempt) lets
   * exactly one instance start it, however many tickets (regular, rescue) fire. A job paused or deleted meanwhile is not
   * retried: the run ends with the last attempt's status.
   */
  async handleRetry(ticket: Ticket, handle: TicketHandle): Promise<void> {
    if (!ticket.runId || ticket.attempt === undefined) return;
    const run = await this.res.store.getRun(ticket.runId);
    if (!run || run.status !== 'retrying' || run.attempt !== ticket.attempt) return; // started elsewhere, or done
    const job = await this.res.store.getJob(run.jobId);
    const now = this.res.clock.now();
    const sent = Date.now();
    const claimed = await this.res.store.claimRetry(run.id, run.attempt, {
      instanceId: this.res.instanceId,
      at: now,
      leaseExpiresAt: leaseFrom(this.res, now),
    });
    await handle.remove();
    if (!claimed) return;
    if (!job || job.paused) {
      const last = (await this.res.store.listRunAttempts(run.id)).at(-1);
      await this.res.store.updateRun(
        run.id,
        {
          status: last?.status ?? 'failed',
          startedAt: last?.startedAt ?? null,
          finishedAt: now,
          leaseExpiresAt: null,
          error: `${last?.error ?? 'failed'}; not retried: the job was ${job ? 'paused' : 'deleted'}`,
        },
        { attempt: claimed.attempt, instanceId: this.res.instanceId },
      );
      return;
    }
    await this.execution.runOwned(job, claimed, this.res.held.hold(claimed, handle.agendaJob, sent), 'retry');
  }
}
