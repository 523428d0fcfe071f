/**
 * How the proxy uses stream aggregation: when the pipeline has `aggregations`, a copy of
 * every accepted request's output goes to the aggregation thread, and each flush is
 * forwarded through the proxy's one forward function, like any request's output.
 *
 * A new pipeline version with other aggregation rules replaces the thread: the old one
 * makes its final flush and snapshot, then a thread with the new rules starts. Requests
 * that arrive during the switch are held and given to the new thread, so none is missed.
 * The new rules start from an empty state (a snapshot only fits the rules that made it).
 */
import type { Registry } from 'prom-client';
import type { AggregationRule } from '../pipeline/aggregation-config.js';
import { logEvent } from '../server/log.js';
import type { ProcessResponse } from '../server/worker-protocol.js';
import { type AggregationStatsReporter, aggregationMetrics } from './aggregation-metrics.js';
import { type AggregationThread, startAggregationThread } from './aggregation-thread.js';

/**
 * Most bytes of requests handed to the aggregation thread and not aggregated yet. Past it,
 * {@link StartedAggregation.observe} waits until the thread caught up, so the sender's
 * answer waits too: a thread slower than the ingest slows the senders down (as a slow
 * upstream does) instead of queueing without bound in memory.
 */
export const AGGREGATION_BACKLOG_BYTES = 16 * 1024 * 1024;

export interface StartedAggregation {
  /**
   * Passes a copy of a successful response's payload on; returns the response, once the
   * thread's backlog is within {@link AGGREGATION_BACKLOG_BYTES}.
   */
  observe(response: ProcessResponse): ProcessResponse | Promise<ProcessResponse>;
  /** Aggregates a snappy remote-write 1.0 payload (a copy is taken). */
  ingest(payload: Uint8Array): void;
  /** Switches to other rules (see above); resolves once the new thread runs. */
  replace(rules: readonly AggregationRule[]): Promise<void>;
  /** Final flush, forwarded and awaited, then the final snapshot. */
  close(): Promise<void>;
}

export interface AggregationSetup {
  readonly rules: readonly AggregationRule[];
  /** Folder of the snapshot; `undefined` keeps the state in memory only. */
  readonly dataDir: string | undefined;
  readonly maxDecompressedBytes: number;
  /** Where each flush goes. */
  readonly forward: (payload: Uint8Array) => Promise<unknown>;
  /** Reporters of the state's counters (self-metrics); none for a measuring arm. */
  readonly reporters?: () => AggregationStatsReporter;
  /** Log events carry this, to tell an experiment's aggregation from the proxy's own. */
  readonly scope?: string;
  /** Default {@link AGGREGATION_BACKLOG_BYTES}. */
  readonly maxBacklogBytes?: number;
}

/** Starts the proxy's aggregation (no thread while there are no rules). */
export async function startAggregation(
  setup: AggregationSetup,
  registry?: Registry,
): Promise<StartedAggregation> {
  const reporters =
    setup.reporters ?? (registry === undefined ? undefined : aggregationMetrics(registry));
  const pending = new Set<Promise<unknown>>();
  const fields = setup.scope === undefined ? {} : { scope: setup.scope };
  const maxBacklogBytes = setup.maxBacklogBytes ?? AGGREGATION_BACKLOG_BYTES;

  const start = async (
    next: readonly AggregationRule[],
  ): Promise<AggregationThread | undefined> => {
    if (next.length === 0) return undefined;
    const report = reporters?.();
    return startAggregationThread({
      rules: next,
      dataDir: setup.dataDir,
      maxDecompressedBytes: setup.maxDecompressedBytes,
      onOutput: (payload) => {
        const sent = setup.forward(payload).catch((error: unknown) => {
          logEvent('error', 'aggregation_forward_failed', {
            ...fields,
            message: error instanceof Error ? error.message : String(error),
          });
        });
        pending.add(sent);
        void sent.finally(() => pending.delete(sent));
      },
      onEvent: (level, event, eventFields) => logEvent(level, event, { ...fields, ...eventFields }),
      onStats: (stats, refused) => {
        report?.(stats, refused);
      },
    });
  };

  let thread = await start(setup.rules);
  if (thread !== undefined && setup.dataDir === undefined) {
    logEvent('warn', 'aggregation_without_data_dir', {
      ...fields,
      message: 'aggregation state is not snapshotted: a restart loses it',
    });
  }
  /** Requests held while the thread is being replaced. */
  let held: Uint8Array[] | undefined;
  let replacing: Promise<void> = Promise.resolve();

  const ingest = (payload: Uint8Array) => {
    if (held !== undefined) held.push(payload.slice());
    else thread?.ingest(payload);
  };

  return {
    observe(response) {
      if (!response.ok) return response;
      ingest(response.aggregationInput ?? response.payload);
      const running = thread;
      if (running === undefined || running.backlogBytes <= maxBacklogBytes) return response;
      return running.drainedTo(maxBacklogBytes).then(() => response);
    },
    ingest,
    replace(next) {
      replacing = replacing.then(async () => {
        const queue: Uint8Array[] = [];
        held = queue;
        try {
          await thread?.close();
          thread = undefined;
          thread = await start(next);
        } finally {
          held = undefined;
          for (const payload of queue) thread?.ingest(payload);
        }
        logEvent('info', 'aggregation_rules_replaced', { ...fields, rules: next.length });
      });
      return replacing;
    },
    async close() {
      await replacing.catch(() => undefined);
      await thread?.close();
      await Promise.allSettled([...pending]);
    },
  };
}
