import { setTimeout as sleep } from 'node:timers/promises';
import type { ThrottledLog } from '../server/log.js';
import { joinSnappyBlocks } from './batch.js';
import type { DeliveryMetrics } from './delivery-metrics.js';
import type { DurableQueue, QueuedRecord } from './queue.js';
import { type BackoffBounds, backoffDelayMs } from './retry.js';
import type { UpstreamClient } from './upstream.js';

/** Options of {@link UpstreamSender}. */
export interface SenderOptions {
  readonly queue: DurableQueue;
  readonly client: UpstreamClient;
  readonly metrics: DeliveryMetrics;
  readonly backoff: BackoffBounds;
  /**
   * Most compressed payload bytes joined into one upstream request when a backlog waits.
   * A healthy upstream keeps the queue short, so requests then go out one by one.
   */
  readonly maxBatchBytes: number;
  readonly errorLog: ThrottledLog;
}

/**
 * Delivers one upstream's queue, in order, one request at a time: that single lane is
 * what keeps every series' samples in timestamp order at the receiver. A new record is
 * sent as soon as it is on disk (no polling interval); a backlog (after an outage) is
 * sent in joined requests of up to `maxBatchBytes`; should the upstream refuse a joined
 * request, its records are sent again one by one.
 *
 * Retries follow the remote-write spec: 5xx, 429 and network failures wait (backoff with
 * jitter, or the upstream's `Retry-After`) and try the same request again, forever; any
 * other 4xx drops the request, counts it by status and logs the upstream's reason, since
 * sending the same data again cannot succeed.
 */
export class UpstreamSender {
  readonly #options: SenderOptions;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(options: SenderOptions) {
    this.#options = options;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * Stops after the attempt in progress (which is bounded by the upstream timeout); a
   * backoff wait ends at once. What is not delivered stays queued.
   */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { queue, maxBatchBytes } = this.#options;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const batch = await queue.nextBatch(maxBatchBytes, signal);
      if (batch.length === 0) return;
      await this.#deliver(batch);
    }
  }

  /** Sends one batch until it is delivered, rejected, or the sender stops. */
  async #deliver(batch: QueuedRecord[]): Promise<void> {
    const { client, metrics, queue, backoff, errorLog } = this.#options;
    const upstream = client.config.name;
    const payload = joinSnappyBlocks(batch.map((record) => record.payload));
    const next = batch.at(-1)!.nextPosition;
    for (let attempt = 0; ; attempt++) {
      const outcome = await client.send(payload);
      metrics.sendDuration.observe({ upstream, code: outcome.code }, outcome.durationSeconds);
      if (outcome.verdict === 'delivered') {
        metrics.deliveredRecords.inc({ upstream }, batch.length);
        metrics.deliveredBytes.inc({ upstream }, payload.byteLength);
        queue.ack(next);
        return;
      }
      if (outcome.verdict === 'reject' && batch.length > 1) {
        // A joined backlog request was refused: each record goes alone, so one bad
        // request does not take its neighbours down (the ones accepted before may arrive
        // twice; receivers keep one of identical samples).
        for (const record of batch) {
          if (this.#stop.signal.aborted) return;
          await this.#deliver([record]);
        }
        return;
      }
      if (outcome.verdict === 'reject') {
        const reason = `rejected_${outcome.code}`;
        metrics.dropped.inc({ upstream, reason });
        metrics.droppedRecords.inc({ upstream, reason }, batch.length);
        errorLog.error(`${upstream}:${reason}`, 'upstream_rejected', {
          upstream,
          status: Number(outcome.code),
          records: batch.length,
          reason: outcome.reason,
        });
        queue.ack(next);
        return;
      }
      metrics.retries.inc({ upstream, reason: outcome.code });
      const delayMs = outcome.retryAfterMs ?? backoffDelayMs(attempt, backoff);
      errorLog.error(`${upstream}:retry`, 'upstream_retry', {
        upstream,
        code: outcome.code,
        reason: outcome.reason,
        attempt: attempt + 1,
        delayMs,
      });
      try {
        await sleep(delayMs, undefined, { signal: this.#stop.signal });
      } catch {
        return;
      }
    }
  }
}
