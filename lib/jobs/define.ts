import type { z } from 'zod';
import type { Store } from '../store/types';

/** What the retention job needs of the database, and nothing more: handlers get it through their context. */
export type RetentionStore = Pick<Store, 'now' | 'pruneRuns' | 'pruneInstances' | 'pruneSessions' | 'pruneLoginAttempts'>;

/** The trigger a handler (and an http job's target) is told: the run's trigger, or 'retry' for a retried attempt. */
export type DeliveryTrigger = 'schedule' | 'manual' | 'catch-up' | 'retry';

/** What a handler gets besides its payload: the run's identity and a way to write output. */
export interface JobContext {
  jobId: string;
  jobName: string;
  runId: string;
  /** The occurrence this run belongs to: the time it was due. */
  scheduledFor: Date;
  attempt: number;
  /** Why this attempt runs: its schedule, a run-now, a late catch-up, or a retry of a failed attempt. */
  trigger: DeliveryTrigger;
  instanceId: string;
  /** Aborted when the run times out, the instance shuts down past its grace period, or loses the run's lease. */
  signal: AbortSignal;
  /**
   * False once this instance can no longer be sure it holds the run: no lease renewal confirmed for 2/3 of the lease
   * (a freeze, a lost database), or the run was taken over. Synchronous and cheap: a handler checks it right before a
   * side effect, since after a freeze its continuation may run before the timer that aborts `signal`.
   */
  stillOwned(): boolean;
  /** The database's retention operations (the built-in prune-runs job uses them; handlers never import the store). */
  retention: RetentionStore;
  /**
   * The job's delivery signing secrets (`whsec_...`), in clear: the current one first, then the previous one while its
   * rotation grace period lasts. Made on first use for a job that has none. Only types with `signsDeliveries` call it.
   */
  signingSecrets(): Promise<string[]>;
  /**
   * Appends a line to the run's output (kept as a bounded excerpt). `maxChars` cuts the line to that many characters
   * (marked with "…"), after the payload's secret values were scrubbed from the whole line: a handler that cut it
   * itself could leave a secret straddling the cut, half of it past the scrubber.
   */
  log(line: string, options?: LogOptions): void;
}

export interface LogOptions {
  maxChars?: number;
  /**
   * A progress line: shown on the run page while the run runs (live output), left out of the run's final output excerpt
   * (the http job's response lines as they stream in; the excerpt keeps the whole response as before). Scrubbed and cut
   * like any line.
   */
  liveOnly?: boolean;
}

/** A line cut to `maxChars` characters, marked with "…" where it was cut (the whole line without a limit). */
export function cutLine(line: string, maxChars?: number): string {
  return maxChars !== undefined && line.length > maxChars ? `${line.slice(0, Math.max(0, maxChars))}…` : line;
}

/** A job type: a name, a zod payload schema, a handler. Throwing fails the run. */
export interface JobType<S extends z.ZodType = z.ZodType> {
  name: string;
  title: string;
  description: string;
  payloadSchema: S;
  /** A payload the create form starts from. */
  examplePayload: z.input<S>;
  /** Its jobs get a signing secret (made at creation, revealed and rotated through the API) and sign what they send. */
  signsDeliveries?: boolean;
  run(payload: z.output<S>, ctx: JobContext): Promise<void>;
}

export function defineJobType<S extends z.ZodType>(type: JobType<S>): JobType<S> {
  return type;
}
