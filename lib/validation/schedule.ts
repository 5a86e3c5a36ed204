import { z } from 'zod';
import { Cron } from 'croner';
import { parseIsoDate } from './date';
import type { Schedule } from '../domain';

/** True when `tz` is an IANA time zone this runtime knows (Intl throws a RangeError otherwise). */
export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const NEVER_FIRES_MESSAGE =
  'it never fires: no date has this day of the month in these months (for example 30 February or 31 April)';

/**
 * Returns an error message for a bad cron expression, or null when it parses and fires. 5 or 6 fields. One that
 * parses but matches no date ("0 0 30 2 *") was saved with no next run and never ran: refused too. Whether a date
 * exists does not depend on the time zone, so UTC decides.
 */
export function cronExpressionError(expression: string): string | null {
  const fields = expression.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) {
    return `expected 5 fields (minute hour day month weekday) or 6 with seconds first, got ${fields.length}`;
  }
  let cron: Cron;
  try {
    cron = new Cron(expression, { paused: true, timezone: 'UTC' });
  } catch (err) {
    return err instanceof Error ? err.message.replace(/^CronPattern:\s*/, '') : 'invalid cron expression';
  }
  return cron.nextRun() === null ? NEVER_FIRES_MESSAGE : null;
}

export const TimezoneSchema = z
  .string()
  .trim()
  .min(1, 'timezone is required')
  .max(64)
  .refine(isValidTimezone, { message: 'unknown IANA time zone (for example Europe/Berlin or UTC)' })
  // The document: the custom format `time-zone`, an IANA time zone name this runtime knows.
  .meta({ format: 'time-zone' });

export const CronScheduleSchema = z.object({
  kind: z.literal('cron'),
  expression: z
    .string()
    .trim()
    .min(1, 'cron expression is required')
    .max(200)
    .superRefine((value, ctx) => {
      const error = cronExpressionError(value);
      if (error) ctx.addIssue({ code: 'custom', message: `invalid cron expression: ${error}` });
    })
    // The document: the custom format `cron`, 5 or 6 fields (croner's syntax) that fire at least once.
    .meta({ format: 'cron' }),
  timezone: TimezoneSchema.default('UTC'),
});

export const MAX_INTERVAL_SECONDS = 366 * 24 * 3600;

export const IntervalScheduleSchema = z.object({
  kind: z.literal('interval'),
  seconds: z
    .number({ error: 'seconds must be a number' })
    .int('seconds must be a whole number')
    .min(1, 'the shortest interval is 1 second')
    .max(MAX_INTERVAL_SECONDS, 'the longest interval is 366 days'),
});

export const OnceScheduleSchema = z.object({
  kind: z.literal('once'),
  at: z.iso
    .datetime({ offset: true, message: 'at must be an ISO-8601 date-time, e.g. 2030-01-01T09:00:00Z' })
    // Years 1-9999 (PostgreSQL's timestamptz and the dashboard's formats); the regex alone takes year 0000.
    .refine((value) => parseIsoDate(value) !== null, 'at must be an ISO-8601 date-time between years 1 and 9999, e.g. 2030-01-01T09:00:00Z')
    // The document: the instant must lie in years 1-9999 once its offset is applied. Not year 0000, and (a little
    // stricter than the check above, which compares the times) no offset east of UTC on 0001-01-01 nor west on
    // 9999-12-31, where one could take the instant out of range.
    .meta({
      description: 'An ISO-8601 date-time with Z or an offset; the instant must lie in years 1-9999 (no year 0000)',
      not: { pattern: '^0000-|^0001-01-01T.*[+]\\d\\d:\\d\\d$|^9999-12-31T.*-\\d\\d:\\d\\d$' },
    }),
});

export const ScheduleSchema = z.discriminatedUnion('kind', [CronScheduleSchema, IntervalScheduleSchema, OnceScheduleSchema], {
  error: 'schedule.kind must be one of cron, interval, once',
});

export type { CronSchedule, IntervalSchedule, OnceSchedule, Schedule } from '../domain';

// The schemas parse to exactly the domain's types (a compile error here when they drift apart).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const parsesToTheDomainType: Same<z.output<typeof ScheduleSchema>, Schedule> = true;
void parsesToTheDomainType;
