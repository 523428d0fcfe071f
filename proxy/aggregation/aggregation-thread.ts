/**
 * The ingest thread's handle on the aggregation thread: starts it, passes it a copy of
 * every accepted request's output, and forwards what it flushes.
 */
import { Worker } from 'node:worker_threads';
import type { AggregationRule } from '../pipeline/aggregation-config.js';
import { noteThreadBuffers } from '../server/young-generation.js';
import type { AggregationStats } from './aggregation-engine.js';
import type { AggregatorSetup, FromAggregator, ToAggregator } from './aggregator-protocol.js';

export interface AggregationThreadOptions {
  readonly rules: readonly AggregationRule[];
  readonly dataDir: string | undefined;
  /** Default 30 000 ms. */
  readonly snapshotIntervalMs?: number;
  readonly maxDecompressedBytes: number;
  /** Called with each flush's snappy remote-write 1.0 request. */
  readonly onOutput: (payload: Uint8Array) => void;
  readonly onEvent: (level: 'info' | 'warn' | 'error', event: string, fields: object) => void;
  /** Receives the state's counters every few seconds. */
  readonly onStats?: (stats: AggregationStats, refusedRequests: number) => void;
}

export interface AggregationThread {
  /** Aggregates a copy of `payload` (the caller keeps the original). */
  ingest(payload: Uint8Array): void;
  /** Bytes handed to {@link ingest} that the thread has not aggregated yet. */
  readonly backlogBytes: number;
  /** Resolves once the backlog is at most `bytes` (at once when it is). */
  drainedTo(bytes: number): Promise<void>;
  /** Final flush and snapshot, then the thread ends. Safe to call more than once. */
  close(): Promise<void>;
  /** Two-tier: removes the groups other members own now; their state per new owner. */
  handoffExport(members: readonly string[], self: string): Promise<Map<string, Uint8Array>>;
  /** Two-tier: merges groups handed off by another member; resolves to how many. */
  handoffMerge(bytes: Uint8Array): Promise<number>;
}

/** Starts the thread; resolves once its state is loaded (and restored). */
export async function startAggregationThread(
  options: AggregationThreadOptions,
): Promise<AggregationThread> {
  const setup: AggregatorSetup = {
    rules: options.rules,
    dataDir: options.dataDir,
    snapshotIntervalMs: options.snapshotIntervalMs ?? 30_000,
    maxDecompressedBytes: options.maxDecompressedBytes,
  };
  const worker = new Worker(new URL(threadFileUrl()), { workerData: setup });
  let closed: Promise<void> | undefined;
  let resolveClosed: (() => void) | undefined;
  let nextRequestId = 0;
  const handoffReplies = new Map<number, (message: FromAggregator) => void>();
  /** Bytes sent with `ingest` and not yet acknowledged as aggregated. */
  let backlog = 0;
  let exited = false;
  let drainWaiters: Array<{ bytes: number; resolve: () => void }> = [];
  const releaseDrainWaiters = (): void => {
    if (drainWaiters.length === 0) return;
    const waiting = drainWaiters;
    drainWaiters = [];
    for (const waiter of waiting) {
      if (exited || backlog <= waiter.bytes) waiter.resolve();
      else drainWaiters.push(waiter);
    }
  };
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (message: FromAggregator) => {
      switch (message.kind) {
        case 'ready':
          resolve();
          break;
        case 'failed':
          reject(new Error(`aggregation failed to start: ${message.message}`));
          break;
        case 'output':
          options.onOutput(message.payload);
          break;
        case 'event':
          options.onEvent(message.level, message.event, message.fields);
          break;
        case 'stats':
          options.onStats?.(message.stats, message.refusedRequests);
          break;
        case 'ingested':
          backlog -= message.bytes;
          releaseDrainWaiters();
          break;
        case 'closed':
          resolveClosed?.();
          break;
        case 'handoff-out':
        case 'handoff-merged':
          handoffReplies.get(message.id)?.(message);
          handoffReplies.delete(message.id);
          break;
      }
    });
    worker.on('error', (error) => {
      options.onEvent('error', 'aggregation_thread_error', { message: error.message });
      reject(error);
      exited = true;
      releaseDrainWaiters();
      resolveClosed?.();
    });
    worker.on('exit', () => {
      // A thread that is gone aggregates nothing more: nobody may wait for its backlog.
      exited = true;
      releaseDrainWaiters();
      resolveClosed?.();
    });
  });
  const send = (message: ToAggregator, transfer: ArrayBuffer[] = []): void => {
    worker.postMessage(message, transfer);
  };
  const ask = (message: ToAggregator, id: number, transfer: ArrayBuffer[] = []) =>
    new Promise<FromAggregator>((resolve) => {
      handoffReplies.set(id, resolve);
      send(message, transfer);
    });
  return {
    async handoffExport(members, self) {
      const id = nextRequestId++;
      const reply = await ask({ kind: 'handoff-export', id, members, self }, id);
      return new Map(reply.kind === 'handoff-out' ? reply.parts : []);
    },
    async handoffMerge(bytes) {
      const id = nextRequestId++;
      const copy = bytes.slice();
      const reply = await ask({ kind: 'handoff-merge', id, bytes: copy }, id, [copy.buffer]);
      if (reply.kind !== 'handoff-merged') return 0;
      if (reply.error !== undefined) throw new Error(reply.error);
      return reply.groups;
    },
    get backlogBytes() {
      return backlog;
    },
    drainedTo(bytes) {
      if (backlog <= bytes || closed !== undefined || exited) return Promise.resolve();
      return new Promise((resolve) => drainWaiters.push({ bytes, resolve }));
    },
    ingest(payload) {
      const copy = payload.slice();
      noteThreadBuffers(copy.byteLength);
      backlog += copy.byteLength;
      send({ kind: 'ingest', body: copy }, [copy.buffer]);
    },
    close() {
      // Nobody waits for a backlog a closing thread will not report on.
      for (const waiter of drainWaiters.splice(0)) waiter.resolve();
      closed ??= (async () => {
        await new Promise<void>((resolve) => {
          resolveClosed = resolve;
          send({ kind: 'close' });
        });
        await worker.terminate();
      })();
      return closed;
    },
  };
}

/** The thread entry; compiled JavaScript from `dist/` when running from the sources. */
function threadFileUrl(): string {
  const here = import.meta.url;
  return here.endsWith('.ts')
    ? new URL('../../dist/proxy/aggregation/aggregator-thread.js', here).href
    : new URL('./aggregator-thread.js', here).href;
}
