import 'server-only';
import type { Agenda, AgendaBackend } from 'agenda';
import type { Logger } from '../log';
import type { Store } from '../store/types';
import type { DatabaseClock } from './clock';
import type { SchedulerConfig } from './config';
import type { HeldRuns } from './leases';

export type SchedulerState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * What every part of one instance's scheduler shares, handed to each of them (as trigger.dev's run engine hands its
 * systems one `resources` object) instead of one class holding everything.
 */
export interface SchedulerResources {
  readonly store: Store;
  readonly agenda: Agenda;
  readonly backend: AgendaBackend;
  readonly config: SchedulerConfig;
  readonly instanceId: string;
  /** Leases, lateness and due times are judged on the database's clock. */
  readonly clock: DatabaseClock;
  readonly log: Logger;
  /** The runs this instance holds, claimed or running: their leases ride on the heartbeat. */
  readonly held: HeldRuns;
  state(): SchedulerState;
  /** Aborted when the instance starts stopping: wakes every claim waiting for its due time, so it is given back. */
  readonly stopping: AbortSignal;
  /** Registers work a graceful stop waits for. */
  track(work: Promise<void>): Promise<void>;
}

/** A lease from `from` (default now, database time). */
export function leaseFrom(res: Pick<SchedulerResources, 'clock' | 'config'>, from: Date = res.clock.now()): Date {
  return new Date(from.getTime() + res.config.leaseMs);
}
