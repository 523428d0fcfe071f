/**
 * Pushes a {@link Workload} at a remote-write endpoint over keep-alive connections (one
 * {@link HttpConnection} per request in flight), `concurrency` requests in flight, as fast as the target answers or at a
 * fixed request rate, and records each request's latency.
 */

import { HttpConnection } from './http-connection.js';
import type { Workload } from './workload.js';
import { requestHeaders } from './workload-formats.js';

/** Options of {@link LoadGenerator}. */
export interface LoadOptions {
  /** The remote-write URL of the target. */
  readonly url: string;
  readonly workload: Workload;
  /** Requests in flight at once, one keep-alive connection each. */
  readonly concurrency: number;
  /** Stop starting requests after this long, in ms. */
  readonly durationMs: number;
  /** Stop after this many requests (for a warm-up round). Default: no limit. */
  readonly maxRequests?: number;
  /** Global number of the first request (its round and samples); default 0. */
  readonly firstSequence?: number;
  /** Start requests at this rate (per second) rather than as fast as answered. */
  readonly requestsPerSecond?: number | undefined;
  /** Metric ids the target drops, to know how many samples should come out. */
  readonly droppedMetricIds?: ReadonlySet<number>;
}

/** Counters while a load runs and when it ended. */
export interface LoadProgress {
  readonly requests: number;
  /** Requests answered other than 2xx, or that failed on the network. */
  readonly failed: number;
  readonly samplesSent: number;
  /** Samples of successful requests whose series the target should keep. */
  readonly samplesExpectedOut: number;
  readonly bytesSent: number;
  readonly inFlight: number;
}

/** The end of a load run. */
export interface LoadResult extends LoadProgress {
  readonly elapsedMs: number;
  /** Latency of every successful request, ms, sorted ascending. */
  readonly latenciesMs: Float64Array;
  /** The first failure, for the report. */
  readonly firstError: string | undefined;
  /** The sequence number the next load should start at, so rounds keep advancing. */
  readonly nextSequence: number;
}

/** One run of load; create a new one per run. */
export class LoadGenerator {
  readonly #options: LoadOptions;
  #requests = 0;
  #failed = 0;
  #samplesSent = 0;
  #samplesExpectedOut = 0;
  #bytesSent = 0;
  #inFlight = 0;
  #latencies = new Float64Array(4096);
  #latencyCount = 0;
  #firstError: string | undefined;
  #nextSequence: number;

  constructor(options: LoadOptions) {
    this.#options = options;
    this.#nextSequence = options.firstSequence ?? 0;
  }

  progress(): LoadProgress {
    return {
      requests: this.#requests,
      failed: this.#failed,
      samplesSent: this.#samplesSent,
      samplesExpectedOut: this.#samplesExpectedOut,
      bytesSent: this.#bytesSent,
      inFlight: this.#inFlight,
    };
  }

  /** Sends until the duration or request budget is used up and every answer is in. */
  async run(): Promise<LoadResult> {
    const options = this.#options;
    const url = new URL(options.url);
    const path = `${url.pathname}${url.search}`;
    const startedAt = performance.now();
    const deadline = startedAt + options.durationMs;
    const firstSequence = this.#nextSequence;
    const lastSequence = firstSequence + (options.maxRequests ?? Number.POSITIVE_INFINITY);
    const intervalMs =
      options.requestsPerSecond === undefined ? 0 : 1000 / options.requestsPerSecond;

    const connections: HttpConnection[] = [];
    const loop = async (): Promise<void> => {
      const connection = new HttpConnection(url);
      connections.push(connection);
      for (;;) {
        if (performance.now() >= deadline || this.#nextSequence >= lastSequence) return;
        const sequence = this.#nextSequence++;
        if (intervalMs > 0) {
          const dueAt = startedAt + (sequence - firstSequence) * intervalMs;
          const waitMs = dueAt - performance.now();
          if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
          if (performance.now() >= deadline) return;
        }
        await this.#send(connection, path, sequence);
      }
    };
    try {
      await Promise.all(Array.from({ length: options.concurrency }, loop));
    } finally {
      for (const connection of connections) connection.close();
    }
    return {
      ...this.progress(),
      elapsedMs: performance.now() - startedAt,
      latenciesMs: this.#latencies.slice(0, this.#latencyCount).sort(),
      firstError: this.#firstError,
      nextSequence: this.#nextSequence,
    };
  }

  async #send(connection: HttpConnection, path: string, sequence: number): Promise<void> {
    const workload = this.#options.workload;
    const body = workload.body(sequence);
    const { index } = workload.position(sequence);
    const samples = workload.requests[index]!.sampleOffsets.length;
    this.#inFlight++;
    this.#requests++;
    this.#samplesSent += samples;
    this.#bytesSent += body.length;
    const sentAt = performance.now();
    try {
      const answer = await connection.post(
        path,
        requestHeaders(this.#options.workload.format),
        body,
      );
      if (answer.status < 200 || answer.status >= 300) {
        this.#fail(`HTTP ${answer.status}: ${answer.body.trim().slice(0, 200)}`);
        return;
      }
      this.#recordLatency(performance.now() - sentAt);
      this.#samplesExpectedOut += workload.keptSeries(
        index,
        this.#options.droppedMetricIds ?? new Set(),
      );
    } catch (error) {
      this.#fail(error instanceof Error ? error.message : String(error));
    } finally {
      this.#inFlight--;
    }
  }

  #fail(reason: string): void {
    this.#failed++;
    this.#firstError ??= reason;
  }

  #recordLatency(ms: number): void {
    if (this.#latencyCount === this.#latencies.length) {
      const grown = new Float64Array(this.#latencies.length * 2);
      grown.set(this.#latencies);
      this.#latencies = grown;
    }
    this.#latencies[this.#latencyCount++] = ms;
  }
}

/** The `q`-quantile (0..1) of sorted values, nearest rank; NaN when there are none. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}
