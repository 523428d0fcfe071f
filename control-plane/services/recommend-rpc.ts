/**
 * `AnalysisService.Recommend`: the live cardinality of the proxies' input (active series
 * and distinct values per label of the largest metrics) and the queries people depend on,
 * through the recommendation logic of `proxy/queries/recommend.ts`.
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  RecommendationAction,
  type RecommendRequest,
  type RecommendResponse,
  RecommendResponseSchema,
} from '../../proto/gen/phoenix/v1/analysis_pb.js';
import type { CardinalitySummary } from '../../proxy/cardinality/cardinality-summary.js';
import {
  labelsUsedByMetric,
  type MetricFacts,
  parseDashboard,
  parseQueryList,
  parseQueryLog,
  parseRuleFile,
  QuerySourceError,
  type RecommendedAction,
  recommend,
  recommendationsToAdaptiveMetricsRules,
  recommendationsToPipelineYaml,
  type SourcedQuery,
} from '../../proxy/queries/index.js';

/** Metrics considered when the request's limit is 0: the largest by active series. */
const DEFAULT_METRICS = 50;
const MAX_METRICS = 10_000;

const ACTIONS: Readonly<Record<RecommendedAction, RecommendationAction>> = {
  drop: RecommendationAction.DROP,
  aggregate: RecommendationAction.AGGREGATE,
  keep: RecommendationAction.KEEP,
};

function queriesOf(request: RecommendRequest): SourcedQuery[] {
  try {
    return [
      ...request.ruleFiles.flatMap((file) => parseRuleFile(file.text, file.name)),
      ...request.dashboards.flatMap((dashboard) => parseDashboard(dashboard.text, dashboard.name)),
      ...parseQueryList(request.queries.join('\n'), 'queries'),
      ...(request.queryLog === '' ? [] : parseQueryLog(request.queryLog, 'query log')),
    ];
  } catch (error) {
    if (error instanceof QuerySourceError) {
      throw new ConnectError(error.message, Code.InvalidArgument);
    }
    throw error;
  }
}

/**
 * Facts of the largest metrics of the input view. Metric types are not measured (no
 * metadata is tracked), so they are `unknown` and the logic goes by the name's suffix.
 */
function factsOf(summary: CardinalitySummary, limit: number): MetricFacts[] {
  return summary
    .metrics()
    .filter((metric) => !metric.other)
    .slice(0, limit)
    .map((metric) => ({
      name: metric.name,
      type: 'unknown',
      series: metric.activeSeries,
      labelValues: Object.fromEntries(
        summary
          .labels(metric.name)
          .filter((label) => label.name !== '__name__')
          .map((label) => [label.name, label.distinctValues]),
      ),
    }));
}

export function recommendFromCardinality(
  request: RecommendRequest,
  inputSummary: CardinalitySummary,
): RecommendResponse {
  if (!(request.pricePerThousandSeries >= 0)) {
    throw new ConnectError(
      `price_per_thousand_series ${request.pricePerThousandSeries} must be >= 0`,
      Code.InvalidArgument,
    );
  }
  if (request.limit > MAX_METRICS) {
    throw new ConnectError(
      `limit ${request.limit} must be <= ${MAX_METRICS}`,
      Code.InvalidArgument,
    );
  }
  const facts = factsOf(inputSummary, request.limit === 0 ? DEFAULT_METRICS : request.limit);
  const usage = labelsUsedByMetric(
    queriesOf(request),
    facts.map((fact) => fact.name),
  );
  const result = recommend(facts, usage, {
    pricePer1kSeriesMonthly: request.pricePerThousandSeries,
  });
  const labelsOf = new Map(facts.map((fact) => [fact.name, Object.keys(fact.labelValues)]));
  return create(RecommendResponseSchema, {
    recommendations: result.metrics.map((metric) => ({
      metric: metric.metric,
      action: ACTIONS[metric.action],
      seriesBefore: BigInt(Math.round(metric.seriesBefore)),
      seriesAfter: BigInt(Math.round(metric.seriesAfter)),
      monthlySaving: metric.monthlySaving,
      pinnedQueries: [...new Set(Object.values(metric.pinnedBy).flat())].sort(),
      keepLabels:
        metric.action === 'aggregate'
          ? (labelsOf.get(metric.metric) ?? [])
              .filter((label) => !metric.removedLabels.includes(label))
              .sort()
          : [],
      reason: metric.reason,
    })),
    monthlySaving: result.monthlySaving,
    pipelineYaml: recommendationsToPipelineYaml(result),
    adaptiveMetricsJson: `${JSON.stringify(recommendationsToAdaptiveMetricsRules(result), null, 2)}\n`,
  });
}
