import uWS from 'uWebSockets.js';
import { Piscina } from 'piscina';
import { compilePipeline } from '../pipeline/compile.js';
import { Forwarder } from './forwarder.js';
import { InFlightRequests } from './in-flight.js';
import { createIngestApp } from './ingest.js';
import { logEvent, ThrottledLog } from './log.js';
import { ProxyMetrics } from './metrics.js';
import { type ProxyOptions, type ProxyOptionsInput, resolveProxyOptions } from './options.js';
import { phoenixVersion } from './version.js';
import type { PingResponse, ProcessResponse, WorkerSetup, WorkerTask } from './worker-protocol.js';

/** A proxy that is listening; `close()` shuts it down gracefully. */
export interface RunningProxy {
  /** The port actually bound (useful with `listenPort: 0`). */
  readonly port: number;
  readonly options: ProxyOptions;
  readonly metrics: ProxyMetrics;
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

  const setup: WorkerSetup = {
    pipeline: options.pipeline,
    maxDecompressedBytes: options.maxDecompressedBytes,
    maxLabelsPerSeries: options.maxLabelsPerSeries,
  };
  const pool = new Piscina<WorkerTask, ProcessResponse | PingResponse>({
    filename: workerFileUrl(),
    workerData: setup,
    minThreads: options.workers,
    maxThreads: options.workers,
    idleTimeout: Number.POSITIVE_INFINITY,
  });
  pool.on('error', (error: unknown) => {
    logEvent('error', 'worker_error', { message: errorMessage(error) });
  });
  try {
    await Promise.all(Array.from({ length: options.workers }, () => pool.run({ kind: 'ping' })));
  } catch (error) {
    await pool.destroy();
    throw new Error(`pipeline workers failed to start: ${errorMessage(error)}`);
  }

  const metrics = new ProxyMetrics({
    utilization: () => pool.utilization,
    queueSize: () => pool.queueSize,
    threads: () => pool.threads.length,
  });
  const forwarder = new Forwarder({
    upstreamUrl: options.upstreamUrl,
    timeoutMs: options.upstreamTimeoutMs,
    connections: options.upstreamConnections,
    userAgent: `phoenix/${phoenixVersion()}`,
    onAttempt: (code, seconds) => metrics.upstreamDuration.observe({ code }, seconds),
  });
  const inFlight = new InFlightRequests();
  let accepting = true;
  const app = createIngestApp({
    maxRequestBytes: options.maxRequestBytes,
    metrics,
    inFlight,
    errorLog: new ThrottledLog(),
    process: async (body) =>
      (await pool.run(
        { kind: 'process', body },
        { transferList: [body.buffer] },
      )) as ProcessResponse,
    forward: (payload) => forwarder.send(payload),
    isAccepting: () => accepting,
  });

  let listenSocket: uWS.us_listen_socket;
  try {
    listenSocket = await listen(app, options.listenHost, options.listenPort);
  } catch (error) {
    await Promise.allSettled([forwarder.close(), pool.destroy()]);
    throw error;
  }
  const port = uWS.us_socket_local_port(listenSocket);
  logEvent('info', 'proxy_started', {
    listen: `${options.listenHost}:${port}`,
    upstream: redactedUrl(options.upstreamUrl),
    workers: options.workers,
    rules: options.pipeline === undefined ? 0 : compilePipeline(options.pipeline).ruleCount,
  });

  let closing: Promise<void> | undefined;
  const close = async () => {
    accepting = false;
    uWS.us_listen_socket_close(listenSocket);
    const inFlightAtStart = inFlight.count;
    const drained = await inFlight.drained(options.shutdownTimeoutMs);
    await forwarder.close();
    await pool.destroy();
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
