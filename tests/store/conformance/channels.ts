import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { NameTakenError, type NewChannel, type Store } from '../../../lib/store/types';
import { freshStoreEachTest, newJob, T, type Open } from './support';

function newChannel(overrides: Partial<NewChannel> = {}): NewChannel {
  return {
    name: `channel-${randomUUID().slice(0, 8)}`,
    type: 'webhook',
    // Keys and values as the app stores them: opaque to the store, secret fields already encrypted.
    config: { url: 'https://hooks.example.com/in', urlSecret: `enc:v1:${randomUUID()}`, nested: { list: [1, 'two', null, true] } },
    signingSecret: `enc:v1:${randomUUID()}`,
    dailyCap: null,
    ...overrides,
  };
}

export function channelConformance(open: Open): void {
  describe('alert channels', () => {
    let store: Store;
    freshStoreEachTest(open, (fresh) => {
      store = fresh.store;
    });

    it('create returns the channel with an id and database-clock timestamps; get reads it back; unknown ids have none', T, async () => {
      const before = await store.now();
      const input = newChannel({ dailyCap: 50 });
      const created = await store.createChannel(input);
      assert.ok(created.id);
      assert.deepEqual(
        { ...created, id: null, createdAt: null, updatedAt: null },
        { ...input, id: null, createdAt: null, updatedAt: null },
      );
      assert.ok(created.createdAt.getTime() >= before.getTime() - 1);
      assert.ok(created.updatedAt.getTime() >= created.createdAt.getTime());
      assert.deepEqual(await store.getChannel(created.id), created);
      assert.equal(await store.getChannel(randomUUID()), null);
      assert.equal(await store.getChannel('not-an-id'), null);

      const email = await store.createChannel(newChannel({ type: 'email', config: { to: ['a@example.com'] }, signingSecret: null }));
      assert.equal(email.type, 'email');
      assert.equal(email.signingSecret, null);
      assert.equal(email.dailyCap, null);
      assert.deepEqual(email.config, { to: ['a@example.com'] });
    });

    it('names are unique: a create or a rename to a taken name throws NameTakenError and changes nothing', T, async () => {
      const a = await store.createChannel(newChannel({ name: 'ops' }));
      await assert.rejects(store.createChannel(newChannel({ name: 'ops', type: 'slack' })), NameTakenError);
      const b = await store.createChannel(newChannel({ name: 'ops-2' }));
      await assert.rejects(store.updateChannel(b.id, { name: 'ops', dailyCap: 3 }), NameTakenError);
      assert.deepEqual(await store.getChannel(b.id), b, 'the refused patch changed nothing');
      assert.deepEqual(
        (await store.listChannels()).map((c) => c.id),
        [a.id, b.id],
      );
      // Concurrent creates of one name: exactly one wins.
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => store.createChannel(newChannel({ name: 'raced' }))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof NameTakenError);
    });

    it('patch changes only the fields given, keeps the type and createdAt, moves updatedAt; unknown ids give null', T, async () => {
      const created = await store.createChannel(newChannel({ dailyCap: 10 }));
      const renamed = await store.updateChannel(created.id, { name: 'renamed' });
      assert.ok(renamed);
      assert.deepEqual({ ...renamed, updatedAt: null }, { ...created, name: 'renamed', updatedAt: null });
      assert.ok(renamed.updatedAt.getTime() >= created.updatedAt.getTime());

      const config = { url: 'https://other.example.com/x', headers: { 'X-Key.with$odd': 'v' } };
      const patched = await store.updateChannel(created.id, { config, signingSecret: 'enc:v1:rotated', dailyCap: null });
      assert.ok(patched);
      assert.deepEqual(patched.config, config, 'config is replaced whole, any keys round-trip');
      assert.equal(patched.signingSecret, 'enc:v1:rotated');
      assert.equal(patched.dailyCap, null);
      assert.equal(patched.name, 'renamed');
      assert.equal(patched.type, 'webhook');
      assert.equal(patched.createdAt.getTime(), created.createdAt.getTime());
      assert.deepEqual(await store.getChannel(created.id), patched);

      assert.equal(await store.updateChannel(randomUUID(), { name: 'x' }), null);
      assert.equal(await store.updateChannel('not-an-id', { name: 'x' }), null);
    });

    it('delete removes the channel once, frees its name, and leaves the others', T, async () => {
      const a = await store.createChannel(newChannel({ name: 'a' }));
      const b = await store.createChannel(newChannel({ name: 'b' }));
      assert.equal(await store.deleteChannel(a.id), true);
      assert.equal(await store.deleteChannel(a.id), false, 'already gone');
      assert.equal(await store.getChannel(a.id), null);
      assert.equal(await store.deleteChannel(randomUUID()), false);
      assert.equal(await store.deleteChannel('not-an-id'), false);
      assert.deepEqual(await store.listChannels(), [b]);
      const again = await store.createChannel(newChannel({ name: 'a' }));
      assert.notEqual(again.id, a.id);
    });

    it('listJobsUsingChannel: the jobs whose own rules name the channel, by name (code points) then id', T, async () => {
      const used = await store.createChannel(newChannel({ name: 'used' }));
      const other = await store.createChannel(newChannel({ name: 'other' }));
      const rule = (channelId: string) => ({ channelId, on: ['failure' as const], throttleSeconds: 0, slowAfterSeconds: null });
      const b = await store.createJob(newJob({ name: 'b', alerts: [rule(other.id), rule(used.id)] }));
      const a = await store.createJob(newJob({ name: 'a', alerts: [rule(used.id)] }));
      const z = await store.createJob(newJob({ name: 'Z', alerts: [rule(used.id), rule(used.id)] }));
      await store.createJob(newJob({ name: 'c', alerts: [rule(other.id)] }));
      await store.createJob(newJob({ name: 'd' }));
      assert.deepEqual(await store.listJobsUsingChannel(used.id), [
        { id: z.id, name: 'Z' },
        { id: a.id, name: 'a' },
        { id: b.id, name: 'b' },
      ]);
      assert.equal((await store.listJobsUsingChannel(other.id)).length, 2);
      await store.updateJob(b.id, { alerts: [rule(other.id)] });
      assert.deepEqual(
        (await store.listJobsUsingChannel(used.id)).map((j) => j.name),
        ['Z', 'a'],
      );
      assert.deepEqual(await store.listJobsUsingChannel(randomUUID()), []);
      assert.deepEqual(await store.listJobsUsingChannel('not-an-id'), []);
      // Default rules are not jobs: they do not count here (the service reads them with getAlertDefaults).
      await store.setAlertDefaults([{ ...rule(other.id), tag: null }]);
      assert.equal((await store.listJobsUsingChannel(other.id)).length, 2);
    });

    it('lists by name in code point order (not a locale collation, not UTF-16 units), then id', T, async () => {
      assert.deepEqual(await store.listChannels(), []);
      const names = ['beta', 'Zulu', 'alpha', 'Alpha', 'émail', 'e-mail', '10', '9', 'a b', '\u{1F600}', '\uFFFD'];
      for (const name of names) await store.createChannel(newChannel({ name }));
      const listed = await store.listChannels();
      assert.deepEqual(
        listed.map((c) => c.name),
        ['10', '9', 'Alpha', 'Zulu', 'a b', 'alpha', 'beta', 'e-mail', 'émail', '\uFFFD', '\u{1F600}'],
      );
    });
  });
}
