import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { IngestError } from '../server/ingest-error.js';
import { logEvent, ThrottledLog } from '../server/log.js';
import { DataDirLock } from './data-dir-lock.js';
import { DeliveryMetrics, type QueueGauges } from './delivery-metrics.js';
import { DurableQueue, QueueFullError, type QueueFullPolicy } from './queue.js';
import type { BackoffBounds } from './retry.js';
import { UpstreamSender } from './sender.js';
import type { ShardResponse } from './shard-task.js';
import { checkDistinctNames, UpstreamClient, type UpstreamConfig } from './upstream.js';

/** Options of {@link Delivery.start}. */
export interface DeliveryOptions {
  /** Folder holding one queue folder per upstream, under `queues/`. */
  readonly dataDir: string;
  readonly upstreams: readonly UpstreamConfig[];
  /** Most bytes each upstream's queue may hold on disk. */
  readonly maxQueueBytes: number;
  readonly queueFullPolicy: QueueFullPolicy;
  readonly backoff: BackoffBounds;
  /** Keep-alive connections per upstream. */
  readonly connections: number;
  readonly userAgent: string;
  /** See `SenderOptions.maxBatchBytes`. */
  readonly maxBatchBytes: number;
  /** Seconds a sender refused for a full queue is told to wait (`Retry-After`). */
  readonly queueFullRetryAfterSeconds: number;
  readonly registry: Registry;
  /**
   * With `--shard-by-series`: splits a payload into one per upstream (in upstream order,
   * empty for an upstream that gets nothing), off the ingest thread.
   */
  readonly split?: ((payload: Uint8Array) => Promise<ShardResponse>) | undefined;
}

interface UpstreamLane {
  readonly config: UpstreamConfig;
  readonly queue: DurableQueue;
  readonly client: UpstreamClient;
  readonly sender: UpstreamSender;
}

/**
 * The delivery subsystem: one durable queue and one in-order sender per upstream. A
 * request's output is accepted once it is on disk in every upstream's queue; from there
 * each sender delivers it on its own, surviving upstream outages and proxy restarts.
 */
export class Delivery {
  readonly #lanes: UpstreamLane[];
  readonly #options: DeliveryOptions;
  readonly #lock: DataDirLock;
  readonly metrics: DeliveryMetrics;

  private constructor(
    options: DeliveryOptions,
    lanes: UpstreamLane[],
    metrics: DeliveryMetrics,
    lock: DataDirLock,
  ) {
    this.#options = options;
    this.#lanes = lanes;
    this.metrics = metrics;
    this.#lock = lock;
  }

  /** Opens every queue (replaying what the last run left), then starts the senders. */
  static async start(options: DeliveryOptions): Promise<Delivery> {
    checkDistinctNames(options.upstreams);
    const lock = await DataDirLock.acquire(options.dataDir);
    const lanes: UpstreamLane[] = [];
    const metrics = new DeliveryMetrics(options.registry, () => {
      const gauges = new Map<string, QueueGauges>();
      for (const lane of lanes) gauges.set(lane.config.name, lane.queue);
      return gauges;
    });
    try {
      for (const config of options.upstreams) {
        const upstream = config.name;
        const queue = await DurableQueue.open({
          dir: join(options.dataDir, 'queues', upstream),
          maxBytes: options.maxQueueBytes,
          fullPolicy: options.queueFullPolicy,
          onDropped: (records) => {
            metrics.dropped.inc({ upstream, reason: 'queue_full' });
            metrics.droppedRecords.inc({ upstream, reason: 'queue_full' }, records);
            logEvent('warn', 'queue_dropped_oldest', { upstream, records });
          },
          onTruncated: (segmentFile, removedBytes) => {
            metrics.truncatedBytes.inc({ upstream }, removedBytes);
            logEvent('warn', 'queue_torn_tail_truncated', { upstream, segmentFile, removedBytes });
          },
        });
        const client = new UpstreamClient(config, options.connections, options.userAgent);
        const sender = new UpstreamSender({
          queue,
          client,
          metrics,
          backoff: options.backoff,
          maxBatchBytes: options.maxBatchBytes,
          errorLog: new ThrottledLog(),
        });
        lanes.push({ config, queue, client, sender });
      }
    } catch (error) {
      await Promise.allSettled(lanes.map((lane) => lane.queue.close()));
      await lock.release();
      throw error;
    }
    for (const lane of lanes) {
      const oldest = lane.queue.oldestUnsentAppendedAtMs;
      if (oldest !== undefined) {
        logEvent('info', 'queue_replay', { upstream: lane.config.name, bytes: lane.queue.bytes });
      }
      lane.sender.start();
    }
    return new Delivery(options, lanes, metrics, lock);
  }

  /** The upstreams' names, in the order given. */
  get upstreamNames(): string[] {
    return this.#lanes.map((lane) => lane.config.name);
  }

  /**
   * Makes `payload` durable in every upstream's queue (or, sharding, each upstream's part
   * of it in that upstream's queue); resolves once all are fsynced. When one queue cannot
   * take its part (full under `refuse`), nothing is written anywhere and the request is
   * refused with 429, so the sender keeps the data and retries.
   */
  async enqueue(payload: Uint8Array): Promise<void> {
    const parts = await this.#parts(payload);
    const full = this.#lanes.find(
      (lane, index) =>
        parts[index]!.byteLength > 0 && !lane.queue.canAccept(parts[index]!.byteLength),
    );
    if (full !== undefined) {
      throw new IngestError(
        'queue_full',
        `delivery queue of upstream ${full.config.name} is full (${full.queue.bytes} of ${this.#options.maxQueueBytes} bytes)`,
        String(this.#options.queueFullRetryAfterSeconds),
      );
    }
    try {
      await Promise.all(
        this.#lanes.map(async (lane, index) => {
          const part = parts[index]!;
          if (part.byteLength === 0) return;
          await lane.queue.append(part);
          this.metrics.queuedRecords.inc({ upstream: lane.config.name });
        }),
      );
    } catch (error) {
      if (error instanceof QueueFullError) {
        throw new IngestError(
          'queue_full',
          error.message,
          String(this.#options.queueFullRetryAfterSeconds),
        );
      }
      const message = error instanceof Error ? error.message : String(error);
      throw new IngestError('queue_write_failed', `cannot write the delivery queue: ${message}`);
    }
  }

  /** What each upstream gets of `payload`: all of it, or its shard. */
  async #parts(payload: Uint8Array): Promise<Uint8Array[]> {
    const split = this.#options.split;
    if (split === undefined || this.#lanes.length === 1) return this.#lanes.map(() => payload);
    const response = await split(payload).catch(
      (error: unknown) =>
        ({ ok: false, kind: 'shards', message: String(error) }) satisfies ShardResponse,
    );
    if (!response.ok) throw new IngestError('worker', response.message);
    return response.payloads;
  }

  /**
   * Stops the senders (each finishes its attempt in progress), then syncs and closes the
   * queues. Undelivered data stays in `dataDir` for the next start.
   */
  async close(): Promise<void> {
    await Promise.all(this.#lanes.map((lane) => lane.sender.stop()));
    await Promise.all(this.#lanes.map((lane) => lane.queue.close()));
    await Promise.all(this.#lanes.map((lane) => lane.client.close()));
    await this.#lock.release();
  }
}
