import 'server-only';
import type { Agenda, AgendaBackend, Job as AgendaJob } from 'agenda';
import type { EventEmitter } from 'node:events';
import { errorMessage, logger } from '../log';

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
