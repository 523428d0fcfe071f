import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations.js';
import {
  type PipelineStore,
  PipelineStoreError,
  type PipelineWrite,
  type StoredPipelineVersion,
} from './pipeline-store.js';

interface VersionRow {
  name: string;
  version: number;
  config_yaml: string;
  author: string;
  message: string;
  created_at_ms: number;
}

interface PipelineRow {
  latest_version: number;
  deleted: number;
}

/** Options of {@link openSqlitePipelineStore}. */
export interface SqliteStoreOptions {
  /** The database file; created with its folder when missing. `:memory:` for a throwaway. */
  readonly path: string;
  /** The clock, in ms since the epoch; tests pass a fixed one. Default `Date.now`. */
  readonly nowMs?: () => number;
  /** The migrations to run; default {@link MIGRATIONS}. */
  readonly migrations?: readonly Migration[];
}

/**
 * Opens (creating when needed) the embedded store and brings its schema up to date. Each
 * write runs in an immediate transaction, so two control-plane processes sharing one file
 * still never hand out the same version twice.
 */
export function openSqlitePipelineStore(options: SqliteStoreOptions): SqlitePipelineStore {
  return new SqlitePipelineStore(openSqliteDatabase(options), options.nowMs ?? Date.now);
}

/** Opens the store's database file with the store's settings and an up-to-date schema. */
export function openSqliteDatabase(options: SqliteStoreOptions): Database.Database {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  applyMigrations(db, options.migrations ?? MIGRATIONS);
  return db;
}

/** Runs, in one transaction each, the migrations not yet recorded; returns their versions. */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[]): number[] {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at_ms INTEGER NOT NULL)',
  );
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
      (row) => row.version,
    ),
  );
  const ran: number[] = [];
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.prepare(
        'INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES (?, ?, ?)',
      ).run(migration.version, migration.description, Date.now());
    }).immediate();
    ran.push(migration.version);
  }
  return ran;
}

/** {@link PipelineStore} on one SQLite file (better-sqlite3, synchronous underneath). */
export class SqlitePipelineStore implements PipelineStore {
  readonly #db: Database.Database;
  readonly #nowMs: () => number;

  constructor(db: Database.Database, nowMs: () => number) {
    this.#db = db;
    this.#nowMs = nowMs;
  }

  /** Versions of the schema this database has run, ascending. */
  schemaVersions(): number[] {
    return (
      this.#db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as {
        version: number;
      }[]
    ).map((row) => row.version);
  }

  async create(write: PipelineWrite): Promise<StoredPipelineVersion> {
    return this.#db
      .transaction(() => {
        const row = this.#pipelineRow(write.name);
        if (row !== undefined && row.deleted === 0) {
          throw new PipelineStoreError(
            'already_exists',
            `pipeline ${JSON.stringify(write.name)} already exists (version ${row.latest_version})`,
          );
        }
        const version = (row?.latest_version ?? 0) + 1;
        this.#db
          .prepare(
            `INSERT INTO pipelines (name, latest_version, deleted) VALUES (?, ?, 0)
             ON CONFLICT(name) DO UPDATE SET latest_version = excluded.latest_version, deleted = 0`,
          )
          .run(write.name, version);
        return this.#insertVersion(write, version);
      })
      .immediate();
  }

  async update(
    write: PipelineWrite & { readonly expectedVersion?: number },
  ): Promise<StoredPipelineVersion> {
    return this.#db
      .transaction(() => {
        const row = this.#livePipelineRow(write.name);
        checkExpected(write.name, row.latest_version, write.expectedVersion);
        const version = row.latest_version + 1;
        this.#db
          .prepare('UPDATE pipelines SET latest_version = ? WHERE name = ?')
          .run(version, write.name);
        return this.#insertVersion(write, version);
      })
      .immediate();
  }

  async get(name: string, version?: number): Promise<StoredPipelineVersion | undefined> {
    const row = this.#pipelineRow(name);
    if (row === undefined || row.deleted !== 0) return undefined;
    const wanted = version ?? row.latest_version;
    const found = this.#db
      .prepare('SELECT * FROM pipeline_versions WHERE name = ? AND version = ?')
      .get(name, wanted) as VersionRow | undefined;
    return found === undefined ? undefined : fromRow(found);
  }

  async list(): Promise<StoredPipelineVersion[]> {
    const rows = this.#db
      .prepare(
        `SELECT v.* FROM pipelines p
         JOIN pipeline_versions v ON v.name = p.name AND v.version = p.latest_version
         WHERE p.deleted = 0 ORDER BY p.name`,
      )
      .all() as VersionRow[];
    return rows.map(fromRow);
  }

  async history(name: string): Promise<StoredPipelineVersion[]> {
    const rows = this.#db
      .prepare('SELECT * FROM pipeline_versions WHERE name = ? ORDER BY version DESC')
      .all(name) as VersionRow[];
    return rows.map(fromRow);
  }

  async delete(name: string, expectedVersion?: number): Promise<void> {
    this.#db
      .transaction(() => {
        const row = this.#livePipelineRow(name);
        checkExpected(name, row.latest_version, expectedVersion);
        this.#db.prepare('UPDATE pipelines SET deleted = 1 WHERE name = ?').run(name);
      })
      .immediate();
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  #pipelineRow(name: string): PipelineRow | undefined {
    return this.#db
      .prepare('SELECT latest_version, deleted FROM pipelines WHERE name = ?')
      .get(name) as PipelineRow | undefined;
  }

  #livePipelineRow(name: string): PipelineRow {
    const row = this.#pipelineRow(name);
    if (row === undefined || row.deleted !== 0) {
      throw new PipelineStoreError('not_found', `pipeline ${JSON.stringify(name)} not found`);
    }
    return row;
  }

  #insertVersion(write: PipelineWrite, version: number): StoredPipelineVersion {
    const stored: StoredPipelineVersion = {
      name: write.name,
      version,
      configYaml: write.configYaml,
      author: write.author,
      message: write.message,
      createdAtMs: this.#nowMs(),
    };
    this.#db
      .prepare(
        `INSERT INTO pipeline_versions (name, version, config_yaml, author, message, created_at_ms)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(
        stored.name,
        stored.version,
        stored.configYaml,
        stored.author,
        stored.message,
        stored.createdAtMs,
      );
    return stored;
  }
}

function checkExpected(name: string, latest: number, expected: number | undefined): void {
  if (expected !== undefined && expected !== latest) {
    throw new PipelineStoreError(
      'version_conflict',
      `pipeline ${JSON.stringify(name)} is at version ${latest}, not the expected ${expected}`,
    );
  }
}

function fromRow(row: VersionRow): StoredPipelineVersion {
  return {
    name: row.name,
    version: row.version,
    configYaml: row.config_yaml,
    author: row.author,
    message: row.message,
    createdAtMs: row.created_at_ms,
  };
}
