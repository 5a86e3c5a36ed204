/**
 * Users, roles, sessions, API tokens and the audit log through the REST API: a real PostgreSQL, a real
 * `next start` from the build in NEXT_DIST_DIR.
 */
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loginCookie, startApp, type StartedApp } from '../support/app';
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
  headers: Headers;
}

/** `auth`: a Cookie header value (cronplane_session=...) or a bearer token; default the env API_TOKEN (admin). */
async function call(method: string, path: string, options: { body?: unknown; auth?: string; ip?: string } = {}): Promise<Answer> {
  const auth = options.auth ?? app.apiToken;
  const headers: Record<string, string> = auth.startsWith('cronplane_session=') ? { cookie: auth } : { authorization: `Bearer ${auth}` };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.ip) headers['x-forwarded-for'] = options.ip;
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    redirect: 'manual',
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let json: Record<string, any> = {};
  if (text && (response.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(text) as Record<string, any>;
  return { status: response.status, text, json, headers: response.headers };
}

function expectStatus(answer: Answer, status: number, what = ''): void {
  assert.equal(answer.status, status, `${what} expected ${status}, got ${answer.status}: ${answer.text.slice(0, 300)}`);
}

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const password = () => `pw-${randomBytes(12).toString('base64url')}`;

async function createUser(role: 'admin' | 'operator' | 'viewer'): Promise<{ id: string; username: string; password: string }> {
  const username = unique(role);
  const pw = password();
  const answer = await call('POST', '/api/users', { body: { username, password: pw, role } });
  expectStatus(answer, 201, 'create user');
  assert.equal(answer.json.role, role);
  assert.equal('passwordHash' in answer.json, false, 'the hash never leaves the server');
  return { id: answer.json.id as string, username, password: pw };
}

async function createJob(body: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const answer = await call('POST', '/api/jobs', {
    body: {
      name: unique('job'),
      type: 'log',
      payload: { message: 'hi' },
      schedule: { kind: 'interval', seconds: 3600 },
      paused: true,
      ...body,
    },
  });
  expectStatus(answer, 201, 'create job');
  return answer.json;
}

async function audit(query: string): Promise<Array<Record<string, any>>> {
  const answer = await call('GET', `/api/audit?${query}`);
  expectStatus(answer, 200, 'audit');
  return answer.json.entries as Array<Record<string, any>>;
}

/** Every mutating route, with a body that would be valid for an admin. */
function mutations(jobId: string, userId: string, tokenId: string): Array<[string, string, unknown?]> {
  return [
    [
      'POST',
      '/api/jobs',
      { name: unique('forbidden'), type: 'log', payload: { message: 'x' }, schedule: { kind: 'interval', seconds: 60 } },
    ],
    ['PATCH', `/api/jobs/${jobId}`, { description: 'changed by someone who may not' }],
    ['POST', `/api/jobs/${jobId}/pause`],
    ['POST', `/api/jobs/${jobId}/resume`],
    ['POST', `/api/jobs/${jobId}/run`],
    ['POST', '/api/runs/00000000-0000-4000-8000-000000000000/cancel', { reason: 'not mine to stop' }],
    ['DELETE', `/api/jobs/${jobId}`],
    ['POST', '/api/users', { username: unique('x'), password: password(), role: 'admin' }],
    ['PATCH', `/api/users/${userId}`, { role: 'admin' }],
    ['DELETE', `/api/users/${userId}/sessions`],
    ['DELETE', `/api/users/${userId}`],
    ['POST', '/api/tokens', { name: 'sneaky', role: 'admin' }],
    ['DELETE', `/api/tokens/${tokenId}`],
  ];
}

describe('roles', () => {
  test('a viewer (cookie or token) reads, and gets 403 on every mutating route; nothing changes', { timeout: 120_000 }, async () => {
    const viewer = await createUser('viewer');
    const other = await createUser('operator');
    const job = await createJob();
    const token = await call('POST', '/api/tokens', { body: { name: unique('victim'), role: 'operator' } });
    expectStatus(token, 201);
    const viewerToken = await call('POST', '/api/tokens', { body: { name: unique('viewer-token'), role: 'viewer' } });
    expectStatus(viewerToken, 201);
    const cookie = await loginCookie(app, viewer.username, viewer.password);
    assert.equal((await call('GET', '/api/session', { auth: cookie })).json.role, 'viewer');

    for (const auth of [cookie, viewerToken.json.secret as string]) {
      expectStatus(await call('GET', '/api/jobs', { auth }), 200, 'viewer lists jobs');
      expectStatus(await call('GET', `/api/jobs/${job.id}`, { auth }), 200, 'viewer reads a job');
      for (const path of ['/api/users', '/api/tokens', '/api/audit'])
        expectStatus(await call('GET', path, { auth }), 403, `viewer GET ${path}`);
      for (const [method, path, body] of mutations(job.id, other.id, token.json.id)) {
        const answer = await call(method, path, { auth, body });
        expectStatus(answer, 403, `viewer ${method} ${path}`);
        assert.match(answer.json.error, /operator|admin/);
      }
    }
    const after = await call('GET', `/api/jobs/${job.id}`);
    expectStatus(after, 200, 'the job survived');
    assert.deepEqual({ ...after.json, lastRun: null }, { ...job, lastRun: null }, 'the job is unchanged');
    const users = (await call('GET', '/api/users')).json.users as Array<Record<string, any>>;
    assert.equal(users.find((u) => u.id === other.id)?.role, 'operator');
    const tokens = (await call('GET', '/api/tokens')).json.tokens as Array<Record<string, any>>;
    assert.equal(tokens.find((t) => t.id === token.json.id)?.revokedAt, null);
    assert.equal(
      tokens.some((t) => t.name === 'sneaky'),
      false,
    );
  });

  test('an operator manages jobs but not users, tokens or the audit log', { timeout: 120_000 }, async () => {
    const operator = await createUser('operator');
    const cookie = await loginCookie(app, operator.username, operator.password);
    const created = await call('POST', '/api/jobs', {
      auth: cookie,
      body: { name: unique('op-job'), type: 'log', payload: { message: 'x' }, schedule: { kind: 'interval', seconds: 60 } },
    });
    expectStatus(created, 201, 'operator creates');
    const id = created.json.id as string;
    expectStatus(await call('PATCH', `/api/jobs/${id}`, { auth: cookie, body: { description: 'edited' } }), 200, 'operator edits');
    expectStatus(await call('POST', `/api/jobs/${id}/pause`, { auth: cookie }), 200, 'operator pauses');
    expectStatus(await call('POST', `/api/jobs/${id}/resume`, { auth: cookie }), 200, 'operator resumes');
    expectStatus(await call('DELETE', `/api/jobs/${id}`, { auth: cookie }), 204, 'operator deletes');
    // An operator may cancel runs: an unknown one is a 404, not a 403.
    expectStatus(await call('POST', '/api/runs/00000000-0000-4000-8000-000000000000/cancel', { auth: cookie }), 404, 'operator cancels');
    for (const [method, path, body] of mutations(id, operator.id, '00000000-0000-4000-8000-000000000000').slice(7)) {
      expectStatus(await call(method, path, { auth: cookie, body }), 403, `operator ${method} ${path}`);
    }
    for (const path of ['/api/users', '/api/tokens', '/api/audit'])
      expectStatus(await call('GET', path, { auth: cookie }), 403, `operator GET ${path}`);
    // What the operator did is on record under their name.
    const entries = await audit(`targetId=${id}`);
    assert.deepEqual(
      entries.map((e) => e.action),
      ['job.delete', 'job.resume', 'job.pause', 'job.update', 'job.create'],
    );
    assert.ok(entries.every((e) => e.actorName === operator.username && e.actorType === 'user'));
  });

  test(
    'token scopes; a revoked token gets 401; last use is recorded; the secret is shown once and stored hashed',
    { timeout: 60_000 },
    async () => {
      const made = await call('POST', '/api/tokens', { body: { name: unique('ci'), role: 'operator' } });
      expectStatus(made, 201);
      const secret = made.json.secret as string;
      assert.match(secret, /^cpt_/);
      assert.equal(made.json.prefix, secret.slice(0, 8));
      assert.equal(made.json.lastUsedAt, null);
      expectStatus(
        await call('POST', '/api/jobs', {
          auth: secret,
          body: { name: unique('by-token'), type: 'log', payload: { message: 'x' }, schedule: { kind: 'interval', seconds: 60 } },
        }),
        201,
      );
      expectStatus(await call('POST', '/api/tokens', { auth: secret, body: { name: 'escalate', role: 'admin' } }), 403);
      const listed = ((await call('GET', '/api/tokens')).json.tokens as Array<Record<string, any>>).find((t) => t.id === made.json.id);
      assert.ok(listed?.lastUsedAt, 'last use recorded');
      assert.equal(JSON.stringify(listed).includes(secret), false, 'the list never shows the secret');
      assert.equal('tokenHash' in (listed ?? {}), false);
      expectStatus(await call('DELETE', `/api/tokens/${made.json.id}`), 204);
      expectStatus(await call('GET', '/api/jobs', { auth: secret }), 401, 'revoked token');
      expectStatus(await call('DELETE', `/api/tokens/${made.json.id}`), 404, 'revoking twice');
      expectStatus(await call('GET', '/api/jobs', { auth: `cpt_${randomBytes(32).toString('base64url')}` }), 401, 'unknown token');
      const entries = await audit(`targetId=${made.json.id}`);
      assert.deepEqual(
        entries.map((e) => e.action),
        ['token.revoke', 'token.create'],
      );
      assert.equal(JSON.stringify(entries).includes(secret), false, 'the audit log never shows the secret');
    },
  );
});

describe('the roles the OpenAPI document states', () => {
  test(
    'every operation marked operator or admin refuses lower roles with 403; viewer reads are not refused',
    { timeout: 120_000 },
    async () => {
      const doc = (await call('GET', '/api/openapi.json')).json;
      const viewer = await call('POST', '/api/tokens', { body: { name: unique('doc-viewer'), role: 'viewer' } });
      const operator = await call('POST', '/api/tokens', { body: { name: unique('doc-operator'), role: 'operator' } });
      expectStatus(viewer, 201);
      expectStatus(operator, 201);
      // Ids that name nothing: the role check comes before the lookup, so a refused caller learns nothing either way.
      const nobody = '00000000-0000-4000-8000-000000000000';
      const below: Record<string, string[]> = { operator: [viewer.json.secret], admin: [viewer.json.secret, operator.json.secret] };
      let checked = 0;
      for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
        for (const [method, op] of Object.entries(item)) {
          const role = op['x-required-role'] as string | null;
          const url = path.replace('{id}', nobody);
          const body = method === 'post' || method === 'patch' ? {} : undefined;
          if (role === 'operator' || role === 'admin') {
            for (const auth of below[role]!) {
              const answer = await call(method.toUpperCase(), url, { auth, body });
              expectStatus(answer, 403, `${method.toUpperCase()} ${path} (needs ${role}) with a lower role`);
              checked += 1;
            }
          } else if (role === 'viewer' && method === 'get' && path !== '/api/events') {
            // (the event stream never ends: its auth is covered by the route tests)
            const answer = await call('GET', url, { auth: viewer.json.secret });
            assert.ok(answer.status !== 401 && answer.status !== 403, `GET ${path} (viewer) answered ${answer.status}`);
            checked += 1;
          }
        }
      }
      assert.ok(checked >= 20, `only ${checked} checks`);
    },
  );

  test('users, tokens, audit entries and the session answer exactly the documented fields', { timeout: 60_000 }, async () => {
    const doc = (await call('GET', '/api/openapi.json')).json;
    const fields = (name: string) => Object.keys(doc.components.schemas[name].properties as Record<string, unknown>).sort();
    const user = await createUser('viewer');
    const users = (await call('GET', '/api/users')).json.users as Array<Record<string, any>>;
    assert.ok(users.length > 0);
    for (const u of users) assert.deepEqual(Object.keys(u).sort(), fields('User'));
    const made = await call('POST', '/api/tokens', { body: { name: unique('shape'), role: 'viewer' } });
    expectStatus(made, 201);
    assert.deepEqual(Object.keys(made.json).sort(), fields('TokenCreated'));
    const tokens = (await call('GET', '/api/tokens')).json.tokens as Array<Record<string, any>>;
    const listedFields = Object.keys(doc.components.schemas.TokenList.properties.tokens.items.properties as Record<string, unknown>).sort();
    assert.equal(listedFields.includes('secret'), false);
    for (const t of tokens) assert.deepEqual(Object.keys(t).sort(), listedFields);
    const entries = await audit(`targetId=${user.id}`);
    assert.ok(entries.length > 0);
    const entryFields = Object.keys(doc.components.schemas.AuditList.properties.entries.items.properties as Record<string, unknown>).sort();
    for (const e of entries) {
      assert.deepEqual(Object.keys(e).sort(), entryFields);
      assert.match(e.at as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    }
    const cookie = await loginCookie(app, user.username, user.password);
    assert.deepEqual(Object.keys((await call('GET', '/api/session', { auth: cookie })).json).sort(), fields('WhoAmI'));
    const revoked = await call('DELETE', `/api/users/${user.id}/sessions`);
    expectStatus(revoked, 200);
    assert.deepEqual(Object.keys(revoked.json).sort(), fields('SessionsRevoked'));
    assert.equal(revoked.json.revoked, 1);
  });
});

describe('sessions', () => {
  test('a password change ends the sessions; the old password stops working, the new one works', { timeout: 60_000 }, async () => {
    const user = await createUser('operator');
    const first = await loginCookie(app, user.username, user.password);
    const second = await loginCookie(app, user.username, user.password);
    expectStatus(await call('GET', '/api/jobs', { auth: first }), 200);
    const fresh = password();
    expectStatus(await call('PATCH', `/api/users/${user.id}`, { body: { password: fresh } }), 200);
    expectStatus(await call('GET', '/api/jobs', { auth: first }), 401, 'first session after the change');
    expectStatus(await call('GET', '/api/jobs', { auth: second }), 401, 'second session after the change');
    await assert.rejects(loginCookie(app, user.username, user.password), /401/);
    const third = await loginCookie(app, user.username, fresh);
    expectStatus(await call('GET', '/api/jobs', { auth: third }), 200);
    const entries = await audit(`targetId=${user.id}&action=user.update`);
    assert.deepEqual(entries[0]?.changes, { password: { before: '••••', after: '••••' } }, 'masked, never the hash');
  });

  test('a role change takes effect at once; a disabled user is signed out and cannot sign in', { timeout: 60_000 }, async () => {
    const user = await createUser('operator');
    const cookie = await loginCookie(app, user.username, user.password);
    expectStatus(await call('PATCH', `/api/users/${user.id}`, { body: { role: 'viewer' } }), 200);
    const entries = await audit(`targetId=${user.id}&action=user.update`);
    assert.deepEqual(entries[0]?.changes, { role: { before: 'operator', after: 'viewer' } });
    const again = await loginCookie(app, user.username, user.password);
    expectStatus(
      await call('POST', '/api/jobs', {
        auth: again,
        body: { name: unique('demoted'), type: 'log', payload: { message: 'x' }, schedule: { kind: 'interval', seconds: 60 } },
      }),
      403,
    );
    expectStatus(await call('GET', '/api/jobs', { auth: cookie }), 401, 'the session from before the role change');
    expectStatus(await call('PATCH', `/api/users/${user.id}`, { body: { disabled: true } }), 200);
    expectStatus(await call('GET', '/api/jobs', { auth: again }), 401, 'signed out when disabled');
    await assert.rejects(loginCookie(app, user.username, user.password), /401/);
    const failures = await audit(`action=login.failure&targetId=${user.id}`);
    assert.equal(failures[0]?.changes?.reason?.after, 'disabled');
  });

  test('a password hashed with older scrypt parameters signs in and is rehashed with the current ones', { timeout: 60_000 }, async () => {
    const user = await createUser('viewer');
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      const hashOf = async () =>
        String((await sql.query('SELECT password_hash FROM users WHERE id = $1', [user.id])).rows[0].password_hash);
      assert.match(await hashOf(), /^scrypt\$131072\$8\$1\$/, 'new users get N=2^17');
      // What an older release stored: N=2^15.
      const salt = randomBytes(16);
      const key = scryptSync(user.password, salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
      const legacy = `scrypt$32768$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
      await sql.query('UPDATE users SET password_hash = $1 WHERE id = $2', [legacy, user.id]);
      // A wrong password changes nothing.
      expectStatus(
        await call('POST', '/api/session', {
          body: { username: user.username, password: 'not-the-password' },
          auth: 'cronplane_session=none',
          ip: '198.18.9.9',
        }),
        401,
      );
      assert.equal(await hashOf(), legacy);
      await loginCookie(app, user.username, user.password);
      const upgraded = await hashOf();
      assert.match(upgraded, /^scrypt\$131072\$8\$1\$/, 'rehashed at sign-in');
      await loginCookie(app, user.username, user.password);
      assert.equal(await hashOf(), upgraded, 'a current hash is left alone');
    } finally {
      await sql.end();
    }
  });

  test('sign-out revokes the session on the server', { timeout: 30_000 }, async () => {
    const user = await createUser('viewer');
    const cookie = await loginCookie(app, user.username, user.password);
    expectStatus(await call('DELETE', '/api/session', { auth: cookie }), 204);
    expectStatus(await call('GET', '/api/jobs', { auth: cookie }), 401, 'the same cookie after sign-out');
    assert.equal((await audit(`action=logout&actor=${user.username}`)).length, 1);
  });

  test(
    'lock-out after 5 wrong passwords, even with the right one afterwards and from other addresses; a reset lifts it',
    { timeout: 90_000 },
    async () => {
      const user = await createUser('viewer');
      for (let i = 0; i < 5; i++) {
        const answer = await call('POST', '/api/session', {
          auth: 'none',
          body: { username: user.username, password: `wrong-${i}` },
          ip: `203.0.113.${10 + i}`,
        });
        expectStatus(answer, 401, `failure ${i + 1}`);
        assert.equal(answer.json.error, 'Wrong username or password.');
      }
      const locked = await call('POST', '/api/session', {
        auth: 'none',
        body: { username: user.username, password: user.password },
        ip: '203.0.113.99',
      });
      expectStatus(locked, 429, 'right password while locked');
      assert.match(locked.json.error, /locked/);
      assert.equal(locked.headers.get('set-cookie'), null);
      const retryAfter = Number(locked.headers.get('retry-after'));
      assert.ok(retryAfter > 14 * 60 && retryAfter <= 15 * 60, `Retry-After: ${locked.headers.get('retry-after')}`);
      const failures = await audit(`action=login.failure&targetId=${user.id}`);
      assert.equal(failures.length, 6);
      assert.deepEqual(failures.map((e) => e.ip).slice(0, 2), ['203.0.113.99', '203.0.113.14'], 'where from');
      assert.equal(failures[0]?.changes?.reason?.after, 'locked');
      const fresh = password();
      expectStatus(await call('PATCH', `/api/users/${user.id}`, { body: { password: fresh } }), 200);
      await loginCookie(app, user.username, fresh);
      assert.equal((await audit(`action=login.success&targetId=${user.id}`)).length, 1);
    },
  );

  test(
    'parallel wrong passwords cannot outrun the lock-out: 5 are checked, the others get 429 with Retry-After',
    { timeout: 120_000 },
    async () => {
      const user = await createUser('viewer');
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          call('POST', '/api/session', { auth: 'none', body: { username: user.username, password: `wrong-${i}` }, ip: `198.51.100.${i}` }),
        ),
      );
      assert.deepEqual(
        answers.map((a) => a.status).sort(),
        [...Array<number>(5).fill(401), ...Array<number>(25).fill(429)],
        'only 5 wrong passwords are checked',
      );
      for (const a of answers.filter((x) => x.status === 429)) assert.ok(Number(a.headers.get('retry-after')) > 0, 'Retry-After');
      expectStatus(
        await call('POST', '/api/session', {
          auth: 'none',
          body: { username: user.username, password: user.password },
          ip: '198.51.100.99',
        }),
        429,
        'the right password once locked',
      );
    },
  );
});

describe('users', () => {
  test('the last admin cannot be demoted, disabled or deleted; another admin makes it possible', { timeout: 60_000 }, async () => {
    const users = (await call('GET', '/api/users')).json.users as Array<Record<string, any>>;
    const admin = users.find((u) => u.username === 'admin');
    assert.ok(admin, 'the first start created "admin"');
    assert.equal(users.filter((u) => u.role === 'admin' && !u.disabled).length, 1);
    expectStatus(await call('PATCH', `/api/users/${admin.id}`, { body: { role: 'operator' } }), 409, 'demote');
    expectStatus(await call('PATCH', `/api/users/${admin.id}`, { body: { disabled: true } }), 409, 'disable');
    expectStatus(await call('DELETE', `/api/users/${admin.id}`), 409, 'delete');
    const second = await createUser('admin');
    expectStatus(await call('DELETE', `/api/users/${second.id}`), 204, 'deleting a non-last admin');
    expectStatus(await call('DELETE', `/api/users/${second.id}`), 404);
  });

  test('bad input is a 400 with field issues; a taken username is 409 (case-insensitive)', { timeout: 30_000 }, async () => {
    const bad = await call('POST', '/api/users', { body: { username: 'a b', password: 'short', role: 'root' } });
    expectStatus(bad, 400);
    assert.deepEqual((bad.json.issues as Array<{ path: string }>).map((i) => i.path).sort(), ['password', 'role', 'username']);
    expectStatus(await call('POST', '/api/users', { body: { username: 'ADMIN', password: password(), role: 'viewer' } }), 409);
    expectStatus(await call('PATCH', '/api/users/not-a-uuid', { body: { role: 'viewer' } }), 404);
    expectStatus(
      await call('PATCH', `/api/users/${(await createUser('viewer')).id}`, { body: { passwordHash: 'x' } }),
      400,
      'unknown field',
    );
  });
});

describe('audit log', () => {
  test('job changes carry who, where from, and the before/after of changed fields, secrets masked', { timeout: 60_000 }, async () => {
    const operator = await createUser('operator');
    const cookie = await loginCookie(app, operator.username, operator.password);
    const job = await call('POST', '/api/jobs', {
      auth: cookie,
      body: {
        name: unique('audited'),
        type: 'http',
        payload: { url: 'https://example.com/hook', headers: { Authorization: 'Bearer supersecretvalue-1234' } },
        schedule: { kind: 'interval', seconds: 600 },
        paused: true,
      },
    });
    expectStatus(job, 201);
    const edit = await fetch(`${app.baseUrl}/api/jobs/${job.json.id}`, {
      method: 'PATCH',
      headers: { cookie, 'content-type': 'application/json', 'x-forwarded-for': '192.0.2.77' },
      body: JSON.stringify({
        description: 'now documented',
        schedule: { kind: 'interval', seconds: 900 },
        type: 'http',
        payload: { ...job.json.payload, headers: { Authorization: 'Bearer rotatedsecret-5678' } },
      }),
    });
    assert.equal(edit.status, 200, await edit.text());
    const [update, create] = await audit(`targetType=job&targetId=${job.json.id}`);
    assert.equal(update?.action, 'job.update');
    assert.equal(update?.actorName, operator.username);
    assert.equal(update?.ip, '192.0.2.77');
    assert.deepEqual(Object.keys(update?.changes ?? {}).sort(), ['description', 'payload', 'schedule']);
    assert.deepEqual(update?.changes.description, { before: '', after: 'now documented' });
    assert.deepEqual(update?.changes.schedule, { before: { kind: 'interval', seconds: 600 }, after: { kind: 'interval', seconds: 900 } });
    assert.equal(update?.changes.payload.before.headers.Authorization, '••••1234');
    assert.equal(update?.changes.payload.after.headers.Authorization, '••••5678');
    assert.equal(create?.action, 'job.create');
    assert.equal(create?.changes.name.after, job.json.name);
    const all = JSON.stringify(await audit('limit=200'));
    assert.ok(
      !all.includes('supersecretvalue') && !all.includes('rotatedsecret') && !all.includes('enc:v1:'),
      'a secret reached the audit log',
    );
    assert.ok(!all.includes(operator.password), 'a password reached the audit log');
  });

  test('filters and keyset paging; no route edits or deletes entries', { timeout: 60_000 }, async () => {
    const t0 = new Date(Date.now() - 1000).toISOString();
    // Its own actor (a token), so entries of other tests do not count.
    const token = await call('POST', '/api/tokens', { body: { name: unique('pager'), role: 'operator' } });
    for (let i = 0; i < 5; i++) {
      const made = await call('POST', '/api/jobs', {
        auth: token.json.secret,
        body: { name: unique('paged'), type: 'log', payload: { message: 'x' }, schedule: { kind: 'interval', seconds: 60 }, paused: true },
      });
      expectStatus(made, 201);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const answer: Answer = await call(
        'GET',
        `/api/audit?action=job.create&actor=${encodeURIComponent(token.json.name)}&from=${encodeURIComponent(t0)}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expectStatus(answer, 200);
      assert.ok(answer.json.entries.length <= 2);
      for (const e of answer.json.entries as Array<Record<string, any>>) {
        assert.equal(e.action, 'job.create');
        assert.equal(e.actorType, 'token');
        assert.ok(e.at >= t0);
        seen.push(e.id as string);
      }
      cursor = answer.json.nextCursor as string | null;
    } while (cursor);
    assert.equal(seen.length, 5);
    assert.equal(new Set(seen).size, 5);
    expectStatus(await call('GET', '/api/audit?from=yesterday'), 400);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'])
      expectStatus(await call(method, '/api/audit', { body: {} }), 405, `${method} /api/audit`);
    expectStatus(await call('DELETE', `/api/audit/${seen[0]}`), 404);
  });
});
