/**
 * Delta → cumulative for OTLP sums and histograms: the running total of each stream
 * (metric name + labels), kept in the worker between requests. Prometheus stores
 * cumulative counters, so each delta point is added to its stream's total and the total
 * is written.
 *
 * The state lives in one worker. Phoenix sends each request to any free worker, so with
 * more than one worker the deltas of one stream can land in different workers and each
 * keeps a partial total: run with `--workers 1` (or send each stream's deltas through a
 * Collector's `deltatocumulative` processor) when senders use delta temporality. A restart
 * starts every total from zero again, which PromQL's `rate()` reads as a counter reset.
 */

/** One stream's running totals. */
export interface DeltaStream {
  /** End of the last point added, ms; a point ending at or before it is a duplicate. */
  lastTimeMs: number;
  /** Running total of a sum, or the running count of a histogram. */
  total: number;
  /** Histograms: running sum of observations and per-bucket counts (not cumulative). */
  sum: number;
  bucketCounts: Float64Array | undefined;
  /** Histograms: the bounds the bucket counts belong to, joined; a change restarts the stream. */
  boundsKey: string;
}

/** Bounds the memory the state may take; past it every stream starts over. */
const MAX_STREAMS = 200_000;

/** Running totals of every delta stream this worker has seen. */
export class DeltaState {
  readonly #streams = new Map<string, DeltaStream>();

  /** Streams kept. */
  get size(): number {
    return this.#streams.size;
  }

  /**
   * The stream of `key`, created empty when new. Returns `undefined` when a point ending
   * at `timeMs` is not newer than the stream's last one (a duplicate or a late point,
   * which would count twice).
   */
  advance(key: string, timeMs: number): DeltaStream | undefined {
    let stream = this.#streams.get(key);
    if (stream === undefined) {
      if (this.#streams.size >= MAX_STREAMS) this.#streams.clear();
      stream = { lastTimeMs: -Infinity, total: 0, sum: 0, bucketCounts: undefined, boundsKey: '' };
      this.#streams.set(key, stream);
    }
    if (timeMs <= stream.lastTimeMs) return undefined;
    stream.lastTimeMs = timeMs;
    return stream;
  }
}
