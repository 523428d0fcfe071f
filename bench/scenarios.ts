/**
 * The scenarios of the head-to-head. In the relabel scenarios the same Prometheus
 * `relabel_configs` go to Phoenix (`phoenix.yaml`) and to vmagent
 * (`-remoteWrite.urlRelabelConfig`), so both do the same work on the same bytes. The
 * `aggregation` scenario gives Phoenix stream-aggregation rules; vmagent 1.79 has no
 * stream aggregation, so it runs the plain relabel rule that removes the same labels, the
 * baseline Phoenix's aggregation cost is measured against.
 */

import type { Workload } from './workload.js';

export const SCENARIO_NAMES = ['passthrough', 'labeldrop', 'drop', 'aggregation'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** One scenario, resolved against a workload. */
export interface Scenario {
  readonly name: ScenarioName;
  readonly description: string;
  /** Prometheus relabel_configs, in their YAML field names. */
  readonly relabelConfigs: ReadonlyArray<Record<string, unknown>>;
  /** Metric ids whose series the rules drop (their samples must not reach the sink). */
  readonly droppedMetricIds: ReadonlySet<number>;
  /**
   * Phoenix `aggregations:` rules, in their YAML field names. When set, Phoenix runs these
   * instead of `relabelConfigs` (which vmagent runs), and the raw series of every metric
   * are aggregated away: the sink receives only the flushed outputs.
   */
  readonly aggregations?: ReadonlyArray<Record<string, unknown>>;
  /** The interval of the aggregation rules, ms: a run waits one flush after sending. */
  readonly aggregationIntervalMs?: number;
}

/** The labels the aggregation scenario sums away (issue: "sum without (...)"). */
export const AGGREGATION_WITHOUT = ['pod', 'instance', 'pod_template_hash', 'node', 'id'];

/** Interval of the aggregation scenario's rules. */
export const AGGREGATION_INTERVAL = '10s';

/** Whether a workload metric is a counter (summed with `total`) rather than a gauge. */
export function isCounterMetric(name: string): boolean {
  return /_(total|bucket|sum|count)$/.test(name);
}

/** Five labels that every series (or every cAdvisor series) of the workload carries. */
export const LABELDROP_LABELS = ['cluster', 'id', 'image', 'instance', 'node'];

/** Share of the series that the `drop` scenario removes, by metric name. */
export const DROP_TARGET_FRACTION = 0.3;

/**
 * The metric names whose series add up closest to `fraction` of the workload. The catalog
 * has about a dozen names, so every subset is tried (up to 2^16); ties go to fewer names.
 */
export function metricIdsCovering(workload: Workload, fraction: number): Set<number> {
  const counts = workload.seriesPerMetric;
  const names = Math.min(counts.length, 16);
  const target = fraction * workload.seriesCount;
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (let subset = 0; subset < 1 << names; subset++) {
    let covered = 0;
    for (let id = 0; id < names; id++) if (subset & (1 << id)) covered += counts[id]!;
    const distance = Math.abs(covered - target);
    if (
      distance < bestDistance ||
      (distance === bestDistance && popCount(subset) < popCount(best))
    ) {
      best = subset;
      bestDistance = distance;
    }
  }
  const chosen = new Set<number>();
  for (let id = 0; id < names; id++) if (best & (1 << id)) chosen.add(id);
  return chosen;
}

function popCount(bits: number): number {
  let count = 0;
  for (let rest = bits; rest !== 0; rest &= rest - 1) count++;
  return count;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The scenario `name` for `workload`. */
export function scenarioFor(name: ScenarioName, workload: Workload): Scenario {
  switch (name) {
    case 'passthrough':
      return {
        name,
        description: 'no rules',
        relabelConfigs: [],
        droppedMetricIds: new Set(),
      };
    case 'labeldrop':
      return {
        name,
        description: `labeldrop of ${LABELDROP_LABELS.length} labels`,
        relabelConfigs: [{ action: 'labeldrop', regex: LABELDROP_LABELS.join('|') }],
        droppedMetricIds: new Set(),
      };
    case 'drop': {
      const dropped = metricIdsCovering(workload, DROP_TARGET_FRACTION);
      const names = [...dropped].map((id) => workload.metricNames[id]!);
      const droppedSeries = [...dropped].reduce(
        (sum, id) => sum + workload.seriesPerMetric[id]!,
        0,
      );
      const percent = Math.round((100 * droppedSeries) / workload.seriesCount);
      return {
        name,
        description: `drop ${percent}% of series by metric name`,
        relabelConfigs: [
          {
            source_labels: ['__name__'],
            regex: names.map(escapeRegex).join('|'),
            action: 'drop',
          },
        ],
        droppedMetricIds: dropped,
      };
    }
    case 'aggregation': {
      const counters = workload.metricNames.filter(isCounterMetric);
      const gauges = workload.metricNames.filter((metric) => !isCounterMetric(metric));
      const rule = (names: readonly string[], output: string): Record<string, unknown> => ({
        match: `{__name__=~${JSON.stringify(names.map(escapeRegex).join('|'))}}`,
        interval: AGGREGATION_INTERVAL,
        without: AGGREGATION_WITHOUT,
        outputs: [output],
      });
      return {
        name,
        description: `sum without (${AGGREGATION_WITHOUT.join(', ')}): total for counters, sum_samples for gauges`,
        relabelConfigs: [{ action: 'labeldrop', regex: AGGREGATION_WITHOUT.join('|') }],
        droppedMetricIds: new Set(workload.metricNames.map((_, id) => id)),
        aggregations: [
          ...(counters.length > 0 ? [rule(counters, 'total')] : []),
          ...(gauges.length > 0 ? [rule(gauges, 'sum_samples')] : []),
        ],
        aggregationIntervalMs: 10_000,
      };
    }
  }
}
