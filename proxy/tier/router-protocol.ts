/**
 * Messages between the ingest thread and the tier routing thread, side by side. Byte
 * buffers are transferred, never copied.
 */
import type { AggregationRule } from '../pipeline/aggregation-config.js';

/** Given to the routing thread once, as `workerData`. */
export interface RouterSetup {
  readonly rules: readonly AggregationRule[];
  readonly maxDecompressedBytes: number;
}

/** Route one snappy remote-write 1.0 request over `members` (see `GroupRouter.route`). */
export interface RouteTask {
  readonly id: number;
  readonly payload: Uint8Array;
  readonly members: readonly string[];
  readonly previous: readonly string[] | undefined;
}

export type FromRouter =
  | { readonly kind: 'ready' }
  | { readonly kind: 'failed'; readonly message: string }
  | {
      readonly kind: 'routed';
      readonly id: number;
      /** Per member, a snappy WriteRequest; empty when the member gets nothing. */
      readonly parts: Uint8Array[];
      /** Per member index, the earlier owners of groups it got (with `previous`). */
      readonly movedFrom: ReadonlyArray<readonly [number, readonly string[]]>;
    }
  | { readonly kind: 'refused'; readonly id: number; readonly message: string };
