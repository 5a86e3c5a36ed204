/**
 * The database's clock as seen from this process. Each sample is a timed round trip (`SELECT clock_timestamp()`):
 * the database read its clock somewhere between sending and receiving, so local − database is known to within half
 * the round trip. The estimate uses the sample with the smallest error, aged by a drift allowance, so one slow round
 * trip (the first ones carry connection set-up) never widens it, and an old good sample does not stay trusted forever.
 */
export class DatabaseClock {
  private samples: Array<{ offsetMs: number; errorMs: number; localMs: number }> = [];

  constructor(
    /** Clock drift allowed for, in parts per million (NTP-disciplined clocks stay well under 100). */
    private readonly driftPpm = 100,
    /** Samples kept: at one per heartbeat, the last ~20 s. */
    private readonly keep = 20,
    private readonly localNow: () => number = Date.now,
  ) {}

  /** A round trip sent at `sentMs` and answered at `receivedMs` (local clock) in which the database read `databaseMs`. */
  record(sentMs: number, databaseMs: number, receivedMs: number): void {
    const halfRtt = Math.max(0, receivedMs - sentMs) / 2;
    // +1 ms: database timestamps reach us in whole milliseconds.
    this.samples.push({ offsetMs: sentMs + halfRtt - databaseMs, errorMs: halfRtt + 1, localMs: receivedMs });
    if (this.samples.length > this.keep) this.samples.shift();
  }

  get measured(): boolean {
    return this.samples.length > 0;
  }

  private best(): { offsetMs: number; errorMs: number } {
    const now = this.localNow();
    let best = { offsetMs: 0, errorMs: Number.POSITIVE_INFINITY };
    for (const s of this.samples) {
      const errorMs = s.errorMs + ((now - s.localMs) * this.driftPpm) / 1e6;
      if (errorMs < best.errorMs) best = { offsetMs: s.offsetMs, errorMs };
    }
    return best;
  }

  /** Local clock minus database clock, in ms (0 before the first sample). */
  get offsetMs(): number {
    return this.measured ? Math.round(this.best().offsetMs) : 0;
  }

  /** How far the database's clock may be from now(), in ms (Infinity before the first sample). */
  get errorMs(): number {
    return this.best().errorMs;
  }

  /** Now on the database's clock (best estimate). */
  now(): Date {
    return new Date(this.localNow() - this.best().offsetMs);
  }

  /**
   * now(), but never before `start`: a run's end when its start was stamped by the database itself (PostgreSQL's
   * startRun), which this estimate can trail by its error for a run shorter than that.
   */
  endOf(start: Date | null): Date {
    const now = this.now();
    return start && start.getTime() > now.getTime() ? new Date(start.getTime()) : now;
  }

  /** The local time by which the database's clock has certainly reached `at`: estimate plus its error. */
  localTimeWhenPassed(at: Date): number {
    const { offsetMs, errorMs } = this.best();
    return at.getTime() + offsetMs + (Number.isFinite(errorMs) ? errorMs : 0);
  }
}
