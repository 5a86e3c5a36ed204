// Dates from query strings, forms and cursors. `new Date(text)` (and z.coerce.date()) takes far more than ISO-8601:
// "0", "1 Jan", expanded years such as "-010000-01-01" or "+275760-09-13", which PostgreSQL's timestamptz refuses
// (a 500 instead of a 400). This parser takes ISO-8601 only, years 0001-9999, and checks the calendar itself.
// Pure (no Node imports).
import { z } from 'zod';

/** The earliest and latest instants accepted: 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z. */
export const MIN_DATE_MS = new Date('0001-01-01T00:00:00.000Z').getTime();
export const MAX_DATE_MS = new Date('9999-12-31T23:59:59.999Z').getTime();

export const DATE_MESSAGE = 'must be an ISO-8601 date or date-time between years 1 and 9999, e.g. 2030-01-31 or 2030-01-31T09:00:00Z';

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|±HH:MM|±HHMM]`; a date-time without an offset
 * is UTC (the server cannot know the caller's zone). Null for anything else, an impossible calendar date, or an
 * instant outside years 1-9999.
 */
export function parseIsoDate(text: string): Date | null {
  const m = ISO.exec(text);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const millis = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone && zone !== 'Z' && zone !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    const [oh, om] = [Number(digits.slice(0, 2)), Number(digits.slice(2))];
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  // Date.UTC maps years 0-99 to 1900-1999: set the full year separately.
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day);
  at.setUTCHours(hour, minute, second, millis);
  const ms = at.getTime() - offsetMinutes * 60_000;
  if (!Number.isFinite(ms) || ms < MIN_DATE_MS || ms > MAX_DATE_MS) return null;
  return new Date(ms);
}

/** A query-string or form date (see parseIsoDate); `label` names it in the message. */
export function isoDateSchema(label: string) {
  return (
    z
      .string({ error: `${label} ${DATE_MESSAGE}` })
      .trim()
      .max(40, `${label} ${DATE_MESSAGE}`)
      // The document: the custom format `date-or-date-time` (what parseIsoDate takes), not date-time, which is narrower.
      .meta({ format: 'date-or-date-time', maxLength: undefined })
      .transform((value, ctx) => {
        const date = parseIsoDate(value);
        if (!date) {
          ctx.addIssue({ code: 'custom', message: `${label} ${DATE_MESSAGE}` });
          return z.NEVER;
        }
        return date;
      })
  );
}

/** An instant in an API answer, as Date.toISOString() writes it. */
export const DateTimeJsonSchema = z.iso.datetime();
