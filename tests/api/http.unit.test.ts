import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../../lib/errors';
import { MAX_BODY_BYTES, errorResponse, parseQuery, readJsonObject } from '../../lib/api/http';
import { JobListQuerySchema } from '../../lib/validation/job';

const URL_ = 'http://127.0.0.1:1/api/jobs';

function post(body: BodyInit | null, contentType: string | null = 'application/json'): Request {
  const headers: Record<string, string> = {};
  if (contentType) headers['content-type'] = contentType;
  return new Request(URL_, { method: 'POST', body, headers });
}

async function status(promise: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    return { status: err.status, message: err.message };
  }
  assert.fail('expected a rejection');
}

describe('readJsonObject', () => {
  test('parses a JSON object (charset and +json allowed)', async () => {
    assert.deepEqual(await readJsonObject(post('{"a":1}')), { a: 1 });
    assert.deepEqual(await readJsonObject(post('{"a":[2]}', 'application/json; charset=utf-8')), { a: [2] });
    assert.deepEqual(await readJsonObject(post('{}', 'application/merge-patch+json')), {});
  });

  test('400 for wrong or missing content type, empty, malformed, non-object bodies', async () => {
    assert.deepEqual(await status(readJsonObject(post('{"a":1}', 'text/plain'))), {
      status: 400,
      message: 'Content-Type must be application/json, got text/plain',
    });
    assert.equal((await status(readJsonObject(post('{"a":1}', null)))).status, 400);
    assert.match((await status(readJsonObject(post('')))).message, /empty/);
    const malformed = await status(readJsonObject(post('{"a":')));
    assert.equal(malformed.status, 400);
    assert.match(malformed.message, /^malformed JSON/);
    for (const [body, word] of [
      ['[1]', 'an array'],
      ['"x"', 'string'],
      ['null', 'null'],
      ['3', 'number'],
    ] as const) {
      const r = await status(readJsonObject(post(body)));
      assert.equal(r.status, 400);
      assert.ok(r.message.includes(word), r.message);
    }
    assert.match((await status(readJsonObject(post(new Uint8Array([0x7b, 0xff, 0x7d]))))).message, /UTF-8/);
  });

  test('optional: no body (whatever its content type) reads as {}; a body with something in it is held to the same rules', async () => {
    const optional = { optional: true };
    assert.deepEqual(await readJsonObject(post(null, null), optional), {});
    assert.deepEqual(await readJsonObject(post('', 'text/plain'), optional), {});
    assert.deepEqual(await readJsonObject(post('  \n', 'application/json'), optional), {});
    assert.deepEqual(await readJsonObject(post('{"graceSeconds":60}'), optional), { graceSeconds: 60 });
    assert.deepEqual(await status(readJsonObject(post('{"a":1}', 'text/plain'), optional)), {
      status: 400,
      message: 'Content-Type must be application/json, got text/plain',
    });
    assert.equal((await status(readJsonObject(post('{"a":1}', null), optional))).status, 400);
    assert.match((await status(readJsonObject(post('{"a":'), optional))).message, /malformed JSON/);
    assert.match((await status(readJsonObject(post('[1]'), optional))).message, /an array/);
    assert.equal((await status(readJsonObject(post('x'.repeat(MAX_BODY_BYTES + 1)), optional))).status, 413);
    // Not optional: an empty body is still refused.
    assert.match((await status(readJsonObject(post('')))).message, /empty/);
  });

  test('413 above 1 MB, also when streamed without Content-Length', async () => {
    const big = `{"a":"${'x'.repeat(MAX_BODY_BYTES)}"}`;
    assert.equal((await status(readJsonObject(post(big)))).status, 413);
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Endless whitespace: the reader must stop on its own.
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const request = new Request(URL_, {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit);
    assert.equal((await status(readJsonObject(request))).status, 413);
    assert.ok(sent < MAX_BODY_BYTES * 2, 'stopped reading soon after the limit');
    // Exactly at the limit is fine.
    const exact = `{"a":"${'x'.repeat(MAX_BODY_BYTES - 8)}"}`;
    assert.equal(Buffer.byteLength(exact), MAX_BODY_BYTES);
    assert.equal(((await readJsonObject(post(exact))).a as string).length, MAX_BODY_BYTES - 8);
  });
});

describe('errorResponse', () => {
  test('validation errors keep their field issues', async () => {
    const response = errorResponse(new ValidationError([{ path: 'schedule.expression', message: 'bad' }]));
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), { error: 'invalid input', issues: [{ path: 'schedule.expression', message: 'bad' }] });
  });

  test('every 400 has the shape {error, issues}: a request-level one is an issue at path ""', async () => {
    const contentType = errorResponse(new AppError('Content-Type must be application/json, got text/plain', 400));
    assert.equal(contentType.status, 400);
    assert.deepEqual(await contentType.json(), {
      error: 'Content-Type must be application/json, got text/plain',
      issues: [{ path: '', message: 'Content-Type must be application/json, got text/plain' }],
    });
    const malformed = await readJsonObject(post('{"a":')).then(
      () => assert.fail('malformed JSON was read'),
      (err: unknown) => errorResponse(err),
    );
    const body = (await malformed.json()) as { error: string; issues: Array<{ path: string; message: string }> };
    assert.match(body.error, /^malformed JSON/);
    assert.deepEqual(body.issues, [{ path: '', message: body.error }]);
  });

  test('app errors keep their status and message; 401 says only "unauthorized"', async () => {
    assert.equal(errorResponse(new NotFoundError('job')).status, 404);
    const conflict = errorResponse(new ConflictError('a job named "x" already exists'));
    assert.equal(conflict.status, 409);
    assert.deepEqual(await conflict.json(), { error: 'a job named "x" already exists' });
    const unauthorized = errorResponse(new AppError('token expired at 12:00', 401));
    assert.deepEqual(await unauthorized.json(), { error: 'unauthorized' });
    assert.match(unauthorized.headers.get('www-authenticate') ?? '', /^Bearer/);
  });

  test('unexpected errors are 500 without internals; connection failures are 503', async (t) => {
    t.mock.method(console, 'error', () => undefined);
    const response = errorResponse(new Error('password=hunter2 at /srv/app/lib/x.ts:12'));
    assert.equal(response.status, 500);
    const text = await response.text();
    assert.equal(text, '{"error":"internal error"}');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const wrapped = new Error('query failed', { cause: refused });
    const unavailable = errorResponse(wrapped);
    assert.equal(unavailable.status, 503);
    assert.deepEqual(await unavailable.json(), { error: 'database unavailable' });
  });
});

describe('parseQuery', () => {
  test('coerces and defaults; empty parameters count as absent', () => {
    assert.deepEqual(parseQuery(JobListQuerySchema, new Request(`${URL_}?limit=5&tag=&search=%20db%20`)), { limit: 5, search: 'db' });
    assert.deepEqual(parseQuery(JobListQuerySchema, new Request(URL_)), { limit: 50 });
  });

  test('bad values are 400 issues named after the parameter', () => {
    for (const query of [
      'limit=0',
      'limit=abc',
      'limit=1.5',
      'limit=1000',
      'limit=1%20',
      'limit=%201',
      'limit=1e1',
      'limit=0x10',
      'limit=%2B5',
      'limit=-1',
    ]) {
      assert.throws(
        () => parseQuery(JobListQuerySchema, new Request(`${URL_}?${query}`)),
        (err: unknown) => err instanceof ValidationError && err.issues[0]?.path === 'limit',
        query,
      );
    }
    assert.throws(() => parseQuery(z.object({ n: z.coerce.number().int() }), new Request(`${URL_}?n=x`)), ValidationError);
  });
});
