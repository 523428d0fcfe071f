/**
 * Query safety: what PromQL queries depend on, which of them a pipeline would break,
 * live comparison of answers between two query APIs, and recommendations from
 * cardinality and usage. Imports only the pipeline model (`proxy/pipeline/`), so the
 * control plane and the CLI can both use it.
 */
export { describeNeed, type LabelNeed } from './label-need.js';
export {
  compareLive,
  type Divergence,
  type LiveCompareOptions,
  type LiveComparison,
  labelSetText,
  relativeDivergence,
} from './live-compare.js';
export {
  type AggregationUsage,
  analyzeQuery,
  type LabelFunctionUsage,
  type QueryAnalysis,
  type QueryMatcher,
  type QueryParseFailure,
  type QueryUsage,
  type SelectorUsage,
  type SeriesReducer,
  type VectorMatchingUsage,
} from './promql-usage.js';
export {
  type LabelUsage,
  labelsUsedByMetric,
  type MetricLabelUsage,
  type MetricRead,
} from './query-labels.js';
export {
  checkQueries,
  checkQuery,
  type QueryFinding,
  type QuerySafetyOptions,
  type QuerySafetyResult,
  type QueryVerdict,
} from './query-safety.js';
export {
  loadDashboards,
  loadQueryList,
  loadQueryLog,
  loadRuleFile,
  parseDashboard,
  parseQueryList,
  parseQueryLog,
  parseRuleFile,
  type QueryOrigin,
  QuerySourceError,
  type QuerySourceKind,
  type SourcedQuery,
} from './query-sources.js';
export {
  type AdaptiveMetricsRule,
  estimateSeries,
  type MetricFacts,
  type MetricRecommendation,
  type MetricType,
  type Recommendations,
  type RecommendedAction,
  type RecommendOptions,
  recommend,
  recommendationsToAdaptiveMetricsRules,
  recommendationsToPipelineYaml,
} from './recommend.js';
