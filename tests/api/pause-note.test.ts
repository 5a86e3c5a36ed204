/**
 * Pause with a note (issue #14, item 7): who paused a job, when and why, through the REST API (a real PostgreSQL, a
 * real `next start` from the build in NEXT_DIST_DIR), and the bulk pause's note through the service.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';
import { startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

let db: TestPostgres;
let app: StartedApp;

before(
  async () => {
    db = await startTestPostgres();
    app = await startApp({ databaseUrl: db.url, env: { SCHEDULER_DISABLED: '1' } });
  },
  { timeout: 120_000 },
);

after(
  async () => {
    await app?.stop();
    await db?.stop();
  },
  { timeout: 30_000 },
);

interface Answer {
  status: number;
  text: string;
  // Tests read fields of many shapes; each assertion checks what it reads.
  json: Record<string, any>;
}

/** `raw`: the body as is (no content type unless `type`); `body`: JSON. `auth`: a bearer token, default API_TOKEN. */
async function call(
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; type?: string; auth?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.auth ?? app.apiToken}` };
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (options.type) headers['content-type'] = options.type;
  else if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${app.baseUrl}${path}`, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  let json: Record<string, any> = {};
  if (text && (response.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(text) as Record<string, any>;
  return { status: response.status, text, json };
}

function expectStatus(answer: Answer, status: number, what = ''): void {
  assert.equal(answer.status, status, `${what} expected ${status}, got ${answer.status}: ${answer.text.slice(0, 300)}`);
}

async function createJob(): Promise<Record<string, any>> {
  const answer = await call('POST', '/api/jobs', {
    body: {
      name: `pause ${randomUUID().slice(0, 8)}`,
      type: 'log',
      payload: { message: 'x' },
      schedule: { kind: 'interval', seconds: 3600 },
    },
  });
  expectStatus(answer, 201, 'create job');
  return answer.json;
}

async function token(role: 'viewer' | 'operator'): Promise<{ id: string; name: string; secret: string }> {
  const name = `${role}-${randomUUID().slice(0, 8)}`;
  const answer = await call('POST', '/api/tokens', { body: { name, role } });
  expectStatus(answer, 201, 'create token');
  return { id: answer.json.id as string, name, secret: answer.json.secret as string };
}

async function auditOf(jobId: string, action: string): Promise<Array<Record<string, any>>> {
  const answer = await call('GET', `/api/audit?targetId=${jobId}&action=${action}`);
  expectStatus(answer, 200, 'audit');
  return answer.json.entries as Array<Record<string, any>>;
}

describe('POST /api/jobs/{id}/pause with a note', { timeout: 120_000 }, () => {
  test('the note, who and when are stored, shown on the job and the list, audited, and cleared by resume', async () => {
    const job = await createJob();
    assert.equal(job.pause, null, 'an active job has no pause record');
    const operator = await token('operator');
    const before = Date.now();
    const paused = await call('POST', `/api/jobs/${job.id}/pause`, {
      auth: operator.secret,
      body: { note: '  waiting for the DB migration — until 14:00 "UTC"  ' },
    });
    expectStatus(paused, 200, 'pause');
    assert.equal(paused.json.paused, true);
    assert.deepEqual(paused.json.pause.by, { type: 'token', id: operator.id, name: operator.name }, 'who, as the audit log names actors');
    assert.equal(paused.json.pause.note, 'waiting for the DB migration — until 14:00 "UTC"', 'trimmed');
    const at = Date.parse(paused.json.pause.at as string);
    assert.ok(at >= before - 5_000 && at <= Date.now() + 5_000, `paused at ${paused.json.pause.at}`);

    const read = await call('GET', `/api/jobs/${job.id}`);
    assert.deepEqual(read.json.pause, paused.json.pause, 'stored, not only answered');
    const listed = await call('GET', `/api/jobs?search=${encodeURIComponent(job.name as string)}`);
    assert.deepEqual(listed.json.jobs[0].pause, paused.json.pause, 'the list shows it too');

    const [entry] = await auditOf(job.id as string, 'job.pause');
    assert.equal(entry?.actorName, operator.name);
    assert.deepEqual(entry?.changes.pauseNote, { before: null, after: 'waiting for the DB migration — until 14:00 "UTC"' });
    assert.deepEqual(entry?.changes.paused, { before: false, after: true });

    const again = await call('POST', `/api/jobs/${job.id}/pause`, { body: { note: 'a second pause' } });
    expectStatus(again, 200, 'pausing a paused job');
    assert.deepEqual(again.json.pause, paused.json.pause, 'a paused job keeps its pause record');

    const resumed = await call('POST', `/api/jobs/${job.id}/resume`);
    expectStatus(resumed, 200, 'resume');
    assert.equal(resumed.json.pause, null);
    assert.equal((await call('GET', `/api/jobs/${job.id}`)).json.pause, null, 'cleared in the store');
    const [resumeEntry] = await auditOf(job.id as string, 'job.resume');
    assert.deepEqual(resumeEntry?.changes.pauseNote, { before: 'waiting for the DB migration — until 14:00 "UTC"', after: null });
  });

  test('no body, an empty object, a blank or null note: paused without a note', async () => {
    const bodies: Array<{ raw?: string; body?: unknown; type?: string }> = [
      {},
      { raw: '', type: 'application/json' },
      { body: {} },
      { body: { note: '   ' } },
      { body: { note: null } },
    ];
    for (const options of bodies) {
      const job = await createJob();
      const paused = await call('POST', `/api/jobs/${job.id}/pause`, options);
      expectStatus(paused, 200, JSON.stringify(options));
      assert.equal(paused.json.paused, true);
      assert.equal(paused.json.pause.note, null, JSON.stringify(options));
      assert.deepEqual(paused.json.pause.by, { type: 'token', id: null, name: 'API_TOKEN' });
    }
  });

  test('a bad note or body is a 400 naming the field, and nothing changes', async () => {
    const job = await createJob();
    const cases: Array<[string, { body?: unknown; raw?: string; type?: string }, string | null]> = [
      ['too long', { body: { note: 'x'.repeat(501) } }, 'note'],
      ['a newline', { body: { note: 'two\nlines' } }, 'note'],
      ['a NUL', { body: { note: 'nul\u0000here' } }, 'note'],
      ['an escape', { body: { note: 'esc\u001b[31m' } }, 'note'],
      ['a lone surrogate', { raw: '{"note":"\\ud800"}', type: 'application/json' }, 'note'],
      ['a number', { body: { note: 42 } }, 'note'],
      ['an unknown field', { body: { note: 'ok', reason: 'x' } }, ''],
      ['an array', { body: ['note'] }, null],
      ['malformed JSON', { raw: '{"note":', type: 'application/json' }, null],
      ['not JSON', { raw: 'note=hi', type: 'application/x-www-form-urlencoded' }, null],
    ];
    for (const [what, options, path] of cases) {
      const answer = await call('POST', `/api/jobs/${job.id}/pause`, options);
      expectStatus(answer, 400, what);
      if (path !== null) {
        assert.ok(Array.isArray(answer.json.issues), `${what}: field issues`);
        assert.ok(
          (answer.json.issues as Array<{ path: string }>).some((i) => i.path === path),
          `${what}: ${JSON.stringify(answer.json.issues)}`,
        );
      }
    }
    const exactly500 = 'y'.repeat(500);
    const unchanged = await call('GET', `/api/jobs/${job.id}`);
    assert.deepEqual(unchanged.json, job, 'nothing changed');
    assert.deepEqual(await auditOf(job.id as string, 'job.pause'), [], 'nothing audited');
    const ok = await call('POST', `/api/jobs/${job.id}/pause`, { body: { note: exactly500 } });
    expectStatus(ok, 200, '500 characters');
    assert.equal(ok.json.pause.note, exactly500);
    expectStatus(await call('POST', `/api/jobs/${randomUUID()}/pause`, { body: { note: 'x'.repeat(501) } }), 404, 'unknown id first');
  });

  test('a viewer cannot pause, with or without a note', async () => {
    const job = await createJob();
    const viewer = await token('viewer');
    for (const body of [undefined, { note: 'no' }]) {
      expectStatus(await call('POST', `/api/jobs/${job.id}/pause`, { auth: viewer.secret, body }), 403, 'viewer');
    }
    assert.deepEqual((await call('GET', `/api/jobs/${job.id}`)).json, job, 'nothing changed');
  });

  test('the OpenAPI document describes the optional body and the pause record', async () => {
    const doc = (await call('GET', '/api/openapi.json')).json;
    const op = doc.paths['/api/jobs/{id}/pause'].post;
    assert.equal(op.requestBody.required, false);
    assert.equal(op.requestBody.content['application/json'].schema.$ref, '#/components/schemas/JobPause');
    assert.ok(op.responses['400']);
    // The note's rule as one pattern on the text as sent (whitespace around, then at most 500 characters of one line:
    // an edge character, up to 498 inside, an edge character).
    const note = doc.components.schemas.JobPause.properties.note as { anyOf: Array<{ type?: string; pattern?: string }> };
    const pattern = note.anyOf.find((s) => s.type === 'string')?.pattern ?? '';
    assert.match(pattern, /\{0,498\}/, pattern);
    assert.ok(new RegExp(pattern, 'u').test(`  ${'n'.repeat(500)} `) && !new RegExp(pattern, 'u').test('n'.repeat(501)), pattern);
    assert.ok(!new RegExp(pattern, 'u').test('one\ntwo'), 'one line');
    assert.ok(doc.components.schemas.Job.properties.pause);
  });
});

describe('bulk pause with a note (service)', { timeout: 60_000 }, () => {
  test('each selected job gets the note; a bad note pauses none', async () => {
    process.env.DATABASE_URL = db.url;
    const { bulkJobs } = await import('../../lib/services/bulk');
    const jobs = await import('../../lib/services/jobs');
    const { closeDispatchClient } = await import('../../lib/scheduler/dispatch');
    const { getStore } = await import('../../lib/store');
    try {
      const ids = [(await createJob()).id as string, (await createJob()).id as string];
      const refused = bulkJobs('pause', ids, SYSTEM_ACTOR, { note: 'bad\nnote' });
      await assert.rejects(refused, (err: unknown) => {
        assert.deepEqual(
          (err as { issues?: Array<{ path: string }> }).issues?.map((i) => i.path),
          ['note'],
        );
        return true;
      });
      for (const id of ids) assert.equal((await jobs.getJob(id)).paused, false, 'a bad note pauses nothing');

      const result = await bulkJobs('pause', ids, SYSTEM_ACTOR, { note: ' maintenance window ' });
      assert.deepEqual(result.succeeded, ids);
      for (const id of ids) {
        const job = await jobs.getJob(id);
        assert.equal(job.paused, true);
        assert.equal(job.pause?.note, 'maintenance window');
        assert.deepEqual(job.pause?.by, { type: 'system', id: null, name: 'system' });
      }
    } finally {
      await closeDispatchClient();
      await (await getStore()).close();
    }
  });
});
