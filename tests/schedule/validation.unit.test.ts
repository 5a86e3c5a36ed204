import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cronExpressionError, isValidTimezone, ScheduleSchema } from '../../lib/validation/schedule';

const messages = (input: unknown): string[] => {
  const parsed = ScheduleSchema.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('ScheduleSchema', () => {
  test('accepts cron with 5 or 6 fields and defaults the time zone to UTC', () => {
    const five = ScheduleSchema.parse({ kind: 'cron', expression: ' 0 9 * * 1-5 ' });
    assert.deepEqual(five, { kind: 'cron', expression: '0 9 * * 1-5', timezone: 'UTC' });
    assert.equal(ScheduleSchema.parse({ kind: 'cron', expression: '*/5 * * * * *', timezone: 'Asia/Tokyo' }).kind, 'cron');
  });

  test('rejects bad cron expressions with a field-level message', () => {
    assert.match(messages({ kind: 'cron', expression: '* * *' }).join(), /^expression: invalid cron expression: expected 5 fields/);
    assert.match(messages({ kind: 'cron', expression: '61 * * * *' }).join(), /^expression: invalid cron expression/);
    assert.match(messages({ kind: 'cron', expression: '* * * * * * *' }).join(), /got 7/);
    assert.equal(cronExpressionError('0 9 * * 1-5'), null);
  });

  test('rejects unknown time zones', () => {
    assert.equal(isValidTimezone('Europe/Berlin'), true);
    assert.equal(isValidTimezone('Mars/Olympus'), false);
    assert.match(messages({ kind: 'cron', expression: '0 * * * *', timezone: 'Mars/Olympus' }).join(), /^timezone: unknown IANA time zone/);
  });

  test('intervals are whole seconds from 1 s to 366 days', () => {
    assert.deepEqual(ScheduleSchema.parse({ kind: 'interval', seconds: 1 }), { kind: 'interval', seconds: 1 });
    assert.match(messages({ kind: 'interval', seconds: 0 }).join(), /shortest interval is 1 second/);
    assert.match(messages({ kind: 'interval', seconds: 1.5 }).join(), /whole number/);
    assert.match(messages({ kind: 'interval', seconds: 366 * 86_400 + 1 }).join(), /longest interval/);
    assert.match(messages({ kind: 'interval', seconds: '10' }).join(), /seconds must be a number/);
  });

  test('once needs an ISO date-time with an offset', () => {
    assert.equal(ScheduleSchema.parse({ kind: 'once', at: '2030-01-01T09:00:00+01:00' }).kind, 'once');
    assert.equal(ScheduleSchema.parse({ kind: 'once', at: '2030-01-01T08:00:00Z' }).kind, 'once');
    assert.match(messages({ kind: 'once', at: 'tomorrow' }).join(), /^at: at must be an ISO-8601/);
    // A wall time without an offset is ambiguous.
    assert.match(messages({ kind: 'once', at: '2030-01-01T09:00:00' }).join(), /^at: at must be an ISO-8601/);
  });

  test('an unknown kind is one clear error', () => {
    assert.match(messages({ kind: 'weekly' }).join(), /schedule.kind must be one of cron, interval, once/);
  });
});
