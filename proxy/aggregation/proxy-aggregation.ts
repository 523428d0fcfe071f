/**
 * How the proxy uses stream aggregation: when the pipeline has `aggregations`, a copy of
 * every accepted request's output goes to the aggregation thread, and each flush is
 * forwarded through the proxy's one forward function, like any request's output.
 */
import type { Registry } from 'prom-client';
import { logEvent } from '../server/log.js';
import type { ProxyOptions } from '../server/options.js';
import type { ProcessResponse } from '../server/worker-protocol.js';
import { aggregationMetrics } from './aggregation-metrics.js';
import { startAggregationThread } from './aggregation-thread.js';

export interface StartedAggregation {
  /** Passes a copy of a successful response's payload on; returns the response. */
  observe(response: ProcessResponse): ProcessResponse;
  /** Final flush, forwarded and awaited, then the final snapshot. */
  close(): Promise<void>;
}

const NONE: StartedAggregation = {
  observe: (response) => response,
  close: async () => {},
};

export async function startAggregation(
  options: ProxyOptions,
  forward: (payload: Uint8Array) => Promise<unknown>,
  registry: Registry,
): Promise<StartedAggregation> {
  const rules = options.pipeline?.aggregations ?? [];
  if (rules.length === 0) return NONE;
  const pending = new Set<Promise<unknown>>();
  const thread = await startAggregationThread({
    rules,
    dataDir: options.dataDir,
    maxDecompressedBytes: options.maxDecompressedBytes,
    onOutput: (payload) => {
      const sent = forward(payload).catch((error: unknown) => {
        logEvent('error', 'aggregation_forward_failed', {
          message: error instanceof Error ? error.message : String(error),
        });
      });
      pending.add(sent);
      void sent.finally(() => pending.delete(sent));
    },
    onEvent: (level, event, fields) => logEvent(level, event, { ...fields }),
    onStats: aggregationMetrics(registry),
  });
  if (options.dataDir === undefined) {
    logEvent('warn', 'aggregation_without_data_dir', {
      message: 'aggregation state is not snapshotted: a restart loses it',
    });
  }
  return {
    observe(response) {
      if (response.ok) thread.ingest(response.aggregationInput ?? response.payload);
      return response;
    },
    async close() {
      await thread.close();
      await Promise.allSettled([...pending]);
    },
  };
}
