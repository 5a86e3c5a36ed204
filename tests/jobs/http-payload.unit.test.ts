/**
 * What an http job's payload may hold, checked when it is saved: header values with a line break or another control
 * character are refused with an issue at the header's own field (they failed at run time before, every run).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toFieldIssues } from '../../lib/errors';
import { httpPayloadSchema } from '../../lib/jobs/http';
import { JobCreateSchema } from '../../lib/validation/job';

const url = 'https://example.com/hook';

const HOSTILE_VALUES = [
  'a\r\nX-Injected: 1',
  'a\nb',
  'a\rb',
  '\r\n',
  'trailing\n',
  'nul\u0000',
  'bell\u0007',
  'esc\u001b[31m',
  'del\u007f',
  'next-line\u0085',
  'unit-separator\u001f',
];

test('a header value with CR, LF or another control character is refused at save, at the header field', () => {
  for (const value of HOSTILE_VALUES) {
    const parsed = httpPayloadSchema.safeParse({ url, headers: { 'X-Ok': 'fine', 'X-Trace-Id': value } });
    assert.equal(parsed.success, false, JSON.stringify(value));
    assert.deepEqual(
      parsed.error!.issues.map((issue) => issue.path),
      [['headers', 'X-Trace-Id']],
      JSON.stringify(value),
    );
    assert.match(parsed.error!.issues[0]!.message, /control characters \(line breaks CR or LF/);
  }
});

test('the job as a whole: the issue is at payload.headers.<name>, as the job form and the API report it (an update is checked as the merged job, the same schema)', () => {
  for (const value of HOSTILE_VALUES) {
    const job = {
      name: 'h',
      type: 'http',
      schedule: { kind: 'interval', seconds: 60 },
      payload: { url, headers: { Authorization: value } },
    };
    const created = JobCreateSchema.safeParse(job);
    assert.equal(created.success, false);
    const issues = toFieldIssues(created.error!.issues);
    // A NUL is also refused as text the database cannot store: every issue at the same field.
    assert.deepEqual([...new Set(issues.map((issue) => issue.path))], ['payload.headers.Authorization'], JSON.stringify(value));
    assert.ok(
      issues.some((issue) => /control characters/.test(issue.message)),
      JSON.stringify(issues),
    );
  }
});

test('ordinary values are kept: tabs, spaces, quotes, non-ASCII, the masked display of a secret', () => {
  for (const value of ['', 'Bearer abc.def', 'a\tb', ' padded ', '"quoted"; q=0.5', 'répört', '••••', '••••abcd', 'x'.repeat(8192)]) {
    const parsed = httpPayloadSchema.safeParse({ url, headers: { 'X-Value': value } });
    assert.equal(parsed.success, true, JSON.stringify(value));
    assert.equal(parsed.data!.headers['X-Value'], value);
  }
});
