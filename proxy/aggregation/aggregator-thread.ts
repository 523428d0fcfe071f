/**
 * Entry of the aggregation thread. The whole proxy has exactly one: it owns the
 * aggregation state, so the result cannot depend on how many pipeline workers there are
 * or which of them processed a request (docs/aggregation.md explains the choice).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { noteThreadBuffers } from '../server/young-generation.js';
import { Aggregator } from './aggregator.js';
import type { AggregatorSetup, FromAggregator, ToAggregator } from './aggregator-protocol.js';

const setup = workerData as AggregatorSetup;
/** How often the thread reports its counters to the ingest thread's metrics. */
const STATS_INTERVAL_MS = 5_000;
const port = parentPort!;

function post(message: FromAggregator, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

try {
  const aggregator = await Aggregator.start({
    rules: setup.rules,
    dataDir: setup.dataDir,
    snapshotIntervalMs: setup.snapshotIntervalMs,
    maxDecompressedBytes: setup.maxDecompressedBytes,
    onOutput: (payload) => post({ kind: 'output', payload }, [payload.buffer as ArrayBuffer]),
    onEvent: (level, event, fields) => post({ kind: 'event', level, event, fields }),
  });
  const postStats = (): void =>
    post({ kind: 'stats', stats: aggregator.stats(), refusedRequests: aggregator.refusedRequests });
  const statsTimer = setInterval(postStats, STATS_INTERVAL_MS);
  port.on('message', (message: ToAggregator) => {
    if (message.kind === 'ingest') {
      noteThreadBuffers(message.body.byteLength);
      aggregator.ingest(message.body);
      post({ kind: 'ingested', bytes: message.body.byteLength });
    } else if (message.kind === 'handoff-export') {
      let parts: Array<readonly [string, Uint8Array]> = [];
      try {
        parts = [...aggregator.handoff(message.members, message.self)];
      } catch (error) {
        post({
          kind: 'event',
          level: 'error',
          event: 'tier_handoff_export_failed',
          fields: { message: error instanceof Error ? error.message : String(error) },
        });
      }
      post(
        { kind: 'handoff-out', id: message.id, parts },
        parts.map(([, bytes]) => bytes.buffer as ArrayBuffer),
      );
    } else if (message.kind === 'handoff-merge') {
      try {
        const groups = aggregator.mergeHandoff(message.bytes);
        post({ kind: 'handoff-merged', id: message.id, groups });
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error);
        post({ kind: 'handoff-merged', id: message.id, groups: 0, error: text });
      }
    } else {
      aggregator
        .close()
        .catch((error: unknown) =>
          post({
            kind: 'event',
            level: 'error',
            event: 'aggregation_snapshot_failed',
            fields: { message: error instanceof Error ? error.message : String(error) },
          }),
        )
        .finally(() => {
          clearInterval(statsTimer);
          postStats();
          post({ kind: 'closed' });
        });
    }
  });
  post({ kind: 'ready' });
} catch (error) {
  post({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
}
