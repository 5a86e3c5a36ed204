/**
 * Signing secrets over the store (lib/secrets/signing.ts), on both stores with two clients each, as two instances
 * would be: concurrent `ensure` calls agree on one secret, concurrent rotations of one secret let exactly one win (the
 * other is a conflict, nothing lost), and the previous secret signs only while its grace period lasts.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { ConflictError } from '../../lib/errors';
import { decryptSecret } from '../../lib/secrets';
import { activeSigningSecrets, ensureSigningSecret, newSigningSecret, rotateSigningSecret } from '../../lib/secrets/signing';
import { createMongoStore } from '../../lib/store/mongo';
import { createPostgresStore } from '../../lib/store/postgres';
import type { Store } from '../../lib/store/types';
import { startTestMongo } from '../support/mongo';
import { startTestPostgres } from '../support/postgres';

// Never the checkout's .data/secrets.key: this file's own key.
process.env.SECRETS_KEY = randomBytes(32).toString('base64');

interface Pair {
  a: Store;
  b: Store;
  stop(): Promise<void>;
}

const backends: Array<{ name: string; open: () => Promise<Pair> }> = [
  {
    name: 'postgres',
    async open() {
      const db = await startTestPostgres();
      const a = await createPostgresStore(db.url, 'postgres (a)');
      await a.migrate();
      const b = await createPostgresStore(db.url, 'postgres (b)');
      return { a, b, stop: async () => (await a.close(), await b.close(), await db.stop()) };
    },
  },
  {
    name: 'mongodb',
    async open() {
      const db = await startTestMongo();
      const a = await createMongoStore(db.url);
      await a.migrate();
      const b = await createMongoStore(db.url);
      return { a, b, stop: async () => (await a.close(), await b.close(), await db.stop()) };
    },
  },
];

async function httpJob(store: Store): Promise<string> {
  const job = await store.createJob({
    name: `http ${randomUUID().slice(0, 8)}`,
    description: '',
    type: 'http',
    payload: { url: 'https://example.com/' },
    schedule: { kind: 'interval', seconds: 60 },
    paused: true,
    timeoutSeconds: 60,
    overlapPolicy: 'skip',
    missedPolicy: 'run-once',
    tags: [],
    nextRunAt: null,
    anchorAt: new Date(),
  });
  return job.id;
}

for (const backend of backends) {
  describe(`signing secrets over two clients (${backend.name})`, () => {
    let pair: Pair | undefined;
    const open = async (): Promise<Pair> => (pair ??= await backend.open());
    after(async () => pair?.stop(), { timeout: 30_000 });

    test('concurrent ensure calls from two clients agree on one secret, which is the one stored', { timeout: 60_000 }, async () => {
      const { a, b } = await open();
      const jobId = await httpJob(a);
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => ensureSigningSecret(i % 2 ? b : a, jobId)));
      const secrets = new Set(results.map((r) => r?.secret));
      assert.equal(secrets.size, 1, 'every caller got the same secret');
      const [secret] = [...secrets];
      assert.match(secret!, /^whsec_[A-Za-z0-9+/]{43}=$/);
      const stored = await a.getSigningSecret(jobId);
      assert.equal(decryptSecret(stored!.secret), secret, 'the one stored, encrypted');
      assert.equal((await ensureSigningSecret(b, jobId))?.secret, secret, 'and it stays');
      assert.equal(await ensureSigningSecret(a, randomUUID()), null, 'no secret for a job that does not exist');
    });

    test(
      'concurrent rotations of one secret: one wins, the other is a conflict; the loser changed nothing',
      { timeout: 60_000 },
      async () => {
        const { a, b } = await open();
        const jobId = await httpJob(a);
        const original = (await ensureSigningSecret(a, jobId))!;
        const results = await Promise.allSettled([rotateSigningSecret(a, jobId, 3600), rotateSigningSecret(b, jobId, 3600)]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected');
        // Both may also have read after the other's write (then both win in turn): never a lost or mixed state.
        assert.ok(won.length >= 1, 'at least one rotation');
        for (const r of lost) assert.ok(r.reason instanceof ConflictError, String(r.reason));
        const now = await a.now();
        const current = (await ensureSigningSecret(b, jobId))!;
        const last = won.map((r) => r.value!.after).find((after) => after.secret === current.secret);
        assert.ok(last, 'the stored secret is one a winner was given');
        if (won.length === 1) {
          assert.equal(current.previousSecret, original.secret, 'the original signs on through the grace period');
          assert.deepEqual(activeSigningSecrets(current, now), [current.secret, original.secret]);
        }
      },
    );

    test(
      'the previous secret signs during its grace period only; a rotation without grace drops it at once',
      { timeout: 60_000 },
      async () => {
        const { a } = await open();
        const jobId = await httpJob(a);
        const first = (await ensureSigningSecret(a, jobId))!;
        const { after } = (await rotateSigningSecret(a, jobId, 60))!;
        const now = await a.now();
        assert.deepEqual(activeSigningSecrets(after, now), [after.secret, first.secret]);
        assert.deepEqual(activeSigningSecrets(after, new Date(after.previousUntil!.getTime() - 1)), [after.secret, first.secret]);
        assert.deepEqual(activeSigningSecrets(after, after.previousUntil!), [after.secret], 'over at previousUntil');
        const none = (await rotateSigningSecret(a, jobId, 0))!.after;
        assert.deepEqual(activeSigningSecrets(none, await a.now()), [none.secret]);
      },
    );
  });
}

test('a new secret: whsec_ and base64 of 32 random bytes, never the same twice', () => {
  const made = new Set(Array.from({ length: 50 }, () => newSigningSecret()));
  assert.equal(made.size, 50);
  for (const secret of made) {
    assert.match(secret, /^whsec_/);
    assert.equal(Buffer.from(secret.slice(6), 'base64').length, 32);
  }
});
