import { z } from 'zod';
import { defineJobType } from './define';

export const logPayloadSchema = z
  .object({
    message: z.string().min(1, 'message is required').max(10_000).describe('Written to the run output'),
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
