/**
 * The pipeline model's public surface: config types, loading and validation, and
 * compilation to what the WebAssembly module consumes. Nothing here imports the proxy's
 * server or worker threads, so the control plane and the CLI can use it too.
 */
export { isAdaptiveMetricsRules, parseAdaptiveMetricsRules } from './adaptive-metrics.js';
export {
  AGGREGATION_OUTPUTS,
  type AggregationOutput,
  type AggregationRule,
  parseAggregationRules,
  parseDurationMs,
} from './aggregation-config.js';
export { type CompiledRegex, compilePipeline, compileRegex, isValidLabelName } from './compile.js';
export {
  DEFAULT_RELABEL_RULE,
  type PipelineConfig,
  RELABEL_ACTIONS,
  type RelabelAction,
  type RelabelConfig,
  type RelabelRule,
} from './config.js';
export { ConfigError } from './config-error.js';
export type {
  CompiledPipeline,
  PipelineErrorCode,
  PipelineStats,
  ProcessResult,
} from './contracts.js';
export { expandTemplate } from './expand.js';
export { loadPipelineConfig, parsePipelineConfig } from './load.js';
export { Re2SyntaxError, translateRe2 } from './re2.js';
export {
  type LabelMatcher,
  parseSeriesSelector,
  SelectorSyntaxError,
  type SeriesSelector,
  selectorMatches,
} from './selector.js';
