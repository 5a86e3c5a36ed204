import 'server-only';
import type { Agenda, Job as AgendaJob } from 'agenda';
import { errorMessage, type Logger } from '../log';
import type { Run, Store } from '../store/types';
import { CancelAbort, LeaseLost } from './aborts';
import type { DatabaseClock } from './clock';
import type { SchedulerConfig } from './config';
import { saveTicket } from './tickets';

/**
 * A run this instance holds: claimed (waiting for its due time) or running. Its lease is renewed on the heartbeat's
 * cadence while it is held; the controller aborts whatever this instance still does for it (fencing, timeout, shutdown).
 */
export interface Held {
  run: Run;
  controller: AbortController;
  /** Local time at which the last write that set its lease (claim, start, renewal) was sent, once confirmed. */
  renewedAt: number;
  /** The Agenda ticket that delivered it, if any: Agenda's in-memory lock is kept fresh while the run is held. */
  ticket: AgendaJob | null;
}

interface LeaseDeps {
  store: Store;
  agenda: Agenda;
  config: SchedulerConfig;
  instanceId: string;
  clock: DatabaseClock;
  log: Logger;
}

/**
 * The runs this instance holds and their leases: one statement renews them all; fencing gives up those whose lease was
 * not confirmed in time; a stopping instance gives them back. Every claim, start and takeover registers here.
 */
export class HeldRuns {
  private readonly runs = new Map<string, Held>();
  /** The renewal in flight, if any: a give-back waits for it (see release). */
  private renewing: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: LeaseDeps) {}

  get size(): number {
    return this.runs.size;
  }

  has(runId: string): boolean {
    return this.runs.has(runId);
  }

  values(): IterableIterator<Held> {
    return this.runs.values();
  }

  /** Registers a run this instance now holds; `confirmedAt` is when the write that leased it was sent. */
  hold(run: Run, ticket: AgendaJob | null, confirmedAt: number): Held {
    const held: Held = { run, controller: new AbortController(), renewedAt: confirmedAt, ticket };
    this.runs.set(run.id, held);
    return held;
  }

  unhold(held: Held): void {
    if (this.runs.get(held.run.id) === held) this.runs.delete(held.run.id);
  }

  /** True when `held`'s lease was not confirmed for 2/3 of the lease: this instance may no longer act for it. */
  lapsed(held: Held): boolean {
    return Date.now() - held.renewedAt > (this.deps.config.leaseMs * 2) / 3;
  }

  /** Renews the lease of every held run in one write; a run it no longer holds (taken over, closed) is abandoned here. */
  async renew(): Promise<void> {
    const entries = [...this.runs.values()];
    if (entries.length === 0) return;
    const { store, instanceId, clock, config } = this.deps;
    const sent = Date.now();
    const renewal = store.renewLeases(
      instanceId,
      entries.map((h) => ({ id: h.run.id, attempt: h.run.attempt })),
      new Date(clock.now().getTime() + config.leaseMs),
    );
    this.renewing = renewal.catch(() => undefined);
    const answer = await renewal;
    const renewed = new Set(answer.renewed);
    const cancelled = new Set(answer.cancelRequested);
    for (const held of entries) {
      if (this.runs.get(held.run.id) !== held) continue; // finished meanwhile
      if (renewed.has(held.run.id)) held.renewedAt = Math.max(held.renewedAt, sent);
      else held.controller.abort(new LeaseLost(instanceId));
      // The fallback for a cancel whose notification did not arrive: at most one renewal period late.
      if (cancelled.has(held.run.id)) this.cancel(held.run.id);
      // Agenda aborts a ticket whose in-memory lock it finds older than the lock lifetime: the run is the lock now.
      if (held.ticket) held.ticket.attrs.lockedAt = new Date();
    }
  }

  /**
   * A cancel was requested for `runId` (the store's watch, or the renewal): if this instance holds it, its handler (or
   * its wait for a turn) is aborted and the owner records 'cancelled'. Anything else (not held here) is ignored.
   */
  cancel(runId: string): void {
    const held = this.runs.get(runId);
    if (held && !held.controller.signal.aborted) held.controller.abort(new CancelAbort(this.deps.instanceId));
  }

  /**
   * Fencing: a held run whose lease was not confirmed for 2/3 of the lease (checked every sixth) is given up here: its
   * handler is aborted and nothing more is written for it. The lease in the database runs until a full lease after the
   * last confirmed write was sent, so this instance stops before anyone may take over, as long as the clock error stays
   * under lease / 6.
   */
  fence(): void {
    for (const held of this.runs.values()) {
      if (this.lapsed(held) && !held.controller.signal.aborted) held.controller.abort(new LeaseLost(this.deps.instanceId));
    }
  }

  /**
   * Gives a held run back for another instance to take over at once (a stopping instance): its lease is expired now,
   * and a takeover ticket fires it on another instance without waiting for a sweep.
   */
  async release(held: Held, note: string | null): Promise<void> {
    const { store, agenda, instanceId, clock, log } = this.deps;
    const run = held.run;
    // No renewal may land after the give-back: one in flight would push the lease a full lease ahead again, and the
    // run would wait for it to expire instead of being taken over at once (found by the fault harness: a run given
    // back by a stopping instance was taken over 6 s later, after its job's next occurrence had started).
    this.unhold(held);
    await this.renewing;
    const expiredAt = new Date(clock.now().getTime() - 1);
    const released = await store
      .releaseRuns(instanceId, [{ id: run.id, attempt: run.attempt }], expiredAt, note ?? undefined)
      .catch((err: unknown) => {
        log.error({ runId: run.id, err: errorMessage(err) }, 'could not give the run back (taken over once its lease expires)');
        return 0;
      });
    if (released === 0) return;
    await saveTicket(agenda, {
      jobId: run.jobId,
      version: 0,
      scheduledFor: new Date().toISOString(),
      trigger: 'takeover',
      runId: run.id,
    }).catch((err: unknown) =>
      log.error({ runId: run.id, err: errorMessage(err) }, 'could not save the takeover ticket (the safety net takes the run over)'),
    );
  }
}
