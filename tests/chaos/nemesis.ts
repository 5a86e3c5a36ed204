/**
 * The chaos harness's nemesis: one fault at a time, each logged with its kind, target instance, pid, the wall time it
 * was applied and, for aimed faults, the due second it aimed at and the offset.
 *
 * Kinds:
 * - kill          kill -9, restart after 2-5 s (a new instance)
 * - freeze        SIGSTOP for the run lease + 3-10 s, then SIGCONT
 * - long-freeze   SIGSTOP for 40-50 s, then SIGCONT (long runs)
 * - term          SIGTERM (graceful stop), restart when it exited
 * - db-restart    PostgreSQL stopped for 2-5 s and started again (not on MongoDB: the test server is in memory and would
 *                 lose everything)
 * - aimed-kill, aimed-freeze, aimed-term: the same, sent to the instance that holds the most ticket locks (or claimed
 *   runs) of the next due second D, at an offset around D (130, 80, 40, 20 ms before; 10-50 ms after). A ticket for
 *   an occurrence due at D is scheduled at D - SCHEDULER_PREFETCH_MS and locked up to one poll period before that:
 *   the harness reads Agenda's table (PostgreSQL agenda_jobs) / collection (MongoDB agenda_jobs) and the run records
 *   from ~600 ms before D and fires from a timer on this machine's clock (the database's clock too: same machine).
 */
import pg from 'pg';
import { MongoClient } from 'mongodb';
import type { Cluster, Member } from './cluster';

export const FAULT_KINDS = ['kill', 'freeze', 'long-freeze', 'term', 'db-restart', 'aimed-kill', 'aimed-freeze', 'aimed-term'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  seq: number;
  kind: FaultKind;
  /** Instance id (null for a database restart). */
  target: string | null;
  pid: number | null;
  /** Date.now() when the signal was sent (the database stopped). */
  appliedAt: number;
  appliedAtIso: string;
  /** Aimed faults: the due second aimed at (ISO), the planned offset and the real one (ms, negative = before). */
  due?: string;
  offsetMs?: number;
  actualOffsetMs?: number;
  /** Aimed faults: ticket locks + claimed/running runs of the due second, per instance, when it fired. */
  holders?: Record<string, number>;
  /** Freeze length / database downtime, ms. */
  durationMs?: number;
  /** When the fault was over (instance thawed, replacement healthy, database back). */
  recoveredAt?: number;
  /** The instance that replaced the target. */
  replacedBy?: string;
  note?: string;
}

export interface NemesisOptions {
  cluster: Cluster;
  /** Deterministic choices. */
  random: () => number;
  /** The run lease of the instances (ms): freezes last lease + 3-10 s. */
  leaseMs: number;
  /** How long a SIGTERMed instance may take to exit before SIGKILL (its shutdown grace + margin). */
  termTimeoutMs: number;
  /** The period of the short jobs' cron in seconds (due seconds are multiples of it). Default 2. */
  periodSeconds?: number;
  /** The period of the long jobs' cron in seconds: a third of the aimed faults aim at one of their due seconds. */
  longPeriodSeconds?: number;
  /** Relative weights of the fault kinds (0 or absent: never). */
  weights: Partial<Record<FaultKind, number>>;
  /** Offsets of aimed faults before the due time (ms, negative), default AIM_OFFSETS_BEFORE; afterToo: also +10-50 ms. */
  offsets?: { before: number[]; after: boolean };
  /** Pause between faults, ms: [min, max]. Default 10-20 s. */
  gapMs?: [number, number];
  log?: (line: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A small seeded PRNG (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Offsets (ms from the due time) of aimed faults before it: -250 while the tickets are locked but not fired yet (they
 * fire at D - prefetch), the others inside the prefetch lead (claimed, waiting for D). After it: 10-50 ms.
 */
export const AIM_OFFSETS_BEFORE = [-250, -130, -80, -40, -20];

/** Reads who holds the tickets and claims of one due second. */
interface HolderProbe {
  holders(due: Date): Promise<Map<string, number>>;
  close(): Promise<void>;
}

function postgresProbe(url: string): HolderProbe {
  let client: pg.Client | null = null;
  const connect = async (): Promise<pg.Client> => {
    if (client) return client;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    c.on('error', () => {
      if (client === c) client = null;
    });
    await c.connect();
    client = c;
    return c;
  };
  return {
    async holders(due) {
      const c = await connect().catch(() => null);
      const result = new Map<string, number>();
      if (!c) return result;
      try {
        const tickets = await c.query<{ holder: string | null; n: number }>(
          `SELECT last_modified_by AS holder, count(*)::int AS n FROM agenda_jobs
            WHERE locked_at IS NOT NULL AND data->>'scheduledFor' = $1 GROUP BY 1`,
          [due.toISOString()],
        );
        // 'claimed' (the coming claim record) and 'running' (after the due time) runs of that second.
        const runs = await c.query<{ holder: string | null; n: number }>(
          `SELECT instance_id AS holder, count(*)::int AS n FROM runs
            WHERE scheduled_for = $1 AND status IN ('claimed', 'running') GROUP BY 1`,
          [due],
        );
        for (const row of [...tickets.rows, ...runs.rows]) if (row.holder) result.set(row.holder, (result.get(row.holder) ?? 0) + row.n);
      } catch {
        client = null;
        await c.end().catch(() => undefined);
      }
      return result;
    },
    async close() {
      await client?.end().catch(() => undefined);
      client = null;
    },
  };
}

function mongoProbe(url: string): HolderProbe {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 2_000 });
  const db = client.db();
  return {
    async holders(due) {
      const result = new Map<string, number>();
      try {
        // lib/store/mongo AGENDA_COLLECTION / RUNS.
        const tickets = await db
          .collection('agenda_jobs')
          .find({ 'data.scheduledFor': due.toISOString(), lockedAt: { $ne: null } }, { projection: { lastModifiedBy: 1 } })
          .toArray();
        for (const t of tickets) {
          const holder = (t as { lastModifiedBy?: unknown }).lastModifiedBy;
          if (typeof holder === 'string') result.set(holder, (result.get(holder) ?? 0) + 1);
        }
        const runs = await db
          .collection('runs')
          .find({ scheduledFor: due, status: { $in: ['claimed', 'running'] } }, { projection: { instanceId: 1 } })
          .toArray();
        for (const r of runs) {
          const holder = (r as { instanceId?: unknown }).instanceId;
          if (typeof holder === 'string') result.set(holder, (result.get(holder) ?? 0) + 1);
        }
      } catch {
        // the next poll tries again
      }
      return result;
    },
    async close() {
      await client.close().catch(() => undefined);
    },
  };
}

export class Nemesis {
  readonly faults: Fault[] = [];
  private readonly probe: HolderProbe;
  private readonly log: (line: string) => void;
  private readonly period: number;
  private stopped = false;
  /** Per aimed kind: how far round its offsets it is. */
  private readonly turns = new Map<FaultKind, number>();

  constructor(private readonly o: NemesisOptions) {
    this.probe = o.cluster.options.store === 'postgres' ? postgresProbe(o.cluster.databaseUrl) : mongoProbe(o.cluster.databaseUrl);
    this.log = o.log ?? (() => undefined);
    this.period = (o.periodSeconds ?? 2) * 1000;
  }

  private between(min: number, max: number): number {
    return Math.round(min + (max - min) * this.o.random());
  }

  private kinds(): FaultKind[] {
    return FAULT_KINDS.filter((k) => (this.o.weights[k] ?? 0) > 0 && !(k === 'db-restart' && this.o.cluster.options.store !== 'postgres'));
  }

  private pick(): FaultKind {
    const kinds = this.kinds();
    const total = kinds.reduce((sum, k) => sum + this.o.weights[k]!, 0);
    let x = this.o.random() * total;
    for (const k of kinds) {
      x -= this.o.weights[k]!;
      if (x < 0) return k;
    }
    return kinds.at(-1)!;
  }

  /**
   * Faults until `until` (Date.now() ms): every kind with a weight once first (in a shuffled order), then by weight;
   * 10-20 s between the end of one and the next. Returns when the last fault is over.
   */
  async run(until: number): Promise<void> {
    const first = this.kinds();
    for (let i = first.length - 1; i > 0; i--) {
      const j = Math.floor(this.o.random() * (i + 1));
      [first[i], first[j]] = [first[j]!, first[i]!];
    }
    const [gapMin, gapMax] = this.o.gapMs ?? [10_000, 20_000];
    await sleep(this.between(gapMin / 2, gapMax / 2));
    while (!this.stopped && Date.now() < until) {
      const kind = first.shift() ?? this.pick();
      try {
        await this.apply(kind);
      } catch (err) {
        this.log(`fault ${kind} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
      // Whatever happened, the next fault starts from a whole cluster.
      await this.o.cluster.heal();
      const gap = this.between(gapMin, gapMax);
      if (Date.now() + gap >= until) break;
      await sleep(gap);
    }
  }

  stop(): void {
    this.stopped = true;
  }

  async close(): Promise<void> {
    await this.probe.close();
  }

  private freezeMs(kind: FaultKind): number {
    return kind === 'long-freeze' ? this.between(40_000, 50_000) : this.o.leaseMs + this.between(3_000, 10_000);
  }

  private note(fault: Omit<Fault, 'seq' | 'appliedAtIso'>): Fault {
    const full: Fault = { seq: this.faults.length + 1, appliedAtIso: new Date(fault.appliedAt).toISOString(), ...fault };
    this.faults.push(full);
    const aim = full.due
      ? ` aimed at ${full.due} ${full.offsetMs! >= 0 ? '+' : ''}${full.offsetMs} ms (actual ${full.actualOffsetMs} ms, holders ${JSON.stringify(full.holders)})`
      : '';
    this.log(`fault #${full.seq} ${full.kind} -> ${full.target ?? 'database'} (pid ${full.pid ?? '-'}) at ${full.appliedAtIso}${aim}`);
    return full;
  }

  async apply(kind: FaultKind): Promise<void> {
    const cluster = this.o.cluster;
    if (kind === 'db-restart') {
      const downMs = this.between(2_000, 5_000);
      const fault = this.note({ kind, target: null, pid: null, appliedAt: Date.now(), durationMs: downMs });
      const { downAt, upAt } = await cluster.restartDatabase(downMs);
      fault.appliedAt = downAt;
      fault.appliedAtIso = new Date(downAt).toISOString();
      fault.recoveredAt = upAt;
      return;
    }
    const aimed = kind.startsWith('aimed-');
    let target: Member | undefined;
    let aim: Pick<Fault, 'due' | 'offsetMs' | 'holders'> & { fireAt?: number } = {};
    if (aimed) {
      const found = await this.aim(kind);
      if (!found) {
        this.log(`fault ${kind}: no instance held the tickets of the due seconds tried; skipped`);
        return;
      }
      target = found.member;
      aim = { due: found.due.toISOString(), offsetMs: found.offsetMs, holders: found.holders };
    } else {
      const running = cluster.running();
      target = running[Math.floor(this.o.random() * running.length)];
    }
    if (!target) return;
    const signal = kind.endsWith('kill') ? 'SIGKILL' : kind.endsWith('term') ? 'SIGTERM' : 'SIGSTOP';
    let appliedAt: number;
    try {
      appliedAt = cluster.signal(target, signal);
    } catch (err) {
      this.log(`fault ${kind} -> ${target.instanceId}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const fault = this.note({
      kind,
      target: target.instanceId,
      pid: target.pid,
      appliedAt,
      ...aim,
      ...(aim.due ? { actualOffsetMs: appliedAt - Date.parse(aim.due) } : {}),
    });
    if (signal === 'SIGSTOP') {
      const ms = this.freezeMs(kind);
      fault.durationMs = ms;
      await sleep(ms);
      try {
        cluster.signal(target, 'SIGCONT');
      } catch {
        // died meanwhile: heal() replaces it
      }
      fault.recoveredAt = Date.now();
      return;
    }
    if (signal === 'SIGKILL') {
      await cluster.waitExit(target, 10_000);
      await sleep(this.between(2_000, 5_000));
    } else {
      const how = await cluster.waitExit(target, this.o.termTimeoutMs);
      if (how === 'killed') fault.note = `did not exit within ${this.o.termTimeoutMs} ms of SIGTERM: killed`;
    }
    const replacement = await cluster.startInstance();
    fault.replacedBy = replacement.instanceId;
    fault.recoveredAt = Date.now();
  }

  /**
   * Picks a due second D (a multiple of the short jobs' period, at least ~1.2 s ahead) and an offset, watches who
   * locks D's tickets from 600 ms before D, and waits until D + offset. Tries up to five due seconds.
   */
  private async aim(kind: FaultKind): Promise<{ member: Member; due: Date; offsetMs: number; holders: Record<string, number> } | null> {
    // A SIGTERM 20-40 ms before the due time cannot tell a start after the signal from one the instance had under way
    // when the signal came (the checker's stop tolerance): aim SIGTERMs at least 80 ms ahead.
    const all = this.o.offsets?.before ?? AIM_OFFSETS_BEFORE;
    const termable = all.filter((o) => o <= -80);
    const before = kind === 'aimed-term' && termable.length > 0 ? termable : all;
    // Each kind goes round its offsets (from a random one), so a few faults of a kind cover them all; null = after D.
    const offsets: Array<number | null> = [...before, ...(this.o.offsets?.after === false && before.length > 0 ? [] : [null])];
    const turn = (this.turns.get(kind) ?? Math.floor(this.o.random() * offsets.length)) + 1;
    this.turns.set(kind, turn);
    for (let tries = 0; tries < 5; tries++) {
      const offsetMs = offsets[turn % offsets.length] ?? this.between(10, 50);
      const long = this.o.longPeriodSeconds ? this.o.longPeriodSeconds * 1000 : null;
      const period = long !== null && tries === 0 && this.o.random() < 1 / 3 ? long : this.period;
      const due = new Date(Math.ceil((Date.now() + 1_200) / period) * period);
      const fireAt = due.getTime() + offsetMs;
      const watchFrom = due.getTime() - 600;
      if (watchFrom > Date.now()) await sleep(watchFrom - Date.now());
      let latest = new Map<string, number>();
      // Poll until just before the shot; a query takes a few ms, so stop one poll period short.
      while (Date.now() < fireAt - 25) {
        const seen = await this.probe.holders(due);
        if (seen.size > 0) latest = seen;
        const left = fireAt - 25 - Date.now();
        if (left > 0) await sleep(Math.min(20, left));
      }
      const candidates = [...latest.entries()]
        .map(([id, n]) => ({ member: this.o.cluster.byId(id), n }))
        .filter((c): c is { member: Member; n: number } => c.member !== undefined && c.member.state === 'running')
        .sort((a, b) => b.n - a.n);
      const best = candidates[0];
      // Fire on time: a timer to a few ms before, then spin (timers are late by a millisecond or more).
      const left = fireAt - Date.now();
      if (left > 4) await sleep(left - 4);
      while (Date.now() < fireAt) {
        // spin
      }
      if (best) return { member: best.member, due, offsetMs, holders: Object.fromEntries(latest) };
      this.log(`aim at ${due.toISOString()}: no running instance held its tickets (${JSON.stringify(Object.fromEntries(latest))})`);
    }
    return null;
  }
}
