import 'server-only';
import type { Job, Run } from '../store/types';
import { errorMessage } from '../log';
import { retrying, sleep } from './aborts';
import type { SchedulerResources } from './resources';

/**
 * What a run about to call its handler may do now: go, be skipped (and why), wait (queue-one) and ask again, or
 * (replace) have the job's earlier runs cancelled and ask again once they have stopped.
 */
export type Turn =
  { kind: 'go' } | { kind: 'skip'; reason: string } | { kind: 'wait' } | { kind: 'replace'; runs: Array<Pick<Run, 'id' | 'cancel'>> };

/** Who the replace policy's cancels are recorded as (the audit log's actor shape). */
export const REPLACE_ACTOR = { type: 'system', id: null, name: 'replace' } as const;

/** Total order of runs for tie-breaks: earlier time first, then smaller id. */
export function precedes(aTime: Date, aId: string, bTime: Date, bId: string): boolean {
  return aTime.getTime() < bTime.getTime() || (aTime.getTime() === bTime.getTime() && aId < bId);
}

/**
 * The overlap policy and the cluster-wide concurrency limit, decided from the job's other running runs (those with a
 * lease, expired or not: a run whose instance died still counts until its takeover continues it). Pure.
 * - 'skip': another run that started first wins.
 * - 'queue-one': wait for an earlier occurrence's run to finish, unless another run already waits ahead of this one.
 * - 'replace': every earlier occurrence's run (running or waiting for its turn) is cancelled; this one starts once they
 *   have stopped (never beside the handler it replaces). The concurrency limit does not hold it back: it replaces.
 * - concurrency limit: only runs that started before this one count (the same total order as 'skip'), so of several
 *   runs starting at once exactly the first `limit` go ahead, on whichever instances.
 */
export function decideTurn(
  job: Pick<Job, 'overlapPolicy' | 'concurrencyLimit'>,
  run: Pick<Run, 'id' | 'scheduledFor' | 'startedAt'>,
  others: Array<Pick<Run, 'id' | 'scheduledFor' | 'startedAt'> & Partial<Pick<Run, 'cancel'>>>,
  now: Date,
  continuing = false,
): Turn {
  const active = others.filter((o) => o.startedAt !== null);
  const startedAt = run.startedAt ?? now;
  if (continuing) {
    // A takeover of an attempt that had started: its occurrence may have reached the target, so it is never skipped
    // now (that would record as not run what may have run). It still never overlaps another run: it waits for every
    // one that started before it, in the same total order as 'skip' (so of two such takeovers the first goes, and a run
    // that started in the gap before the takeover finishes first). Found by the fault harness: two takeovers of one
    // skip job, and a takeover beside an occurrence that started in that gap, ran side by side.
    if (job.overlapPolicy === 'allow') return { kind: 'go' };
    return active.some((o) => precedes(o.startedAt!, o.id, startedAt, run.id)) ? { kind: 'wait' } : { kind: 'go' };
  }
  if (job.overlapPolicy === 'replace') {
    const earlier = others.filter((o) => precedes(o.scheduledFor, o.id, run.scheduledFor, run.id));
    return earlier.length > 0 ? { kind: 'replace', runs: earlier.map((o) => ({ id: o.id, cancel: o.cancel ?? null })) } : { kind: 'go' };
  }
  if (job.concurrencyLimit !== null) {
    const ahead = active.filter((o) => precedes(o.startedAt!, o.id, startedAt, run.id)).length;
    if (ahead >= job.concurrencyLimit) {
      if (job.overlapPolicy !== 'queue-one')
        return { kind: 'skip', reason: `skipped: concurrency limit of ${job.concurrencyLimit} running run(s) reached` };
      return { kind: 'wait' };
    }
    if (job.overlapPolicy === 'allow') return { kind: 'go' };
  }
  if (job.overlapPolicy === 'allow') return { kind: 'go' };
  if (job.overlapPolicy === 'skip') {
    const first = active.find((o) => precedes(o.startedAt!, o.id, startedAt, run.id));
    return first
      ? { kind: 'skip', reason: `skipped: the run due at ${first.scheduledFor.toISOString()} was still running` }
      : { kind: 'go' };
  }
  const waitingAhead = others.find((o) => o.startedAt === null && precedes(o.scheduledFor, o.id, run.scheduledFor, run.id));
  if (waitingAhead)
    return { kind: 'skip', reason: `skipped: the run due at ${waitingAhead.scheduledFor.toISOString()} was already queued` };
  // Only an earlier occurrence holds this one back: two runs waiting for each other would wait forever.
  return active.some((o) => precedes(o.scheduledFor, o.id, run.scheduledFor, run.id)) ? { kind: 'wait' } : { kind: 'go' };
}

/** Asks decideTurn until the run may go or is skipped; the database reads behind it. */
export class OverlapSystem {
  constructor(private readonly res: Pick<SchedulerResources, 'store' | 'clock' | 'config'>) {}

  /** Null when the run may start, else why it is skipped. `continuing`: see decideTurn. */
  async waitForTurn(job: Job, run: Run, signal: AbortSignal, continuing = false): Promise<string | null> {
    for (;;) {
      // Retried while the database is away: giving up here would leave the run 'running' (and block the next
      // occurrences) until its lease expired. Fencing aborts the signal if it stays away too long.
      const running = await retrying(() => this.runningRuns(job.id), signal);
      const others = running.filter((o) => o.id !== run.id && o.leaseExpiresAt !== null);
      const turn = decideTurn(job, run, others, this.res.clock.now(), continuing);
      if (turn.kind === 'go') return null;
      if (turn.kind === 'skip') return turn.reason;
      if (turn.kind === 'replace') await this.replace(run, turn.runs);
      if (signal.aborted) return `skipped: ${errorMessage(signal.reason)}`;
      await sleep(Math.min(500, this.res.config.processEveryMs));
    }
  }

  /**
   * The replace policy: cancels the earlier runs not yet asked to stop (each reaches its owner as an operator's cancel
   * does, within 2 s; a dead owner's run is closed by the sweep once its lease expired). The caller then waits for them.
   */
  private async replace(run: Run, earlier: Array<Pick<Run, 'id' | 'cancel'>>): Promise<void> {
    for (const other of earlier) {
      if (other.cancel) continue;
      const reason = `replaced by the run due at ${run.scheduledFor.toISOString()} (run ${run.id})`;
      await this.res.store
        .cancelRun(other.id, { at: this.res.clock.now(), by: { ...REPLACE_ACTOR }, reason }, `cancelled: ${reason}`)
        .catch(() => undefined); // asked again on the next turn
    }
  }

  /**
   * The job's running runs with a lease, expired or not (all pages). countActiveRuns answers "how many" first (from the
   * epoch: any lease), so the common case lists nothing.
   */
  private async runningRuns(jobId: string): Promise<Run[]> {
    const { store } = this.res;
    if ((await store.countActiveRuns(jobId, new Date(0))) <= 1) return [];
    const runs: Run[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listRuns({ jobId, status: 'running', limit: 200, cursor });
      runs.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return runs;
  }
}
