/**
 * Schema migrations of the embedded SQLite store, in order. A migration is never edited
 * once released: a change to the schema is a new entry at the end, so every data directory,
 * however old, reaches the same schema by running the ones it has not run yet.
 */
export interface Migration {
  /** 1, 2, 3, … in order; recorded in `schema_migrations` once applied. */
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'pipelines and their versions',
    sql: `
      CREATE TABLE pipelines (
        name TEXT PRIMARY KEY,
        latest_version INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE pipeline_versions (
        name TEXT NOT NULL REFERENCES pipelines(name),
        version INTEGER NOT NULL,
        config_yaml TEXT NOT NULL,
        author TEXT NOT NULL,
        message TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (name, version)
      );
    `,
  },
  {
    version: 2,
    description: 'experiments and their events',
    sql: `
      CREATE TABLE experiments (
        name TEXT PRIMARY KEY,
        pipeline TEXT NOT NULL,
        spec_json TEXT NOT NULL,
        phase TEXT NOT NULL,
        baseline_version INTEGER NOT NULL DEFAULT 0,
        promoted_version INTEGER NOT NULL DEFAULT 0,
        created_by TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        started_at_ms INTEGER,
        ended_at_ms INTEGER,
        decision_reason TEXT NOT NULL DEFAULT '',
        results_json TEXT
      );
      CREATE INDEX experiments_by_pipeline ON experiments (pipeline, phase);
      CREATE TABLE experiment_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        experiment TEXT NOT NULL REFERENCES experiments(name),
        type TEXT NOT NULL,
        phase TEXT NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT NOT NULL,
        at_ms INTEGER NOT NULL
      );
      CREATE INDEX experiment_events_by_experiment ON experiment_events (experiment, id);
    `,
  },
];
