// Alert rules without a database: the body's validation (lib/validation/alert.ts), which rules apply to a job, the one
// row per channel of an event, the delivery backoff and the message an alert row becomes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertMessage, alertRetryDelayMs, matchRules, rulesOfJob } from '../../lib/scheduler/alerts';
import type { Alert } from '../../lib/store/types';
import { AlertDefaultsSchema, JobAlertRulesSchema } from '../../lib/validation/alert';

const ok = { channelId: 'c1', on: ['failure'], throttleSeconds: 0, slowAfterSeconds: null };

function issues(value: unknown): string[] {
  const parsed = JobAlertRulesSchema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('alert rule validation', () => {
  it('accepts a rule, filling throttleSeconds and slowAfterSeconds', () => {
    assert.deepEqual(JobAlertRulesSchema.parse([{ channelId: 'c1', on: ['failure', 'recovery'] }]), [
      { channelId: 'c1', on: ['failure', 'recovery'], throttleSeconds: 0, slowAfterSeconds: null },
    ]);
    assert.deepEqual(issues([{ ...ok, on: ['slow'], slowAfterSeconds: 604_800 }]), []);
  });

  it('refuses each broken rule with the field path', () => {
    assert.match(issues(Array.from({ length: 11 }, () => ok))[0]!, /at most 10/);
    assert.match(issues([{ ...ok, on: [] }])[0]!, /^0\.on: /);
    assert.match(issues([{ ...ok, on: ['failure', 'failure'] }])[0]!, /^0\.on: .*twice/);
    assert.match(issues([{ ...ok, on: ['nope'] }])[0]!, /^0\.on\.0: /);
    assert.match(issues([{ ...ok, throttleSeconds: 86_401 }])[0]!, /^0\.throttleSeconds: /);
    assert.match(issues([{ ...ok, throttleSeconds: -1 }])[0]!, /^0\.throttleSeconds: /);
    assert.match(issues([{ ...ok, throttleSeconds: 1.5 }])[0]!, /^0\.throttleSeconds: /);
    assert.match(issues([{ ...ok, on: ['slow'] }])[0]!, /^0\.slowAfterSeconds: .*required/);
    assert.match(issues([{ ...ok, on: ['slow'], slowAfterSeconds: 0 }])[0]!, /^0\.slowAfterSeconds: /);
    assert.match(issues([{ ...ok, on: ['slow'], slowAfterSeconds: 604_801 }])[0]!, /^0\.slowAfterSeconds: /);
    assert.match(issues([{ ...ok, slowAfterSeconds: 10 }])[0]!, /^0\.slowAfterSeconds: .*null unless/);
    assert.match(issues([{ ...ok, on: ['instance-lost'] }])[0]!, /^0\.on\.0: /, 'instance-lost only in defaults');
    assert.match(issues([{ ...ok, extra: 1 }])[0]!, /extra/);
    assert.match(issues([{ ...ok, channelId: '' }])[0]!, /^0\.channelId: /);
    assert.match(issues('x')[0]!, /alerts must be a list/);
  });

  it('defaults may listen to instance-lost and name a tag', () => {
    const parsed = AlertDefaultsSchema.parse({
      rules: [
        { channelId: 'c1', on: ['instance-lost'], tag: null },
        { ...ok, tag: 'ops' },
      ],
    });
    assert.equal(parsed.rules.length, 2);
    assert.equal(AlertDefaultsSchema.safeParse({ rules: [{ ...ok, tag: 'bad tag' }] }).success, false);
  });
});

describe('which rules apply, one row per channel', () => {
  const job = {
    alerts: [
      { channelId: 'c1', on: ['failure' as const], throttleSeconds: 60, slowAfterSeconds: null },
      { channelId: 'c2', on: ['failure' as const, 'recovery' as const], throttleSeconds: 0, slowAfterSeconds: null },
    ],
    tags: ['ops'],
  };
  const defaults = [
    { channelId: 'c1', on: ['failure' as const], throttleSeconds: 0, slowAfterSeconds: null, tag: null },
    { channelId: 'c3', on: ['failure' as const], throttleSeconds: 0, slowAfterSeconds: null, tag: 'ops' },
    { channelId: 'c4', on: ['failure' as const], throttleSeconds: 0, slowAfterSeconds: null, tag: 'other' },
  ];

  it("a job's own rules first, then the defaults for all jobs and for its tags", () => {
    assert.deepEqual(
      rulesOfJob(job, defaults).map((k) => k.key),
      ['job:0', 'job:1', 'default:0', 'default:1'],
    );
  });

  it('a channel matched by a job rule and a default sends once, under the job rule', () => {
    const matched = matchRules(rulesOfJob(job, defaults), 'failure');
    assert.deepEqual(
      matched.map((k) => [k.rule.channelId, k.key]),
      [
        ['c1', 'job:0'],
        ['c2', 'job:1'],
        ['c3', 'default:1'],
      ],
    );
    assert.deepEqual(
      matchRules(rulesOfJob(job, defaults), 'recovery').map((k) => k.key),
      ['job:1'],
    );
  });
});

describe('delivery', () => {
  it('backoff: 5 s doubling per failed attempt, capped at 10 min', () => {
    const config = { backoffMs: 5_000, maxBackoffMs: 600_000 };
    assert.deepEqual(
      [1, 2, 3, 4, 7, 8, 9].map((n) => alertRetryDelayMs(config, n)),
      [5_000, 10_000, 20_000, 40_000, 320_000, 600_000, 600_000],
    );
  });

  it("the message: a stable id from the row's, the run, the held-back count and a link when CRONPLANE_URL is known", () => {
    const alert = {
      id: '0b0e2c8e-0000-4000-8000-000000000001',
      event: 'failure',
      at: new Date(1_000),
      title: 't',
      text: 'x',
      jobId: 'j1',
      jobName: 'nightly',
      runId: 'r1',
      runScheduledFor: new Date(0),
      runStatus: 'failed',
      runAttempt: 3,
      instanceId: 'i1',
      suppressedCount: 4,
    } as Alert;
    const message = alertMessage(alert, 'https://cp.example.com/');
    assert.equal(message.id, 'alrt_0b0e2c8e-0000-4000-8000-000000000001');
    assert.deepEqual(message.run, { id: 'r1', scheduledFor: new Date(0), status: 'failed', attempt: 3 });
    assert.deepEqual(message.job, { id: 'j1', name: 'nightly' });
    assert.equal(message.suppressedCount, 4);
    assert.equal(message.url, 'https://cp.example.com/runs/r1');
    assert.equal(alertMessage(alert, null).url, null);
    assert.deepEqual(alertMessage(alert, null), { ...alertMessage(alert, null) }, 'the same for every attempt');
  });
});
