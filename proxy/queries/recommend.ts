/**
 * Recommendations per metric from cardinality facts and query usage: `drop` what no query
 * reads, `aggregate` away the labels no query needs (with an output that keeps the
 * queries' answers), or `keep`. Rendered as a Phoenix pipeline (`phoenix.yaml`) and as
 * Grafana Adaptive Metrics rules, both of which `proxy/pipeline/load.ts` accepts.
 *
 * Series after aggregation are estimated as the product of the distinct values of the
 * labels kept, capped by the series the metric has now: labels are assumed independent,
 * which overestimates when they are correlated (pod and node), so the saving is a floor.
 */
import { Document, isScalar, visit } from 'yaml';
import type { AggregationOutput } from '../pipeline/aggregation-config.js';
import { reducerChange } from './aggregation-outputs.js';
import type { LabelUsage, MetricLabelUsage } from './query-labels.js';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'unknown';

/** What is known about one metric (one `__name__`: `x_bucket`, `x_sum` are separate). */
export interface MetricFacts {
  readonly name: string;
  /** The family's type from metadata; `histogram` for `_bucket`, `_sum` and `_count` alike. */
  readonly type: MetricType;
  /** Active series now. */
  readonly series: number;
  /** Distinct values per label name (without `__name__`). */
  readonly labelValues: Readonly<Record<string, number>>;
}

/** Options of {@link recommend}. */
export interface RecommendOptions {
  /** Price of 1000 active series for a month, in the operator's currency. */
  readonly pricePer1kSeriesMonthly: number;
  /** Aggregation interval of the rules. Default `1m`. */
  readonly interval?: string;
}

export type RecommendedAction = 'drop' | 'aggregate' | 'keep';

/** The recommendation for one metric. */
export interface MetricRecommendation {
  readonly metric: string;
  readonly action: RecommendedAction;
  /** Why, in one sentence. */
  readonly reason: string;
  readonly seriesBefore: number;
  readonly seriesAfter: number;
  /** (before − after) ÷ 1000 × price. */
  readonly monthlySaving: number;
  /** Labels aggregated away (action `aggregate`). */
  readonly removedLabels: readonly string[];
  /** The aggregation output (action `aggregate`). */
  readonly output: AggregationOutput | undefined;
  /** Each kept label that a query needs → those queries. */
  readonly pinnedBy: Readonly<Record<string, readonly string[]>>;
}

/** All recommendations, largest saving first, and the totals. */
export interface Recommendations {
  readonly metrics: readonly MetricRecommendation[];
  readonly seriesBefore: number;
  readonly seriesAfter: number;
  readonly monthlySaving: number;
  readonly interval: string;
}

/** Estimated series when only `kept` labels remain, capped by `facts.series`. */
export function estimateSeries(facts: MetricFacts, kept: readonly string[]): number {
  const product = kept.reduce(
    (total, label) => total * Math.max(1, facts.labelValues[label] ?? 1),
    1,
  );
  return Math.min(facts.series, Math.max(1, product));
}

function saving(before: number, after: number, price: number): number {
  return Math.round(((before - after) / 1000) * price * 100) / 100;
}

/** The output that keeps counter-like answers, for the series this metric holds. */
function candidateOutputs(facts: MetricFacts): AggregationOutput[] {
  const { name, type } = facts;
  if (type === 'histogram' && name.endsWith('_bucket')) return ['histogram_bucket'];
  if (type === 'counter' || type === 'histogram') return ['total'];
  if (type === 'summary') return name.endsWith('_sum') || name.endsWith('_count') ? ['total'] : [];
  if (type === 'gauge') return ['max', 'min'];
  if (/_(total|count|sum)$/.test(name)) return ['total'];
  if (name.endsWith('_bucket')) return ['histogram_bucket'];
  return ['max', 'min'];
}

/** Recommends an action for every metric of `facts`. */
export function recommend(
  facts: readonly MetricFacts[],
  usage: LabelUsage,
  options: RecommendOptions,
): Recommendations {
  const interval = options.interval ?? '1m';
  const price = options.pricePer1kSeriesMonthly;
  const metrics = facts.map((metricFacts) =>
    recommendMetric(metricFacts, usage.metrics.get(metricFacts.name), usage, price),
  );
  metrics.sort((a, b) => b.monthlySaving - a.monthlySaving || a.metric.localeCompare(b.metric));
  const seriesBefore = metrics.reduce((total, metric) => total + metric.seriesBefore, 0);
  const seriesAfter = metrics.reduce((total, metric) => total + metric.seriesAfter, 0);
  return {
    metrics,
    seriesBefore,
    seriesAfter,
    monthlySaving: saving(seriesBefore, seriesAfter, price),
    interval,
  };
}

function recommendMetric(
  facts: MetricFacts,
  metricUsage: MetricLabelUsage | undefined,
  usage: LabelUsage,
  price: number,
): MetricRecommendation {
  const labels = Object.keys(facts.labelValues).sort();
  const keep = (reason: string, pinnedBy: Record<string, string[]> = {}): MetricRecommendation => ({
    metric: facts.name,
    action: 'keep',
    reason,
    seriesBefore: facts.series,
    seriesAfter: facts.series,
    monthlySaving: 0,
    removedLabels: [],
    output: undefined,
    pinnedBy,
  });
  if (metricUsage === undefined) {
    if (usage.unresolved.length > 0) {
      return keep(
        `no query names it, but ${usage.unresolved.length} selector(s) pick metrics by label or pattern (first: ${usage.unresolved[0]!.selector.text} in ${usage.unresolved[0]!.query})`,
      );
    }
    return {
      metric: facts.name,
      action: 'drop',
      reason: 'no query reads it',
      seriesBefore: facts.series,
      seriesAfter: 0,
      monthlySaving: saving(facts.series, 0, price),
      removedLabels: [],
      output: undefined,
      pinnedBy: {},
    };
  }
  const pinnedBy: Record<string, string[]> = {};
  for (const label of labels) {
    const queries = [...(metricUsage.labels.get(label) ?? [])];
    if (metricUsage.allLabels && !metricUsage.exceptLabels?.has(label)) {
      for (const query of metricUsage.allLabelsQueries)
        if (!queries.includes(query)) queries.push(query);
    }
    if (queries.length > 0) pinnedBy[label] = queries;
  }
  const removable = labels.filter((label) => pinnedBy[label] === undefined && label !== 'le');
  if (removable.length === 0) {
    return keep(
      metricUsage.allLabels
        ? `a query reads every label (${metricUsage.allLabelsQueries[0]})`
        : 'every label is used by a query',
      pinnedBy,
    );
  }
  let refusal = '';
  for (const output of candidateOutputs(facts)) {
    const change = metricUsage.reads
      .map((read) => ({
        read,
        change: reducerChange(read.selector.reducer, read.selector.applied, output, true),
      }))
      .find((entry) => entry.change !== undefined);
    if (change === undefined) {
      const kept = labels.filter((label) => !removable.includes(label));
      const seriesAfter = estimateSeries(facts, kept);
      return {
        metric: facts.name,
        action: 'aggregate',
        reason: `no query needs ${removable.join(', ')}; ${output} keeps every query's answer`,
        seriesBefore: facts.series,
        seriesAfter,
        monthlySaving: saving(facts.series, seriesAfter, price),
        removedLabels: removable,
        output,
        pinnedBy,
      };
    }
    refusal ||= `${output}: ${change.change} (${change.read.query})`;
  }
  return keep(
    refusal === ''
      ? `a ${facts.type} of this kind cannot be aggregated without changing answers`
      : `aggregating would change answers: ${refusal}`,
    pinnedBy,
  );
}

/** Go regexp quoting of a metric name (names hold only `[a-zA-Z0-9_:]`, but be exact). */
function quoteRegex(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** The recommendations as a Phoenix pipeline config (YAML text). */
export function recommendationsToPipelineYaml(recommendations: Recommendations): string {
  const dropped = recommendations.metrics.filter((metric) => metric.action === 'drop');
  const aggregated = recommendations.metrics.filter((metric) => metric.action === 'aggregate');
  const document: Record<string, unknown> = {};
  if (dropped.length > 0) {
    document.relabel_configs = [
      {
        source_labels: ['__name__'],
        regex: dropped.map((metric) => quoteRegex(metric.metric)).join('|'),
        action: 'drop',
      },
    ];
  }
  if (aggregated.length > 0) {
    document.aggregations = aggregated.map((metric) => ({
      match: metric.metric,
      interval: recommendations.interval,
      without: [...metric.removedLabels].sort(),
      outputs: [metric.output],
      keep_metric_names: true,
    }));
  }
  const header = [
    '# Recommended by `phoenix` from cardinality and query usage.',
    `# Active series: ${recommendations.seriesBefore} -> ${recommendations.seriesAfter} (estimated);`,
    `# monthly saving about ${recommendations.monthlySaving}.`,
  ].join('\n');
  if (Object.keys(document).length === 0) return `${header}\n{}\n`;
  // Label and output lists on one line, as people write them: `without: [instance, pod]`.
  const yaml = new Document(document);
  visit(yaml, {
    Seq(_key, node) {
      if (node.items.every((item) => isScalar(item))) node.flow = true;
    },
  });
  return `${header}\n${yaml.toString({ flowCollectionPadding: false })}`;
}

/** Adaptive Metrics aggregation names for the outputs the recommender picks. */
const ADAPTIVE_METRICS_AGGREGATIONS: Readonly<Partial<Record<AggregationOutput, string>>> = {
  total: 'sum:counter',
  // Adaptive Metrics has no histogram output: `sum:counter` with `le` left out of
  // drop_labels keeps the buckets, which is what histogram_bucket does.
  histogram_bucket: 'sum:counter',
  max: 'max',
  min: 'min',
};

/** One Grafana Adaptive Metrics rule. */
export interface AdaptiveMetricsRule {
  readonly metric: string;
  readonly match_type: 'exact';
  readonly drop?: true;
  readonly drop_labels?: readonly string[];
  readonly aggregations?: readonly string[];
}

/** The recommendations as Grafana Adaptive Metrics rules (`rules.json`). */
export function recommendationsToAdaptiveMetricsRules(
  recommendations: Recommendations,
): AdaptiveMetricsRule[] {
  const rules: AdaptiveMetricsRule[] = [];
  for (const metric of recommendations.metrics) {
    if (metric.action === 'drop')
      rules.push({ metric: metric.metric, match_type: 'exact', drop: true });
    if (metric.action === 'aggregate' && metric.output !== undefined) {
      rules.push({
        metric: metric.metric,
        match_type: 'exact',
        drop_labels: [...metric.removedLabels].sort(),
        aggregations: [ADAPTIVE_METRICS_AGGREGATIONS[metric.output] ?? 'sum'],
      });
    }
  }
  return rules;
}
