/**
 * Messages between the ingest thread and the aggregation thread, side by side. Byte
 * buffers are transferred, never copied.
 */
import type { AggregationRule } from '../pipeline/aggregation-config.js';
import type { AggregationStats } from './aggregation-engine.js';

/** Given to the aggregation thread once, as `workerData`. */
export interface AggregatorSetup {
  readonly rules: readonly AggregationRule[];
  readonly dataDir: string | undefined;
  readonly snapshotIntervalMs: number;
  readonly maxDecompressedBytes: number;
}

export type ToAggregator =
  /** A relabeled request (snappy remote-write 1.0) to aggregate. */
  | { readonly kind: 'ingest'; readonly body: Uint8Array }
  /** Flush (rules with flush_on_shutdown), snapshot, then answer `closed`. */
  | { readonly kind: 'close' }
  /** Two-tier: give away the groups other members own now; answered `handoff-out`. */
  | {
      readonly kind: 'handoff-export';
      readonly id: number;
      readonly members: readonly string[];
      readonly self: string;
    }
  /** Two-tier: merge groups another member handed off; answered `handoff-merged`. */
  | { readonly kind: 'handoff-merge'; readonly id: number; readonly bytes: Uint8Array };

export type FromAggregator =
  | { readonly kind: 'ready' }
  | { readonly kind: 'failed'; readonly message: string }
  /** One flush's output, to forward like any other request. */
  | { readonly kind: 'output'; readonly payload: Uint8Array }
  /** An `ingest` message's body was aggregated (or refused): its bytes leave the backlog. */
  | { readonly kind: 'ingested'; readonly bytes: number }
  | {
      readonly kind: 'event';
      readonly level: 'info' | 'warn' | 'error';
      readonly event: string;
      readonly fields: object;
    }
  /** The state's counters, sent every few seconds and before `closed`. */
  | {
      readonly kind: 'stats';
      readonly stats: AggregationStats;
      readonly refusedRequests: number;
    }
  | { readonly kind: 'closed' }
  | {
      readonly kind: 'handoff-out';
      readonly id: number;
      readonly parts: ReadonlyArray<readonly [string, Uint8Array]>;
    }
  | {
      readonly kind: 'handoff-merged';
      readonly id: number;
      readonly groups: number;
      readonly error?: string;
    };
