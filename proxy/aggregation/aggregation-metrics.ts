/**
 * The aggregation state's counters as self-metrics on the proxy's registry, updated from
 * the reports of the aggregation thread.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AggregationStats } from './aggregation-engine.js';

type CounterField = 'samples' | 'late' | 'duplicate' | 'nan' | 'staleMarkers' | 'seriesExpired';

const COUNTERS: readonly [CounterField, string, string][] = [
  ['samples', 'phoenix_aggregation_samples_total', 'Samples that went into the aggregation state.'],
  [
    'late',
    'phoenix_aggregation_late_samples_total',
    'Samples older than the window before the open one: counted and dropped.',
  ],
  [
    'duplicate',
    'phoenix_aggregation_duplicate_samples_total',
    'Samples not newer than the last accepted one of their series, or superseded within their dedup_interval: counted and dropped.',
  ],
  ['nan', 'phoenix_aggregation_nan_samples_total', 'NaN samples (not stale markers): dropped.'],
  [
    'staleMarkers',
    'phoenix_aggregation_stale_markers_total',
    'Prometheus stale markers seen by aggregation rules: ignored.',
  ],
  [
    'seriesExpired',
    'phoenix_aggregation_series_expired_total',
    'Input series forgotten after their staleness interval.',
  ],
];

/** Takes each report of one aggregation thread. */
export type AggregationStatsReporter = (stats: AggregationStats, refusedRequests: number) => void;

/**
 * Registers the metrics; returns a factory of reporters, one per aggregation thread (the
 * thread's counters start from zero, so each reporter keeps its own last values).
 */
export function aggregationMetrics(registry: Registry): () => AggregationStatsReporter {
  // One set of metrics per registry, however many parts of the proxy report into it (the
  // two-tier aggregator runs its own aggregation thread beside the proxy's).
  const existing = factories.get(registry);
  if (existing !== undefined) return existing;
  const factory = registerAggregationMetrics(registry);
  factories.set(registry, factory);
  return factory;
}

const factories = new WeakMap<Registry, () => AggregationStatsReporter>();

function registerAggregationMetrics(registry: Registry): () => AggregationStatsReporter {
  const counters = COUNTERS.map(
    ([field, name, help]) => [field, new Counter({ name, help, registers: [registry] })] as const,
  );
  const refused = new Counter({
    name: 'phoenix_aggregation_refused_requests_total',
    help: 'Requests the aggregation could not decode (forwarded raw, not aggregated).',
    registers: [registry],
  });
  const series = new Gauge({
    name: 'phoenix_aggregation_series',
    help: 'Input series (per matching rule) whose state is tracked.',
    registers: [registry],
  });
  const groups = new Gauge({
    name: 'phoenix_aggregation_groups',
    help: 'Output groups alive.',
    registers: [registry],
  });
  const stateBytes = new Gauge({
    name: 'phoenix_aggregation_state_bytes',
    help: 'Bytes of WebAssembly memory the aggregation state occupies.',
    registers: [registry],
  });
  return () => {
    const previous = new Map<string, number>();
    const advance = (key: string, counter: Counter, value: number): void => {
      const delta = value - (previous.get(key) ?? 0);
      if (delta > 0) counter.inc(delta);
      previous.set(key, value);
    };
    return (stats, refusedRequests) => {
      for (const [field, counter] of counters) advance(field, counter, stats[field]);
      advance('refused', refused, refusedRequests);
      series.set(stats.seriesTracked);
      groups.set(stats.groups);
      stateBytes.set(stats.stateBytes);
    };
  };
}
