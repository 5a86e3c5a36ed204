import 'server-only';
import type { Agenda, Job as AgendaJob } from 'agenda';
import { z } from 'zod';
import { TICKET_NAME } from './config';

/**
 * What an Agenda job carries: one occurrence of one Cronplane job. The job row stays the source of
 * truth; a ticket is only a wake-up call, validated against the row when it fires.
 */
export const TicketSchema = z.object({
  jobId: z.string().min(1),
  /** Job version the ticket was made for: part of the dedup key, and shown for diagnosis. */
  version: z.number().int(),
  /** The occurrence (ISO-8601): when it is due. */
  scheduledFor: z.iso.datetime({ offset: true }),
  /**
   * 'retry': the next attempt of a failed run (runId, attempt); scheduledFor is then when that attempt is due.
   * 'takeover': a run (runId) a stopping instance gave back, for another instance to take over at once.
   */
  trigger: z.enum(['schedule', 'manual', 'retry', 'takeover']),
  runId: z.string().min(1).optional(),
  /** For 'retry': the attempt the run waits to start; a ticket for any other attempt is stale. */
  attempt: z.number().int().min(2).optional(),
  /**
   * Set on the safety net's tickets: a time bucket that keeps them out of the dedup with the regular
   * ticket, which may sit locked by a crashed instance until its Agenda lock expires.
   */
  rescue: z.number().int().optional(),
  /**
   * Set on the tickets of a run-all replay: the run-all limit was applied when the replay began. Applying it again at
   * each step would, as time moves on, keep cutting the oldest occurrence of the window off.
   */
  replay: z.boolean().optional(),
});
export type Ticket = z.infer<typeof TicketSchema>;

/**
 * Saves a ticket that fires at its scheduledFor, or options.leadMs before it for a scheduled occurrence (the prefetch:
 * the handler waits for the due time itself; manual and retry tickets fire when due). Schedule tickets are deduplicated
 * on (job, version, occurrence) and retry tickets on (run, attempt), so the safety net can re-enqueue freely; manual
 * ones never are.
 */
export async function saveTicket(agenda: Agenda, ticket: Ticket, options: { leadMs?: number; dedup?: boolean } = {}): Promise<void> {
  const job = agenda.create<Ticket>(TICKET_NAME, ticket);
  job.schedule(new Date(Date.parse(ticket.scheduledFor) - (ticket.trigger === 'schedule' ? (options.leadMs ?? 0) : 0)));
  // dedup false: the caller is the only writer of this ticket (the CAS winner's next occurrence), and a plain insert is
  // one statement where Agenda's unique insert is a transaction of four.
  if (ticket.trigger !== 'manual' && options.dedup !== false) {
    // A retry is keyed on (run, attempt): the failing instance and the safety net may both write it, it runs once.
    const key: Record<string, unknown> =
      ticket.trigger === 'retry'
        ? { 'data.runId': ticket.runId, 'data.attempt': ticket.attempt, 'data.trigger': ticket.trigger }
        : ticket.trigger === 'takeover'
          ? { 'data.runId': ticket.runId, 'data.trigger': ticket.trigger }
          : {
              'data.jobId': ticket.jobId,
              'data.version': ticket.version,
              'data.scheduledFor': ticket.scheduledFor,
              'data.trigger': ticket.trigger,
            };
    // Only when set: the backend compares data->>'rescue' with String(value), and a missing key never matches.
    if (ticket.rescue !== undefined) key['data.rescue'] = ticket.rescue;
    job.unique(key, { insertOnly: true });
  }
  await job.save();
}

/** A fired ticket: deleted once its occurrence is claimed (or dropped), handed back to Agenda when this instance stops. */
export class TicketHandle {
  private settled = false;
  /** Deleted by the store with a claim (see deleted()). */
  isDeleted = false;

  constructor(
    readonly agendaJob: AgendaJob<Ticket>,
    private readonly agenda: Agenda,
  ) {}

  /** The ticket's id in Agenda's table (a string on PostgreSQL, an ObjectId's hex on MongoDB). */
  get id(): string | undefined {
    const id = this.agendaJob.attrs._id;
    return id === undefined ? undefined : String(id);
  }

  /** The store already deleted the ticket (in the claim's statement): nothing left to remove or hand back. */
  deleted(): void {
    this.settled = true;
    this.isDeleted = true;
  }

  /** The ticket has done its job: its run record (or nothing) takes over. */
  async remove(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    // Agenda's own final save then finds no row, which it ignores by design.
    await this.agendaJob.remove().catch(() => undefined);
  }

  /** This instance is stopping: unlock the ticket so that another instance fires it. */
  async handBack(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    const id = this.agendaJob.attrs._id;
    if (id !== undefined) await this.agenda.db.unlockJobs([id]).catch(() => undefined);
  }
}
