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
  })
  .strict();

export const logJob = defineJobType({
  name: 'log',
  title: 'Log a message',
  description: "Writes a message to the run's output. Useful as a heartbeat or to test a schedule.",
  payloadSchema: logPayloadSchema,
  examplePayload: { message: 'Hello from Cronplane', level: 'info' },
  async run(payload, ctx) {
    ctx.log(`[${payload.level}] ${payload.message}`);
  },
});
