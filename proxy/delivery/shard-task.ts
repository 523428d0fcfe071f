/**
 * The worker side of `--shard-by-series`: the ingest thread never parses protobuf, so a
 * payload to be spread over upstreams goes to a pipeline worker as a {@link ShardTask}.
 * The worker decompresses it, splits it by series ({@link SeriesSharder}) and compresses
 * each part; the parts come back transferred, not copied.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { compress, uncompress } from 'snappyjs';
import { snappyHeader } from './batch.js';
import { SeriesSharder } from './shard.js';

/** Split one snappy-compressed remote-write payload into one payload per upstream. */
export interface ShardTask {
  readonly kind: 'shard';
  /** Transferred to the worker. */
  readonly payload: Uint8Array<ArrayBuffer>;
  /** Upstream names, in delivery order: the rendezvous candidates. */
  readonly upstreamNames: readonly string[];
  /** Labels that decide a series' upstream; empty means all of its labels. */
  readonly shardLabels: readonly string[];
  /** Bound on the decompressed size, as for requests. */
  readonly maxDecompressedBytes: number;
}

/** Per-upstream payloads (empty: that upstream gets nothing), or why splitting failed. */
export type ShardResponse =
  | { readonly ok: true; readonly kind: 'shards'; readonly payloads: Uint8Array[] }
  | { readonly ok: false; readonly kind: 'shards'; readonly message: string };

const sharders = new Map<string, SeriesSharder>();

/** Runs a {@link ShardTask}; never throws. */
export function runShardTask(task: ShardTask): ShardResponse {
  try {
    const key = JSON.stringify([task.upstreamNames, task.shardLabels]);
    let sharder = sharders.get(key);
    if (sharder === undefined) {
      sharder = new SeriesSharder(task.upstreamNames, task.shardLabels);
      sharders.set(key, sharder);
    }
    const declared = snappyHeader(task.payload).uncompressedBytes;
    if (declared > task.maxDecompressedBytes) {
      throw new Error(`payload of ${declared} bytes exceeds ${task.maxDecompressedBytes}`);
    }
    const parts = sharder.split(uncompress(task.payload, task.maxDecompressedBytes));
    const payloads = parts.map((part) => (part.length === 0 ? new Uint8Array(0) : compress(part)));
    const response: ShardResponse = { ok: true, kind: 'shards', payloads };
    return move({
      [transferableSymbol]: payloads.map((payload) => payload.buffer),
      [valueSymbol]: response,
    }) as unknown as ShardResponse;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, kind: 'shards', message: `cannot split the payload by series: ${message}` };
  }
}
