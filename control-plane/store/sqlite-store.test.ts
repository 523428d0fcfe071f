import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from './migrations.js';
import { PipelineStoreError } from './pipeline-store.js';
import {
  applyMigrations,
  openSqlitePipelineStore,
  type SqlitePipelineStore,
} from './sqlite-store.js';

let dir: string;
let store: SqlitePipelineStore;
let clockMs: number;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'phoenix-store-'));
  clockMs = 1_700_000_000_000;
  store = openSqlitePipelineStore({ path: join(dir, 'sub', 'phoenix.db'), nowMs: () => clockMs++ });
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const write = (configYaml: string, author = 'alice') => ({
  name: 'default',
  configYaml,
  author,
  message: `set ${configYaml.length} bytes`,
});

async function storeError(promise: Promise<unknown>): Promise<PipelineStoreError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(PipelineStoreError);
  return error as PipelineStoreError;
}

describe('migrations', () => {
  it('creates the schema in a new file and records every migration once', async () => {
    expect(store.schemaVersions()).toEqual(MIGRATIONS.map((migration) => migration.version));
    await store.close();
    // Reopening runs nothing again and keeps the data.
    store = openSqlitePipelineStore({ path: join(dir, 'sub', 'phoenix.db') });
    expect(store.schemaVersions()).toEqual(MIGRATIONS.map((migration) => migration.version));
  });

  it('runs only the migrations a database has not run, in version order', () => {
    const db = new Database(':memory:');
    const first = [{ version: 1, description: 'one', sql: 'CREATE TABLE a (x INTEGER)' }];
    expect(applyMigrations(db, first)).toEqual([1]);
    const later = [
      { version: 3, description: 'three', sql: 'ALTER TABLE a ADD COLUMN z INTEGER' },
      ...first,
      { version: 2, description: 'two', sql: 'ALTER TABLE a ADD COLUMN y INTEGER' },
    ];
    expect(applyMigrations(db, later)).toEqual([2, 3]);
    expect(applyMigrations(db, later)).toEqual([]);
    const columns = (db.prepare('PRAGMA table_info(a)').all() as { name: string }[]).map(
      (column) => column.name,
    );
    expect(columns).toEqual(['x', 'y', 'z']);
    db.close();
  });

  it('rolls back a failing migration as a whole', () => {
    const db = new Database(':memory:');
    const broken = [
      { version: 1, description: 'bad', sql: 'CREATE TABLE b (x INTEGER); CREATE TABLE b (y)' },
    ];
    expect(() => applyMigrations(db, broken)).toThrow(/already exists/);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
    expect(tables).toEqual([{ name: 'schema_migrations' }]);
    db.close();
  });
});

describe('versions', () => {
  it('counts versions from 1 and keeps every one with author and time', async () => {
    const v1 = await store.create(write('a: 1\n'));
    const v2 = await store.update({ ...write('a: 2\n', 'bob') });
    const v3 = await store.update({ ...write('a: 3\n'), expectedVersion: 2 });
    expect([v1.version, v2.version, v3.version]).toEqual([1, 2, 3]);
    expect(await store.get('default')).toEqual(v3);
    expect(await store.get('default', 2)).toEqual(v2);
    const history = await store.history('default');
    expect(history.map((v) => [v.version, v.author, v.configYaml])).toEqual([
      [3, 'alice', 'a: 3\n'],
      [2, 'bob', 'a: 2\n'],
      [1, 'alice', 'a: 1\n'],
    ]);
    expect(history[0]!.createdAtMs).toBeGreaterThan(history[2]!.createdAtMs);
  });

  it('lists the latest version of each live pipeline', async () => {
    await store.create({ ...write('x'), name: 'b' });
    await store.create({ ...write('y'), name: 'a' });
    await store.update({ ...write('y2'), name: 'a' });
    expect((await store.list()).map((v) => [v.name, v.version])).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
  });

  it('keeps history across delete and continues version numbers on re-create', async () => {
    await store.create(write('one'));
    await store.update(write('two'));
    await store.delete('default');
    expect(await store.get('default')).toBeUndefined();
    expect(await store.list()).toEqual([]);
    expect((await store.history('default')).length).toBe(2);
    const again = await store.create(write('three'));
    expect(again.version).toBe(3);
  });
});

describe('refusals', () => {
  const cases: Array<{ name: string; run: () => Promise<unknown>; kind: string; message: RegExp }> =
    [
      {
        name: 'update with a stale expected version',
        run: () => store.update({ ...write('c'), expectedVersion: 1 }),
        kind: 'version_conflict',
        message: /at version 2, not the expected 1/,
      },
      {
        name: 'delete with a stale expected version',
        run: () => store.delete('default', 5),
        kind: 'version_conflict',
        message: /at version 2, not the expected 5/,
      },
      {
        name: 'create of a live name',
        run: () => store.create(write('c')),
        kind: 'already_exists',
        message: /already exists \(version 2\)/,
      },
      {
        name: 'update of an unknown name',
        run: () => store.update({ ...write('c'), name: 'nope' }),
        kind: 'not_found',
        message: /"nope" not found/,
      },
      {
        name: 'delete of an unknown name',
        run: () => store.delete('nope'),
        kind: 'not_found',
        message: /"nope" not found/,
      },
    ];
  for (const testCase of cases) {
    it(`refuses ${testCase.name} and changes nothing`, async () => {
      await store.create(write('a'));
      await store.update(write('b'));
      const error = await storeError(testCase.run());
      expect(error.kind).toBe(testCase.kind);
      expect(error.message).toMatch(testCase.message);
      expect((await store.get('default'))?.version).toBe(2);
      expect((await store.history('default')).length).toBe(2);
    });
  }

  it('lets exactly one of two writers with the same expected version win', async () => {
    await store.create(write('a'));
    const other = openSqlitePipelineStore({ path: join(dir, 'sub', 'phoenix.db') });
    try {
      const results = await Promise.allSettled([
        store.update({ ...write('from store'), expectedVersion: 1 }),
        other.update({ ...write('from other'), expectedVersion: 1 }),
      ]);
      expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
      const rejected = results.find((result) => result.status === 'rejected');
      expect((rejected as PromiseRejectedResult).reason.kind).toBe('version_conflict');
      expect((await other.history('default')).map((v) => v.version)).toEqual([2, 1]);
    } finally {
      await other.close();
    }
  });
});
