/**
 * The chaos harness's checker: a pure function (no I/O, no clock) from the jobs, their run records (with attempt
 * histories), the receiver's deliveries and the instances' lifecycle events to a report that classifies every
 * expected occurrence of every job into exactly one class:
 *
 *   once               one delivery
 *   again-by-takeover  more than one delivery, every extra one explained by a taken-over attempt in the history
 *                      (status unknown/abandoned) that delivered before its takeover, at most one delivery per attempt
 *                      number
 *   again-by-retry     more than one delivery, every extra one explained by a failed/timed-out attempt that was retried
 *   recorded-missed    a missed record (single or range) and no delivery
 *   recorded-skipped   a skipped record (single or range) and no delivery
 *   cancelled          a cancelled record (an operator's cancel, or the replace policy) and at most one delivery per
 *                      attempt (a running handler may have called its target before it was aborted)
 *
 * or a violation (see VIOLATION_CLASSES). An occurrence with several violations gets the first in that order as its
 * class; every violation is listed with its evidence. Occurrences right after the job's creation and around its pause
 * are optional: a record there is checked like any other, none is fine.
 *
 * Its input types are its own (plain data): adapter.ts maps the store's records into them.
 */
import { nextOccurrence } from '../../lib/schedule';
import type { Schedule } from '../../lib/validation/schedule';

export type OverlapPolicy = 'allow' | 'skip' | 'queue-one' | 'replace';
export type MissedPolicy = 'run-all' | 'run-once' | 'skip';

export interface CheckJob {
  id: string;
  name: string;
  overlapPolicy: OverlapPolicy;
  missedPolicy: MissedPolicy;
  /** When the job was created: its occurrences are those strictly after it. */
  from: Date;
  /** When the job was paused (the end of the checked window). */
  until: Date;
  /** The schedule to walk (with lib/schedule's nextOccurrence) when `occurrences` is not given. */
  schedule?: Schedule;
  /** Anchor of interval schedules (default `from`). */
  anchorAt?: Date;
  /**
   * The occurrences themselves, ascending, instead of walking the schedule. Should reach past `until` by the optional
   * window after the pause (options.optionalAfterEndMs), so records there are recognised.
   */
  occurrences?: Date[];
}

/** An earlier attempt of a run (Store.listRunAttempts). */
export interface CheckAttempt {
  attempt: number;
  instanceId: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** unknown / abandoned: taken over (its instance died, froze or stopped); failed / timed-out: retried. */
  status: string;
  error: string | null;
}

/** A run record with its attempt history. */
export interface CheckRun {
  id: string;
  jobId: string;
  scheduledFor: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** running, claimed, succeeded, failed, timed-out, skipped, missed, abandoned, unknown, retrying, cancelled. */
  status: string;
  /** schedule, manual, catch-up, retry. */
  trigger: string;
  instanceId: string | null;
  /** The current (last) attempt. */
  attempt: number;
  error: string | null;
  /** Set: this record stands for every occurrence from scheduledFor through rangeEnd inclusive. */
  rangeEnd: Date | null;
  rangeCount: number | null;
  /** Earlier attempts, oldest first. */
  history: CheckAttempt[];
}

/** A request the receiver recorded (the receiver's Delivery fits). */
export interface CheckDelivery {
  seq: number;
  arrivedAt: number;
  /** Response finished or client gone; null: still in flight when collected. */
  endedAt: number | null;
  ended?: 'response' | 'disconnect' | null;
  path?: string;
  jobId: string | null;
  runId: string | null;
  /** ISO 8601, as the Cronplane-Scheduled-For header carried it. */
  scheduledFor: string | null;
  attempt: number | null;
  trigger: string | null;
}

/** What happened to an instance, as the harness did it (Date.now() ms). */
export interface InstanceEvent {
  instanceId: string;
  kind: 'start' | 'sigterm' | 'kill' | 'sigstop' | 'sigcont' | 'exit';
  at: number;
  pid?: number;
}

export interface CheckOptions {
  /** out-of-order: how much later an earlier occurrence may start than a later one (default 250 ms). */
  orderToleranceMs?: number;
  /** early: how far before its due time a recorded start may be (default 1 ms). */
  earlyRecordToleranceMs?: number;
  /** early: how far before its due time a delivery may arrive (default 0). */
  earlyDeliveryToleranceMs?: number;
  /**
   * started-while-stopping: a start this soon after the SIGTERM still counts as before it (default 50 ms): the signal
   * reaches the instance's JavaScript at its next event-loop turn, and a start already under way then is not a new one.
   */
  stopToleranceMs?: number;
  /** doubled: how long after its takeover a taken-over attempt's delivery may still arrive (default 50 ms). */
  takeoverToleranceMs?: number;
  /** overlap: in-flight intervals must overlap by more than this (default 0). */
  overlapToleranceMs?: number;
  /** Occurrences due up to this long after the job's creation are optional (default 1000 ms). */
  optionalAfterStartMs?: number;
  /** Occurrences due up to this long before the pause are optional (default 1000 ms). */
  optionalBeforeEndMs?: number;
  /** Occurrences due up to this long after the pause are optional too (a claim in flight; default 1000 ms). */
  optionalAfterEndMs?: number;
}

export interface CheckInput {
  jobs: CheckJob[];
  runs: CheckRun[];
  deliveries: CheckDelivery[];
  lifecycle?: InstanceEvent[];
  /** The faults applied (only counted by kind here). */
  faults?: Array<{ kind: string }>;
  options?: CheckOptions;
}

export const OK_CLASSES = ['once', 'again-by-takeover', 'again-by-retry', 'recorded-missed', 'recorded-skipped', 'cancelled'] as const;
/** In order of precedence: an occurrence with several violations is counted under the first. */
export const VIOLATION_CLASSES = [
  'doubled',
  'lost',
  'delivered-but-recorded-not-run',
  'started-while-stopping',
  'early',
  'out-of-order',
  'overlap',
  /** A record or delivery for a time that is no occurrence of the job's checked window (off schedule, before creation, after the pause). */
  'unexpected',
] as const;
export type OkClass = (typeof OK_CLASSES)[number];
export type ViolationClass = (typeof VIOLATION_CLASSES)[number];
/** 'unexpected' is about records and deliveries outside the occurrences, so no occurrence has it as its class. */
export type OccurrenceViolation = Exclude<ViolationClass, 'unexpected'>;
export const OCCURRENCE_VIOLATIONS = VIOLATION_CLASSES.filter((c): c is OccurrenceViolation => c !== 'unexpected');
export type OccurrenceClass = OkClass | OccurrenceViolation;

export interface RecordEvidence {
  id: string;
  scheduledFor: string;
  status: string;
  trigger: string;
  attempt: number;
  instanceId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  rangeEnd: string | null;
  rangeCount: number | null;
  history: Array<{
    attempt: number;
    instanceId: string | null;
    status: string;
    startedAt: string | null;
    finishedAt: string | null;
    error: string | null;
  }>;
}

export interface DeliveryEvidence {
  seq: number;
  arrivedAt: string;
  endedAt: string | null;
  ended: string | null;
  runId: string | null;
  attempt: number | null;
  trigger: string | null;
  scheduledFor: string | null;
  /** The instance that sent it, by run id + attempt (null when the records do not say). */
  instanceId: string | null;
}

export interface Violation {
  class: ViolationClass;
  jobId: string;
  jobName: string;
  /** The occurrence (ISO), or the record's / delivery's time for 'unexpected'. */
  occurrence: string;
  detail: string;
  records: RecordEvidence[];
  deliveries: DeliveryEvidence[];
}

export interface OccurrenceResult {
  jobId: string;
  occurrence: string;
  optional: boolean;
  class: OccurrenceClass;
}

export interface CheckReport {
  ok: boolean;
  /** Occurrences classified (required ones plus optional ones that have a record or a delivery). */
  occurrencesChecked: number;
  requiredOccurrences: number;
  /** Optional occurrences (near creation and pause) with nothing recorded and nothing delivered: fine, not counted. */
  optionalAbsent: number;
  classes: Record<OccurrenceClass, number>;
  /** Violation entries per class (an occurrence can have several). */
  violationsByClass: Record<ViolationClass, number>;
  faultsByKind: Record<string, number>;
  jobs: number;
  runs: number;
  deliveries: number;
  /**
   * Informational (no violation): the longest streaks of consecutive recorded-skipped occurrences, per job, longest
   * first (top 5). A dead owner that keeps a skip job blocked shows here as a long streak.
   */
  skippedStreaks: Array<{ jobId: string; jobName: string; length: number; from: string; to: string }>;
  /** First delivery minus due time, ms, over occurrences delivered on schedule (trigger schedule). */
  lagMs: { count: number; p50: number | null; p99: number | null; max: number | null };
  violations: Violation[];
  /** Per occurrence: its class (violations included). 'unexpected' records and deliveries are only in violations. */
  occurrences: OccurrenceResult[];
}

const TAKEOVER_STATUSES = new Set(['unknown', 'abandoned']);
const RETRIED_STATUSES = new Set(['failed', 'timed-out']);
const UNSETTLED_STATUSES = new Set(['claimed', 'running', 'retrying']);
const NOT_RUN_STATUSES = new Set(['missed', 'skipped']);
/** Triggers whose runs must not start before their due time. */
const DUE_TRIGGERS = new Set(['schedule', 'catch-up']);
const MAX_WALK = 1_000_000;

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (d: Date | null): string | null => (d ? d.toISOString() : null);

function normalizeIso(value: string | null): string | null {
  if (value === null) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : iso(ms);
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** The job's occurrences strictly after `from`, up to `end` inclusive, walked with lib/schedule. */
export function walkOccurrences(schedule: Schedule, from: Date, end: Date, anchor: Date = from): Date[] {
  const result: Date[] = [];
  let cursor = from;
  for (let i = 0; i < MAX_WALK; i++) {
    const next = nextOccurrence(schedule, cursor, anchor);
    if (!next || next.getTime() > end.getTime()) break;
    result.push(next);
    cursor = next;
  }
  return result;
}

function recordEvidence(run: CheckRun): RecordEvidence {
  return {
    id: run.id,
    scheduledFor: run.scheduledFor.toISOString(),
    status: run.status,
    trigger: run.trigger,
    attempt: run.attempt,
    instanceId: run.instanceId,
    startedAt: isoOrNull(run.startedAt),
    finishedAt: isoOrNull(run.finishedAt),
    error: run.error && run.error.length > 300 ? `${run.error.slice(0, 300)}…` : run.error,
    rangeEnd: isoOrNull(run.rangeEnd),
    rangeCount: run.rangeCount,
    history: run.history.map((h) => ({
      attempt: h.attempt,
      instanceId: h.instanceId,
      status: h.status,
      startedAt: isoOrNull(h.startedAt),
      finishedAt: isoOrNull(h.finishedAt),
      error: h.error && h.error.length > 300 ? `${h.error.slice(0, 300)}…` : h.error,
    })),
  };
}

/** Every attempt of a run (history + current), by number. */
function attemptsOf(run: CheckRun): Map<number, { instanceId: string | null; startedAt: Date | null; status: string; current: boolean }> {
  const map = new Map<number, { instanceId: string | null; startedAt: Date | null; status: string; current: boolean }>();
  for (const h of run.history) map.set(h.attempt, { instanceId: h.instanceId, startedAt: h.startedAt, status: h.status, current: false });
  map.set(run.attempt, { instanceId: run.instanceId, startedAt: run.startedAt, status: run.status, current: true });
  return map;
}

interface Occ {
  job: CheckJob;
  at: number;
  optional: boolean;
  records: CheckRun[];
  deliveries: CheckDelivery[];
  violations: Violation[];
  okClass: OkClass | null;
  /** Earliest evidence of a start: first delivery, first recorded attempt start. */
  start: number | null;
}

export function check(input: CheckInput): CheckReport {
  const o = input.options ?? {};
  const orderTol = o.orderToleranceMs ?? 250;
  const earlyRecordTol = o.earlyRecordToleranceMs ?? 1;
  const earlyDeliveryTol = o.earlyDeliveryToleranceMs ?? 0;
  const stopTol = o.stopToleranceMs ?? 50;
  const overlapTol = o.overlapToleranceMs ?? 0;
  const takeoverTol = o.takeoverToleranceMs ?? 50;
  const afterStart = o.optionalAfterStartMs ?? 1000;
  const beforeEnd = o.optionalBeforeEndMs ?? 1000;
  const afterEnd = o.optionalAfterEndMs ?? 1000;

  const runsById = new Map(input.runs.map((r) => [r.id, r]));
  /** The instance that made a delivery: its run's attempt of that number. */
  const deliveryInstance = (d: CheckDelivery): string | null => {
    const run = d.runId ? runsById.get(d.runId) : undefined;
    if (!run || d.attempt === null) return null;
    return attemptsOf(run).get(d.attempt)?.instanceId ?? null;
  };
  const deliveryEvidence = (d: CheckDelivery): DeliveryEvidence => ({
    seq: d.seq,
    arrivedAt: iso(d.arrivedAt),
    endedAt: d.endedAt === null ? null : iso(d.endedAt),
    ended: d.ended ?? null,
    runId: d.runId,
    attempt: d.attempt,
    trigger: d.trigger,
    scheduledFor: d.scheduledFor,
    instanceId: deliveryInstance(d),
  });

  const violations: Violation[] = [];
  const occurrences: Occ[] = [];
  const occByKey = new Map<string, Occ>();
  const jobsById = new Map(input.jobs.map((j) => [j.id, j]));
  const occsByJob = new Map<string, Occ[]>();

  // 1. The expected occurrences of every job, with their optional windows.
  for (const job of input.jobs) {
    const end = job.until.getTime() + afterEnd;
    let times: Date[];
    if (job.occurrences) times = job.occurrences.filter((t) => t.getTime() > job.from.getTime() && t.getTime() <= end);
    else if (job.schedule) times = walkOccurrences(job.schedule, job.from, new Date(end), job.anchorAt ?? job.from);
    else throw new Error(`job ${job.id}: give its schedule or its occurrences`);
    const list: Occ[] = [];
    for (const t of times) {
      const at = t.getTime();
      const optional = at <= job.from.getTime() + afterStart || at > job.until.getTime() - beforeEnd;
      const occ: Occ = { job, at, optional, records: [], deliveries: [], violations: [], okClass: null, start: null };
      list.push(occ);
      occurrences.push(occ);
      occByKey.set(`${job.id}|${at}`, occ);
    }
    occsByJob.set(job.id, list);
  }

  const unexpected = (jobId: string, at: string, detail: string, records: CheckRun[], deliveries: CheckDelivery[]): void => {
    violations.push({
      class: 'unexpected',
      jobId,
      jobName: jobsById.get(jobId)?.name ?? '?',
      occurrence: at,
      detail,
      records: records.map(recordEvidence),
      deliveries: deliveries.map(deliveryEvidence),
    });
  };

  // 2. Records onto occurrences (a range record onto every occurrence it covers).
  for (const run of input.runs) {
    const job = jobsById.get(run.jobId);
    if (!job || run.trigger === 'manual') continue;
    const list = occsByJob.get(run.jobId) ?? [];
    const from = run.scheduledFor.getTime();
    const to = run.rangeEnd ? run.rangeEnd.getTime() : from;
    const covered = list.filter((occ) => occ.at >= from && occ.at <= to);
    if (!occByKey.has(`${run.jobId}|${from}`)) {
      unexpected(
        run.jobId,
        run.scheduledFor.toISOString(),
        `a ${run.status} record for ${run.scheduledFor.toISOString()}, which is no checked occurrence of the job (created ${job.from.toISOString()}, paused ${job.until.toISOString()})`,
        [run],
        [],
      );
    }
    for (const occ of covered) occ.records.push(run);
  }

  // 3. Deliveries onto occurrences, by the job id and occurrence they carry.
  for (const d of input.deliveries) {
    if (d.trigger === 'manual') continue;
    if (d.jobId === null || d.scheduledFor === null) {
      // Not a Cronplane delivery (or its headers are missing): nothing to match it with.
      unexpected(
        d.jobId ?? '?',
        normalizeIso(d.scheduledFor) ?? iso(d.arrivedAt),
        `a request without the Cronplane delivery headers (${d.path ?? '?'})`,
        [],
        [d],
      );
      continue;
    }
    const at = Date.parse(d.scheduledFor);
    const occ = occByKey.get(`${d.jobId}|${at}`);
    if (!occ) {
      if (!jobsById.has(d.jobId)) continue; // another job (not under check)
      unexpected(
        d.jobId,
        normalizeIso(d.scheduledFor)!,
        `a delivery for ${d.scheduledFor}, which is no checked occurrence of the job`,
        [],
        [d],
      );
      continue;
    }
    occ.deliveries.push(d);
  }

  const flag = (
    occ: Occ,
    cls: ViolationClass,
    detail: string,
    records: CheckRun[] = occ.records,
    deliveries: CheckDelivery[] = occ.deliveries,
  ): void => {
    const v: Violation = {
      class: cls,
      jobId: occ.job.id,
      jobName: occ.job.name,
      occurrence: iso(occ.at),
      detail,
      records: records.map(recordEvidence),
      deliveries: deliveries.map(deliveryEvidence),
    };
    occ.violations.push(v);
    violations.push(v);
  };

  // 4. Each occurrence on its own: lost, doubled, recorded not run, early; its start for the order check.
  for (const occ of occurrences) {
    occ.deliveries.sort((a, b) => a.arrivedAt - b.arrivedAt || a.seq - b.seq);
    const { records, deliveries } = occ;
    if (records.length === 0 && deliveries.length === 0) continue; // lost unless optional: decided in 7.
    const starts: number[] = deliveries.map((d) => d.arrivedAt);
    // A missed or skipped record started nothing (a skipped run's startedAt is when it was turned away).
    for (const r of records) {
      if (NOT_RUN_STATUSES.has(r.status)) continue;
      for (const a of attemptsOf(r).values()) if (a.startedAt) starts.push(a.startedAt.getTime());
    }
    occ.start = starts.length ? Math.min(...starts) : null;

    if (records.length > 1) {
      flag(occ, 'doubled', `${records.length} records cover this occurrence`);
      continue;
    }
    if (records.length === 0) {
      flag(
        occ,
        'lost',
        `no record covers this occurrence, yet ${deliveries.length} deliver${deliveries.length === 1 ? 'y' : 'ies'} reached the receiver`,
      );
      continue;
    }
    const run = records[0]!;
    for (const d of deliveries) {
      if (d.trigger !== null ? DUE_TRIGGERS.has(d.trigger) : DUE_TRIGGERS.has(run.trigger)) {
        if (d.arrivedAt < occ.at - earlyDeliveryTol)
          flag(occ, 'early', `delivery #${d.seq} arrived ${occ.at - d.arrivedAt} ms before the due time`, records, [d]);
      }
    }
    if (DUE_TRIGGERS.has(run.trigger)) {
      for (const [n, a] of attemptsOf(run)) {
        if (a.startedAt && a.startedAt.getTime() < occ.at - earlyRecordTol) {
          flag(occ, 'early', `attempt ${n} was recorded as started ${occ.at - a.startedAt.getTime()} ms before the due time`, records, []);
        }
      }
    }
    if (NOT_RUN_STATUSES.has(run.status)) {
      if (deliveries.length > 0)
        flag(
          occ,
          'delivered-but-recorded-not-run',
          `recorded ${run.status}${run.rangeEnd ? ' (range)' : ''}, yet ${deliveries.length} deliver${deliveries.length === 1 ? 'y' : 'ies'} reached the receiver`,
        );
      else occ.okClass = run.status === 'missed' ? 'recorded-missed' : 'recorded-skipped';
      continue;
    }
    if (run.rangeEnd && run.rangeEnd.getTime() !== run.scheduledFor.getTime()) {
      flag(
        occ,
        'lost',
        `a ${run.status} record stands for a range of occurrences: only missed/skipped records may, so this one has no run of its own`,
      );
      continue;
    }
    if (UNSETTLED_STATUSES.has(run.status)) {
      flag(occ, 'lost', `the record is still ${run.status} after the cluster settled`);
      continue;
    }
    const attempts = attemptsOf(run);
    const perAttempt = new Map<number, CheckDelivery[]>();
    let unexplained: CheckDelivery[] = [];
    for (const d of deliveries) {
      if (d.runId !== run.id || d.attempt === null || !attempts.has(d.attempt)) {
        unexplained.push(d);
        continue;
      }
      perAttempt.set(d.attempt, [...(perAttempt.get(d.attempt) ?? []), d]);
    }
    // A taken-over attempt whose call reaches the target after the takeover started it again elsewhere: the old owner
    // (frozen, cut off) went on after losing the run. The takeover explains a call made before it, not one made after.
    const zombies = run.history.flatMap((h) =>
      TAKEOVER_STATUSES.has(h.status) && h.finishedAt
        ? (perAttempt.get(h.attempt) ?? []).filter((d) => d.arrivedAt > h.finishedAt!.getTime() + takeoverTol).map((d) => ({ d, h }))
        : [],
    );
    if (zombies.length > 0) {
      flag(
        occ,
        'doubled',
        zombies
          .map(
            ({ d, h }) =>
              `attempt ${h.attempt} (taken over from ${h.instanceId ?? '?'} at ${h.finishedAt!.toISOString()}) delivered at ${iso(d.arrivedAt)}, after its takeover`,
          )
          .join('; '),
      );
      continue;
    }
    const repeated = [...perAttempt.entries()].filter(([, ds]) => ds.length > 1);
    if (repeated.length > 0) {
      flag(
        occ,
        'doubled',
        `two or more deliveries of the same (run, attempt): ${repeated.map(([n, ds]) => `attempt ${n} x${ds.length}`).join(', ')}`,
      );
      continue;
    }
    if (unexplained.length > 0) {
      flag(
        occ,
        'doubled',
        `${unexplained.length} deliver${unexplained.length === 1 ? 'y' : 'ies'} not explained by the record's attempts (run ${run.id}, attempts ${[...attempts.keys()].join(', ')})`,
      );
      continue;
    }
    // Stopped on request: not run (cancelled before its start) or cut short; either is an answer, not a loss.
    if (run.status === 'cancelled' && deliveries.length <= 1) {
      occ.okClass = 'cancelled';
      continue;
    }
    if (deliveries.length === 0) {
      flag(occ, 'lost', `recorded ${run.status} (attempt ${run.attempt}), but no delivery reached the receiver`);
      continue;
    }
    if (deliveries.length === 1) {
      occ.okClass = 'once';
      continue;
    }
    // Several attempts delivered: every one but the last must have ended in a recorded takeover or a retried failure.
    const delivered = [...perAttempt.keys()].sort((a, b) => a - b);
    let takeover = false;
    unexplained = [];
    for (const n of delivered.slice(0, -1)) {
      const a = attempts.get(n)!;
      if (!a.current && TAKEOVER_STATUSES.has(a.status)) takeover = true;
      else if (!a.current && RETRIED_STATUSES.has(a.status)) {
        // a retry
      } else unexplained.push(...perAttempt.get(n)!);
    }
    if (unexplained.length > 0) {
      flag(
        occ,
        'doubled',
        `${deliveries.length} deliveries, but attempt(s) ${unexplained.map((d) => d.attempt).join(', ')} ended neither in a recorded takeover nor in a retried failure`,
      );
      continue;
    }
    occ.okClass = takeover ? 'again-by-takeover' : 'again-by-retry';
  }

  // 5. Order: an occurrence must not start after a later occurrence of its job started (beyond the tolerance).
  for (const list of occsByJob.values()) {
    let laterMin: Occ | null = null;
    for (let i = list.length - 1; i >= 0; i--) {
      const occ = list[i]!;
      if (occ.start === null) continue;
      if (laterMin && laterMin.start! < occ.start - orderTol) {
        flag(
          occ,
          'out-of-order',
          `started at ${iso(occ.start)}, ${occ.start - laterMin.start!} ms after the later occurrence ${iso(laterMin.at)} had started (${iso(laterMin.start!)})`,
          [...occ.records, ...laterMin.records],
          [...occ.deliveries, ...laterMin.deliveries],
        );
      }
      if (!laterMin || occ.start < laterMin.start!) laterMin = occ;
    }
  }

  // 6a. Overlap: skip and queue-one jobs never have two occurrences in flight at the receiver, unless the earlier call
  // belongs to an attempt whose instance was presumed gone (its lease expired; the target may still serve the call): one
  // taken over, or the last one, closed with outcome unknown by another instance (the takeover limit was reached).
  const excusedByTakeover = (d: CheckDelivery): boolean => {
    const run = d.runId ? runsById.get(d.runId) : undefined;
    if (!run || d.attempt === null) return false;
    if (run.status === 'unknown' && run.attempt === d.attempt && run.instanceId !== null) return true;
    return run.history.some((h) => h.attempt === d.attempt && TAKEOVER_STATUSES.has(h.status));
  };
  for (const list of occsByJob.values()) {
    const job = list[0]?.job;
    if (!job || job.overlapPolicy === 'allow') continue;
    const calls = list
      .flatMap((occ) => occ.deliveries.map((d) => ({ occ, d })))
      .sort((a, b) => a.d.arrivedAt - b.d.arrivedAt || a.d.seq - b.d.seq);
    for (let i = 0; i < calls.length; i++) {
      const first = calls[i]!;
      const firstEnd = first.d.endedAt ?? Number.POSITIVE_INFINITY;
      if (excusedByTakeover(first.d)) continue;
      for (let k = i + 1; k < calls.length; k++) {
        const second = calls[k]!;
        if (second.d.arrivedAt >= firstEnd - overlapTol) break;
        if (second.occ === first.occ) continue;
        flag(
          second.occ,
          'overlap',
          `${job.overlapPolicy} job: delivery #${second.d.seq} (${iso(second.occ.at)}) arrived at ${iso(second.d.arrivedAt)} while delivery #${first.d.seq} of ${iso(first.occ.at)} was in flight until ${first.d.endedAt === null ? 'the end' : iso(first.d.endedAt)}`,
          [...first.occ.records, ...second.occ.records],
          [first.d, second.d],
        );
      }
    }
  }

  // 6b. Started while stopping: no attempt of an instance starts after it got SIGTERM.
  const sigterm = new Map<string, number>();
  for (const e of input.lifecycle ?? []) {
    if (e.kind === 'sigterm' && !(sigterm.has(e.instanceId) && sigterm.get(e.instanceId)! <= e.at)) sigterm.set(e.instanceId, e.at);
  }
  if (sigterm.size > 0) {
    for (const occ of occurrences) {
      const run = occ.records.length === 1 ? occ.records[0]! : undefined;
      const flagged = new Set<string>();
      if (run) {
        for (const [n, a] of attemptsOf(run)) {
          const stopAt = a.instanceId ? sigterm.get(a.instanceId) : undefined;
          if (stopAt === undefined || !a.startedAt || a.startedAt.getTime() <= stopAt + stopTol) continue;
          flagged.add(`${run.id}|${n}`);
          const ds = occ.deliveries.filter((d) => d.runId === run.id && d.attempt === n);
          flag(
            occ,
            'started-while-stopping',
            `attempt ${n} started on ${a.instanceId} at ${a.startedAt.toISOString()}, ${a.startedAt.getTime() - stopAt} ms after its SIGTERM (${iso(stopAt)})`,
            [run],
            ds,
          );
        }
      }
      for (const d of occ.deliveries) {
        const instance = deliveryInstance(d);
        const stopAt = instance ? sigterm.get(instance) : undefined;
        if (stopAt === undefined || flagged.has(`${d.runId}|${d.attempt}`)) continue;
        const sender = d.runId ? runsById.get(d.runId) : undefined;
        const a = sender && d.attempt !== null ? attemptsOf(sender).get(d.attempt) : undefined;
        // A recorded start before the SIGTERM: the call was on its way; else the delivery's arrival is the start.
        const startedAt = a?.startedAt ? a.startedAt.getTime() : d.arrivedAt;
        if (startedAt <= stopAt + stopTol) continue;
        flagged.add(`${d.runId}|${d.attempt}`);
        flag(
          occ,
          'started-while-stopping',
          `delivery #${d.seq} by ${instance} arrived at ${iso(d.arrivedAt)}, ${d.arrivedAt - stopAt} ms after its SIGTERM (${iso(stopAt)})`,
          occ.records,
          [d],
        );
      }
    }
  }

  // 7. Nothing at all: lost, unless optional.
  let optionalAbsent = 0;
  for (const occ of occurrences) {
    if (occ.records.length > 0 || occ.deliveries.length > 0) continue;
    if (occ.optional) optionalAbsent++;
    else flag(occ, 'lost', 'no record covers this occurrence (single or range) and nothing was delivered', [], []);
  }

  // The report.
  const classes = Object.fromEntries([...OK_CLASSES, ...OCCURRENCE_VIOLATIONS].map((c) => [c, 0])) as Record<OccurrenceClass, number>;
  const violationsByClass = Object.fromEntries(VIOLATION_CLASSES.map((c) => [c, 0])) as Record<ViolationClass, number>;
  const results: OccurrenceResult[] = [];
  let checked = 0;
  for (const occ of occurrences) {
    if (occ.optional && occ.records.length === 0 && occ.deliveries.length === 0) continue;
    checked++;
    const worst = OCCURRENCE_VIOLATIONS.find((c) => occ.violations.some((v) => v.class === c));
    const cls: OccurrenceClass = worst ?? occ.okClass ?? 'lost';
    classes[cls]++;
    results.push({ jobId: occ.job.id, occurrence: iso(occ.at), optional: occ.optional, class: cls });
  }
  for (const v of violations) violationsByClass[v.class]++;
  const streaks: CheckReport['skippedStreaks'] = [];
  for (const list of occsByJob.values()) {
    let best: CheckReport['skippedStreaks'][number] | null = null;
    let from: Occ | null = null;
    let length = 0;
    for (const occ of [...list, null]) {
      if (occ && occ.violations.length === 0 && occ.okClass === 'recorded-skipped') {
        from ??= occ;
        length++;
        continue;
      }
      if (from && length > (best?.length ?? 0)) {
        const last = list[list.indexOf(from) + length - 1]!;
        best = { jobId: from.job.id, jobName: from.job.name, length, from: iso(from.at), to: iso(last.at) };
      }
      from = null;
      length = 0;
    }
    if (best) streaks.push(best);
  }
  streaks.sort((a, b) => b.length - a.length);
  const faultsByKind: Record<string, number> = {};
  for (const f of input.faults ?? []) faultsByKind[f.kind] = (faultsByKind[f.kind] ?? 0) + 1;
  const lags = occurrences
    .filter((occ) => occ.deliveries.length > 0 && occ.deliveries[0]!.trigger === 'schedule')
    .map((occ) => occ.deliveries[0]!.arrivedAt - occ.at)
    .sort((a, b) => a - b);
  return {
    ok: violations.length === 0,
    occurrencesChecked: checked,
    requiredOccurrences: occurrences.filter((occ) => !occ.optional).length,
    optionalAbsent,
    classes,
    violationsByClass,
    faultsByKind,
    jobs: input.jobs.length,
    runs: input.runs.length,
    deliveries: input.deliveries.length,
    skippedStreaks: streaks.slice(0, 5),
    lagMs: { count: lags.length, p50: percentile(lags, 0.5), p99: percentile(lags, 0.99), max: lags.at(-1) ?? null },
    violations,
    occurrences: results,
  };
}

/** A few lines for a terminal or a test log. */
export function summarize(report: CheckReport): string {
  const nonzero = (r: Record<string, number>): string =>
    Object.entries(r)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  const lines = [
    `occurrences checked: ${report.occurrencesChecked} (required ${report.requiredOccurrences}, optional absent ${report.optionalAbsent}); ${report.jobs} jobs, ${report.runs} records, ${report.deliveries} deliveries`,
    `classes: ${nonzero(report.classes)}`,
    `faults: ${nonzero(report.faultsByKind)}`,
    `violations: ${report.violations.length}${report.violations.length ? ` (${nonzero(report.violationsByClass)})` : ''}`,
    `longest streak of skipped occurrences: ${report.skippedStreaks[0] ? `${report.skippedStreaks[0].length} (${report.skippedStreaks[0].jobName} from ${report.skippedStreaks[0].from})` : 'none'}`,
    `lag of on-time deliveries: p50 ${report.lagMs.p50 ?? '-'} ms, p99 ${report.lagMs.p99 ?? '-'} ms, max ${report.lagMs.max ?? '-'} ms`,
  ];
  for (const v of report.violations.slice(0, 10)) lines.push(`  ${v.class}: ${v.jobName} ${v.occurrence}: ${v.detail}`);
  if (report.violations.length > 10) lines.push(`  … and ${report.violations.length - 10} more`);
  return lines.join('\n');
}
