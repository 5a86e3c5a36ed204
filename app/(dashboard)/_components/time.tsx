'use client';

import { useSyncExternalStore } from 'react';

// One shared one-second clock for every time on the page, instead of an interval per cell.
let now = Date.now();
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | null = null;

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  timer ??= setInterval(() => {
    now = Date.now();
    listeners.forEach((l) => l());
  }, 1000);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
}

/** Null while server rendering and hydrating: the server knows neither the viewer's zone nor their clock. */
function useNow(): number | null {
  return useSyncExternalStore(
    subscribe,
    () => now,
    () => null,
  );
}

/** A full date and time to the second, 24-hour clock: every absolute moment the dashboard shows. */
export const DATE_TIME: Intl.DateTimeFormatOptions = {
  year: 'numeric',
  month: 'short',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
};

const absolute = (timeZone?: string) => new Intl.DateTimeFormat(undefined, { ...DATE_TIME, timeZone });

const shortInZone = (timeZone: string) =>
  new Intl.DateTimeFormat(undefined, {
    month: 'short',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZone,
    timeZoneName: 'short',
  });

/** Seconds per unit, largest first: a distance is told in the largest unit it has one whole of. */
const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['day', 86_400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

let relativeFormat: Intl.RelativeTimeFormat | null = null;

/** "in 5 sec", "3 min ago", "now", "yesterday": in the viewer's language, whole units, rounded toward zero. */
export function relative(ms: number): string {
  relativeFormat ??= new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });
  const seconds = Math.round(ms / 1000);
  const [unit, size] = UNITS.find(([, s]) => Math.abs(seconds) >= s) ?? UNITS[UNITS.length - 1]!;
  // + 0 turns -0 (a moment ago, rounded) into 0, which reads "now".
  return relativeFormat.format(Math.trunc(seconds / size) + 0, unit);
}

interface TimeProps {
  iso: string | null;
  /** Also show the time in this zone (the job's), when it differs from the viewer's; the zone's name is its tooltip. */
  zone?: string;
  /** Show "in 5 sec / 3 min ago" after the date. */
  showRelative?: boolean;
  /** Only the relative part, the absolute one goes to the tooltip. */
  relativeOnly?: boolean;
  empty?: string;
}

/** A moment shown in the viewer's time zone (UTC until the browser takes over). */
export function Time({ iso, zone, showRelative = false, relativeOnly = false, empty = '—' }: TimeProps) {
  const current = useNow();
  if (!iso) return <span className="muted">{empty}</span>;
  const date = new Date(iso);
  const client = current !== null;
  const abs = client ? absolute().format(date) : `${absolute('UTC').format(date)} UTC`;
  const viewerZone = client ? Intl.DateTimeFormat().resolvedOptions().timeZone : 'UTC';
  const rel = client ? relative(date.getTime() - current) : null;
  const title = `${date.toISOString()}${client ? ` (shown in ${viewerZone})` : ''}`;
  if (relativeOnly) {
    return (
      <time dateTime={iso} title={`${abs} — ${title}`}>
        {rel ?? abs}
      </time>
    );
  }
  return (
    <span className="time">
      <time dateTime={iso} title={title}>
        {abs}
      </time>
      {showRelative && rel && <span className="muted rel"> · {rel}</span>}
      {zone && client && zone !== viewerZone && (
        <span className="muted zone" title={zone}>
          {' '}
          ({shortInZone(zone).format(date)})
        </span>
      )}
    </span>
  );
}
