/**
 * What an aggregation rule writes, as far as a query can tell: the output metric names
 * (vmagent's naming, as `proxy/aggregation/classify.ts` writes them), the labels an output
 * series keeps, and whether an aggregation over the merged series gives the query the
 * same answer it got from the raw series.
 */
import type { AggregationOutput, AggregationRule } from '../pipeline/aggregation-config.js';
import { type LabelNeed, needsLabel } from './label-need.js';
import type { SeriesReducer } from './promql-usage.js';

/**
 * `<metric>:<interval>[_by_<labels>|_without_<labels>]_<output>`, or the input name with
 * `keep_metric_names` (Grafana Adaptive Metrics' style). Must agree with the aggregation
 * thread's `outputMetricName` (a test checks that).
 */
export function aggregationOutputName(
  rule: AggregationRule,
  metric: string,
  output: AggregationOutput,
): string {
  if (rule.keepMetricNames) return metric;
  return `${metric}${outputNameSuffix(rule, output)}`;
}

/** The part of an output name after the input metric name. */
export function outputNameSuffix(rule: AggregationRule, output: AggregationOutput): string {
  let grouping = '';
  if (rule.by !== undefined) grouping = `_by_${rule.by.join('_')}`;
  else if (rule.without.length > 0) grouping = `_without_${rule.without.join('_')}`;
  return `:${rule.interval}${grouping}_${output}`;
}

/** Whether `label` survives into the rule's output series. */
export function outputKeepsLabel(rule: AggregationRule, label: string): boolean {
  if (label === '__name__') return true;
  if (rule.dropInputLabels.includes(label)) return false;
  if (rule.by !== undefined) {
    return rule.by.includes(label) || (label === 'le' && rule.outputs.includes('histogram_bucket'));
  }
  return !rule.without.includes(label);
}

/** `by [job]`, `without [pod]` or `every label` for reasons. */
export function describeGrouping(rule: AggregationRule): string {
  const dropped =
    rule.dropInputLabels.length > 0
      ? `, drop_input_labels [${rule.dropInputLabels.join(', ')}]`
      : '';
  if (rule.by !== undefined) return `by [${rule.by.join(', ')}]${dropped}`;
  if (rule.without.length > 0) return `without [${rule.without.join(', ')}]${dropped}`;
  return `by every label${dropped}`;
}

/** Whether several input series can become one output series. */
export function ruleMergesSeries(rule: AggregationRule): boolean {
  return rule.by !== undefined || rule.without.length > 0 || rule.dropInputLabels.length > 0;
}

/**
 * Labels the query needs that the rule's outputs lose. With `by`, a query needing every
 * label (`all-except`) loses whatever is not in `by`: reported as `*`.
 */
export function labelsLostByRule(
  rule: AggregationRule,
  need: LabelNeed,
  explicit: Iterable<string>,
): string[] {
  const lost = new Set<string>();
  for (const label of explicit) if (!outputKeepsLabel(rule, label)) lost.add(label);
  if (need.kind === 'all-except') {
    for (const label of [...rule.without, ...rule.dropInputLabels]) {
      if (needsLabel(need, label)) lost.add(label);
    }
    if (rule.by !== undefined) lost.add('*');
  }
  return [...lost].sort();
}

/** Outputs that are counters summed over the merged inputs: `rate()` of them is exact. */
const COUNTER_OUTPUTS: ReadonlySet<AggregationOutput> = new Set([
  'total',
  'total_prometheus',
  'histogram_bucket',
]);
const COUNTER_FUNCTIONS = new Set(['rate', 'increase', 'irate']);

/**
 * Why reading `output` of the rule instead of the raw series changes what the query
 * computes; undefined when it does not: rates of a counter output (summed when series
 * merge), `max` over `max`, `min` over `min`, and presence (`group`, `absent`).
 * `applied` lists the functions between the selector and `reducer` (or the result).
 */
export function reducerChange(
  reducer: SeriesReducer | undefined,
  applied: readonly string[],
  output: AggregationOutput,
  merges: boolean,
): string | undefined {
  const op = reducer?.op;
  if (op === 'group' || op === 'absent' || op === 'absent_over_time') return undefined;
  if (merges && op !== undefined && op !== 'sum' && op !== 'max' && op !== 'min') {
    return `${op} over series that are merged into one per group`;
  }
  const ratesOnly = applied.length > 0 && applied.every((fn) => COUNTER_FUNCTIONS.has(fn));
  if (COUNTER_OUTPUTS.has(output)) {
    if (ratesOnly && (!merges || op === 'sum')) return undefined;
    if (!ratesOnly) {
      return `the query reads ${output} values directly (not through rate() or increase()), and that counter restarts from 0`;
    }
  }
  if (!merges && reducer === undefined)
    return `the values become the ${output} of each ${'window'}`;
  if (reducer === undefined) return 'the query reads the merged series one by one';
  if ((op === 'max' || op === 'min') && output === op) {
    if (applied.every((fn) => fn === `${op}_over_time`)) return undefined;
  }
  return `${op} over ${output} per window of the merged series is not ${op} over the raw series`;
}
