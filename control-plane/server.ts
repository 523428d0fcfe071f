/**
 * The control plane's server: Connect, gRPC and gRPC-Web on one port, over HTTP/2 (h2c)
 * and HTTP/1.1 alike, so `buf curl`, grpcurl-style clients, browsers and the proxies all reach it.
 */
import { createServer as createHttp1Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { AnalysisService } from '../proto/gen/phoenix/v1/analysis_pb.js';
import { ExperimentService } from '../proto/gen/phoenix/v1/experiment_pb.js';
import { PipelineService } from '../proto/gen/phoenix/v1/pipeline_pb.js';
import { ProxyService } from '../proto/gen/phoenix/v1/proxy_pb.js';
import { authInterceptor } from './auth/auth-interceptor.js';
import type { TokenSet } from './auth/tokens.js';
import { createDualProtocolListener } from './dual-protocol-listener.js';
import { ExperimentEngine } from './experiments/experiment-engine.js';
import { experimentServiceImpl } from './experiments/experiment-service.js';
import { type ExperimentStore, SqliteExperimentStore } from './experiments/experiment-store.js';
import { queryChecks } from './experiments/query-checks.js';
import { trackerSketches } from './experiments/tracker-sketches.js';
import { createHttpApp, httpAppListener } from './http/app.js';
import { mountTsdbStatusRoute } from './http/tsdb-status-route.js';
import { analysisServiceImpl } from './services/analysis-service.js';
import { CardinalityReports } from './services/cardinality-reports.js';
import { PipelineEvents } from './services/pipeline-events.js';
import { pipelineServiceImpl } from './services/pipeline-service.js';
import { ProxyRegistry } from './services/proxy-registry.js';
import { proxyServiceImpl } from './services/proxy-service.js';
import type { PipelineStore } from './store/pipeline-store.js';
import { openSqlitePipelineStore } from './store/sqlite-store.js';

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** Default `127.0.0.1`. */
  readonly listenHost?: string;
  /** `0` lets the kernel pick; default 9092. */
  readonly listenPort?: number;
  /** Folder of the embedded SQLite store (`phoenix.db`); ignored when `store` is given. */
  readonly dataDir?: string;
  /** A store to use instead of the embedded one; closed with the server. */
  readonly store?: PipelineStore;
  /** Bearer tokens; undefined turns auth off (every caller is a local admin). */
  readonly tokens?: TokenSet | undefined;
  /** Quiet time after which a config stream gets a heartbeat, in ms. Default 5000. */
  readonly heartbeatIntervalMs?: number;
  /**
   * Where experiments are kept; default: beside the pipelines in the data directory's
   * SQLite file, or in memory when a `store` is given without a data directory.
   */
  readonly experimentStore?: ExperimentStore;
  /** Time between measurements of running experiments, ms. Default 2000. */
  readonly experimentTickMs?: number;
  /** Folder of the built dashboard; default `dist/ui` of the repo. */
  readonly uiDir?: string;
  /** A proxy's cardinality report stops counting this long after it arrived, in ms. Default 60 000. */
  readonly cardinalityReportMaxAgeMs?: number;
}

/** Defaults of {@link ControlPlaneOptions}. */
export const CONTROL_PLANE_DEFAULTS = {
  listenHost: '127.0.0.1',
  listenPort: 9092,
  heartbeatIntervalMs: 5_000,
} as const;

/** File name of the embedded store inside the data directory. */
export const STORE_FILE_NAME = 'phoenix.db';

/** A control plane that is listening. */
export interface RunningControlPlane {
  readonly port: number;
  /** e.g. `http://127.0.0.1:9092`: what clients and proxies take as `--control-plane`. */
  readonly url: string;
  readonly store: PipelineStore;
  /** Ends every stream and connection, then closes the store. Safe to call twice. */
  close(): Promise<void>;
}

/** Opens the store and starts serving; rejects (closing the store) if it cannot listen. */
export async function startControlPlane(
  options: ControlPlaneOptions,
): Promise<RunningControlPlane> {
  const listenHost = options.listenHost ?? CONTROL_PLANE_DEFAULTS.listenHost;
  const listenPort = options.listenPort ?? CONTROL_PLANE_DEFAULTS.listenPort;
  let store = options.store;
  if (store === undefined) {
    if (options.dataDir === undefined) throw new Error('give dataDir or store');
    store = openSqlitePipelineStore({ path: join(options.dataDir, STORE_FILE_NAME) });
  }
  const events = new PipelineEvents();
  const registry = new ProxyRegistry();
  const pipelineImpl = pipelineServiceImpl(store, events, registry);
  const experimentStore =
    options.experimentStore ??
    new SqliteExperimentStore(
      options.dataDir === undefined ? ':memory:' : join(options.dataDir, STORE_FILE_NAME),
    );
  const experiments = await ExperimentEngine.start({
    store: experimentStore,
    pipelines: store,
    pipelineEvents: events,
    registry,
    sketches: trackerSketches,
    queries: queryChecks,
    ...(options.experimentTickMs === undefined ? {} : { tickMs: options.experimentTickMs }),
  });
  const cardinality = new CardinalityReports(
    options.cardinalityReportMaxAgeMs === undefined
      ? {}
      : { maxAgeMs: options.cardinalityReportMaxAgeMs },
  );
  const proxyImpl = proxyServiceImpl({
    cardinality,
    store,
    events,
    registry,
    experiments,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? CONTROL_PLANE_DEFAULTS.heartbeatIntervalMs,
  });
  const httpApp = createHttpApp({
    tokens: options.tokens,
    proxies: registry,
    ...(options.uiDir === undefined ? {} : { uiDir: options.uiDir }),
  });
  mountTsdbStatusRoute(httpApp, cardinality, options.tokens);
  const handler = connectNodeAdapter({
    routes: (router: ConnectRouter) => {
      router.service(PipelineService, pipelineImpl);
      router.service(ProxyService, proxyImpl);
      router.service(ExperimentService, experimentServiceImpl(experiments, queryChecks));
      router.service(AnalysisService, analysisServiceImpl({ reports: cardinality }));
    },
    interceptors: [authInterceptor(options.tokens)],
    // Everything that is not an RPC: the dashboard and its JSON/SSE endpoints. Mount more
    // plain-HTTP routes on `httpApp` here.
    fallback: httpAppListener(httpApp),
  });
  const http1 = createHttp1Server(handler);
  const http2 = createHttp2Server(handler);
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  http2.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const server = createDualProtocolListener(http1, http2, sockets);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    experiments.close();
    await experimentStore.close();
    await store.close();
    throw new Error(
      `cannot listen on ${listenHost}:${listenPort}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : listenPort;
  const openStore = store;
  let closing: Promise<void> | undefined;
  const close = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of sessions) session.destroy();
    for (const socket of sockets) socket.destroy();
    http1.closeAllConnections();
    await closed;
    experiments.close();
    await experimentStore.close();
    await openStore.close();
  };
  return {
    port,
    url: `http://${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${port}`,
    store: openStore,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}
