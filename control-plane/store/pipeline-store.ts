/**
 * The storage contract of the control plane: versioned pipelines, every version kept.
 * Narrow on purpose, and asynchronous, so a PostgreSQL implementation can stand beside the
 * embedded SQLite one without the services noticing.
 */

/** One stored version of a pipeline. */
export interface StoredPipelineVersion {
  readonly name: string;
  /** Counts up from 1 per name and never repeats, even across delete and re-create. */
  readonly version: number;
  readonly configYaml: string;
  /** Who made the version (the token's name). */
  readonly author: string;
  readonly message: string;
  /** When the version was made, in milliseconds since the Unix epoch. */
  readonly createdAtMs: number;
}

/** What a write needs besides the pipeline's name. */
export interface PipelineWrite {
  readonly name: string;
  readonly configYaml: string;
  readonly author: string;
  readonly message: string;
}

/** Why a store operation was refused; the services map each kind to one Connect code. */
export type PipelineStoreErrorKind = 'not_found' | 'already_exists' | 'version_conflict';

/** The one error type of a {@link PipelineStore}; anything else is a fault of the store. */
export class PipelineStoreError extends Error {
  override readonly name = 'PipelineStoreError';
  readonly kind: PipelineStoreErrorKind;

  constructor(kind: PipelineStoreErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

/**
 * Pipelines and their history. A name is "live" from its create until its delete; a
 * deleted name keeps its history and can be created again, continuing its version numbers.
 */
export interface PipelineStore {
  /** Makes version 1 of a new name (or the next version of a deleted one). */
  create(write: PipelineWrite): Promise<StoredPipelineVersion>;
  /**
   * Adds the next version of a live pipeline. With `expectedVersion`, refuses with
   * `version_conflict` unless the latest version is exactly that one.
   */
  update(
    write: PipelineWrite & { readonly expectedVersion?: number },
  ): Promise<StoredPipelineVersion>;
  /** A version of a live pipeline: the latest when `version` is omitted. */
  get(name: string, version?: number): Promise<StoredPipelineVersion | undefined>;
  /** The latest version of every live pipeline, by name. */
  list(): Promise<StoredPipelineVersion[]>;
  /** Every version of a name, newest first (also of a deleted one); empty when never stored. */
  history(name: string): Promise<StoredPipelineVersion[]>;
  /** Ends a live pipeline; its history stays. */
  delete(name: string, expectedVersion?: number): Promise<void>;
  close(): Promise<void>;
}
