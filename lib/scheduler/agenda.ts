import 'server-only';
import { Job as AgendaJob, type Agenda, type AgendaBackend, type JobParameters } from 'agenda';
import type { EventEmitter } from 'node:events';
import { errorMessage, logger } from '../log';
import type { BatchLockingRepository } from '../store/types';

/**
 * Everything the scheduler does to Agenda 6.2 beyond its public API, in one place: error listeners on its backend's
 * connections, muted state notifications, skipped state saves of tickets, no notification for distant tickets, and
 * a coalescing, batch-locking queue filling. Each relies on an internal of Agenda 6.2.6; checkAgendaInternals says at
 * start-up which of them this Agenda does not have (tests/scheduler/agenda.test.ts fails on such a version), and the
 * scheduler then keeps Agenda's own behaviour for those (slower, never wrong).
 */

/** The internals of Agenda 6.2.6 the patches below rely on that this Agenda (and its backend) lacks; [] when all are there. */
export function checkAgendaInternals(agenda: Agenda, backend: AgendaBackend): string[] {
  const problems: string[] = [];
  if (typeof backend.repository.saveJobState !== 'function') problems.push('backend.repository.saveJobState is not a function');
  if (typeof (agenda as unknown as { publishJobNotification?: unknown }).publishJobNotification !== 'function') {
    problems.push('Agenda.publishJobNotification is not a function');
  }
  const channel = backend.notificationChannel as { publishState?: unknown } | undefined;
  if (channel && 'publishState' in channel && channel.publishState !== undefined && typeof channel.publishState !== 'function') {
    problems.push("the notification channel's publishState is not a function");
  }
  // The job processor exists once Agenda has started.
  if ((agenda as unknown as { jobProcessor?: unknown }).jobProcessor !== undefined && !processorOf(agenda)) {
    problems.push(
      "Agenda's JobProcessor does not have the fields and methods of 6.2's (jobQueueFilling, lockedJobs, jobStatus, shouldLock, updateStatus, enqueueJob, isJobQueueFilling, processEvery)",
    );
  }
  return problems;
}

/**
 * Agenda's PostgreSQL backend owns a pg Pool and a LISTEN client without 'error' listeners: when the database restarts,
 * an idle connection's "terminating connection" error becomes an uncaught exception and kills a plain Node process.
 * These listeners log instead; the pool replaces broken connections on the next query and the channel reconnects
 * itself (polling covers the gap).
 */
export function guardBackendErrors(backend: AgendaBackend, label: string, channel?: EventEmitter): void {
  const log = logger('scheduler');
  const report = (what: string) => (err: unknown) => log.error({ backend: label, err: errorMessage(err) }, what);
  const repository = backend.repository as unknown as { getPool?: () => EventEmitter | undefined };
  repository.getPool?.()?.on('error', report('idle database connection lost'));
  const notifications = (channel ?? backend.notificationChannel) as unknown as EventEmitter | undefined;
  if (notifications && typeof notifications.on === 'function') notifications.on('error', report('notification channel error'));
}

/**
 * Agenda publishes a state notification (a NOTIFY on PostgreSQL) when each ticket starts, succeeds and completes, so
 * that Agenda's events fire in every process. Nothing here listens: a run's state lives in our runs table. At 100
 * occurrences/s that was 300 statements/s, each delivered to every instance. Agenda skips them when the channel has
 * no publishState, so this removes it from the instance; job notifications (a new ticket is due) are untouched.
 */
export function muteStateNotifications(channel: object | undefined): void {
  if (channel && typeof (channel as { publishState?: unknown }).publishState === 'function') {
    Object.defineProperty(channel, 'publishState', { value: undefined, configurable: true, writable: true });
  }
}

/**
 * Agenda saves a job's state when it starts and when it ends (lastRunAt, nextRunAt, lockedAt...): two statements per
 * ticket that nothing here reads. A ticket is a one-off wake-up call, deleted as soon as its occurrence is claimed (the
 * run record, with its own lease, holds the occurrence from then on); a stray re-lock of a ticket is dropped by the
 * claim. So tickets' state saves are skipped; other Agenda jobs keep them.
 */
export function skipTicketStateSaves(backend: AgendaBackend, ticketName: string): void {
  const repository = backend.repository;
  const save = repository.saveJobState.bind(repository);
  repository.saveJobState = (job, options) => (job.name === ticketName ? Promise.resolve() : save(job, options));
}

/**
 * Agenda publishes a notification (a NOTIFY on PostgreSQL, delivered to and parsed by every instance) for every saved
 * job, while a receiver acts only on a job due before its next poll (Agenda ignores the rest: its poll locks them in
 * time). A scheduled occurrence's next ticket is usually due an interval later, so its notification was one statement
 * and one message per instance for nothing. Tickets due more than `horizonMs` ahead are saved without it.
 */
export function skipDistantNotifications(agenda: Agenda, horizonMs: number): void {
  const target = agenda as unknown as { publishJobNotification?: (job: AgendaJob) => Promise<void> };
  const publish = target.publishJobNotification?.bind(agenda);
  if (!publish) return;
  target.publishJobNotification = (job) => {
    const due = job.attrs.nextRunAt;
    return due && due.getTime() > Date.now() + horizonMs ? Promise.resolve() : publish(job);
  };
}

export function canLockInBatches(repository: unknown): repository is BatchLockingRepository {
  return typeof (repository as Partial<BatchLockingRepository> | null)?.lockNextJobs === 'function';
}

/** The parts of Agenda 6.2's JobProcessor that its queue filling uses (not in its public types). */
interface ProcessorInternals {
  processEvery: number;
  totalLockLimit: number;
  nextScanAt: Date;
  lockedJobs: AgendaJob[];
  jobStatus: Record<string, { locked: number } | undefined>;
  isJobQueueFilling: Map<string, boolean>;
  shouldLock(name: string): boolean;
  updateStatus(name: string, key: 'locked', delta: number): void;
  enqueueJob(job: AgendaJob): void;
  jobQueueFilling(name: string): Promise<void>;
}

function processorOf(agenda: Agenda): ProcessorInternals | null {
  const processor = (agenda as unknown as { jobProcessor?: Partial<ProcessorInternals> }).jobProcessor;
  const ok =
    processor !== undefined &&
    typeof processor.shouldLock === 'function' &&
    typeof processor.updateStatus === 'function' &&
    typeof processor.enqueueJob === 'function' &&
    typeof processor.jobQueueFilling === 'function' &&
    Array.isArray(processor.lockedJobs) &&
    processor.isJobQueueFilling instanceof Map &&
    typeof processor.processEvery === 'number';
  return ok ? (processor as ProcessorInternals) : null;
}

/** Most tickets one lock statement takes: bounds a statement's time and what one instance grabs in one go. */
const MAX_BATCH = 50;

/**
 * Replaces the running Agenda's queue filling (JobProcessor.jobQueueFilling, called by every poll and by every
 * notification of a due ticket) with one that
 * - coalesces: while a fill for a name is under way, further calls only ask for one more pass after it. Agenda starts
 *   a fill per notification; once an instance fell behind, every new ticket was due at once, the concurrent fills each
 *   passed the lock-limit check, locked a ticket over the limit and unlocked it again (measured: a third of all lock
 *   statements at 500 occurrences/s);
 * - locks in batches where the repository can (PostgreSQL): one statement for up to the free lock slots, instead of
 *   one statement per ticket.
 * The jobs it locks go through Agenda's own bookkeeping (locked count, lock list, queue), so running, concurrency,
 * expiry and stop work as before. Returns false (and changes nothing) if this Agenda's processor is not the expected shape.
 */
export function installQueueFilling(agenda: Agenda, backend: AgendaBackend): boolean {
  const processor = processorOf(agenda);
  if (!processor) return false;
  const repository = backend.repository;
  const batch = canLockInBatches(repository) ? repository : null;
  const lastModifiedBy = agenda.attrs.name || undefined;

  const freeSlots = (name: string): number => {
    let free = MAX_BATCH;
    if (processor.totalLockLimit) free = Math.min(free, processor.totalLockLimit - processor.lockedJobs.length);
    const limit = agenda.definitions[name]?.lockLimit;
    if (limit) free = Math.min(free, limit - (processor.jobStatus[name]?.locked ?? 0));
    return free;
  };

  const fillOnce = async (name: string): Promise<void> => {
    const definition = agenda.definitions[name];
    if (!definition) return;
    processor.isJobQueueFilling.set(name, true);
    try {
      for (;;) {
        if (!processor.shouldLock(name)) return;
        const now = new Date();
        processor.nextScanAt = new Date(now.getTime() + processor.processEvery);
        const lockDeadline = new Date(now.getTime() - definition.lockLifetime);
        // One at a time without batch locking (MongoDB's findOneAndUpdate), as Agenda does.
        const limit = batch ? Math.max(1, freeSlots(name)) : 1;
        const locked = batch
          ? await batch.lockNextJobs(name, processor.nextScanAt, lockDeadline, limit, lastModifiedBy)
          : [await agenda.db.getNextJobToRun(name, processor.nextScanAt, lockDeadline, undefined, { lastModifiedBy })].filter(
              (attrs): attrs is JobParameters => attrs !== undefined,
            );
        for (let i = 0; i < locked.length; i++) {
          if (!processor.shouldLock(name)) {
            // Over the limit after all (a run-now or a takeover took a slot meanwhile): hand the rest back.
            await agenda.db.unlockJobs(locked.slice(i).flatMap((attrs) => (attrs._id === undefined ? [] : [attrs._id])));
            return;
          }
          const job = new AgendaJob(agenda, { ...locked[i]!, name, type: locked[i]!.type ?? 'normal' }, true);
          processor.updateStatus(name, 'locked', +1);
          processor.lockedJobs.push(job);
          processor.enqueueJob(job);
        }
        if (locked.length < limit) return; // nothing more due now
      }
    } finally {
      processor.isJobQueueFilling.delete(name);
    }
  };

  const running = new Map<string, Promise<void>>();
  const again = new Set<string>();
  processor.jobQueueFilling = (name: string): Promise<void> => {
    const current = running.get(name);
    if (current) {
      again.add(name);
      return current;
    }
    const pass = (async () => {
      do {
        again.delete(name);
        await fillOnce(name).catch((err: unknown) => {
          agenda.emit('error', err instanceof Error ? err : new Error(String(err)));
        });
      } while (again.has(name) && processor.shouldLock(name));
    })().finally(() => running.delete(name));
    running.set(name, pass);
    return pass;
  };
  return true;
}
