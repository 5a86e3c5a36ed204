/**
 * The chaos checker can fail: small synthetic logs (one job due every 2 s, a record and a delivery per occurrence),
 * each doctored in one way, must be reported as that violation; the clean versions (also with a takeover delivered
 * twice, a range 'missed' record for 5 occurrences and a retry) must pass. No database, no processes: milliseconds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { reviveInput } from './adapter';
import {
  check,
  type CheckDelivery,
  type CheckInput,
  type CheckJob,
  type CheckRun,
  type InstanceEvent,
  type ViolationClass,
} from './checker';

const T0 = Date.parse('2026-01-01T00:00:00.500Z');
const at = (second: number, ms = 0): number => Date.parse('2026-01-01T00:00:00.000Z') + second * 1000 + ms;
/** The required occurrences of the fixture: 2, 4, ..., 20 s (22 s is within the second after the pause: optional). */
const SECONDS = [2, 4, 6, 8, 10, 12, 14, 16, 18, 20];

function job(overrides: Partial<CheckJob> = {}): CheckJob {
  return {
    id: 'job-1',
    name: 'every-2s',
    overlapPolicy: 'allow',
    missedPolicy: 'run-all',
    from: new Date(T0),
    // Occurrences due after 20 s are in the optional window around the pause.
    until: new Date(at(21, 100)),
    schedule: { kind: 'cron', expression: '*/2 * * * * *', timezone: 'UTC' },
    ...overrides,
  };
}

function run(second: number, overrides: Partial<CheckRun> = {}): CheckRun {
  return {
    id: `run-${second}`,
    jobId: 'job-1',
    scheduledFor: new Date(at(second)),
    startedAt: new Date(at(second, 3)),
    finishedAt: new Date(at(second, 120)),
    status: 'succeeded',
    trigger: 'schedule',
    instanceId: 'i1',
    attempt: 1,
    error: null,
    rangeEnd: null,
    rangeCount: null,
    history: [],
    ...overrides,
  };
}

let seq = 0;
function delivery(second: number, overrides: Partial<CheckDelivery> = {}): CheckDelivery {
  return {
    seq: seq++,
    arrivedAt: at(second, 8),
    endedAt: at(second, 100),
    ended: 'response',
    path: '/hook?ms=92',
    jobId: 'job-1',
    runId: `run-${second}`,
    scheduledFor: new Date(at(second)).toISOString(),
    attempt: 1,
    trigger: 'schedule',
    ...overrides,
  };
}

/** One record and one delivery per required occurrence. */
function clean(jobOverrides: Partial<CheckJob> = {}): CheckInput {
  return { jobs: [job(jobOverrides)], runs: SECONDS.map((s) => run(s)), deliveries: SECONDS.map((s) => delivery(s)), lifecycle: [] };
}

function replaceRun(input: CheckInput, second: number, next: CheckRun | null): void {
  const i = input.runs.findIndex((r) => r.id === `run-${second}`);
  assert.ok(i >= 0);
  if (next) input.runs[i] = next;
  else input.runs.splice(i, 1);
}

function replaceDelivery(input: CheckInput, second: number, next: CheckDelivery[]): void {
  const key = new Date(at(second)).toISOString();
  input.deliveries = [...input.deliveries.filter((d) => d.scheduledFor !== key), ...next];
}

function classes(input: CheckInput): ViolationClass[] {
  return [...new Set(check(input).violations.map((v) => v.class))].sort();
}

function assertOnly(input: CheckInput, expected: ViolationClass, occurrenceSecond?: number): void {
  const report = check(input);
  assert.equal(report.ok, false, 'the doctored log must fail');
  assert.deepEqual(
    [...new Set(report.violations.map((v) => v.class))],
    [expected],
    `expected only ${expected}, got ${JSON.stringify(
      report.violations.map((v) => [v.class, v.occurrence, v.detail]),
      null,
      1,
    )}`,
  );
  if (occurrenceSecond !== undefined) {
    assert.ok(
      report.violations.some((v) => v.occurrence === new Date(at(occurrenceSecond)).toISOString()),
      'the violation names the doctored occurrence',
    );
    const result = report.occurrences.find((o) => o.occurrence === new Date(at(occurrenceSecond)).toISOString());
    assert.equal(result?.class, expected);
  }
}

describe('chaos checker: clean logs pass', () => {
  test('one record and one delivery per occurrence: every required occurrence once, the optional one absent', () => {
    const report = check(clean());
    assert.equal(report.ok, true, JSON.stringify(report.violations, null, 1));
    assert.equal(report.classes.once, 10);
    assert.equal(report.requiredOccurrences, 10);
    assert.equal(report.optionalAbsent, 1, 'the occurrence due 0.9 s after the pause');
    assert.equal(report.occurrencesChecked, 10);
    assert.equal(report.lagMs.p50, 8);
  });

  test('a takeover delivered twice (attempt 1 cut off, attempt 2 elsewhere) is again-by-takeover', () => {
    const input = clean({ overlapPolicy: 'skip' });
    replaceRun(
      input,
      10,
      run(10, {
        attempt: 2,
        instanceId: 'i2',
        startedAt: new Date(at(16, 500)),
        finishedAt: new Date(at(16, 700)),
        history: [
          {
            attempt: 1,
            instanceId: 'i1',
            startedAt: new Date(at(10, 3)),
            finishedAt: new Date(at(16, 500)),
            status: 'unknown',
            error: 'instance i1 stopped renewing its lease',
          },
        ],
      }),
    );
    // Attempt 1 is still in flight at the receiver (its instance froze) when the next occurrences and attempt 2 arrive:
    // excused, because attempt 1 is a recorded takeover. Attempt 2 starts after 12, 14 and 16 started: the
    // occurrence's start is attempt 1's, so it is still in order.
    replaceDelivery(input, 10, [
      delivery(10, { endedAt: at(18) }),
      delivery(10, { attempt: 2, arrivedAt: at(16, 505), endedAt: at(16, 690) }),
    ]);
    const report = check(input);
    assert.equal(report.ok, true, JSON.stringify(report.violations, null, 1));
    assert.equal(report.classes['again-by-takeover'], 1);
    assert.equal(report.classes.once, 9);
  });

  test("'abandoned' in the history counts as a takeover too", () => {
    const input = clean();
    replaceRun(
      input,
      10,
      run(10, {
        attempt: 2,
        history: [
          { attempt: 1, instanceId: 'i1', startedAt: new Date(at(10, 3)), finishedAt: new Date(at(14)), status: 'abandoned', error: null },
        ],
      }),
    );
    replaceDelivery(input, 10, [
      delivery(10, { ended: 'disconnect', endedAt: at(10, 50) }),
      delivery(10, { attempt: 2, arrivedAt: at(14, 5), endedAt: at(14, 80) }),
    ]);
    const report = check(input);
    assert.equal(report.ok, true, JSON.stringify(report.violations, null, 1));
    assert.equal(report.classes['again-by-takeover'], 1);
  });

  test('a range missed record covering 5 occurrences (every instance down) is 5 x recorded-missed', () => {
    const input = clean();
    for (const s of [12, 14, 16, 18, 20]) {
      replaceRun(input, s, null);
      replaceDelivery(input, s, []);
    }
    input.runs.push(
      run(12, {
        id: 'run-range',
        status: 'missed',
        startedAt: null,
        finishedAt: new Date(at(21)),
        rangeEnd: new Date(at(20)),
        rangeCount: 5,
      }),
    );
    const report = check(input);
    assert.equal(report.ok, true, JSON.stringify(report.violations, null, 1));
    assert.equal(report.classes['recorded-missed'], 5);
    assert.equal(report.classes.once, 5);
  });

  test('a retried failure delivered twice is again-by-retry; a skipped record without delivery is recorded-skipped', () => {
    const input = clean();
    replaceRun(
      input,
      6,
      run(6, {
        attempt: 2,
        startedAt: new Date(at(7)),
        history: [
          {
            attempt: 1,
            instanceId: 'i1',
            startedAt: new Date(at(6, 3)),
            finishedAt: new Date(at(6, 60)),
            status: 'failed',
            error: 'expected a 2xx status, got 500',
          },
        ],
      }),
    );
    replaceDelivery(input, 6, [delivery(6, { endedAt: at(6, 50) }), delivery(6, { attempt: 2, arrivedAt: at(7, 5), endedAt: at(7, 40) })]);
    replaceRun(input, 8, run(8, { status: 'skipped', error: 'skipped: the run due at … was still running' }));
    replaceDelivery(input, 8, []);
    const report = check(input);
    assert.equal(report.ok, true, JSON.stringify(report.violations, null, 1));
    assert.equal(report.classes['again-by-retry'], 1);
    assert.equal(report.classes['recorded-skipped'], 1);
  });

  test('a cancelled record with no delivery (closed before its start) or one cut short is cancelled; two deliveries are not explained', () => {
    const input = clean();
    replaceRun(input, 6, run(6, { status: 'cancelled', startedAt: null, error: 'cancelled by admin' }));
    replaceDelivery(input, 6, []);
    replaceRun(input, 8, run(8, { status: 'cancelled', error: 'cancelled on request: the handler was aborted on instance i1' }));
    const report = check(input);
    assert.equal(report.ok, true, JSON.stringify(report.violations, null, 1));
    assert.equal(report.classes.cancelled, 2);

    const doubled = clean();
    replaceRun(doubled, 8, run(8, { status: 'cancelled' }));
    replaceDelivery(doubled, 8, [delivery(8), delivery(8, { arrivedAt: at(8, 60) })]);
    assert.equal(check(doubled).ok, false);
  });

  test('an instance that started a run before its SIGTERM and delivered just after it: fine', () => {
    const input = clean();
    replaceRun(input, 8, run(8, { instanceId: 'i2' }));
    input.lifecycle = [{ instanceId: 'i2', kind: 'sigterm', at: at(8, 5) }];
    const report = check(input);
    assert.equal(report.ok, true, JSON.stringify(report.violations, null, 1));
  });

  test('an allow job may overlap itself; nothing is required near creation and pause', () => {
    const input = clean({ overlapPolicy: 'allow' });
    replaceDelivery(input, 4, [delivery(4, { endedAt: at(7) })]);
    // The first and last occurrences (2 s is 1.5 s after creation; 20 s is 1.1 s before the pause) given 1.6 s windows.
    input.options = { optionalAfterStartMs: 1_600, optionalBeforeEndMs: 1_200 };
    replaceRun(input, 2, null);
    replaceDelivery(input, 2, []);
    replaceRun(input, 20, null);
    replaceDelivery(input, 20, []);
    const report = check(input);
    assert.equal(report.ok, true, JSON.stringify(report.violations, null, 1));
    assert.equal(report.optionalAbsent, 3);
  });

  test('a claimed run closed as skipped by the pause, due just after it: fine', () => {
    const input = clean();
    input.runs.push(run(22, { status: 'skipped', startedAt: null, error: 'the job was paused' }));
    assert.equal(check(input).ok, true);
  });
});

describe('chaos checker: doctored logs fail', () => {
  test('one duplicated delivery -> doubled', () => {
    const input = clean();
    input.deliveries.push({ ...delivery(8), arrivedAt: at(8, 30) });
    assertOnly(input, 'doubled', 8);
  });

  test('a second delivery under another attempt number than the record knows -> doubled', () => {
    const input = clean();
    input.deliveries.push(delivery(8, { attempt: 2, arrivedAt: at(9) }));
    assertOnly(input, 'doubled', 8);
  });

  test('two deliveries where the first attempt is no recorded takeover or retry -> doubled', () => {
    const input = clean();
    replaceRun(
      input,
      10,
      run(10, {
        attempt: 2,
        history: [
          { attempt: 1, instanceId: 'i1', startedAt: new Date(at(10, 3)), finishedAt: new Date(at(11)), status: 'succeeded', error: null },
        ],
      }),
    );
    replaceDelivery(input, 10, [delivery(10), delivery(10, { attempt: 2, arrivedAt: at(11, 5) })]);
    assertOnly(input, 'doubled', 10);
  });

  test('a taken-over attempt that delivers after its takeover (a frozen owner waking up) -> doubled', () => {
    const input = clean();
    replaceRun(
      input,
      10,
      run(10, {
        attempt: 2,
        instanceId: 'i2',
        startedAt: new Date(at(16)),
        history: [
          { attempt: 1, instanceId: 'i1', startedAt: new Date(at(10, 3)), finishedAt: new Date(at(16)), status: 'unknown', error: null },
        ],
      }),
    );
    replaceDelivery(input, 10, [
      delivery(10, { arrivedAt: at(16, 400), endedAt: at(16, 500) }),
      delivery(10, { attempt: 2, arrivedAt: at(16, 5), endedAt: at(16, 90) }),
    ]);
    assertOnly(input, 'doubled', 10);
  });

  test('two records for one occurrence (a single one inside a range) -> doubled', () => {
    const input = clean();
    replaceDelivery(input, 14, []);
    replaceRun(input, 14, run(14, { status: 'missed', startedAt: null }));
    input.runs.push(run(12, { id: 'run-range', status: 'missed', startedAt: null, rangeEnd: new Date(at(16)), rangeCount: 3 }));
    // 12 and 16 have a delivery under a missed range: those are reported too.
    const found = classes(input);
    assert.ok(found.includes('doubled'), found.join());
    assert.equal(check(input).occurrences.find((o) => o.occurrence === new Date(at(14)).toISOString())?.class, 'doubled');
  });

  test('a removed record -> lost (with and without its delivery)', () => {
    const withDelivery = clean();
    replaceRun(withDelivery, 12, null);
    assertOnly(withDelivery, 'lost', 12);
    const nothing = clean();
    replaceRun(nothing, 12, null);
    replaceDelivery(nothing, 12, []);
    assertOnly(nothing, 'lost', 12);
  });

  test('a record that says succeeded without any delivery -> lost', () => {
    const input = clean();
    replaceDelivery(input, 16, []);
    assertOnly(input, 'lost', 16);
  });

  test('a record still claimed or running after the settle -> lost', () => {
    for (const status of ['claimed', 'running']) {
      const input = clean();
      replaceRun(input, 16, run(16, { status, finishedAt: null }));
      replaceDelivery(input, 16, status === 'claimed' ? [] : [delivery(16, { endedAt: null, ended: null })]);
      assertOnly(input, 'lost', 16);
    }
  });

  test('a missed record whose occurrence was delivered anyway -> delivered-but-recorded-not-run', () => {
    const input = clean();
    replaceRun(input, 10, run(10, { status: 'missed', startedAt: null }));
    assertOnly(input, 'delivered-but-recorded-not-run', 10);
  });

  test('a delivery before the due time -> early', () => {
    const input = clean();
    replaceDelivery(input, 6, [delivery(6, { arrivedAt: at(6, -40) })]);
    assertOnly(input, 'early', 6);
  });

  test('a recorded start 2 ms before the due time -> early (1 ms tolerance)', () => {
    const input = clean();
    replaceRun(input, 6, run(6, { startedAt: new Date(at(6, -2)) }));
    assertOnly(input, 'early', 6);
    const ok = clean();
    replaceRun(ok, 6, run(6, { startedAt: new Date(at(6, -1)) }));
    assert.equal(check(ok).ok, true);
  });

  test('an earlier occurrence started after a later one -> out-of-order', () => {
    const input = clean();
    // 8 s starts 2.5 s late, after 10 s started: a frozen instance's old claim run late.
    replaceRun(input, 8, run(8, { startedAt: new Date(at(10, 500)), finishedAt: new Date(at(10, 600)), trigger: 'schedule' }));
    replaceDelivery(input, 8, [delivery(8, { arrivedAt: at(10, 505), endedAt: at(10, 590) })]);
    assertOnly(input, 'out-of-order', 8);
  });

  test('swapped start times of two occurrences -> out-of-order (and the later one early)', () => {
    const input = clean();
    replaceRun(input, 8, run(8, { startedAt: new Date(at(10, 3)) }));
    replaceRun(input, 10, run(10, { startedAt: new Date(at(8, 3)) }));
    replaceDelivery(input, 8, [delivery(8, { arrivedAt: at(10, 8), endedAt: at(10, 90) })]);
    replaceDelivery(input, 10, [delivery(10, { arrivedAt: at(8, 8), endedAt: at(8, 90) })]);
    assert.deepEqual(classes(input), ['early', 'out-of-order']);
    assert.equal(check(input).occurrences.find((o) => o.occurrence === new Date(at(8)).toISOString())?.class, 'out-of-order');
  });

  test('within the order tolerance: fine', () => {
    const input = clean();
    replaceRun(input, 8, run(8, { startedAt: new Date(at(10, 100)) }));
    replaceDelivery(input, 8, [delivery(8, { arrivedAt: at(10, 150) })]);
    // 10 s started at 10.003 / arrived 10.008: 8 s is 142-147 ms after it, under the default 250 ms.
    assert.equal(check(input).ok, true, JSON.stringify(check(input).violations, null, 1));
  });

  test('a delivery by an instance after its SIGTERM -> started-while-stopping', () => {
    const input = clean();
    replaceRun(input, 8, run(8, { instanceId: 'i2' }));
    const sigterm: InstanceEvent = { instanceId: 'i2', kind: 'sigterm', at: at(7) };
    input.lifecycle = [sigterm];
    assertOnly(input, 'started-while-stopping', 8);
    // Without a recorded start, the delivery's arrival is the start.
    const noStart = clean();
    replaceRun(noStart, 8, run(8, { instanceId: 'i2', startedAt: null }));
    noStart.lifecycle = [sigterm];
    assertOnly(noStart, 'started-while-stopping', 8);
  });

  test('a taken-over attempt started by a stopping instance -> started-while-stopping', () => {
    const input = clean();
    replaceRun(
      input,
      8,
      run(8, {
        attempt: 2,
        instanceId: 'i3',
        startedAt: new Date(at(9)),
        history: [
          { attempt: 1, instanceId: 'i1', startedAt: new Date(at(8, 3)), finishedAt: new Date(at(9)), status: 'unknown', error: null },
        ],
      }),
    );
    replaceDelivery(input, 8, [delivery(8, { ended: 'disconnect', endedAt: at(8, 20) }), delivery(8, { attempt: 2, arrivedAt: at(9, 5) })]);
    assert.equal(check(input).ok, true);
    input.lifecycle = [{ instanceId: 'i3', kind: 'sigterm', at: at(8, 500) }];
    assertOnly(input, 'started-while-stopping', 8);
  });

  test('overlapping deliveries of a skip job -> overlap; of a queue-one job too', () => {
    for (const overlapPolicy of ['skip', 'queue-one'] as const) {
      const input = clean({ overlapPolicy });
      replaceDelivery(input, 4, [delivery(4, { endedAt: at(6, 200) })]);
      assertOnly(input, 'overlap', 6);
    }
  });

  test("overlap with the call of an attempt closed 'unknown' (its instance presumed gone): not a violation; the same call of a succeeded run is", () => {
    for (const status of ['unknown', 'succeeded'] as const) {
      const input = clean({ overlapPolicy: 'queue-one' });
      replaceRun(input, 4, run(4, { status, attempt: 3 }));
      replaceDelivery(input, 4, [delivery(4, { attempt: 3, endedAt: at(6, 200) })]);
      if (status === 'unknown') assert.equal(check(input).ok, true, JSON.stringify(classes(input)));
      else assertOnly(input, 'overlap', 6);
    }
  });

  test('a record off the schedule or after the pause -> unexpected', () => {
    const off = clean();
    off.runs.push(run(9));
    off.deliveries.push(delivery(9));
    assert.deepEqual(classes(off), ['unexpected']);
    const late = clean();
    late.runs.push(run(26));
    assert.deepEqual(classes(late), ['unexpected']);
  });
});

describe('chaos checker: saved runs', () => {
  test('a saved input (JSON, deliveries as JSON lines) checks the same after reading it back (recheck.ts)', () => {
    const input = clean();
    replaceRun(
      input,
      10,
      run(10, {
        attempt: 2,
        history: [
          { attempt: 1, instanceId: 'i1', startedAt: new Date(at(10, 3)), finishedAt: new Date(at(14)), status: 'unknown', error: null },
        ],
      }),
    );
    replaceDelivery(input, 10, [delivery(10, { arrivedAt: at(15) })]);
    input.runs.push(run(12, { id: 'run-range', status: 'missed', startedAt: null, rangeEnd: new Date(at(16)), rangeCount: 3 }));
    input.lifecycle = [{ instanceId: 'i1', kind: 'sigterm', at: at(19) }];
    const saved = JSON.parse(
      JSON.stringify({ jobs: input.jobs, runs: input.runs, lifecycle: input.lifecycle, faults: [{ kind: 'kill' }] }),
    ) as Record<string, unknown>;
    const back = reviveInput(saved, input.deliveries.map((d) => JSON.stringify(d)).join('\n') + '\n');
    const original = check({ ...input, faults: [{ kind: 'kill' }] });
    assert.equal(original.ok, false);
    assert.deepEqual(check(back), original);
  });
});
