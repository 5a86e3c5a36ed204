import 'server-only';
import { Job as AgendaJob, type Agenda, type AgendaBackend, type JobParameters } from 'agenda';

/**
 * A backend repository that can lock several due jobs of one name in one statement (the PostgreSQL store adds it to
 * Agenda's repository). Same conditions and order as Agenda's getNextJobToRun, `limit` rows at a time.
 */
export interface BatchLockingRepository {
  lockNextJobs(name: string, nextScanAt: Date, lockDeadline: Date, limit: number, lastModifiedBy: string | undefined): Promise<JobParameters[]>;
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
