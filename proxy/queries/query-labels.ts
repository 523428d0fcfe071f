/**
 * Per metric, the labels that queries need: what the recommender may not aggregate away.
 *
 * A query that reads a metric's series without aggregating them (a panel graphing
 * `rate(x[5m])`, an alert on `up == 0`, a recording rule storing them) or through
 * `without (...)`/`ignoring (...)` needs every label of that metric, because each label
 * shows in its result or splits its groups: the metric is marked `allLabels`, and only the
 * labels every such query leaves out (`without (pod)` leaves out `pod`) may go. That is
 * what the people behind those panels expect: the same lines, with the same legends.
 */
import { compileRegex } from '../pipeline/compile.js';
import { Re2SyntaxError } from '../pipeline/re2.js';
import { type LabelMatcher, matches as matcherMatches } from '../pipeline/selector.js';
import { needsLabel } from './label-need.js';
import { analyzeQuery, type SelectorUsage } from './promql-usage.js';
import type { SourcedQuery } from './query-sources.js';
import { literalAlternatives } from './relabel-static.js';

/** How one query reads a metric. */
export interface MetricRead {
  /** The query's origin (`file: location`) or, without one, its text. */
  readonly query: string;
  readonly selector: SelectorUsage;
}

/** What the queries need of one metric. */
export interface MetricLabelUsage {
  readonly metric: string;
  /** label → the queries that need it (match on it, group by it, join on it, ...). */
  readonly labels: Map<string, string[]>;
  /** Some query needs every label (but those in {@link exceptLabels}). */
  allLabels: boolean;
  /** With {@link allLabels}: the labels that every all-label query leaves out. */
  exceptLabels: Set<string> | undefined;
  /** The queries that need every label. */
  readonly allLabelsQueries: string[];
  /** Every read, for checking which aggregation outputs keep the answers. */
  readonly reads: MetricRead[];
}

/** The result of {@link labelsUsedByMetric}. */
export interface LabelUsage {
  readonly metrics: Map<string, MetricLabelUsage>;
  /** Selectors whose metric could not be told (`{job="x"}`, `$metric`, `=~"node_.*"`). */
  readonly unresolved: MetricRead[];
  /** Queries that did not parse, with the error. */
  readonly invalid: { readonly query: string; readonly error: string }[];
}

function nameOf(query: SourcedQuery | string): string {
  return typeof query === 'string' ? query : `${query.origin.file}: ${query.origin.location}`;
}

/**
 * The labels `queries` need per metric. `knownMetrics` resolves selectors that pick
 * metrics by regex or by labels only (pass every metric name there is, e.g. from
 * cardinality facts); without it those selectors are listed as unresolved.
 */
export function labelsUsedByMetric(
  queries: readonly (SourcedQuery | string)[],
  knownMetrics?: readonly string[],
): LabelUsage {
  const metrics = new Map<string, MetricLabelUsage>();
  const unresolved: MetricRead[] = [];
  const invalid: { query: string; error: string }[] = [];
  for (const query of queries) {
    const usage = analyzeQuery(typeof query === 'string' ? query : query.query);
    const name = nameOf(query);
    if (!usage.ok) {
      invalid.push({ query: name, error: usage.error });
      continue;
    }
    for (const selector of usage.selectors) {
      const names = selectorMetrics(selector, knownMetrics);
      if (names === undefined) {
        unresolved.push({ query: name, selector });
        continue;
      }
      for (const metric of names) record(metrics, metric, name, selector);
    }
  }
  return { metrics, unresolved, invalid };
}

function record(
  metrics: Map<string, MetricLabelUsage>,
  metric: string,
  query: string,
  selector: SelectorUsage,
): void {
  let entry = metrics.get(metric);
  if (entry === undefined) {
    entry = {
      metric,
      labels: new Map(),
      allLabels: false,
      exceptLabels: undefined,
      allLabelsQueries: [],
      reads: [],
    };
    metrics.set(metric, entry);
  }
  entry.reads.push({ query, selector });
  const pin = (label: string): void => {
    if (label === '__name__') return;
    const list = entry.labels.get(label) ?? [];
    if (!list.includes(query)) list.push(query);
    entry.labels.set(label, list);
  };
  for (const matcher of selector.labelMatchers) pin(matcher.name);
  const need = selector.needs;
  if (need.kind === 'only') {
    for (const label of need.labels) pin(label);
    return;
  }
  entry.allLabels = true;
  if (!entry.allLabelsQueries.includes(query)) entry.allLabelsQueries.push(query);
  // Labels an all-label query leaves out are the ones `needs` lists as exceptions.
  entry.exceptLabels =
    entry.exceptLabels === undefined
      ? new Set(need.labels)
      : new Set([...entry.exceptLabels].filter((label) => !needsLabel(need, label)));
}

/** The metrics a selector reads; undefined when that cannot be told. */
function selectorMetrics(
  selector: SelectorUsage,
  knownMetrics: readonly string[] | undefined,
): string[] | undefined {
  if (selector.templatedName || selector.nameMatchers.some((matcher) => matcher.templated)) {
    // `$metric` may be any metric.
    return knownMetrics === undefined ? undefined : [...knownMetrics];
  }
  return resolveMetricNames(selector, knownMetrics);
}

/**
 * The metric names a selector reads: its exact name, the names of a regex that is a list
 * of literals (`a|b`), or the known names its name matchers accept (a selector without
 * name matchers accepts them all). Undefined when that cannot be told: templated names,
 * other regexes without `knownMetrics`, a regex that is not valid RE2.
 */
export function resolveMetricNames(
  selector: SelectorUsage,
  knownMetrics: readonly string[] | undefined,
): string[] | undefined {
  if (selector.metricName !== undefined) return [selector.metricName];
  if (selector.templatedName || selector.nameMatchers.some((matcher) => matcher.templated)) {
    return undefined;
  }
  let matchers: LabelMatcher[];
  try {
    matchers = selector.nameMatchers.map((matcher) => ({
      name: '__name__',
      type: matcher.op,
      value: matcher.value,
      regex: matcher.op.endsWith('~') ? compileRegex(matcher.value) : undefined,
    }));
  } catch (error) {
    if (error instanceof Re2SyntaxError) return undefined;
    throw error;
  }
  const accepts = (name: string): boolean =>
    matchers.every((matcher) => matcherMatches(matcher, name));
  const regex = selector.nameMatchers.find((matcher) => matcher.op === '=~');
  const literal = regex === undefined ? undefined : literalAlternatives(regex.value);
  if (literal !== undefined) return literal.filter(accepts);
  return knownMetrics?.filter(accepts);
}
