import 'server-only';
import type { Job, Run } from '../store/types';
import { errorMessage } from '../log';
import { retrying, sleep } from './aborts';
import type { SchedulerResources } from './resources';

/** What a run about to call its handler may do now: go, be skipped (and why), or wait (queue-one) and ask again. */
export type Turn = { kind: 'go' } | { kind: 'skip'; reason: string } | { kind: 'wait' };

/** Total order of runs for tie-breaks: earlier time first, then smaller id. */
export function precedes(aTime: Date, aId: string, bTime: Date, bId: string): boolean {
  return aTime.getTime() < bTime.getTime() || (aTime.getTime() === bTime.getTime() && aId < bId);
}

/**
 * The overlap policy and the cluster-wide concurrency limit, decided from the job's other running runs (those with a
 * lease, expired or not: a run whose instance died still counts until its takeover continues it). Pure.
 * - 'skip': another run that started first wins.
 * - 'queue-one': wait for an earlier occurrence's run to finish, unless another run already waits ahead of this one.
 * - concurrency limit: only runs that started before this one count (the same total order as 'skip'), so of several
 *   runs starting at once exactly the first `limit` go ahead, on whichever instances.
 */
export function decideTurn(
  job: Pick<Job, 'overlapPolicy' | 'concurrencyLimit'>,
  run: Pick<Run, 'id' | 'scheduledFor' | 'startedAt'>,
  others: Array<Pick<Run, 'id' | 'scheduledFor' | 'startedAt'>>,
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
      if (signal.aborted) return `skipped: ${errorMessage(signal.reason)}`;
      await sleep(Math.min(500, this.res.config.processEveryMs));
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
