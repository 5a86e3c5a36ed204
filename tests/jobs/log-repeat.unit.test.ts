import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logJob, logPayloadSchema } from '../../lib/jobs/log';
import { jobContext } from '../support/job-context';

describe('log job: repeat and intervalMs (a real source of live output)', () => {
  it('without repeat writes one line, as before', async () => {
    const { ctx, lines } = jobContext();
    await logJob.run(logPayloadSchema.parse({ message: 'hi' }), ctx);
    assert.deepEqual(lines, ['[info] hi']);
  });

  it('writes the message `repeat` times, intervalMs apart, numbered', async () => {
    const { ctx, lines } = jobContext();
    const stamps: number[] = [];
    const log = ctx.log;
    ctx.log = (line, options) => {
      stamps.push(Date.now());
      log(line, options);
    };
    const started = Date.now();
    await logJob.run(logPayloadSchema.parse({ message: 'tick', level: 'warn', repeat: 4, intervalMs: 100 }), ctx);
    assert.deepEqual(lines, ['[warn] tick (1/4)', '[warn] tick (2/4)', '[warn] tick (3/4)', '[warn] tick (4/4)']);
    assert.ok(stamps[0]! - started < 50, 'the first line at once');
    for (let i = 1; i < stamps.length; i++) assert.ok(stamps[i]! - stamps[i - 1]! >= 95, `line ${i + 1} waited its interval`);
  });

  it('stops at the abort of its signal', async () => {
    const controller = new AbortController();
    const { ctx, lines } = jobContext({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error('cancelled')), 250);
    await assert.rejects(logJob.run(logPayloadSchema.parse({ message: 'm', repeat: 100, intervalMs: 100 }), ctx), /cancelled/);
    assert.ok(lines.length >= 2 && lines.length <= 4, `${lines.length} lines before the abort`);
  });

  it('refuses repeat and intervalMs out of range or not whole numbers', () => {
    for (const bad of [{ repeat: 0 }, { repeat: 1001 }, { repeat: 1.5 }, { intervalMs: 99 }, { intervalMs: 60_001 }, { intervalMs: 'x' }]) {
      const result = logPayloadSchema.safeParse({ message: 'm', ...bad });
      assert.equal(result.success, false, JSON.stringify(bad));
    }
    assert.equal(logPayloadSchema.safeParse({ message: 'm', repeat: 1000, intervalMs: 60_000 }).success, true);
  });
});
