/**
 * `phoenix.v1.ProxyService`: the config stream to the proxies and their status reports.
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import {
  ConfigUpdateSchema,
  type ExperimentAssignment,
  type ProxyService,
  type WatchConfigResponse,
  WatchConfigResponseSchema,
} from '../../proto/gen/phoenix/v1/proxy_pb.js';
import { windowsFromReport } from '../../proxy/cardinality/cardinality-proto.js';
import type { PipelineStore } from '../store/pipeline-store.js';
import type { CardinalityReports } from './cardinality-reports.js';
import { checkPipelineName, connectErrors } from './connect-errors.js';
import type { PipelineEvents } from './pipeline-events.js';
import type { ProxyRegistry } from './proxy-registry.js';

/** Options of {@link proxyServiceImpl}. */
export interface ProxyServiceOptions {
  readonly store: PipelineStore;
  readonly events: PipelineEvents;
  readonly registry: ProxyRegistry;
  /** A heartbeat goes out on a config stream quiet for this long, in ms. */
  readonly heartbeatIntervalMs: number;
  /** Where the proxies' cardinality reports go. */
  readonly cardinality?: CardinalityReports;
  /** The experiment running on a pipeline, whose candidate the proxies run beside it. */
  readonly experiments?: { assignment(pipeline: string): ExperimentAssignment | undefined };
}

function checkProxyId(proxyId: string): void {
  if (proxyId === '' || proxyId.length > 253) {
    throw new ConnectError('proxy_id must be 1-253 characters', Code.InvalidArgument);
  }
}

/** The service implementation. */
export function proxyServiceImpl(options: ProxyServiceOptions): ServiceImpl<typeof ProxyService> {
  const { store, events, registry, heartbeatIntervalMs, experiments } = options;
  return {
    register: (request) =>
      connectErrors(async () => {
        checkProxyId(request.proxyId);
        checkPipelineName(request.pipeline);
        registry.register(request.proxyId, request.version, request.labels, request.pipeline);
        return {};
      }),

    reportStatus: (request) =>
      connectErrors(async () => {
        checkProxyId(request.proxyId);
        registry.report({
          proxyId: request.proxyId,
          pipeline: request.pipeline,
          appliedVersion: request.appliedVersion,
          healthy: request.healthy,
          counters: request.counters,
          applyError: request.applyError,
          listen: request.listen,
          recentRequest: request.recentRequest,
          arms: request.arms,
        });
        if (request.cardinality !== undefined) {
          options.cardinality?.record(request.proxyId, windowsFromReport(request.cardinality));
        }
        return {};
      }),

    listProxies: () => connectErrors(async () => ({ proxies: registry.list() })),

    /**
     * Sends the pipeline in full at once, then again whenever a write changes it, and a
     * heartbeat when nothing else was sent for `heartbeatIntervalMs`. Ends when the client
     * goes away (or the server shuts down).
     */
    async *watchConfig(request, context): AsyncGenerator<WatchConfigResponse> {
      checkProxyId(request.proxyId);
      checkPipelineName(request.pipeline);
      const signal = context.signal;
      let wake: (() => void) | undefined;
      let pending = true;
      // Subscribed before the first read, so a write landing in between is not missed.
      const unsubscribe = events.subscribe(request.pipeline, () => {
        pending = true;
        wake?.();
      });
      const onAbort = () => wake?.();
      signal.addEventListener('abort', onAbort);
      const closeStream = registry.streamOpened(request.proxyId, request.pipeline);
      let lastSent: { version: number; exists: boolean; experiment: string } | undefined;
      try {
        while (!signal.aborted) {
          if (pending) {
            pending = false;
            const current = await store.get(request.pipeline);
            const exists = current !== undefined;
            const version = current?.version ?? 0;
            const experiment = exists ? experiments?.assignment(request.pipeline) : undefined;
            const experimentName = experiment?.name ?? '';
            if (
              lastSent === undefined ||
              lastSent.version !== version ||
              lastSent.exists !== exists ||
              lastSent.experiment !== experimentName
            ) {
              lastSent = { version, exists, experiment: experimentName };
              yield create(WatchConfigResponseSchema, {
                event: {
                  case: 'config',
                  value: create(ConfigUpdateSchema, {
                    pipeline: request.pipeline,
                    version,
                    configYaml: current?.configYaml ?? '',
                    exists,
                    ...(experiment === undefined ? {} : { experiment }),
                  }),
                },
              });
              continue;
            }
          }
          const woken = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), heartbeatIntervalMs);
            wake = () => {
              clearTimeout(timer);
              resolve(true);
            };
            if (pending || signal.aborted) wake();
          });
          wake = undefined;
          if (!woken && !signal.aborted) {
            yield create(WatchConfigResponseSchema, {
              event: { case: 'heartbeat', value: { intervalMs: heartbeatIntervalMs } },
            });
          }
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        unsubscribe();
        closeStream();
      }
    },
  };
}
