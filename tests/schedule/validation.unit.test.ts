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

  test('refuses a cron expression that never fires, with a message; rare ones still pass', () => {
    for (const expression of ['0 0 30 2 *', '0 0 31 2 *', '0 0 31 4 *', '0 0 31 6,9,11 *', '0 0 0 31 11 *', '0 0 30-31 2 *']) {
      assert.deepEqual(messages({ kind: 'cron', expression, timezone: 'Europe/Berlin' }), [
        'expression: invalid cron expression: it never fires: no date has this day of the month in these months (for example 30 February or 31 April)',
      ]);
      assert.match(cronExpressionError(expression) ?? '', /never fires/, expression);
    }
    // 29 February comes every four years; a weekday makes day OR weekday (cron's rule); 31 in a list with 30 fits April.
    for (const expression of ['0 0 29 2 *', '0 0 30 2 1', '0 0 30,31 4 *', '0 0 31 * *', '0 0 31 1-12 *']) {
      assert.equal(cronExpressionError(expression), null, expression);
    }
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
