import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What the gauges read from one upstream's queue when scraped. */
export interface QueueGauges {
  readonly bytes: number;
  readonly segmentCount: number;
  readonly oldestUnsentAppendedAtMs: number | undefined;
}

/**
 * Delivery metrics, per upstream (`upstream` label = the upstream's name), registered on
 * the proxy's registry so they appear on its `/metrics`.
 */
export class DeliveryMetrics {
  readonly retries: Counter<'upstream' | 'reason'>;
  readonly dropped: Counter<'upstream' | 'reason'>;
  readonly droppedRecords: Counter<'upstream' | 'reason'>;
  readonly sendDuration: Histogram<'upstream' | 'code'>;
  readonly deliveredRecords: Counter<'upstream'>;
  readonly deliveredBytes: Counter<'upstream'>;
  readonly queuedRecords: Counter<'upstream'>;
  readonly truncatedBytes: Counter<'upstream'>;

  constructor(registry: Registry, queues: () => ReadonlyMap<string, QueueGauges>) {
    const registers = [registry];
    this.retries = new Counter({
      name: 'phoenix_upstream_retries_total',
      help: 'Failed upstream attempts that will be retried, by reason: the status code, network or timeout.',
      labelNames: ['upstream', 'reason'] as const,
      registers,
    });
    this.dropped = new Counter({
      name: 'phoenix_upstream_dropped_requests_total',
      help: 'Upstream requests given up on, by reason: rejected_<status> for a non-retryable 4xx, queue_full for drop-oldest.',
      labelNames: ['upstream', 'reason'] as const,
      registers,
    });
    this.droppedRecords = new Counter({
      name: 'phoenix_queue_dropped_records_total',
      help: 'Queued records (one per accepted request) dropped undelivered, by reason.',
      labelNames: ['upstream', 'reason'] as const,
      registers,
    });
    this.sendDuration = new Histogram({
      name: 'phoenix_upstream_send_duration_seconds',
      help: 'Upstream attempts by status code (or network, timeout), in seconds.',
      labelNames: ['upstream', 'code'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.deliveredRecords = new Counter({
      name: 'phoenix_queue_delivered_records_total',
      help: 'Queued records the upstream accepted.',
      labelNames: ['upstream'] as const,
      registers,
    });
    this.deliveredBytes = new Counter({
      name: 'phoenix_upstream_sent_bytes_total',
      help: 'Compressed bytes the upstream accepted.',
      labelNames: ['upstream'] as const,
      registers,
    });
    this.queuedRecords = new Counter({
      name: 'phoenix_queue_appended_records_total',
      help: 'Records written (fsynced) to the queue.',
      labelNames: ['upstream'] as const,
      registers,
    });
    this.truncatedBytes = new Counter({
      name: 'phoenix_queue_truncated_bytes_total',
      help: 'Bytes of torn or corrupt segment tails cut off when a queue opened.',
      labelNames: ['upstream'] as const,
      registers,
    });
    new Gauge({
      name: 'phoenix_queue_bytes',
      help: 'Bytes in the queue segment files, including delivered records not yet deleted.',
      labelNames: ['upstream'] as const,
      registers,
      collect() {
        for (const [upstream, queue] of queues()) this.set({ upstream }, queue.bytes);
      },
    });
    new Gauge({
      name: 'phoenix_queue_segments',
      help: 'Segment files of the queue.',
      labelNames: ['upstream'] as const,
      registers,
      collect() {
        for (const [upstream, queue] of queues()) this.set({ upstream }, queue.segmentCount);
      },
    });
    new Gauge({
      name: 'phoenix_queue_oldest_unsent_age_seconds',
      help: 'Age of the oldest record not yet delivered; 0 when the queue is caught up.',
      labelNames: ['upstream'] as const,
      registers,
      collect() {
        const now = Date.now();
        for (const [upstream, queue] of queues()) {
          const oldest = queue.oldestUnsentAppendedAtMs;
          this.set({ upstream }, oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000));
        }
      },
    });
  }
}
