/**
 * The http job keeps a bounded excerpt of the response body in the run output: the first RESPONSE_EXCERPT_CHARS
 * characters, with "…" when there was more; it reads at most RESPONSE_MAX_BYTES. Against a local server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RESPONSE_EXCERPT_CHARS, RESPONSE_MAX_BYTES, httpJob } from '../../lib/jobs/http';
import { jobContext } from '../support/job-context';
import { startLocalTarget, type LocalTarget } from '../support/local-target';

const EXACT = 'e'.repeat(RESPONSE_EXCERPT_CHARS);
const ONE_OVER = `${'o'.repeat(RESPONSE_EXCERPT_CHARS)}X`;
// Characters, not bytes: 2-byte UTF-8 characters right across the cut.
const WIDE = 'é'.repeat(RESPONSE_EXCERPT_CHARS + 10);

let target: LocalTarget;

before(async () => {
  target = await startLocalTarget((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (body: string, status = 200) => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    if (path === '/short') send('pong');
    else if (path === '/exact') send(EXACT);
    else if (path === '/one-over') send(ONE_OVER);
    else if (path === '/wide') send(WIDE);
    else if (path === '/empty') res.writeHead(204).end();
    else if (path === '/error') send(`${'f'.repeat(RESPONSE_EXCERPT_CHARS * 2)}`, 500);
    else if (path === '/huge') {
      // Four times the read cap: the job must stop reading and still keep only the excerpt.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.on('error', () => undefined);
      res.end('h'.repeat(RESPONSE_MAX_BYTES * 4));
    } else send('not found', 404);
  });
});

after(() => target.close());

/** Runs the job against `path`; the output lines (status line first, then the excerpt) and the error, if any. */
async function call(path: string): Promise<{ lines: string[]; error: Error | null }> {
  const { ctx, lines } = jobContext();
  try {
    await httpJob.run({ method: 'GET', url: `${target.base}${path}`, headers: {}, timeoutSeconds: 10 }, ctx);
    return { lines, error: null };
  } catch (err) {
    return { lines, error: err as Error };
  }
}

describe('http job response excerpt', () => {
  test('a short body is kept whole, after the status line', async () => {
    const { lines, error } = await call('/short');
    assert.equal(error, null);
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, new RegExp(`^GET ${target.base}/short -> 200 OK in \\d+ ms$`));
    assert.equal(lines[1], 'pong');
  });

  test(`exactly ${RESPONSE_EXCERPT_CHARS} characters: whole, no ellipsis`, async () => {
    const { lines } = await call('/exact');
    assert.equal(lines[1], EXACT);
  });

  test('one character more: cut at the cap, with an ellipsis', async () => {
    const { lines } = await call('/one-over');
    assert.equal(lines[1], `${'o'.repeat(RESPONSE_EXCERPT_CHARS)}…`);
    assert.ok(!lines.join('\n').includes('X'));
  });

  test('the cap counts characters, not bytes', async () => {
    const { lines } = await call('/wide');
    assert.equal(lines[1], `${'é'.repeat(RESPONSE_EXCERPT_CHARS)}…`);
  });

  test('a body far over the read cap: reading stops, the excerpt is still the first characters', async () => {
    const started = Date.now();
    const { lines, error } = await call('/huge');
    assert.equal(error, null);
    assert.equal(lines[1], `${'h'.repeat(RESPONSE_EXCERPT_CHARS)}…`);
    assert.ok(Date.now() - started < 5_000);
  });

  test('a failing status keeps the excerpt too (capped), and fails the run', async () => {
    const { lines, error } = await call('/error');
    assert.match(error?.message ?? '', /expected a 2xx status, got 500/);
    assert.equal(lines[1], `${'f'.repeat(RESPONSE_EXCERPT_CHARS)}…`);
  });

  test('no body: only the status line', async () => {
    const { lines } = await call('/empty');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, / -> 204 No Content in /);
  });
});
