import uWS from 'uWebSockets.js';
import { Piscina } from 'piscina';
import { type StartedAggregation, startAggregation } from '../aggregation/proxy-aggregation.js';
import type { CardinalityWindow } from '../cardinality/cardinality-summary.js';
import { ProxyCardinality } from '../cardinality/proxy-cardinality.js';
import { Delivery } from '../delivery/delivery.js';
import type { ShardResponse, ShardTask } from '../delivery/shard-task.js';
import { type ArmCounters, ExperimentMetrics } from '../experiments/experiment-run.js';
import { type ProxyExperiment, ProxyExperiments } from '../experiments/proxy-experiments.js';
import { deltaAccumulation, withDeltaRejections } from '../otlp/delta-accumulation.js';
import { type RunningOtlpGrpcServer, startOtlpGrpcListener } from '../otlp/otlp-grpc-server.js';
import { compilePipeline } from '../pipeline/compile.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { type StartedTier, startTierAggregation } from '../tier/tier-aggregation.js';
import type { BodyEncoding, IngestFormat } from '../wire/ingest-format.js';
import { Forwarder } from './forwarder.js';
import { InFlightRequests } from './in-flight.js';
import { createIngestApp, forwardResponse, type IngestContext } from './ingest.js';
import { logEvent, ThrottledLog } from './log.js';
import { ProxyMetrics } from './metrics.js';
import { type ProxyOptions, type ProxyOptionsInput, resolveProxyOptions } from './options.js';
import { PipelineBroadcast, sameAggregations } from './pipeline-broadcast.js';
import { type SampledRequest, TrafficSample } from './traffic-sample.js';
import { phoenixVersion } from './version.js';
import type {
  MeterTask,
  PingResponse,
  ProcessResponse,
  WorkerSetup,
  WorkerTask,
} from './worker-protocol.js';
import { noteThreadBuffers } from './young-generation.js';

/** A proxy that is listening; `close()` shuts it down gracefully. */
export interface RunningProxy {
  /** The port actually bound (useful with `listenPort: 0`). */
  readonly port: number;
  readonly options: ProxyOptions;
  readonly metrics: ProxyMetrics;
  /**
   * Hot reload: makes `pipeline` (`undefined`: no rules) the one every worker runs. Each
   * worker switches between two of its requests, so no request fails or sees a mix.
   * Resolves once every worker runs it; rejects, keeping the running pipeline, with the
   * `ConfigError` of a pipeline that does not compile or with a worker's reason.
   */
  applyPipeline(
    pipeline: PipelineConfig | undefined,
    experiment?: ProxyExperiment | undefined,
  ): Promise<void>;
  /** Both arms' measurements of the running experiment; empty when none runs. */
  experimentCounters(): ArmCounters[];
  /** A recent request body as received (one kept every few seconds), for live previews. */
  recentRequest(): SampledRequest | undefined;
  /**
   * The cardinality windows of every worker, merged (docs/cardinality.md); empty when
   * tracking is off (`cardinalityMaxMetrics` 0).
   */
  cardinalityWindows(): Promise<CardinalityWindow[]>;
  /**
   * Stops accepting connections, answers the requests in flight (waiting for their
   * upstream calls, up to `shutdownTimeoutMs`), then closes the upstream connections and
   * the worker threads. Safe to call more than once.
   */
  close(): Promise<void>;
}

/**
 * Starts the remote-write proxy: worker pool first (its WebAssembly engines must load
 * before anything is accepted), then the listening socket. Rejects, leaving nothing
 * running, when the pipeline does not compile or the workers cannot start.
 */
export async function startProxy(input: ProxyOptionsInput): Promise<RunningProxy> {
  const options = resolveProxyOptions(input);
  // Compile once here so a bad pipeline fails startup with its config error, before any
  // thread starts; the workers compile their own copy.
  if (options.pipeline !== undefined) compilePipeline(options.pipeline);

  const pipelineBroadcast = new PipelineBroadcast(options.pipeline, () =>
    pool.threads.map((thread) => thread.threadId),
  );
  const cardinality =
    options.cardinalityMaxMetrics === 0
      ? undefined
      : new ProxyCardinality(
          { maxMetrics: options.cardinalityMaxMetrics, windowMs: options.cardinalityWindowMs },
          () => pool.threads.map((thread) => thread.threadId),
        );
  const setup: WorkerSetup = {
    ...(cardinality === undefined ? {} : { cardinality: cardinality.workerSetup }),
    pipeline: options.pipeline,
    maxDecompressedBytes: options.maxDecompressedBytes,
    maxLabelsPerSeries: options.maxLabelsPerSeries,
    otlpKeepNames: options.otlpKeepNames,
    pipelineChannel: pipelineBroadcast.channelName,
  };
  const pool = new Piscina<WorkerTask, ProcessResponse | PingResponse>({
    filename: workerFileUrl(),
    workerData: setup,
    minThreads: options.workers,
    maxThreads: options.workers,
    idleTimeout: Number.POSITIVE_INFINITY,
    // With Atomics, an idle worker blocks in Atomics.wait and never hears the pipeline
    // channel; without, tasks arrive as messages and updates are handled between them.
    atomics: 'disabled',
  });
  pool.on('error', (error: unknown) => {
    logEvent('error', 'worker_error', { message: errorMessage(error) });
  });
  try {
    await Promise.all(Array.from({ length: options.workers }, () => pool.run({ kind: 'ping' })));
  } catch (error) {
    await pool.destroy();
    pipelineBroadcast.close();
    throw new Error(`pipeline workers failed to start: ${errorMessage(error)}`);
  }

  const metrics = new ProxyMetrics({
    utilization: () => pool.utilization,
    queueSize: () => pool.queueSize,
    threads: () => pool.threads.length,
  });
  const userAgent = `phoenix/${phoenixVersion()}`;
  let delivery: Delivery | undefined;
  if (options.dataDir !== undefined) {
    try {
      delivery = await Delivery.start({
        dataDir: options.dataDir,
        upstreams: options.upstreams,
        maxQueueBytes: options.maxQueueBytes,
        queueFullPolicy: options.queueFullPolicy,
        backoff: {
          minBackoffMs: options.retryMinBackoffMs,
          maxBackoffMs: options.retryMaxBackoffMs,
        },
        connections: options.upstreamConnections,
        userAgent,
        maxBatchBytes: options.maxBatchBytes,
        queueFullRetryAfterSeconds: Math.max(1, Math.ceil(options.retryMinBackoffMs / 1000)),
        registry: metrics.registry,
        // Splitting parses protobuf, which the ingest thread never does: a worker does it.
        split: options.shardBySeries
          ? async (payload) => {
              const copy = payload.slice();
              const task: ShardTask = {
                kind: 'shard',
                payload: copy,
                upstreamNames: options.upstreams.map((upstream) => upstream.name),
                shardLabels: options.shardLabels,
                maxDecompressedBytes: options.maxDecompressedBytes,
              };
              return (await pool.run(task, {
                transferList: [copy.buffer],
              })) as unknown as ShardResponse;
            }
          : undefined,
      });
    } catch (error) {
      await pool.destroy();
      pipelineBroadcast.close();
      throw error;
    }
  }
  // The synchronous path (no data dir): each request waits for the upstream's answer.
  const forwarder = new Forwarder({
    upstreamUrl: options.upstreamUrl,
    timeoutMs: options.upstreamTimeoutMs,
    connections: options.upstreamConnections,
    userAgent,
    ...(options.upstreams[0] === undefined ? {} : { protocol: options.upstreams[0].protocol }),
    onAttempt: (code, seconds) => metrics.upstreamDuration.observe({ code }, seconds),
  });
  const forward = (payload: Uint8Array) =>
    delivery === undefined ? forwarder.send(payload) : delivery.enqueue(payload);
  // A running experiment counts each aggregation flush in its arm's output sketch.
  const meter = (task: MeterTask) => {
    pool.run(task, { transferList: [task.payload.buffer as ArrayBuffer] }).catch(() => undefined);
  };
  const experiments = new ProxyExperiments({
    dataDir: options.dataDir,
    maxDecompressedBytes: options.maxDecompressedBytes,
    upstreamTimeoutMs: options.upstreamTimeoutMs,
    userAgent,
    forward,
    meter,
    metrics: new ExperimentMetrics(metrics.registry),
  });
  const forwardAggregated = (payload: Uint8Array) => {
    const run = experiments.running;
    if (run !== undefined) {
      meter({
        kind: 'meter',
        experiment: run.experiment.name,
        arm: 'baseline',
        payload: payload.slice(),
      });
    }
    return forward(payload);
  };
  let aggregation: StartedAggregation;
  // In the two-tier layout the tier routes (gateway) or aggregates (aggregator) instead.
  let tier: StartedTier | undefined;
  try {
    aggregation = await startAggregation(
      {
        rules: options.aggregationTier === undefined ? (options.pipeline?.aggregations ?? []) : [],
        dataDir: options.dataDir,
        maxDecompressedBytes: options.maxDecompressedBytes,
        forward: forwardAggregated,
      },
      metrics.registry,
    );
    if (options.aggregationTier !== undefined) {
      tier = await startTierAggregation(
        options,
        options.aggregationTier,
        forward,
        metrics.registry,
        delivery,
      );
    }
  } catch (error) {
    await Promise.allSettled([forwarder.close(), pool.destroy(), delivery?.close()]);
    pipelineBroadcast.close();
    throw error;
  }
  // The pipeline whose aggregation rules the aggregation thread runs.
  let aggregationPipeline = options.pipeline;
  // Running totals of OTLP delta series: one owner, whatever the number of workers.
  const deltaAccumulator = deltaAccumulation({
    dataDir: options.dataDir,
    onEvent: (level, event, fields) => logEvent(level, event, fields),
  });
  const inFlight = new InFlightRequests();
  const trafficSample = new TrafficSample();
  let accepting = true;
  const ingestContext: IngestContext = {
    maxRequestBytes: options.maxRequestBytes,
    metrics,
    inFlight,
    errorLog: new ThrottledLog(),
    process: async (body, format, encoding) => {
      trafficSample.offer(body, format, encoding);
      noteThreadBuffers(body.byteLength);
      const response = await runPipeline(body, format, encoding);
      if (response.ok) noteThreadBuffers(response.payload.byteLength);
      if (!response.ok || response.deltaSeries === undefined) return response;
      // OTLP delta points: their one owner turns them into cumulative series, which then
      // run through the pipeline like any request; the sender's answer waits for both
      // outputs (docs/formats.md, "Delta temporality").
      const delta = await deltaAccumulator.accumulate(response.deltaSeries);
      if (delta.payload !== undefined) {
        const cumulative = await runPipeline(delta.payload, 'rw1', undefined);
        if (!cumulative.ok) return cumulative;
        ingestContext.metrics.recordPipeline(cumulative.stats, cumulative.ruleHits);
        await forwardResponse(ingestContext, cumulative);
      }
      const conversion = withDeltaRejections(response.conversion, delta);
      return conversion === undefined ? response : { ...response, conversion };
    },
    forward,
    isAccepting: () => accepting,
    ...(cardinality === undefined
      ? {}
      : { tsdbStatus: (queryString: string) => cardinality.tsdbStatus(queryString) }),
  };
  /** One body through a worker, then the experiment and aggregation hand-offs. */
  async function runPipeline(
    body: Uint8Array<ArrayBuffer>,
    format: IngestFormat | undefined,
    encoding: BodyEncoding | undefined,
  ): Promise<ProcessResponse> {
    let response = (await pool.run(
      {
        kind: 'process',
        body,
        format,
        encoding,
        pipelineGeneration: pipelineBroadcast.generation,
      },
      { transferList: [body.buffer] },
    )) as ProcessResponse;
    const run = experiments.running;
    if (response.ok && run !== undefined && response.experiment === run.experiment.name) {
      response = run.observe(response);
    }
    return tier === undefined ? aggregation.observe(response) : tier.observe(response);
  }
  const app = createIngestApp(ingestContext);
  tier?.registerRoutes(app);

  let listenSocket: uWS.us_listen_socket;
  let otlpGrpc: RunningOtlpGrpcServer | undefined;
  let otlpGrpcState = 'off';
  try {
    otlpGrpc = await startOtlpGrpcListener(ingestContext, options.otlpGrpcListen, (reason) => {
      otlpGrpcState = reason;
    });
    listenSocket = await listen(app, options.listenHost, options.listenPort);
  } catch (error) {
    await Promise.allSettled([
      otlpGrpc?.close(),
      aggregation.close(),
      forwarder.close(),
      pool.destroy(),
      delivery?.close(),
    ]);
    pipelineBroadcast.close();
    throw error;
  }
  const port = uWS.us_socket_local_port(listenSocket);
  await tier?.listening(port);
  logEvent('info', 'proxy_started', {
    listen: `${options.listenHost}:${port}`,
    upstream: redactedUrl(options.upstreamUrl),
    upstreams: options.upstreams.map((upstream) => upstream.name),
    delivery: delivery === undefined ? 'sync' : 'durable',
    dataDir: options.dataDir,
    otlpGrpc:
      otlpGrpc === undefined ? otlpGrpcState : `${options.otlpGrpcListen?.host}:${otlpGrpc.port}`,
    workers: options.workers,
    rules: options.pipeline === undefined ? 0 : compilePipeline(options.pipeline).ruleCount,
  });

  let closing: Promise<void> | undefined;
  const close = async () => {
    accepting = false;
    uWS.us_listen_socket_close(listenSocket);
    const otlpGrpcClosed = otlpGrpc?.close();
    const inFlightAtStart = inFlight.count;
    const drained = await inFlight.drained(options.shutdownTimeoutMs);
    await tier?.close();
    await deltaAccumulator.close();
    await aggregation.close();
    await experiments.close();
    await forwarder.close();
    // Appends of answered requests are on disk already; this stops the senders after
    // their attempt in progress and keeps what is undelivered for the next start.
    await delivery?.close();
    await otlpGrpcClosed;
    await pool.destroy();
    pipelineBroadcast.close();
    cardinality?.close();
    // Drops the idle keep-alive connections too; the native app has `close()` although
    // the bundled type declarations do not list it.
    (app as uWS.TemplatedApp & { close?: () => void }).close?.();
    logEvent(drained ? 'info' : 'warn', 'proxy_stopped', {
      inFlightAtStart,
      abandoned: drained ? 0 : inFlight.count,
    });
  };
  return {
    port,
    options,
    metrics,
    recentRequest: () => trafficSample.latest(),
    cardinalityWindows: async () => (cardinality === undefined ? [] : cardinality.windows()),
    applyPipeline: async (pipeline, experiment) => {
      await experiments.apply(experiment, (worker) => pipelineBroadcast.apply(pipeline, worker));
      if (!sameAggregations(aggregationPipeline, pipeline)) {
        aggregationPipeline = pipeline;
        await aggregation.replace(pipeline?.aggregations ?? []);
      }
    },
    experimentCounters: () => experiments.running?.counters() ?? [],
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}

/** uSockets' `LIBUS_LISTEN_EXCLUSIVE_PORT`; the enum is declared in the types only. */
const LISTEN_EXCLUSIVE_PORT = 1;

/**
 * Binds without SO_REUSEPORT. uWebSockets.js sets it by default, so a second Phoenix
 * started on a taken port would silently share it with the first, splitting the traffic.
 * The binding accepts (host, port, options, callback); its types omit that overload.
 */
function listenExclusive(
  app: uWS.TemplatedApp,
  host: string,
  port: number,
  callback: (socket: uWS.us_listen_socket | false) => void,
): void {
  (
    app.listen as unknown as (
      host: string,
      port: number,
      options: number,
      callback: (socket: uWS.us_listen_socket | false) => void,
    ) => void
  ).call(app, host, port, LISTEN_EXCLUSIVE_PORT, callback);
}

function listen(app: uWS.TemplatedApp, host: string, port: number): Promise<uWS.us_listen_socket> {
  return new Promise((resolve, reject) => {
    listenExclusive(app, host, port, (socket) => {
      if (socket === false) {
        reject(new Error(`cannot listen on ${host}:${port} (address in use or not available)`));
      } else {
        resolve(socket);
      }
    });
  });
}

/**
 * The worker entry. Workers run compiled JavaScript only, so when this module runs from
 * its TypeScript source (under the test runner) the worker comes from `dist/`, which
 * `npm run build:ts` makes.
 */
function workerFileUrl(): string {
  const here = import.meta.url;
  return here.endsWith('.ts')
    ? new URL('../../dist/proxy/server/worker.js', here).href
    : new URL('./worker.js', here).href;
}

function redactedUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password !== '') copy.password = '***';
  return copy.href;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
