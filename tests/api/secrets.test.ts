/**
 * Secrets in job payloads: AES-256-GCM at rest, masked on the way out, kept on edit when the masked value
 * comes back, decrypted only for the handler, scrubbed from run output and errors. Real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decryptSecret, encryptSecret, maskPayload, revealPayload, secretsKey } from '../../lib/secrets';
import { getJobType } from '../../lib/jobs/registry';
import { jobContext } from '../support/job-context';
import type { Store } from '../../lib/store/types';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

describe('encryption', () => {
  test('round trip with a versioned prefix, a fresh IV each time, tampering and a wrong key detected', () => {
    const key = randomBytes(32);
    const a = encryptSecret('Bearer abc', key);
    const b = encryptSecret('Bearer abc', key);
    assert.match(a, /^enc:v1:[A-Za-z0-9_-]+$/);
    assert.notEqual(a, b);
    assert.equal(decryptSecret(a, key), 'Bearer abc');
    assert.throws(() => decryptSecret(a, randomBytes(32)), /SECRETS_KEY/);
    const flipped = a.slice(0, -2) + (a.at(-2) === 'A' ? 'B' : 'A') + a.at(-1);
    assert.throws(() => decryptSecret(flipped, key));
  });

  test('the key comes from SECRETS_KEY, or is generated once into the data dir (mode 600)', () => {
    const given = randomBytes(32).toString('base64');
    assert.equal(secretsKey({ SECRETS_KEY: given }).toString('base64'), given);
    assert.throws(() => secretsKey({ SECRETS_KEY: 'c2hvcnQ=' }), /32 bytes/);
    const dir = mkdtempSync(join(tmpdir(), 'cronplane-key-'));
    try {
      const first = secretsKey({ CRONPLANE_DATA_DIR: dir });
      const second = secretsKey({ CRONPLANE_DATA_DIR: dir });
      assert.equal(first.length, 32);
      assert.deepEqual(first, second);
      assert.equal(Buffer.from(readFileSync(join(dir, 'secrets.key'), 'utf8').trim(), 'base64').length, 32);
      assert.equal(statSync(join(dir, 'secrets.key')).mode & 0o777, 0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('only credential headers are secret; masks show at most the last 4 characters of long values', () => {
    const stored = {
      url: 'https://example.com',
      headers: { Authorization: encryptSecret('Bearer 0123456789abcdefWXYZ'), 'X-Api-Key': encryptSecret('short'), Accept: 'text/plain' },
    };
    const masked = maskPayload('http', stored);
    assert.deepEqual(masked.headers, { Authorization: '••••WXYZ', 'X-Api-Key': '••••', Accept: 'text/plain' });
    assert.deepEqual(revealPayload('http', stored).headers, {
      Authorization: 'Bearer 0123456789abcdefWXYZ',
      'X-Api-Key': 'short',
      Accept: 'text/plain',
    });
    // Masking is idempotent and never shows ciphertext.
    assert.deepEqual(maskPayload('http', masked), masked);
  });
});

let pg: TestPostgres;
let store: Store;
let services: typeof import('../../lib/services/jobs');
let SYSTEM_ACTOR: typeof import('../../lib/auth/principal').SYSTEM_ACTOR;
let closeDispatch: () => Promise<void>;
let target: Server;
let targetUrl: string;

before(
  async () => {
    pg = await startTestPostgres();
    process.env.DATABASE_URL = pg.url;
    process.env.HTTP_JOB_ALLOW = '127.0.0.1';
    const { getStore } = await import('../../lib/store');
    store = await getStore();
    services = await import('../../lib/services/jobs');
    ({ SYSTEM_ACTOR } = await import('../../lib/auth/principal'));
    ({ closeDispatchClient: closeDispatch } = await import('../../lib/scheduler/dispatch'));
    target = createServer((req, res) => {
      // A badly behaved API that echoes the credential it was sent.
      res
        .writeHead(401, { 'content-type': 'text/plain' })
        .end(`rejected credentials "${req.headers.authorization}" and key ${req.headers['x-api-key']}`);
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/echo`;
  },
  { timeout: 60_000 },
);

after(
  async () => {
    await closeDispatch?.();
    await store?.close();
    target?.closeAllConnections();
    await new Promise<void>((resolve) => (target ? target.close(() => resolve()) : resolve()));
    await pg?.stop();
  },
  { timeout: 30_000 },
);

const TOKEN = 'Bearer tok_live_9f8e7d6c5b4a3210';
const API_KEY = 'key-abcdefghijklmnop';

describe('service layer', () => {
  test('secrets are encrypted in the store, masked in what the services return, and edits keep or replace them', async () => {
    const created = await services.createJob(
      {
        name: `secret-${randomBytes(4).toString('hex')}`,
        type: 'http',
        payload: { url: targetUrl, headers: { Authorization: TOKEN, 'X-Api-Key': API_KEY, Accept: 'text/plain' } },
        schedule: { kind: 'interval', seconds: 3600 },
        paused: true,
      },
      SYSTEM_ACTOR,
    );
    assert.deepEqual(created.payload.headers, { Authorization: '••••3210', 'X-Api-Key': '••••mnop', Accept: 'text/plain' });

    const raw = await store.getJob(created.id);
    const rawText = JSON.stringify(raw?.payload);
    assert.ok(!rawText.includes('tok_live') && !rawText.includes(API_KEY), `stored in clear: ${rawText}`);
    assert.match((raw?.payload.headers as Record<string, string>).Authorization ?? '', /^enc:v1:/);

    const listed = (await services.listJobs({ limit: 50 })).items.find((j) => j.id === created.id);
    assert.deepEqual(listed?.payload.headers, created.payload.headers);

    // The edit form sends back what it showed: masked values keep the stored secrets.
    const shown = await services.getJob(created.id);
    const kept = await services.updateJob(created.id, { payload: { ...shown.payload, method: 'POST' } }, SYSTEM_ACTOR);
    assert.equal(kept.payload.method, 'POST');
    const keptRaw = revealPayload('http', (await store.getJob(created.id))!.payload);
    assert.deepEqual(keptRaw.headers, { Authorization: TOKEN, 'X-Api-Key': API_KEY, Accept: 'text/plain' });

    // A typed value replaces the secret.
    await services.updateJob(
      created.id,
      { payload: { ...shown.payload, headers: { Authorization: 'Bearer new-token-000000000', 'X-Api-Key': '••••mnop' } } },
      SYSTEM_ACTOR,
    );
    const replaced = revealPayload('http', (await store.getJob(created.id))!.payload);
    assert.deepEqual(replaced.headers, { Authorization: 'Bearer new-token-000000000', 'X-Api-Key': API_KEY });

    // A masked value with nothing behind it is refused, not saved as "••••".
    await assert.rejects(
      services.createJob(
        {
          name: `masked-${randomBytes(4).toString('hex')}`,
          type: 'http',
          payload: { url: targetUrl, headers: { Authorization: '••••3210' } },
          schedule: { kind: 'interval', seconds: 60 },
        },
        SYSTEM_ACTOR,
      ),
      (err: unknown) => {
        const issues = (err as { issues?: Array<{ path: string }> }).issues ?? [];
        return issues.some((i) => i.path === 'payload.headers.Authorization');
      },
    );
  });

  test('a stored secret does not follow the URL to another origin: a 400 naming each masked field, nothing saved', async () => {
    const created = await services.createJob(
      {
        name: `moved-${randomBytes(4).toString('hex')}`,
        type: 'http',
        payload: { url: targetUrl, headers: { Authorization: TOKEN, 'X-Api-Key': API_KEY, Accept: 'text/plain' } },
        schedule: { kind: 'interval', seconds: 3600 },
        paused: true,
      },
      SYSTEM_ACTOR,
    );
    const shown = await services.getJob(created.id);
    const before = (await store.getJob(created.id))!;
    // Another host, another port, another scheme: each is another origin.
    const elsewhere = new URL(targetUrl);
    const attacker = [
      'http://attacker.example/collect',
      `http://127.0.0.1:${Number(elsewhere.port) + 1}/echo`,
      `https://127.0.0.1:${elsewhere.port}/echo`,
    ];
    for (const url of attacker) {
      await assert.rejects(
        services.updateJob(created.id, { payload: { ...shown.payload, url } }, SYSTEM_ACTOR),
        (err: unknown) => {
          assert.equal((err as { status?: number }).status, 400);
          const issues = (err as { issues?: Array<{ path: string; message: string }> }).issues ?? [];
          assert.deepEqual(issues.map((i) => i.path).sort(), ['payload.headers.Authorization', 'payload.headers.X-Api-Key']);
          assert.match(issues[0]!.message, /only sent to the origin it was saved for/);
          return true;
        },
        url,
      );
    }
    const after = (await store.getJob(created.id))!;
    assert.equal(after.version, before.version, 'nothing saved');
    assert.deepEqual(after.payload, before.payload);

    // Another path on the same origin keeps them; a new origin with the secrets typed again takes them.
    await services.updateJob(created.id, { payload: { ...shown.payload, url: `${targetUrl}?v=2` } }, SYSTEM_ACTOR);
    assert.deepEqual(revealPayload('http', (await store.getJob(created.id))!.payload).headers, {
      Authorization: TOKEN,
      'X-Api-Key': API_KEY,
      Accept: 'text/plain',
    });
    await services.updateJob(
      created.id,
      { payload: { ...shown.payload, url: attacker[0], headers: { Authorization: 'Bearer other-000000000', Accept: 'text/plain' } } },
      SYSTEM_ACTOR,
    );
    assert.deepEqual(revealPayload('http', (await store.getJob(created.id))!.payload).headers, {
      Authorization: 'Bearer other-000000000',
      Accept: 'text/plain',
    });
  });

  test('any header the operator marks secret is encrypted, masked and kept like the credential-looking ones', async () => {
    // A name that is not one of the headers: refused where it is (a typo would leave the header it meant in clear).
    await assert.rejects(
      services.createJob(
        {
          name: `typo-${randomBytes(4).toString('hex')}`,
          type: 'http',
          payload: { url: targetUrl, headers: { 'X-Tenant': 't' }, secretHeaders: ['X-Tenat'] },
          schedule: { kind: 'interval', seconds: 3600 },
        },
        SYSTEM_ACTOR,
      ),
      (err: unknown) => {
        const issues = (err as { issues?: Array<{ path: string; message: string }> }).issues ?? [];
        assert.deepEqual(
          issues.map((i) => [i.path, i.message]),
          [['payload.secretHeaders.0', 'X-Tenat: no such header in headers']],
        );
        return true;
      },
    );
    const created = await services.createJob(
      {
        name: `marked-${randomBytes(4).toString('hex')}`,
        type: 'http',
        payload: {
          url: targetUrl,
          headers: { 'X-Tenant': 'tenant-0123456789abcdef', 'X-Region': 'eu-west' },
          secretHeaders: ['x-tenant'],
        },
        schedule: { kind: 'interval', seconds: 3600 },
        paused: true,
      },
      SYSTEM_ACTOR,
    );
    assert.deepEqual(created.payload.headers, { 'X-Tenant': '••••cdef', 'X-Region': 'eu-west' });
    const raw = JSON.stringify((await store.getJob(created.id))!.payload);
    assert.ok(!raw.includes('tenant-0123456789abcdef'), `stored in clear: ${raw}`);
    // The edit form sends the mask back: the stored value is kept.
    await services.updateJob(created.id, { payload: { ...created.payload, method: 'POST' } }, SYSTEM_ACTOR);
    const kept = revealPayload('http', (await store.getJob(created.id))!.payload) as { headers: Record<string, string> };
    assert.equal(kept.headers['X-Tenant'], 'tenant-0123456789abcdef');
    // Un-marking the header (or misspelling its name) while its mask comes back: a field-level 400 at the header, not
    // the mask saved as its value.
    for (const [payload, path] of [
      [{ ...created.payload, secretHeaders: ['X-Tenat'] }, 'payload.headers.X-Tenant'],
      [{ ...created.payload, secretHeaders: [] }, 'payload.headers.X-Tenant'],
    ] as const) {
      await assert.rejects(services.updateJob(created.id, { payload }, SYSTEM_ACTOR), (err: unknown) => {
        assert.equal((err as { status?: number }).status, 400);
        assert.deepEqual(
          ((err as { issues?: Array<{ path: string }> }).issues ?? []).map((i) => i.path),
          [path],
        );
        return true;
      });
    }
  });

  test('the handler gets the clear values; its output and error are scrubbed of them', async () => {
    const type = getJobType('http')!;
    const stored = (await store.getJob(
      (
        await services.createJob(
          {
            name: `scrub-${randomBytes(4).toString('hex')}`,
            type: 'http',
            payload: { url: targetUrl, headers: { Authorization: TOKEN, 'X-Api-Key': API_KEY } },
            schedule: { kind: 'interval', seconds: 3600 },
            paused: true,
          },
          SYSTEM_ACTOR,
        )
      ).id,
    ))!;
    const { ctx, lines } = jobContext({ jobId: stored.id, jobName: stored.name });
    const payload = type.payloadSchema.parse(revealPayload(stored.type, stored.payload));
    let error = '';
    await type.run(payload, ctx).catch((err: unknown) => (error = String(err)));
    const output = lines.join('\n');
    // The server saw the real credentials (it echoed them) ...
    assert.match(output, /rejected credentials "••••" and key ••••/);
    // ... and neither the token, its credential part, nor the key reached the output or the error.
    for (const secret of [TOKEN, 'tok_live_9f8e7d6c5b4a3210', API_KEY]) {
      assert.ok(!output.includes(secret), `output leaks ${secret}: ${output}`);
      assert.ok(!error.includes(secret));
    }
    assert.match(error, /expected a 2xx status, got 401/);
  });
});

describe('job services check the role of every actor', () => {
  test('a viewer is refused by every mutation, bulk included; the app itself acts as SYSTEM_ACTOR, audited as system', async () => {
    const { bulkJobs } = await import('../../lib/services/bulk');
    const { listAudit } = await import('../../lib/services/audit');
    const { ForbiddenError } = await import('../../lib/auth/principal');
    const viewer = { principal: { kind: 'user' as const, id: null, name: 'a viewer', role: 'viewer' as const }, ip: '192.0.2.1' };
    const spec = {
      name: `roles-${randomBytes(4).toString('hex')}`,
      type: 'log',
      payload: { message: 'x' },
      schedule: { kind: 'interval', seconds: 3600 },
      paused: true,
    };
    await assert.rejects(services.createJob(spec, viewer), ForbiddenError);
    const job = await services.createJob(spec, SYSTEM_ACTOR);
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['updateJob', () => services.updateJob(job.id, { description: 'no' }, viewer)],
      ['pauseJob', () => services.pauseJob(job.id, viewer)],
      ['resumeJob', () => services.resumeJob(job.id, viewer)],
      ['runJobNow', () => services.runJobNow(job.id, viewer)],
      ['deleteJob', () => services.deleteJob(job.id, viewer)],
    ];
    for (const [name, call] of calls) await assert.rejects(call(), ForbiddenError, name);
    const bulk = await bulkJobs('delete', [job.id], viewer);
    assert.deepEqual(bulk.succeeded, []);
    assert.match(bulk.failed[0]?.error ?? '', /needs the operator role/);
    assert.deepEqual(await services.getJob(job.id), job, 'nothing changed');

    await services.resumeJob(job.id, SYSTEM_ACTOR);
    const entries = await listAudit(SYSTEM_ACTOR, { targetId: job.id });
    assert.deepEqual(entries.items.map((e) => [e.action, e.actorType, e.actorName]).sort(), [
      ['job.create', 'system', 'system'],
      ['job.resume', 'system', 'system'],
    ]);
    await services.deleteJob(job.id, SYSTEM_ACTOR);
  });
});
