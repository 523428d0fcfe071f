/**
 * Keeps a copy of one recent remote-write request now and then, so the control plane can
 * preview a pipeline on live traffic. Copies at most one body per interval: the cost on
 * the hot path is a clock read per request.
 */
import type { BodyEncoding, IngestFormat } from '../wire/ingest-format.js';

/** Options of {@link TrafficSample}. */
export interface TrafficSampleOptions {
  /** Shortest time between two kept bodies, in ms. Default 5000. */
  readonly intervalMs?: number;
  /** Larger bodies are not kept, in bytes (compressed). Default 1 MiB. */
  readonly maxBytes?: number;
  /** The clock, in ms. Default `Date.now`. */
  readonly nowMs?: () => number;
}

/** The latest kept body: a snappy-compressed remote-write 1.0 request as received. */
export interface SampledRequest {
  readonly body: Uint8Array;
  readonly atMs: number;
}

export class TrafficSample {
  readonly #intervalMs: number;
  readonly #maxBytes: number;
  readonly #nowMs: () => number;
  #latest: SampledRequest | undefined;
  #nextAtMs = 0;

  constructor(options: TrafficSampleOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 5_000;
    this.#maxBytes = options.maxBytes ?? 1024 * 1024;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /**
   * Called with every request body before its buffer is transferred to a worker; copies it
   * when the interval has passed. Only remote write 1.0 with snappy is kept, the format
   * `PreviewPipeline` reads.
   */
  offer(
    body: Uint8Array,
    format: IngestFormat | undefined,
    encoding: BodyEncoding | undefined,
  ): void {
    const nowMs = this.#nowMs();
    if (nowMs < this.#nextAtMs) return;
    if ((format ?? 'rw1') !== 'rw1' || (encoding ?? 'snappy') !== 'snappy') return;
    if (body.length === 0 || body.length > this.#maxBytes) return;
    this.#nextAtMs = nowMs + this.#intervalMs;
    this.#latest = { body: body.slice(), atMs: nowMs };
  }

  latest(): SampledRequest | undefined {
    return this.#latest;
  }
}
