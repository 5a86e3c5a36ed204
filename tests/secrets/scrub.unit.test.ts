/**
 * Secret values never reach run output in part or in an encoding (issue #13, finding 4): the http job's response
 * excerpt is scrubbed before it is cut (a secret straddling the cut showed most of its characters), and each secret
 * is also scrubbed JSON-escaped, URL-encoded and base64-encoded. Through the registry's http job (the scrubbing
 * wrapper every handler runs in) against a local server that echoes the secret in each form.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RESPONSE_EXCERPT_CHARS } from '../../lib/jobs/http';
import { getJobType } from '../../lib/jobs/registry';
import { contextLog, LiveOutput, OutputBuffer } from '../../lib/scheduler/output';
import { encodedForms } from '../../lib/secrets/fields';
import type { RunOutputChunk } from '../../lib/store/types';
import { jobContext } from '../support/job-context';
import { startLocalTarget, type LocalTarget } from '../support/local-target';

// Characters JSON escapes (" and \), URL encoding changes (space, +, /, &, =, é) and base64 hides entirely.
const SECRET = 'k3y "quoted" \\ back/slash +plus &amp=é-0123456789abcdef';
const base64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

const BODIES: Record<string, string> = {
  // The secret starts 12 characters before the excerpt's end: cut first, those 12 escaped the scrubber.
  '/straddle': `${'a'.repeat(RESPONSE_EXCERPT_CHARS - 12)}${SECRET} and more after it`,
  '/json': JSON.stringify({ received: { 'X-Api-Key': SECRET } }),
  '/url': `redirecting to https://example.com/cb?key=${encodeURIComponent(SECRET)}&state=1`,
  '/url-lower': `key=${encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())}`,
  '/form': `key=${encodeURIComponent(SECRET).replace(/%20/g, '+')}`,
  '/base64': `credentials seen: ${base64(SECRET)}`,
  '/base64url': `token=${Buffer.from(SECRET, 'utf8').toString('base64url')}`,
  '/error': `{"error":"bad key \\"${JSON.stringify(SECRET).slice(1, -1)}\\""}`,
};

let target: LocalTarget;

before(async () => {
  target = await startLocalTarget((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const body = BODIES[path];
    if (body === undefined) return void res.writeHead(404).end();
    res.writeHead(path === '/error' ? 401 : 200, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
  });
});

after(() => target.close());

async function run(path: string): Promise<{ output: string; error: string }> {
  const type = getJobType('http')!;
  const { ctx, lines } = jobContext();
  const payload = type.payloadSchema.parse({ url: `${target.base}${path}`, headers: { 'X-Api-Key': SECRET } });
  let error = '';
  await type.run(payload, ctx).catch((err: unknown) => (error = err instanceof Error ? err.message : String(err)));
  return { output: lines.join('\n'), error };
}

/** Any 8 consecutive characters of the secret (or of an encoded form) in `text`. */
function leaks(text: string): string | null {
  for (const form of encodedForms(SECRET)) {
    for (let i = 0; i + 8 <= form.length; i++) {
      const piece = form.slice(i, i + 8);
      // Windows that are only filler or common words are not the secret's.
      if (/^[a-z ]+$/.test(piece) || /^[0-9a-f]+$/.test(piece)) continue;
      if (text.includes(piece)) return `${JSON.stringify(piece)} of ${JSON.stringify(form)}`;
    }
  }
  return null;
}

describe('secrets are scrubbed before the excerpt is cut, in their usual encodings', () => {
  for (const path of Object.keys(BODIES)) {
    test(`${path}: no part of the secret in the output or the error`, async () => {
      const { output, error } = await run(path);
      assert.ok(output.includes('••••'), `scrubbed, not dropped: ${output.slice(-300)}`);
      assert.equal(leaks(output), null, `output leaks ${leaks(output)}: …${output.slice(-200)}`);
      assert.equal(leaks(error), null, `error leaks: ${error}`);
    });
  }

  test('the excerpt is still cut at RESPONSE_EXCERPT_CHARS, with an ellipsis', async () => {
    const { output } = await run('/straddle');
    const excerpt = output.split('\n')[1]!;
    assert.ok(excerpt.length <= RESPONSE_EXCERPT_CHARS + 1, `${excerpt.length}`);
    assert.ok(excerpt.endsWith('…'));
    assert.ok(excerpt.startsWith('a'.repeat(RESPONSE_EXCERPT_CHARS - 12)));
  });

  test('encodedForms: the plain value first, each form once, none empty', () => {
    const forms = encodedForms(SECRET);
    assert.equal(forms[0], SECRET);
    assert.equal(new Set(forms).size, forms.length);
    assert.ok(forms.includes(base64(SECRET)));
    assert.ok(forms.includes(encodeURIComponent(SECRET)));
    assert.ok(forms.includes(JSON.stringify(SECRET).slice(1, -1)));
    // Nothing to escape or encode differently: the value and its base64, once each.
    assert.deepEqual(encodedForms('plain-token-123'), ['plain-token-123', 'cGxhaW4tdG9rZW4tMTIz']);
  });
});

describe('live output (issue #14): chunks carry what the excerpt carries, scrubbed the same', () => {
  for (const path of Object.keys(BODIES)) {
    test(`${path}: no part of the secret in a live chunk`, async () => {
      const chunks: RunOutputChunk[] = [];
      const live = new LiveOutput(
        { store: { appendRunOutput: async (c) => (chunks.push(c), true) }, now: () => new Date(), warn: () => undefined },
        'run',
        1,
        16_384,
        60_000,
      );
      const excerpt = new OutputBuffer(16_384);
      // The scheduler's log wiring (lib/scheduler/execution.ts), under the registry's scrubbing wrapper.
      const { ctx } = jobContext({ log: contextLog(excerpt, live) });
      const type = getJobType('http')!;
      const payload = type.payloadSchema.parse({ url: `${target.base}${path}`, headers: { 'X-Api-Key': SECRET } });
      await type.run(payload, ctx).catch(() => undefined);
      await live.flush();
      const text = chunks.map((c) => c.text).join('');
      assert.ok(text.includes('••••'), `scrubbed, not dropped: ${text.slice(-300)}`);
      assert.equal(leaks(text), null, `a live chunk leaks ${leaks(text)}`);
      assert.equal(text.replace(/\n$/, ''), excerpt.toString(), 'the same lines as the excerpt');
    });
  }
});
