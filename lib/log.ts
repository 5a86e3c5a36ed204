import pino, { type Logger } from 'pino';
import { getInstanceId } from './instance';

export type { Logger };

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const LABELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function level(): string {
  const wanted = process.env.LOG_LEVEL?.trim().toLowerCase();
  return wanted && (LEVELS as readonly string[]).includes(wanted) ? wanted : 'info';
}

/**
 * LOG_FORMAT=json: pino's JSON lines as they are (for a log shipper). Otherwise one readable line per entry:
 * `<time> <LEVEL> <instance> [<component>] <message> key=value ...`.
 */
export function textLine(json: string): string {
  const { time, level: n, instance, component, msg, ...rest } = JSON.parse(json) as Record<string, unknown>;
  const extras = Object.entries(rest)
    .map(([key, value]) => ` ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join('');
  const label = (LABELS[Number(n)] ?? String(n)).padEnd(5);
  return `${String(time)} ${label} ${String(instance)}${component ? ` [${String(component)}]` : ''} ${String(msg ?? '')}${extras}\n`;
}

// One root logger per process (on globalThis: Next loads this module in several bundles), with the instance id on
// every line. pino: levelled, structured and cheap (see README, Libraries).
const KEY = Symbol.for('cronplane.logger');

function root(): Logger {
  const g = globalThis as typeof globalThis & { [KEY]?: Logger };
  g[KEY] ??= pino(
    {
      level: level(),
      base: undefined,
      // Per line, not fixed at creation: a test may set the instance id after the first line was logged.
      mixin: () => ({ instance: getInstanceId() }),
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    process.env.LOG_FORMAT?.trim().toLowerCase() === 'json'
      ? pino.destination({ dest: 1, sync: true })
      : { write: (line: string) => process.stdout.write(textLine(line)) },
  );
  return g[KEY];
}

/** A logger for one part of the app (`component` on every line), e.g. logger('scheduler'). */
export function logger(component: string): Logger {
  return root().child({ component });
}

/** The message of anything thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
