// The store as a whole: which database, its lifecycle, and what every list returns. Agenda's tickets too.
import type { AgendaBackend, JobParameters } from 'agenda';

export type StoreKind = 'postgres' | 'mongodb';

export type JsonObject = Record<string, unknown>;

export interface Page<T> {
  items: T[];
  /** Opaque; pass back as `cursor` for the next page. Null on the last page. */
  nextCursor: string | null;
}

/** The database itself: which one, its schema, its connections, its clock. */
export interface DatabaseLifecycle {
  readonly kind: StoreKind;
  /** Human-readable, no secrets: e.g. "postgres (embedded cluster in .data/pg)". */
  readonly description: string;

  /** Brings the schema/indexes up to date; safe when several processes call it at once. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** The database server's clock. */
  now(): Promise<Date>;
  /** Cheap round trip, for health checks. Throws when the database is unreachable. */
  ping(): Promise<void>;
}

/** Agenda's side of the database: its backend, and the housekeeping of its table. */
/**
 * A backend repository that can lock several due tickets of one name in one statement (the PostgreSQL store adds it to
 * Agenda's repository; the scheduler's queue filling uses it when present). Same conditions and order as Agenda's
 * getNextJobToRun, `limit` rows at a time.
 */
export interface BatchLockingRepository {
  lockNextJobs(
    name: string,
    nextScanAt: Date,
    lockDeadline: Date,
    limit: number,
    lastModifiedBy: string | undefined,
  ): Promise<JobParameters[]>;
}

export interface TicketStore {
  /**
   * A new Agenda backend on the same database (Agenda keeps its own table/collection there). The store
   * picks the backend type, so the scheduler never looks at DATABASE_URL itself.
   */
  createAgendaBackend(): AgendaBackend;
  /**
   * Housekeeping of Agenda's table, called by each scheduler every few seconds. Every occurrence's ticket is inserted,
   * locked, updated and deleted, and Agenda's lock query walks its index from the oldest due time, through the dead
   * entries those leave, until autovacuum (at most once a minute per database) clears them. PostgreSQL: a VACUUM of
   * that one small table (skipped when another instance is doing it). MongoDB: nothing to do.
   */
  compactTickets(): Promise<void>;
}
