import { availableParallelism } from 'node:os';
import type { QueueFullPolicy } from '../delivery/queue.js';
import {
  hasOnlyUrlSettings,
  type UpstreamConfig,
  UpstreamConfigError,
  upstreamFromUrl,
} from '../delivery/upstream.js';
import type { OtlpGrpcListen } from '../otlp/otlp-grpc-server.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { type AggregationTierOptions, checkTierSource } from '../tier/tier-options.js';

/**
 * Everything `startProxy` needs, fully resolved: every field has a value and every value
 * has been range-checked. Build one with {@link resolveProxyOptions}.
 */
export interface ProxyOptions {
  /** Address the ingest server binds to. Default `127.0.0.1`. */
  readonly listenHost: string;
  /** TCP port of the ingest server; `0` lets the kernel pick one. Default `9091`. */
  readonly listenPort: number;
  /** The remote-write endpoint every accepted request is forwarded to (http or https). */
  readonly upstreamUrl: URL;
  /**
   * The pipeline the workers run, as parsed from `phoenix.yaml`. `undefined` runs the empty
   * pipeline: requests are validated and forwarded byte for byte.
   */
  readonly pipeline: PipelineConfig | undefined;
  /** Worker threads, each with its own WebAssembly instance. Default: available cores. */
  readonly workers: number;
  /**
   * Largest request body accepted, in bytes, as received (snappy-compressed). Larger
   * requests get 413 before their body is read. Default 32 MiB, at most 1 GiB.
   */
  readonly maxRequestBytes: number;
  /**
   * Largest decompressed protobuf a worker accepts, in bytes; bounds the memory a small
   * body with a huge snappy length header can claim. Default 256 MiB, at most 1 GiB.
   */
  readonly maxDecompressedBytes: number;
  /** Most labels one series may have; more is a 400. Default 512. */
  readonly maxLabelsPerSeries: number;
  /**
   * OTLP: keep metric names as sent (only made valid), without the unit, `_total` and
   * `_ratio` suffixes Prometheus' OTLP receiver adds. Default false.
   */
  readonly otlpKeepNames: boolean;
  /**
   * Metric names each cardinality tracker keeps apart (per view, per worker) before the
   * "other" bucket takes the rest; 0 turns tracking off. Default 2000 (docs/cardinality.md).
   */
  readonly cardinalityMaxMetrics: number;
  /** Length of a cardinality window in ms (churn is per window). Default 3 600 000. */
  readonly cardinalityWindowMs: number;
  /**
   * Address of the OTLP/gRPC listener, or `undefined` for none (the default here; the CLI
   * defaults to 127.0.0.1:4317, the OTLP port).
   */
  readonly otlpGrpcListen: OtlpGrpcListen | undefined;
  /**
   * Time allowed for one upstream request, from sending to the end of the response, in
   * milliseconds. A timeout answers the sender 503 so it retries. Default 30 000 ms.
   */
  readonly upstreamTimeoutMs: number;
  /** Keep-alive connections kept open to the upstream. Default 16. */
  readonly upstreamConnections: number;
  /**
   * How long a graceful shutdown waits for in-flight requests before it gives up on them,
   * in milliseconds. Default 60 000 ms: longer than the upstream timeout, so a request
   * waiting on a slow upstream is answered rather than cut off.
   */
  readonly shutdownTimeoutMs: number;
  /**
   * Every upstream the output is delivered to (each gets all of it). Default: the one
   * `upstreamUrl` names, with `upstreamTimeoutMs`.
   */
  readonly upstreams: readonly UpstreamConfig[];
  /**
   * Folder of the durable delivery queues. `undefined` selects the synchronous path: each
   * request is forwarded to the single upstream and answered with what it answered.
   */
  readonly dataDir: string | undefined;
  /** Most bytes each upstream's queue may hold on disk. Default 1 GiB. */
  readonly maxQueueBytes: number;
  /** A full queue refuses new data with 429 (default), or drops its oldest segment. */
  readonly queueFullPolicy: QueueFullPolicy;
  /** Shortest wait before a retry to an upstream, in ms. Default 100 ms. */
  readonly retryMinBackoffMs: number;
  /** Longest wait between retries to an upstream, in ms. Default 30 000 ms. */
  readonly retryMaxBackoffMs: number;
  /** Most compressed bytes joined into one upstream request from a backlog. Default 4 MiB. */
  readonly maxBatchBytes: number;
  /**
   * Spread series over the upstreams by rendezvous hashing instead of sending every
   * upstream everything. Default false.
   */
  readonly shardBySeries: boolean;
  /** Labels whose values pick a series' upstream when sharding; empty: all labels. */
  readonly shardLabels: readonly string[];
  /**
   * Two-tier aggregation (docs/aggregation-tier.md): this proxy is a gateway routing
   * aggregated series to members, or an aggregator among them. `undefined`: aggregate
   * locally, as a single tier.
   */
  readonly aggregationTier: AggregationTierOptions | undefined;
}

/** What a caller may pass to {@link resolveProxyOptions}: only the upstream is required. */
export type ProxyOptionsInput = { readonly upstreamUrl: URL | string } & {
  readonly [K in Exclude<keyof ProxyOptions, 'upstreamUrl'>]?: ProxyOptions[K] | undefined;
};

const MIB = 1024 * 1024;
const MAX_DECOMPRESSED_BYTES_LIMIT = 1024 * MIB;

/** Defaults of {@link ProxyOptions}, also shown by `phoenix proxy --help`. */
export const PROXY_DEFAULTS = {
  listenHost: '127.0.0.1',
  listenPort: 9091,
  maxRequestBytes: 32 * MIB,
  maxDecompressedBytes: 256 * MIB,
  maxLabelsPerSeries: 512,
  upstreamTimeoutMs: 30_000,
  upstreamConnections: 16,
  shutdownTimeoutMs: 60_000,
  dataDir: './data',
  maxQueueBytes: 1024 * MIB,
  queueFullPolicy: 'refuse',
  retryMinBackoffMs: 100,
  retryMaxBackoffMs: 30_000,
  maxBatchBytes: 4 * MIB,
  cardinalityMaxMetrics: 2000,
  cardinalityWindowMs: 3_600_000,
} as const;

/** Thrown by {@link resolveProxyOptions} for a value out of range; the message names it. */
export class ProxyOptionsError extends Error {
  override readonly name = 'ProxyOptionsError';
}

/**
 * Pipeline workers when `--workers` is not given: one per core but one. The ingest thread
 * (HTTP, queues, upstream sends) is a busy thread too, and one more thread than cores
 * makes them take turns: on two cores, one worker gave 5–10% less CPU per sample and more
 * throughput than two in every benchmark scenario (README, "Benchmarks").
 */
export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * Applies defaults and checks ranges, so the rest of the server can trust every field.
 * Messages read like `maxRequestBytes 0 must be >= 1`.
 */
export function resolveProxyOptions(input: ProxyOptionsInput): ProxyOptions {
  const workers = input.workers ?? defaultWorkerCount();
  const options: ProxyOptions = {
    listenHost: input.listenHost ?? PROXY_DEFAULTS.listenHost,
    listenPort: input.listenPort ?? PROXY_DEFAULTS.listenPort,
    upstreamUrl: resolveUpstreamUrl(input.upstreamUrl),
    pipeline: input.pipeline,
    workers,
    maxRequestBytes: input.maxRequestBytes ?? PROXY_DEFAULTS.maxRequestBytes,
    maxDecompressedBytes: input.maxDecompressedBytes ?? PROXY_DEFAULTS.maxDecompressedBytes,
    maxLabelsPerSeries: input.maxLabelsPerSeries ?? PROXY_DEFAULTS.maxLabelsPerSeries,
    otlpKeepNames: input.otlpKeepNames ?? false,
    cardinalityMaxMetrics: input.cardinalityMaxMetrics ?? PROXY_DEFAULTS.cardinalityMaxMetrics,
    cardinalityWindowMs: input.cardinalityWindowMs ?? PROXY_DEFAULTS.cardinalityWindowMs,
    otlpGrpcListen: input.otlpGrpcListen,
    upstreamTimeoutMs: input.upstreamTimeoutMs ?? PROXY_DEFAULTS.upstreamTimeoutMs,
    upstreamConnections: input.upstreamConnections ?? PROXY_DEFAULTS.upstreamConnections,
    shutdownTimeoutMs: input.shutdownTimeoutMs ?? PROXY_DEFAULTS.shutdownTimeoutMs,
    upstreams: resolveUpstreams(input),
    dataDir: input.dataDir,
    maxQueueBytes: input.maxQueueBytes ?? PROXY_DEFAULTS.maxQueueBytes,
    queueFullPolicy: input.queueFullPolicy ?? PROXY_DEFAULTS.queueFullPolicy,
    retryMinBackoffMs: input.retryMinBackoffMs ?? PROXY_DEFAULTS.retryMinBackoffMs,
    retryMaxBackoffMs: input.retryMaxBackoffMs ?? PROXY_DEFAULTS.retryMaxBackoffMs,
    maxBatchBytes: input.maxBatchBytes ?? PROXY_DEFAULTS.maxBatchBytes,
    shardBySeries: input.shardBySeries ?? false,
    shardLabels: input.shardLabels ?? [],
    aggregationTier: input.aggregationTier,
  };
  if (options.listenHost === '') {
    throw new ProxyOptionsError('listenHost must not be empty');
  }
  checkInteger('listenPort', options.listenPort, 0, 65_535);
  checkInteger('workers', options.workers, 1, 1024);
  checkInteger('cardinalityMaxMetrics', options.cardinalityMaxMetrics, 0, 100_000);
  checkInteger('cardinalityWindowMs', options.cardinalityWindowMs, 1000, 7 * 86_400_000);
  // The WebAssembly module addresses its buffers with u32 lengths and its memory tops out
  // at 4 GiB, so a decompressed body is bounded well below that.
  const maxU32 = 0xffff_ffff;
  checkInteger('maxRequestBytes', options.maxRequestBytes, 1, MAX_DECOMPRESSED_BYTES_LIMIT);
  checkInteger(
    'maxDecompressedBytes',
    options.maxDecompressedBytes,
    1,
    MAX_DECOMPRESSED_BYTES_LIMIT,
  );
  checkInteger('maxLabelsPerSeries', options.maxLabelsPerSeries, 1, maxU32);
  checkInteger('upstreamTimeoutMs', options.upstreamTimeoutMs, 1, 24 * 3600 * 1000);
  checkInteger('upstreamConnections', options.upstreamConnections, 1, 10_000);
  checkInteger('shutdownTimeoutMs', options.shutdownTimeoutMs, 0, 24 * 3600 * 1000);
  checkDelivery(options);
  return options;
}

function resolveUpstreams(input: ProxyOptionsInput): readonly UpstreamConfig[] {
  if (input.upstreams !== undefined && input.upstreams.length > 0) return input.upstreams;
  const timeoutMs = input.upstreamTimeoutMs ?? PROXY_DEFAULTS.upstreamTimeoutMs;
  try {
    return [upstreamFromUrl(input.upstreamUrl, timeoutMs)];
  } catch (error) {
    if (error instanceof UpstreamConfigError) throw new ProxyOptionsError(error.message);
    throw error;
  }
}

function checkDelivery(options: ProxyOptions): void {
  if (options.dataDir === '') throw new ProxyOptionsError('dataDir must not be empty');
  if (options.dataDir === undefined && options.upstreams.length > 1) {
    throw new ProxyOptionsError(
      `${options.upstreams.length} upstreams need durable delivery (a dataDir); the synchronous path forwards to one`,
    );
  }
  const [first] = options.upstreams;
  if (
    options.dataDir === undefined &&
    first !== undefined &&
    !hasOnlyUrlSettings(first, options.upstreamTimeoutMs)
  ) {
    throw new ProxyOptionsError(
      `upstream ${first.name} sets headers, auth, TLS or a timeout of its own, which need durable delivery (a dataDir)`,
    );
  }
  if (options.queueFullPolicy !== 'refuse' && options.queueFullPolicy !== 'drop-oldest') {
    throw new ProxyOptionsError(
      `queueFullPolicy ${JSON.stringify(options.queueFullPolicy)} must be refuse or drop-oldest`,
    );
  }
  checkInteger('maxQueueBytes', options.maxQueueBytes, 64 * 1024, Number.MAX_SAFE_INTEGER);
  checkInteger('retryMinBackoffMs', options.retryMinBackoffMs, 1, 3600 * 1000);
  checkInteger(
    'retryMaxBackoffMs',
    options.retryMaxBackoffMs,
    options.retryMinBackoffMs,
    3600 * 1000,
  );
  checkInteger('maxBatchBytes', options.maxBatchBytes, 1, 1024 * MIB);
  if (options.shardBySeries && options.dataDir === undefined) {
    throw new ProxyOptionsError('shardBySeries needs durable delivery (a dataDir)');
  }
  if (options.aggregationTier !== undefined) {
    if (options.dataDir === undefined) {
      throw new ProxyOptionsError('aggregationTier needs durable delivery (a dataDir)');
    }
    const problem = checkTierSource(options.aggregationTier);
    if (problem !== undefined) throw new ProxyOptionsError(problem);
  }
  if (!options.shardBySeries && options.shardLabels.length > 0) {
    throw new ProxyOptionsError('shardLabels is only used with shardBySeries');
  }
}

function resolveUpstreamUrl(value: URL | string): URL {
  let url: URL;
  try {
    url = typeof value === 'string' ? new URL(value) : value;
  } catch {
    throw new ProxyOptionsError(`upstreamUrl ${JSON.stringify(value)} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProxyOptionsError(`upstreamUrl ${url.href} must use http: or https:`);
  }
  return url;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value)) {
    throw new ProxyOptionsError(`${name} ${value} must be an integer`);
  }
  if (value < min) {
    throw new ProxyOptionsError(`${name} ${value} must be >= ${min}`);
  }
  if (value > max) {
    throw new ProxyOptionsError(`${name} ${value} must be <= ${max}`);
  }
}
