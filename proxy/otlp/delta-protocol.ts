/** Messages between the ingest thread and the delta accumulator thread, side by side. */

/** Given to the thread once, as `workerData`. */
export interface DeltaThreadSetup {
  /** Folder of the snapshot; `undefined` keeps the state in memory only. */
  readonly dataDir: string | undefined;
  readonly snapshotIntervalMs: number;
}

export type ToDeltaThread =
  /** Uncompressed 1.0 series of deltas from a worker (transferred). */
  | { readonly kind: 'accumulate'; readonly id: number; readonly body: Uint8Array }
  /** Snapshot once more, then answer `closed`. */
  | { readonly kind: 'close' };

export type FromDeltaThread =
  | { readonly kind: 'ready' }
  | {
      readonly kind: 'accumulated';
      readonly id: number;
      /** Snappy 1.0 of the cumulative series (transferred); absent when all were refused. */
      readonly payload: Uint8Array | undefined;
      /** Points refused as duplicate or late, and the first reasons. */
      readonly rejected: number;
      readonly message: string;
    }
  | { readonly kind: 'failed'; readonly id: number; readonly message: string }
  | {
      readonly kind: 'event';
      readonly level: 'info' | 'warn' | 'error';
      readonly event: string;
      readonly fields: Record<string, unknown>;
    }
  | { readonly kind: 'closed' };
