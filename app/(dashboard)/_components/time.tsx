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
  new Intl.DateTimeFormat(undefined, { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone, timeZoneName: 'short' });

/** "in 5 s", "3 min ago", "just now". */
export function relative(ms: number): string {
  const future = ms > 0;
  const s = Math.round(Math.abs(ms) / 1000);
  let words: string;
  if (s < 1) return 'now';
  if (s < 60) words = `${s} s`;
  else if (s < 3600) words = `${Math.floor(s / 60)} min`;
  else if (s < 86_400) words = `${Math.floor(s / 3600)} h`;
  else words = `${Math.floor(s / 86_400)} d`;
  return future ? `in ${words}` : `${words} ago`;
}

interface TimeProps {
  iso: string | null;
  /** Also show the time in this zone (the job's), when it differs from the viewer's; the zone's name is its tooltip. */
  zone?: string;
  /** Show "in 5 s / 3 min ago" after the date. */
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

