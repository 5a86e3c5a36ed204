import 'server-only';
import { AUTO_PAUSE_ACTOR, autoPauseNote } from '../domain';
import { errorMessage } from '../log';
import type { Job, Run } from '../store/types';
import type { SchedulerResources } from './resources';

/** What an auto-pause did: the job as paused (its pause record carries the note), the policy and the run that tipped it. */
export interface JobAutoPaused {
  job: Job;
  afterFailures: number;
  /** The occurrence whose final failure reached the count. */
  run: Run;
}

export type JobAutoPausedListener = (event: JobAutoPaused) => void | Promise<void>;

// On globalThis: Next may load this module more than once in one process (instrumentation and route bundles), and a
// listener registered from one copy must hear the scheduler started from another.
const LISTENERS = Symbol.for('cronplane.jobAutoPausedListeners');
type ListenerGlobal = typeof globalThis & { [LISTENERS]?: Set<JobAutoPausedListener> };

function listeners(): Set<JobAutoPausedListener> {
  const g = globalThis as ListenerGlobal;
  g[LISTENERS] ??= new Set();
  return g[LISTENERS];
}

/**
 * The hook for alerts: `listener` is called once per auto-pause, on the one instance that paused the job (after the
 * pause and its audit entry are written). A listener that throws or rejects is logged and does not affect the pause.
 * Returns a function that removes the listener.
 */
export function onJobAutoPaused(listener: JobAutoPausedListener): () => void {
  listeners().add(listener);
  return () => listeners().delete(listener);
}

/**
 * Auto-pause (Temporal's pause-on-failure): after the Nth occurrence in a row whose final outcome is a failure, the job
 * is paused by the app itself, with the note "paused after N consecutive failures", audited, exactly once across the
 * cluster.
 *
 * Why a counter on the job, not a count over the run records: the count is updated by the one instance whose guarded
 * final write of the occurrence succeeded (updateRun with its owner: an instance that lost the run to a takeover cannot
 * write it, so each occurrence is counted at most once), with one atomic statement (recordOutcome), so concurrent
 * outcomes on 3 instances each add exactly one and the instance that sees the count reach N is known without reading
 * any history. Counting run records instead would need a window (which runs? since the last resume, which the job
 * does not record) and a scan per final outcome, and two instances finishing occurrences at once would both see N. The
 * pause itself is a compare-and-set on the job (autoPauseJob: only while active and the count has reached the policy;
 * it resets the count), so of several instances that saw the count reach N exactly one pauses. A failure that ends
 * while the job is paused is not counted, so a resumed job starts from 0. An instance that dies between the run's
 * final write and the count leaves that occurrence uncounted: the job pauses one failure later, never early.
 */
export class AutoPauseSystem {
  constructor(private readonly res: SchedulerResources) {}

  /**
   * Counts a run's final outcome (called once per occurrence, after its guarded final write succeeded) and pauses the
   * job when it reaches the job's policy. Failed and timed-out count, succeeded resets, everything else (skipped, missed,
   * abandoned, unknown) neither counts nor resets. Returns the auto-pause when this call made it, else null. Never throws:
   * a failure here is logged and leaves the run as recorded.
   */
  async afterFinalOutcome(job: Job, run: Run): Promise<JobAutoPaused | null> {
    // Jobs without a policy cost nothing here (the hot path: one statement per occurrence saved). The count starts when
    // a policy is set (an edit of the policy resets it), so outcomes before it never count.
    if (!job.autoPause) return null;
    const outcome = run.status === 'failed' || run.status === 'timed-out' ? 'failure' : run.status === 'succeeded' ? 'success' : null;
    if (outcome === null) return null;
    try {
      const counted = await this.res.store.recordOutcome(run.jobId, outcome);
      if (!counted?.autoPause || counted.consecutiveFailures < counted.autoPause.afterFailures) return null;
      const afterFailures = counted.autoPause.afterFailures;
      const pause = { at: this.res.clock.now(), by: { ...AUTO_PAUSE_ACTOR }, note: autoPauseNote(afterFailures) };
      const paused = await this.res.store.autoPauseJob(run.jobId, pause);
      // Another instance's outcome reached the count at the same time and paused it first (or the policy changed).
      if (!paused) return null;
      await this.res.store.appendAudit({
        actorType: AUTO_PAUSE_ACTOR.type,
        actorId: AUTO_PAUSE_ACTOR.id,
        actorName: AUTO_PAUSE_ACTOR.name,
        action: 'job.pause',
        targetType: 'job',
        targetId: paused.id,
        targetName: paused.name,
        ip: null,
        changes: { paused: { before: false, after: true }, pauseNote: { before: null, after: pause.note } },
      });
      this.res.log.warn({ jobId: paused.id, job: paused.name, runId: run.id, afterFailures }, `job auto-paused: ${pause.note}`);
      const event: JobAutoPaused = { job: paused, afterFailures, run };
      for (const listener of listeners()) {
        try {
          await listener(event);
        } catch (err) {
          this.res.log.error({ jobId: paused.id, err: errorMessage(err) }, 'an auto-pause listener failed');
        }
      }
      return event;
    } catch (err) {
      this.res.log.error({ jobId: run.jobId, runId: run.id, err: errorMessage(err) }, 'could not count the outcome for auto-pause');
      return null;
    }
  }
}
