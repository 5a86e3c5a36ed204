import 'server-only';
import type { AgendaBackend } from 'agenda';
import type { EventEmitter } from 'node:events';

/**
 * Agenda's PostgreSQL backend owns a pg Pool and a LISTEN client without 'error' listeners: when the database restarts,
 * an idle connection's "terminating connection" error becomes an uncaught exception and kills a plain Node process.
 * These listeners log instead; the pool replaces broken connections on the next query and the channel reconnects
 * itself (polling covers the gap).
 */
export function guardBackendErrors(backend: AgendaBackend, label: string, channel?: EventEmitter): void {
  const log = (what: string) => (err: unknown) =>
    console.error(`[scheduler] ${label}: ${what}: ${err instanceof Error ? err.message : String(err)}`);
  const repository = backend.repository as unknown as { getPool?: () => EventEmitter | undefined };
  repository.getPool?.()?.on('error', log('idle database connection lost'));
  const notifications = (channel ?? backend.notificationChannel) as unknown as EventEmitter | undefined;
  if (notifications && typeof notifications.on === 'function') notifications.on('error', log('notification channel'));
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
