/**
 * Where experiments and their event log are kept. The spec is stored as the API's JSON
 * form of `ExperimentSpec`, so the store does not change when the spec grows a field.
 */
import type Database from 'better-sqlite3';
import { openSqliteDatabase } from '../store/sqlite-store.js';

export type PhaseName = 'draft' | 'running' | 'promoted' | 'rolled_back' | 'stopped';

/** Phases an experiment never leaves. */
export const FINAL_PHASES: ReadonlySet<PhaseName> = new Set(['promoted', 'rolled_back', 'stopped']);

export interface StoredExperiment {
  readonly name: string;
  /** The baseline pipeline's name. */
  readonly pipeline: string;
  /** `ExperimentSpec` in its proto3 JSON form. */
  readonly specJson: string;
  readonly phase: PhaseName;
  readonly baselineVersion: number;
  readonly promotedVersion: number;
  readonly createdBy: string;
  readonly createdAtMs: number;
  readonly startedAtMs: number | undefined;
  readonly endedAtMs: number | undefined;
  readonly decisionReason: string;
  /** The last `ExperimentResults` (proto3 JSON), kept when the experiment ends. */
  readonly resultsJson: string | undefined;
}

export interface StoredExperimentEvent {
  readonly experiment: string;
  readonly type: string;
  readonly phase: PhaseName;
  readonly actor: string;
  readonly reason: string;
  readonly atMs: number;
}

/** A change of phase and the event that records it, written together. */
export interface PhaseChange {
  readonly phase: PhaseName;
  readonly event: StoredExperimentEvent;
  readonly baselineVersion?: number;
  readonly promotedVersion?: number;
  readonly startedAtMs?: number;
  readonly endedAtMs?: number;
  readonly decisionReason?: string;
  readonly resultsJson?: string;
}

export class ExperimentStoreError extends Error {
  override readonly name = 'ExperimentStoreError';
  constructor(
    readonly kind: 'not_found' | 'already_exists' | 'phase_conflict',
    message: string,
  ) {
    super(message);
  }
}

export interface ExperimentStore {
  create(experiment: StoredExperiment, event: StoredExperimentEvent): Promise<void>;
  get(name: string): Promise<StoredExperiment | undefined>;
  list(): Promise<StoredExperiment[]>;
  /**
   * Moves `name` from one of `from` to the change's phase; refuses with `phase_conflict`
   * when it is in another phase by then (someone decided first).
   */
  transition(
    name: string,
    from: readonly PhaseName[],
    change: PhaseChange,
  ): Promise<StoredExperiment>;
  events(name: string): Promise<StoredExperimentEvent[]>;
  close(): Promise<void>;
}

interface ExperimentRow {
  name: string;
  pipeline: string;
  spec_json: string;
  phase: PhaseName;
  baseline_version: number;
  promoted_version: number;
  created_by: string;
  created_at_ms: number;
  started_at_ms: number | null;
  ended_at_ms: number | null;
  decision_reason: string;
  results_json: string | null;
}

function fromRow(row: ExperimentRow): StoredExperiment {
  return {
    name: row.name,
    pipeline: row.pipeline,
    specJson: row.spec_json,
    phase: row.phase,
    baselineVersion: row.baseline_version,
    promotedVersion: row.promoted_version,
    createdBy: row.created_by,
    createdAtMs: row.created_at_ms,
    startedAtMs: row.started_at_ms ?? undefined,
    endedAtMs: row.ended_at_ms ?? undefined,
    decisionReason: row.decision_reason,
    resultsJson: row.results_json ?? undefined,
  };
}

/** {@link ExperimentStore} in the control plane's SQLite file (its own connection). */
export class SqliteExperimentStore implements ExperimentStore {
  readonly #db: Database.Database;

  constructor(path: string) {
    this.#db = openSqliteDatabase({ path });
  }

  async create(experiment: StoredExperiment, event: StoredExperimentEvent): Promise<void> {
    this.#db
      .transaction(() => {
        const exists = this.#db
          .prepare('SELECT 1 FROM experiments WHERE name = ?')
          .get(experiment.name);
        if (exists !== undefined) {
          throw new ExperimentStoreError(
            'already_exists',
            `experiment ${JSON.stringify(experiment.name)} already exists`,
          );
        }
        this.#db
          .prepare(
            `INSERT INTO experiments (name, pipeline, spec_json, phase, baseline_version,
               promoted_version, created_by, created_at_ms, started_at_ms, ended_at_ms,
               decision_reason, results_json)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            experiment.name,
            experiment.pipeline,
            experiment.specJson,
            experiment.phase,
            experiment.baselineVersion,
            experiment.promotedVersion,
            experiment.createdBy,
            experiment.createdAtMs,
            experiment.startedAtMs ?? null,
            experiment.endedAtMs ?? null,
            experiment.decisionReason,
            experiment.resultsJson ?? null,
          );
        this.#insertEvent(event);
      })
      .immediate();
  }

  async get(name: string): Promise<StoredExperiment | undefined> {
    const row = this.#db.prepare('SELECT * FROM experiments WHERE name = ?').get(name) as
      | ExperimentRow
      | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  async list(): Promise<StoredExperiment[]> {
    const rows = this.#db
      .prepare('SELECT * FROM experiments ORDER BY created_at_ms DESC, name')
      .all() as ExperimentRow[];
    return rows.map(fromRow);
  }

  async transition(
    name: string,
    from: readonly PhaseName[],
    change: PhaseChange,
  ): Promise<StoredExperiment> {
    return this.#db
      .transaction(() => {
        const row = this.#db.prepare('SELECT * FROM experiments WHERE name = ?').get(name) as
          | ExperimentRow
          | undefined;
        if (row === undefined) {
          throw new ExperimentStoreError('not_found', `no experiment ${JSON.stringify(name)}`);
        }
        if (!from.includes(row.phase)) {
          throw new ExperimentStoreError(
            'phase_conflict',
            `experiment ${JSON.stringify(name)} is ${row.phase}, not ${from.join(' or ')}`,
          );
        }
        this.#db
          .prepare(
            `UPDATE experiments SET phase = ?, baseline_version = ?, promoted_version = ?,
               started_at_ms = ?, ended_at_ms = ?, decision_reason = ?, results_json = ?
             WHERE name = ?`,
          )
          .run(
            change.phase,
            change.baselineVersion ?? row.baseline_version,
            change.promotedVersion ?? row.promoted_version,
            change.startedAtMs ?? row.started_at_ms,
            change.endedAtMs ?? row.ended_at_ms,
            change.decisionReason ?? row.decision_reason,
            change.resultsJson ?? row.results_json,
            name,
          );
        this.#insertEvent(change.event);
        return fromRow(
          this.#db.prepare('SELECT * FROM experiments WHERE name = ?').get(name) as ExperimentRow,
        );
      })
      .immediate();
  }

  async events(name: string): Promise<StoredExperimentEvent[]> {
    const rows = this.#db
      .prepare(
        'SELECT experiment, type, phase, actor, reason, at_ms FROM experiment_events WHERE experiment = ? ORDER BY id',
      )
      .all(name) as {
      experiment: string;
      type: string;
      phase: PhaseName;
      actor: string;
      reason: string;
      at_ms: number;
    }[];
    return rows.map((row) => ({
      experiment: row.experiment,
      type: row.type,
      phase: row.phase,
      actor: row.actor,
      reason: row.reason,
      atMs: row.at_ms,
    }));
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  #insertEvent(event: StoredExperimentEvent): void {
    this.#db
      .prepare(
        'INSERT INTO experiment_events (experiment, type, phase, actor, reason, at_ms) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(event.experiment, event.type, event.phase, event.actor, event.reason, event.atMs);
  }
}
