import 'server-only';
import { Agenda, type AgendaBackend } from 'agenda';
import { errorMessage, logger } from '../log';
import { getStore } from '../store';
import type { Job } from '../store/types';
import { getInstanceId, getRunningScheduler } from './index';
import { guardBackendErrors } from './agenda';
import { loadSchedulerConfig, TICKET_NAME } from './config';
import { saveTicket } from './tickets';

// Contract (used by lib/services/jobs.ts):
// - enqueueOccurrence(job): makes sure an Agenda job ("ticket") exists that will fire at job.nextRunAt
//   carrying { jobId, version, scheduledFor }. No-op when the job is paused or nextRunAt is null.
//   Stale or duplicate tickets are harmless: they are validated against the job row when they fire.
// - enqueueManualRun(job, scheduledFor): a one-off ticket that runs the job once at scheduledFor
//   with trigger "manual", outside the schedule chain.

interface Client {
  agenda: Agenda;
  backend: AgendaBackend;
}

// A web-only process (or one whose scheduler has not started) still has to write tickets: it gets an
// Agenda that never processes. Kept on globalThis like the store.
const KEY = Symbol.for('cronplane.dispatch-client');
type DispatchGlobal = typeof globalThis & { [KEY]?: Promise<Client> };

async function openClient(): Promise<Client> {
  const store = await getStore();
  const backend = store.createAgendaBackend();
  guardBackendErrors(backend, `${getInstanceId()} dispatch client`);
  const agenda = new Agenda({ backend, name: `${getInstanceId()}-client` });
  await agenda.ready;
  // Agenda connects the LISTEN/NOTIFY channel only in start(); connecting it here makes our saves send
  // NOTIFY, so workers pick a run-now ticket up at once instead of at their next poll.
  await backend.notificationChannel?.connect().catch((err: unknown) => {
    logger('scheduler').warn({ err: errorMessage(err) }, 'dispatch client: no notifications; workers will poll');
  });
  return { agenda, backend };
}

async function agendaForWrites(): Promise<Agenda> {
  const running = getRunningScheduler();
  if (running) return running.agenda;
  const g = globalThis as DispatchGlobal;
  g[KEY] ??= openClient().catch((err: unknown) => {
    delete g[KEY];
    throw err;
  });
  return (await g[KEY]).agenda;
}

export async function enqueueOccurrence(job: Job): Promise<void> {
  if (job.paused || !job.nextRunAt) return;
  const agenda = await agendaForWrites();
  const leadMs = getRunningScheduler()?.config.prefetchMs ?? loadSchedulerConfig().prefetchMs;
  await saveTicket(
    agenda,
    { jobId: job.id, version: job.version, scheduledFor: job.nextRunAt.toISOString(), trigger: 'schedule' },
    { leadMs },
  );
}

export async function enqueueManualRun(job: Job, scheduledFor: Date): Promise<void> {
  const agenda = await agendaForWrites();
  await saveTicket(agenda, { jobId: job.id, version: job.version, scheduledFor: scheduledFor.toISOString(), trigger: 'manual' });
}

/**
 * Removes a job's pending tickets (after delete or pause): all of them, or with `scheduledFor` only the schedule
 * tickets of that occurrence. Optional cleanup: a stale ticket is dropped when it fires anyway, but a far-off one (a
 * monthly cron) would sit in Agenda's table until then. Removing a ticket whose run is going on does not stop the
 * run (its lease is in the runs table, not in the ticket).
 */
export async function cancelTickets(jobId: string, only?: { scheduledFor: Date }): Promise<number> {
  const agenda = await agendaForWrites();
  const data: Record<string, string> = { jobId };
  if (only) Object.assign(data, { trigger: 'schedule', scheduledFor: only.scheduledFor.toISOString() });
  return agenda.cancel({ name: TICKET_NAME, data });
}

/** Closes the write-only Agenda client, if one was opened (tests, scripts). */
export async function closeDispatchClient(): Promise<void> {
  const g = globalThis as DispatchGlobal;
  const pending = g[KEY];
  delete g[KEY];
  if (!pending) return;
  const client = await pending.catch(() => null);
  if (!client) return;
  await client.backend.notificationChannel?.disconnect().catch(() => undefined);
  await client.backend.disconnect();
}
