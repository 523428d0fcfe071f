import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { PipelineStats } from '../pipeline/contracts.js';
import type { IngestErrorReason } from './ingest-error.js';

/** What the metrics read from the worker pool when scraped. */
export interface WorkerPoolGauges {
  /** Share of time the workers were busy since the pool started, 0..1. */
  utilization(): number;
  /** Tasks waiting for a free worker. */
  queueSize(): number;
  /** Worker threads running. */
  threads(): number;
}

/**
 * The proxy's self-metrics, on a registry of their own (so several proxies can run in
 * one process, as tests do). Pipeline counters are summed here, on the ingest thread,
 * from the stats each worker returns with its result.
 */
export class ProxyMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'phoenix_requests_total',
    help: 'Remote-write requests answered, by HTTP status code sent to the sender.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'phoenix_errors_total',
    help: 'Remote-write requests refused or failed, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'phoenix_request_duration_seconds',
    help: 'Time from the first byte of a remote-write body to the answer, in seconds.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'phoenix_in_flight_requests',
    help: 'Remote-write requests received and not yet answered.',
    registers: [this.registry],
  });
  readonly bytesIn = new Counter({
    name: 'phoenix_received_bytes_total',
    help: 'Remote-write body bytes received from senders, as sent (compressed).',
    registers: [this.registry],
  });
  readonly bytesOut = new Counter({
    name: 'phoenix_sent_bytes_total',
    help: 'Remote-write body bytes sent to the upstream, as sent (compressed).',
    registers: [this.registry],
  });
  readonly upstreamDuration = new Histogram({
    name: 'phoenix_upstream_request_duration_seconds',
    help: 'Upstream remote-write requests, by status code (or network, timeout), in seconds.',
    labelNames: ['code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly ruleHits = new Counter({
    name: 'phoenix_rule_hits_total',
    help: 'Series each rule of the pipeline changed or dropped, by rule position (0-based).',
    labelNames: ['rule'] as const,
    registers: [this.registry],
  });

  readonly #pipelineCounters = pipelineCounters(this.registry);

  constructor(pool: WorkerPoolGauges) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'phoenix_worker_utilization_ratio',
      help: 'Share of time the pipeline workers were busy since start, 0 to 1.',
      registers: [this.registry],
      collect() {
        this.set(pool.utilization());
      },
    });
    new Gauge({
      name: 'phoenix_worker_queue_size',
      help: 'Requests waiting for a free pipeline worker.',
      registers: [this.registry],
      collect() {
        this.set(pool.queueSize());
      },
    });
    new Gauge({
      name: 'phoenix_workers',
      help: 'Pipeline worker threads running.',
      registers: [this.registry],
      collect() {
        this.set(pool.threads());
      },
    });
  }

  /** Counts what one request carried in and out of the pipeline. */
  recordPipeline(stats: PipelineStats, ruleHits: Uint32Array): void {
    for (const [key, counter] of this.#pipelineCounters) {
      const value = stats[key];
      if (value > 0) counter.inc(value);
    }
    for (let rule = 0; rule < ruleHits.length; rule++) {
      const hits = ruleHits[rule] ?? 0;
      if (hits > 0) this.ruleHits.inc({ rule: String(rule) }, hits);
    }
  }

  /** Counts one answered request; `reason` is set when it was an error. */
  recordAnswer(status: number, durationSeconds: number, reason?: IngestErrorReason): void {
    this.requests.inc({ code: String(status) });
    this.requestDuration.observe(durationSeconds);
    if (reason !== undefined) this.errors.inc({ reason });
  }

  /** The exposition text and its content type, for `GET /metrics`. */
  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

/** Stats slots exposed as counters, with their metric name and help. */
const PIPELINE_COUNTERS: ReadonlyArray<readonly [keyof PipelineStats, string, string]> = [
  ['seriesIn', 'phoenix_series_in_total', 'Series received, per request, summed.'],
  ['seriesOut', 'phoenix_series_out_total', 'Series forwarded, per request, summed.'],
  ['samplesIn', 'phoenix_samples_in_total', 'Float samples received.'],
  ['samplesOut', 'phoenix_samples_out_total', 'Float samples forwarded.'],
  ['exemplarsIn', 'phoenix_exemplars_in_total', 'Exemplars received.'],
  ['exemplarsOut', 'phoenix_exemplars_out_total', 'Exemplars forwarded.'],
  ['histogramsIn', 'phoenix_histograms_in_total', 'Native histogram samples received.'],
  ['histogramsOut', 'phoenix_histograms_out_total', 'Native histogram samples forwarded.'],
  ['metadataIn', 'phoenix_metadata_in_total', 'Metric metadata entries received.'],
  ['metadataOut', 'phoenix_metadata_out_total', 'Metric metadata entries forwarded.'],
  ['seriesDropped', 'phoenix_series_dropped_total', 'Series removed by a rule.'],
  [
    'seriesCollisions',
    'phoenix_series_collisions_total',
    'Output series whose labels equal those of an earlier series of the same request ' +
      '(labels dropped by rules made them identical); they are forwarded as they are.',
  ],
  ['bytesDecoded', 'phoenix_decoded_bytes_total', 'Uncompressed protobuf bytes received.'],
  ['bytesEncoded', 'phoenix_encoded_bytes_total', 'Uncompressed protobuf bytes re-encoded.'],
  [
    'hostEvals',
    'phoenix_regex_evaluations_total',
    'Regex and string evaluations in JavaScript (per distinct string, not per sample).',
  ],
  ['internResets', 'phoenix_intern_resets_total', 'Resets of a worker string table at its bound.'],
];

function pipelineCounters(registry: Registry): Array<[keyof PipelineStats, Counter]> {
  return PIPELINE_COUNTERS.map(([key, name, help]) => [
    key,
    new Counter({ name, help, registers: [registry] }),
  ]);
}
