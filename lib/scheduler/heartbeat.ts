import 'server-only';
import { hostname } from 'node:os';
import packageJson from '../../package.json' with { type: 'json' };
import type { SchedulerResources } from './resources';

/** Clock samples taken at start-up, before anything is judged on the database's clock. */
const START_CLOCK_SAMPLES = 5;

/**
 * The instance's heartbeat: measures the database clock and writes the instance row. A heartbeat after a gap longer
 * than the lease (a freeze, a lost database) starts a new run of heartbeats (aliveSince): the instance was not up in
 * between, as far as the missed policy is concerned. Leases are renewed on the same cadence by HeldRuns.renew.
 */
export class Heartbeat {
  readonly startedAt = new Date();
  /** Start of this instance's current unbroken run of heartbeats (database time), and when the last one was sent. */
  private aliveSince: Date | null = null;
  private lastBeatAt: number | null = null;
  /** What the last successful beat wrote to this instance's row (database time). */
  private recorded: { aliveSince: Date; lastSeenAt: Date } | null = null;

  constructor(private readonly res: Pick<SchedulerResources, 'store' | 'clock' | 'config' | 'instanceId'>) {}

  /**
   * Several round trips before anything is judged on the database's clock: the first ones carry connection set-up,
   * and a start computed from them could come early (measured: up to ~77 ms right after start-up).
   */
  async calibrate(): Promise<void> {
    for (let i = 0; i < START_CLOCK_SAMPLES; i++) await this.sampleClock();
  }

  /** One timed round trip to the database's clock. */
  private async sampleClock(): Promise<void> {
    const sent = Date.now();
    const databaseNow = await this.res.store.now();
    this.res.clock.record(sent, databaseNow.getTime(), Date.now());
  }

  async beat(stopped = false): Promise<void> {
    const { store, clock, config, instanceId } = this.res;
    const sent = Date.now();
    await this.sampleClock();
    const now = clock.now();
    if (this.lastBeatAt === null || sent - this.lastBeatAt > config.leaseMs) this.aliveSince = now;
    const aliveSince = this.aliveSince ?? now;
    await store.upsertInstance({
      id: instanceId,
      host: hostname(),
      pid: process.pid,
      version: packageJson.version,
      startedAt: this.startedAt,
      lastSeenAt: now,
      clockSkewMs: clock.offsetMs,
      stoppedAt: stopped ? now : null,
      aliveSince,
    });
    this.lastBeatAt = sent;
    this.recorded = stopped ? null : { aliveSince, lastSeenAt: now };
  }

  /**
   * Whether this instance's own row already shows it alive at `at` (Store.anyInstanceAliveAt's test, on what the last
   * beat wrote). When it does, the question "was any instance up" needs no query: under overload every occurrence is
   * late and asked it, one more round trip each (measured in the 1000/s benchmark).
   */
  recordedAliveAt(at: Date): boolean {
    const row = this.recorded;
    return row !== null && row.aliveSince.getTime() <= at.getTime() && row.lastSeenAt.getTime() >= at.getTime();
  }
}
