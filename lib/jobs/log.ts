import { z } from 'zod';
import { charCount } from '../domain';
import { defineJobType } from './define';

export const logPayloadSchema = z
  .object({
    message: z
      .string()
      .min(1, 'message is required')
      .refine((value) => charCount(value) <= 10_000, 'message is at most 10000 characters')
      // NUL: refused in every payload string (lib/validation/text.ts: the database cannot store it).
      .meta({ maxLength: 10_000, pattern: '^[^\\u0000]*$' })
      .describe('Written to the run output'),
    level: z.enum(['info', 'warn', 'error']).default('info').describe('Severity prefix'),
    repeat: z
      .number()
      .int('repeat must be a whole number')
      .min(1, 'repeat is at least 1')
      .max(1000, 'repeat is at most 1000')
      .optional()
      .describe('Write the message this many times (empty = once), each line numbered: the run page shows them as they come'),
    intervalMs: z
      .number()
      .int('intervalMs must be a whole number')
      .min(100, 'intervalMs is at least 100')
      .max(60_000, 'intervalMs is at most 60000')
      .optional()
      .describe('Milliseconds between repeated lines (empty = 1000); the run takes (repeat - 1) times this, within its timeout'),
  })
  .strict();

/** Waits `ms`, or rejects with the signal's reason once it is aborted (timeout, cancel, shutdown). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const logJob = defineJobType({
  name: 'log',
  title: 'Log a message',
  description:
    "Writes a message to the run's output, once or repeated at an interval (live output). Useful as a heartbeat or to test a schedule.",
  payloadSchema: logPayloadSchema,
  examplePayload: { message: 'Hello from Cronplane', level: 'info' },
  async run(payload, ctx) {
    const repeat = payload.repeat ?? 1;
    if (repeat === 1) {
      ctx.log(`[${payload.level}] ${payload.message}`);
      return;
    }
    for (let i = 1; i <= repeat; i++) {
      if (i > 1) await pause(payload.intervalMs ?? 1_000, ctx.signal);
      ctx.log(`[${payload.level}] ${payload.message} (${i}/${repeat})`);
    }
  },
});
