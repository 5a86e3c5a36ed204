import 'server-only';
import { getJobType } from '../jobs/registry';
import type { DeliveryTrigger, JobContext } from '../jobs/define';
import { errorMessage } from '../log';
import { revealPayload } from '../secrets';
import { activeSigningSecrets, ensureSigningSecret } from '../secrets/signing';
import type { Job, Run, RunPatch, RunStatus } from '../store/types';
import { CancelAbort, LeaseLost, retrying, ShutdownAbort, sleep, TimeoutAbort } from './aborts';
import type { Held } from './leases';
import { contextLog, LiveOutput, OutputBuffer } from './output';
import type { OverlapSystem } from './overlap';
import type { SchedulerResources } from './resources';

export interface Outcome {
  status: RunStatus;
  error: string | null;
  output: string | null;
}

/** What happens to an attempt that failed or timed out while its job allows another: the retry system schedules it. */
export type FailedAttemptHandler = (job: Job, run: Run, outcome: Outcome) => Promise<void>;

/** Called with the run as written, once its final outcome (succeeded, failed, timed-out) is recorded by this instance. */
export type FinalOutcomeHandler = (job: Job, run: Run) => Promise<unknown>;

/**
 * Execution: a run this instance holds and may start is run here: the overlap policy, fencing right before the handler,
 * the handler itself (with its timeout and abort signal), and the outcome written under the owner guard.
 */
export class ExecutionSystem {
  constructor(
    private readonly res: SchedulerResources,
    private readonly overlap: OverlapSystem,
    private readonly onFailedAttempt: FailedAttemptHandler,
    private readonly onFinalOutcome: FinalOutcomeHandler = async () => undefined,
  ) {}

  /**
   * Runs a run this instance owns (started here, or taken over): its lease rides on the heartbeat; every write is
   * guarded by (attempt, instance), so once another instance has taken the run over this one can no longer touch it,
   * and it stops its handler (fencing). Writes the outcome, or schedules a retry, or gives the run back (shutdown).
   */
  async runOwned(job: Job, run: Run, held: Held, trigger: DeliveryTrigger, continuing = false): Promise<void> {
    const owner = { attempt: run.attempt, instanceId: this.res.instanceId };
    const controller = held.controller;
    const fenced = (): boolean => controller.signal.reason instanceof LeaseLost || this.res.held.lapsed(held);
    /**
     * The final write, retried while the database is away (a restart): a run left 'running' would be taken over
     * and executed again once its lease expired. Gives up when the lease is lost anyway.
     */
    const persist = async <T>(write: () => Promise<T>): Promise<T | undefined> => {
      for (;;) {
        try {
          return await write();
        } catch (err) {
          if (fenced()) {
            this.res.log.error({ runId: run.id, err: errorMessage(err) }, 'could not record the outcome of the run; left to a takeover');
            return undefined;
          }
          await sleep(250);
        }
      }
    };
    /** The run as written, or null/undefined when the owner guard refused it (taken over) or the write was given up. */
    const settle = (patch: RunPatch): Promise<Run | null | undefined> =>
      persist(() =>
        this.res.store.updateRun(run.id, { ...patch, finishedAt: this.res.clock.endOf(run.startedAt), leaseExpiresAt: null }, owner),
      );
    const giveBack = async (reason: string): Promise<void> => {
      await persist(() => this.res.held.release(held, `${reason}; outcome unknown`));
    };
    // A first attempt of a scheduled occurrence that started from its claim (not queued, not a takeover, retry or run-now).
    const fromClaim = run.attempt === 1 && run.startedAt !== null && (run.trigger === 'schedule' || run.trigger === 'catch-up');
    const notStartedBack = async (): Promise<void> => {
      // The stop began before the handler was called: nothing ran, so the run goes back as not started (a takeover then
      // records this attempt as abandoned, not as an unknown outcome). One started from its claim goes back as that claim:
      // a later occurrence of the job cannot start before it (found by the fault harness: given back as a running run
      // without a start, it no longer held the job's order, and the next occurrence started 4.6 s before its takeover).
      const back: RunPatch = fromClaim ? { status: 'claimed', startedAt: null } : { startedAt: null };
      await persist(() => this.res.store.updateRun(run.id, back, owner));
      await persist(() =>
        this.res.held.release(held, `instance ${this.res.instanceId} was stopping: given back before its handler started`),
      );
    };
    try {
      if (job.overlapPolicy !== 'allow' || job.concurrencyLimit !== null) {
        // A stopping instance stops waiting for a turn at once: the run goes back for another instance.
        const reason = await this.overlap.waitForTurn(job, run, AbortSignal.any([controller.signal, this.res.stopping]), continuing);
        if (controller.signal.reason instanceof LeaseLost) return;
        if (controller.signal.reason instanceof CancelAbort) {
          await settle({ status: 'cancelled', error: errorMessage(controller.signal.reason) });
          return;
        }
        if (controller.signal.reason instanceof ShutdownAbort) return await giveBack(errorMessage(controller.signal.reason));
        if (this.res.state() !== 'running') return await notStartedBack();
        if (reason) {
          await settle({ status: 'skipped', error: reason });
          return;
        }
      }
      // Not after a stop began (a queued run's turn may come after it): nothing starts on a stopping instance.
      if (this.res.state() !== 'running') return await notStartedBack();
      // A run without a start yet (queued, or given back before its handler started and taken over) is started here:
      // from now on it holds its place for the overlap policy (without a start it looked like a queued run, and a later
      // occurrence of a skip job went beside it).
      if (!run.startedAt) {
        const startedAt = this.res.clock.now();
        await retrying(() => this.res.store.updateRun(run.id, { startedAt }, owner), controller.signal);
        run = { ...run, startedAt };
      }
      // Fencing right before the handler, not only on the fence's timer: after a freeze the handler's continuation would
      // otherwise run before any timer does.
      if (fenced()) {
        this.res.log.warn({ runId: run.id }, 'no confirmed lease of the run for 2/3 of the lease: not calling its handler');
        return;
      }
      const live = { wrote: false };
      const outcome = await this.invoke(job, run, controller, trigger, fenced, live);
      // The run is (or is about to be) another instance's: leave the record to it.
      if (controller.signal.reason instanceof LeaseLost) {
        this.res.log.warn({ runId: run.id, attempt: run.attempt }, 'lost the lease of the run; left to a takeover');
        return;
      }
      // Cut short by a shutdown: another instance takes it over as the next attempt (its call may have got through).
      if (controller.signal.reason instanceof ShutdownAbort) return await giveBack(errorMessage(controller.signal.reason));
      if ((outcome.status === 'failed' || outcome.status === 'timed-out') && run.attempt < job.retry.maxAttempts) {
        // The store refuses a retry of a run whose cancel was requested meanwhile (retryRun: null); then it ends here.
        await persist(() => this.onFailedAttempt(job, run, outcome));
        if (live.wrote) this.dropLiveOutput(run.id);
        return;
      }
      // Counted once per occurrence: only the instance whose guarded final write went through (see ./auto-pause.ts).
      const written = await settle(outcome);
      if (live.wrote) this.dropLiveOutput(run.id);
      if (written) await this.onFinalOutcome(job, written);
    } finally {
      this.res.held.unhold(held);
    }
  }
  /**
   * The attempt's output excerpt is written (as the run's output, or in its attempt history): its live chunks have
   * served their purpose. Only when this attempt wrote any (no statement on the hot path for the many runs that end
   * before their first flush). Best effort, not waited for: a chunk left behind (or an earlier attempt's, after a
   * crash) is replaced by the next attempt's first write, and deleted with the run.
   */
  private dropLiveOutput(runId: string): void {
    this.res.store.deleteRunOutput(runId).catch((err: unknown) => {
      this.res.log.warn({ runId, err: errorMessage(err) }, 'could not delete the live output of a finished run');
    });
  }

  /** Runs the handler with a timeout and an abort signal; turns what happened into a run outcome. */
  private async invoke(
    job: Job,
    run: Run,
    controller: AbortController,
    trigger: DeliveryTrigger,
    fenced: () => boolean,
    /** Set once the attempt's live output is closed: whether it wrote any chunk. */
    liveWritten: { wrote: boolean },
  ): Promise<Outcome> {
    const output = new OutputBuffer(this.res.config.outputLimitChars);
    const type = getJobType(job.type);
    if (!type) return { status: 'failed', error: `unknown job type "${job.type}"`, output: null };
    let stored: Record<string, unknown>;
    try {
      // Secrets are stored encrypted (lib/secrets); only the handler sees them in clear.
      stored = revealPayload(job.type, job.payload);
    } catch (err) {
      return { status: 'failed', error: errorMessage(err), output: null };
    }
    const payload = type.payloadSchema.safeParse(stored);
    if (!payload.success) {
      const issues = payload.error.issues.map((i) => `${i.path.map(String).join('.') || 'payload'}: ${i.message}`).join('; ');
      return { status: 'failed', error: `invalid payload: ${issues}`, output: null };
    }
    // The same lines, written as they come (about every liveOutputFlushMs) for whoever watches the run on any instance.
    const live = new LiveOutput(
      {
        store: this.res.store,
        now: () => this.res.clock.now(),
        warn: (fields, message) => this.res.log.warn(fields, message),
      },
      run.id,
      run.attempt,
      this.res.config.outputLimitChars,
      this.res.config.liveOutputFlushMs,
    );
    const ctx: JobContext = {
      jobId: job.id,
      jobName: job.name,
      runId: run.id,
      scheduledFor: run.scheduledFor,
      attempt: run.attempt,
      trigger,
      instanceId: this.res.instanceId,
      signal: controller.signal,
      stillOwned: () => !controller.signal.aborted && !fenced(),
      retention: this.res.store,
      // Read at each delivery, not cached: a rotation signs the very next delivery.
      signingSecrets: async () => {
        const secret = await ensureSigningSecret(this.res.store, job.id);
        if (!secret) throw new Error('the job was deleted: no signing secret');
        return activeSigningSecrets(secret, this.res.clock.now());
      },
      log: contextLog(output, live),
    };
    live.start();
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
      if (reason instanceof CancelAbort) return { status: 'cancelled', error: reason.message, output: output.toString() };
      // Cut short by a shutdown past its grace period: the caller gives the run back for a takeover.
      if (reason instanceof ShutdownAbort) return { status: 'unknown', error: reason.message, output: output.toString() };
      return { status: 'failed', error: errorMessage(err).slice(0, 4_000) || 'failed', output: output.toString() };
    } finally {
      clearTimeout(timeout);
      // Before the outcome is written: no late chunk of this attempt lands after its final output.
      await live.close();
      liveWritten.wrote = live.wroteAny;
    }
  }
}
