/** DATABASE_URL picks the store by its scheme (lib/store/index.ts resolveDatabase); anything else is a clear error. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openStore, resolveDatabase } from '../../lib/store';

describe('resolveDatabase', () => {
  test('unset or blank: the embedded PostgreSQL cluster', () => {
    assert.deepEqual(resolveDatabase({}), { kind: 'postgres', url: null });
    assert.deepEqual(resolveDatabase({ DATABASE_URL: '  ' }), { kind: 'postgres', url: null });
  });

  test('postgres:// and postgresql:// (any case) pick PostgreSQL, mongodb:// and mongodb+srv:// MongoDB; the URL is kept as given', () => {
    const cases: Array<[string, 'postgres' | 'mongodb']> = [
      ['postgres://u:p@db:5432/cronplane', 'postgres'],
      ['postgresql://db/cronplane?sslmode=require', 'postgres'],
      ['POSTGRES://db/x', 'postgres'],
      ['mongodb://db1:27017,db2:27017/cronplane?replicaSet=rs0', 'mongodb'],
      ['mongodb+srv://u:p@cluster0.example.net/cronplane', 'mongodb'],
    ];
    for (const [url, kind] of cases) assert.deepEqual(resolveDatabase({ DATABASE_URL: ` ${url} ` }), { kind, url });
  });

  test('an unsupported scheme is refused, naming it and the schemes that work, without echoing the URL', () => {
    for (const [url, scheme] of [
      ['mysql://root:hunter2@db/cronplane', 'mysql'],
      ['sqlite:./cronplane.db', 'sqlite'],
      ['http://db:5432/x', 'http'],
      ['redis://:hunter2@cache:6379', 'redis'],
    ] as const) {
      assert.throws(
        () => resolveDatabase({ DATABASE_URL: url }),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.equal(
            err.message,
            `DATABASE_URL has an unsupported scheme "${scheme}": use postgres://, postgresql://, mongodb:// or mongodb+srv://`,
          );
          assert.ok(!err.message.includes('hunter2'));
          return true;
        },
      );
    }
  });

  test('something that is no URL at all says so (not a made-up scheme), without echoing it', () => {
    for (const value of ['cronplane', 'db.internal', ':5432/x', 'hunter2-password']) {
      assert.throws(
        () => resolveDatabase({ DATABASE_URL: value }),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.equal(err.message, 'DATABASE_URL is not a URL: use postgres://, postgresql://, mongodb:// or mongodb+srv://');
          return true;
        },
      );
    }
  });

  test('opening the store with such a URL fails with the same message (what start-up logs)', async () => {
    await assert.rejects(
      (async () => openStore(resolveDatabase({ DATABASE_URL: 'mysql://db/cronplane' })))(),
      /unsupported scheme "mysql": use postgres:\/\/, postgresql:\/\/, mongodb:\/\/ or mongodb\+srv:\/\//,
    );
  });
});
