import { countOccurrences, nextOccurrence, occurrencesAfter } from '../schedule';
import type { Job, NewRun, RunTrigger } from '../store/types';

/**
 * Most occurrences walked to count a range of a cron schedule (~50 µs each, so about a second). A longer range gets a
 * record without a count ("uncounted"), which still covers all of it.
 */
export const MAX_COUNTED = 20_000;

export interface ClaimPlanInput {
  /** The job as read, at the occurrence being claimed. */
  job: Pick<Job, 'id' | 'name' | 'schedule' | 'anchorAt' | 'missedPolicy'>;
  /** The occurrence being claimed: the job's nextRunAt. */
  scheduledFor: Date;
  /** Now on the database's clock. */
  now: Date;
  /** An occurrence later than this is late. */
  graceMs: number;
  /** run-all: most missed occurrences replayed. */
  runAllLimit: number;
  instanceId: string;
  /** The claim's lease: renewed with the claimer's heartbeat; a takeover may happen once it expires. */
  leaseExpiresAt: Date;
  /**
   * Whether some instance was up when the occurrence fell due (only asked when it is late). If one was, the occurrence
   * is late because of a fault (a crash, a freeze, a lost ticket): it still runs. The missed policy is for outages.
   */
  someoneAlive: boolean;
  /** The ticket is part of a run-all replay whose window was cut when the replay began. */
  replay: boolean;
}

export interface ClaimPlan {
  /** What the claim writes: the occurrence's own record first, then possibly one record for a folded range. */
  records: NewRun[];
  /** Where the job's pointer goes: past every occurrence the records cover. */
  next: Date | null;
  /** records[0] is a claim to start (else it is a final 'missed' record). */
  starts: boolean;
  /**
   * The next occurrence is due already (a backlog being caught up): its ticket is written only once this run ended, so
   * the backlog goes one occurrence after the other instead of tripping its own overlap policy.
   */
  chain: boolean;
  /** The next tickets belong to a run-all replay (its window is not cut again). */
  replay: boolean;
}

/**
 * Decides what claiming `scheduledFor` records and where the job's pointer goes, from the missed policy. Pure: the
 * scheduler asks the database the questions first. Every occurrence the pointer moves past ends up covered by a record:
 * run (claimed now, started at its due time), or one 'missed' record naming the range it stands for.
 */
export function planClaim(input: ClaimPlanInput): ClaimPlan {
  const { job, scheduledFor, now } = input;
  const late = now.getTime() - scheduledFor.getTime() > input.graceMs;
  const following = nextOccurrence(job.schedule, scheduledFor, job.anchorAt);
  const claim = (trigger: RunTrigger): NewRun => ({
    jobId: job.id,
    jobName: job.name,
    scheduledFor,
    startedAt: null,
    finishedAt: null,
    status: 'claimed',
    trigger,
    instanceId: input.instanceId,
    attempt: 1,
    error: null,
    output: null,
    leaseExpiresAt: input.leaseExpiresAt,
  });
  const dueAlready = following !== null && following.getTime() <= now.getTime();
  if (!late) return { records: [claim('schedule')], next: following, starts: true, chain: false, replay: false };
  if (input.someoneAlive) {
    // A fault, not an outage: this occurrence and each later one run, late, in order.
    return { records: [claim('catch-up')], next: following, starts: true, chain: dueAlready, replay: false };
  }
  const missed = (from: Date, through: Date | null, count: number | null, why: string): NewRun => {
    const range = through === null || through.getTime() > from.getTime();
    return {
      jobId: job.id,
      jobName: job.name,
      scheduledFor: from,
      startedAt: null,
      finishedAt: now,
      status: 'missed',
      trigger: 'schedule',
      instanceId: input.instanceId,
      attempt: 1,
      error: why.slice(0, 4_000),
      output: null,
      leaseExpiresAt: null,
      // An uncounted range (too long to walk) reaches up to now.
      rangeEnd: range ? (through ?? now) : null,
      rangeCount: range ? count : null,
    };
  };
  const down = `no instance was running when it fell due (claimed at ${now.toISOString()})`;
  switch (job.missedPolicy) {
    case 'run-all': {
      if (input.replay) return { records: [claim('catch-up')], next: following, starts: true, chain: dueAlready, replay: true };
      const window = replayWindow(input, until(input));
      if (window.dropped === 0) return { records: [claim('catch-up')], next: following, starts: true, chain: dueAlready, replay: true };
      const dropped = window.dropped === null ? 'every occurrence' : `this and ${window.dropped - 1} later occurrence(s)`;
      const why = `missed: ${down}; ${dropped} through ${window.lastDropped?.toISOString() ?? now.toISOString()} were not replayed (run-all limit ${input.runAllLimit})`;
      const record = missed(scheduledFor, window.lastDropped ?? until(input), window.dropped, why);
      // The replay starts with the first kept occurrence, due already: its ticket goes out at once.
      return { records: [record], next: window.firstKept, starts: false, chain: false, replay: true };
    }
    case 'skip': {
      const fold = countOccurrences(job.schedule, scheduledFor, now, job.anchorAt, MAX_COUNTED);
      const count = fold.count === null ? null : fold.count + 1;
      const through = fold.count === null ? null : (fold.last ?? scheduledFor);
      const range =
        count === 1
          ? ''
          : `; this record stands for ${count === null ? 'every' : count} occurrence(s) through ${(through ?? now).toISOString()}`;
      const record = missed(scheduledFor, through, count, `missed: ${down}${range} (missed policy skip)`);
      return {
        records: [record],
        next: nextOccurrence(job.schedule, through ?? now, job.anchorAt),
        starts: false,
        chain: false,
        replay: false,
      };
    }
    case 'run-once': {
      // The first missed occurrence runs once; the others up to now are one 'missed' record.
      if (following === null || following.getTime() > now.getTime()) {
        return { records: [claim('catch-up')], next: following, starts: true, chain: false, replay: false };
      }
      const fold = countOccurrences(job.schedule, following, now, job.anchorAt, MAX_COUNTED);
      const count = fold.count === null ? null : fold.count + 1;
      const through = fold.count === null ? null : (fold.last ?? following);
      const range =
        count === 1
          ? 'it'
          : `it and ${count === null ? 'every later occurrence' : `${count - 1} later occurrence(s)`} through ${(through ?? now).toISOString()}`;
      const why = `missed: ${down}; the missed policy run-once ran the one due at ${scheduledFor.toISOString()} instead of ${range}`;
      return {
        records: [claim('catch-up'), missed(following, through, count, why)],
        next: nextOccurrence(job.schedule, through ?? now, job.anchorAt),
        starts: true,
        chain: false,
        replay: false,
      };
    }
  }
}

/** run-all replays what was due up to the grace before now: later ones are not late. */
function until(input: ClaimPlanInput): Date {
  return new Date(input.now.getTime() - input.graceMs);
}

/**
 * run-all: the occurrences from `scheduledFor` (inclusive) through `until` (inclusive), of which only the last
 * runAllLimit are replayed. `dropped` counts the others (null: too many to count, all dropped), `lastDropped` is the
 * last of them, `firstKept` the first one replayed (or the first after `until` when all are dropped).
 */
function replayWindow(input: ClaimPlanInput, until: Date): { dropped: number | null; lastDropped: Date | null; firstKept: Date | null } {
  const { job, scheduledFor } = input;
  const after = countOccurrences(job.schedule, scheduledFor, until, job.anchorAt, MAX_COUNTED);
  if (after.count === null) return { dropped: null, lastDropped: null, firstKept: nextOccurrence(job.schedule, until, job.anchorAt) };
  const total = after.count + 1;
  if (total <= input.runAllLimit) return { dropped: 0, lastDropped: null, firstKept: null };
  const dropped = total - input.runAllLimit;
  const next = occurrencesAfter(job.schedule, scheduledFor, job.anchorAt);
  let lastDropped = scheduledFor;
  for (let i = 1; i < dropped; i++) lastDropped = next() ?? lastDropped;
  return { dropped, lastDropped, firstKept: next() };
}
