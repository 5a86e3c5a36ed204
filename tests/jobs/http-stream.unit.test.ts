/**
 * The http job shows a streamed response's lines while they arrive (issue #14, item 5: live output): through the
 * registry's http job (its scrubbing wrapper) and the scheduler's log wiring, against a local target that writes a line
 * every 250 ms (chunked). The lines reach the live output before the response ends, scrubbed, at most the excerpt's
 * length of them; the run's final output is the excerpt as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RESPONSE_EXCERPT_CHARS } from '../../lib/jobs/http';
import { getJobType } from '../../lib/jobs/registry';
import { contextLog, LiveOutput, OutputBuffer } from '../../lib/scheduler/output';
import type { RunOutputChunk } from '../../lib/store/types';
import { jobContext } from '../support/job-context';
import { startLocalTarget, type LocalTarget } from '../support/local-target';

const SECRET = 'stream-secret-0123456789abcdef';
const LINES = ['step 1: started', `step 2: using key ${SECRET}`, 'step 3: halfway', 'step 4: done'];
let target: LocalTarget;
let ended = 0;

before(async () => {
  target = await startLocalTarget((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    if (path === '/long') {
      // Far past the excerpt, in lines: the live view stops at the excerpt's length too.
      for (let i = 0; i < 100; i++) res.write(`${String(i).padStart(3, '0')} ${'y'.repeat(96)}\n`);
      return void res.end();
    }
    let i = 0;
    const next = (): void => {
      if (i === LINES.length) {
        ended = Date.now();
        return void res.end();
      }
      res.write(`${LINES[i++]}\n`);
      setTimeout(next, 250);
    };
    next();
  });
});

after(() => target.close());

async function runWithLive(path: string): Promise<{ chunks: Array<RunOutputChunk & { writtenAt: number }>; output: string | null }> {
  const chunks: Array<RunOutputChunk & { writtenAt: number }> = [];
  const live = new LiveOutput(
    {
      store: { appendRunOutput: async (c) => (chunks.push({ ...c, writtenAt: Date.now() }), true) },
      now: () => new Date(),
      warn: () => undefined,
    },
    'run',
    1,
    16_384,
    50,
  );
  const excerpt = new OutputBuffer(16_384);
  const { ctx } = jobContext({ log: contextLog(excerpt, live) });
  const type = getJobType('http')!;
  live.start();
  await type.run(type.payloadSchema.parse({ url: `${target.base}${path}`, headers: { 'X-Api-Key': SECRET } }), ctx);
  await live.flush();
  await live.close();
  return { chunks, output: excerpt.toString() };
}

describe('http job: a streamed response shows line by line while it arrives', () => {
  test('each line is in the live output before the response ends, scrubbed; the final output is the excerpt as before', async () => {
    const { chunks, output } = await runWithLive('/progress');
    const live = chunks.map((c) => c.text).join('');
    assert.ok(!live.includes(SECRET) && !live.includes(SECRET.slice(0, 12)), `no secret in the live output: ${live}`);
    // The streamed lines (scrubbed), then what the handler logs at the end (the excerpt's lines) as every run does.
    const scrubbed = ['step 1: started', 'step 2: using key ••••', 'step 3: halfway', 'step 4: done'];
    assert.equal(live, `${scrubbed.join('\n')}\n${output}\n`);
    const first = chunks.find((c) => c.text.includes('step 1'))!;
    assert.ok(first.writtenAt < ended - 300, `step 1 was written ${ended - first.writtenAt} ms before the response ended`);
    // The final output: the status line and the whole body, as before (no progress lines in it).
    const [status, ...body] = output!.split('\n');
    assert.match(status!, /^GET http:\/\/127\.0\.0\.1:\d+\/progress -> 200 OK in \d+ ms$/);
    assert.deepEqual(body, ['step 1: started', 'step 2: using key ••••', 'step 3: halfway', 'step 4: done', '']);
  });

  test('at most the excerpt’s length of streamed lines', async () => {
    const { chunks } = await runWithLive('/long');
    const lines = chunks
      .map((c) => c.text)
      .join('')
      .split('\n');
    // The streamed lines come before the status line the handler logs once the response is complete. At most the
    // excerpt's characters, the last line cut with its "…" (as the excerpt is).
    const progress = lines.slice(
      0,
      lines.findIndex((l) => l.startsWith('GET ')),
    );
    const chars = progress.reduce((n, l) => n + l.length + 1, 0);
    assert.ok(progress.length >= 15 && chars <= RESPONSE_EXCERPT_CHARS + 2, `${progress.length} lines, ${chars} characters`);
  });
});
