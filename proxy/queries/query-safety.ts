/**
 * Static check of PromQL queries against a pipeline: for each query, `safe`, `broken` (a
 * metric it reads is dropped, renamed or aggregated into another name, or a label it
 * matches, groups by, joins on or keeps is removed) or `changed` (it still runs, but on
 * series the pipeline merges or may alter: `count` over aggregated series, rules that
 * depend on label values the query does not fix). Every finding names the metric, the
 * label and the rule's config path. When in doubt the verdict is `changed`, never `safe`.
 */
import type { AggregationRule } from '../pipeline/aggregation-config.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { matches as matcherMatches } from '../pipeline/selector.js';
import {
  aggregationOutputName,
  describeGrouping,
  labelsLostByRule,
  outputKeepsLabel,
  outputNameSuffix,
  reducerChange,
  ruleMergesSeries,
} from './aggregation-outputs.js';
import { describeNeed, needsLabel } from './label-need.js';
import { analyzeQuery, type QueryUsage, type SelectorUsage } from './promql-usage.js';
import { resolveMetricNames } from './query-labels.js';
import type { QueryOrigin, SourcedQuery } from './query-sources.js';
import {
  evaluateRelabelStatically,
  literalAlternatives,
  patternRemoves,
  type RelabelOutcome,
} from './relabel-static.js';

export type QueryVerdict = 'safe' | 'changed' | 'broken' | 'invalid';

/** One reason a query is not safe. */
export interface QueryFinding {
  readonly verdict: 'changed' | 'broken';
  readonly metric: string | undefined;
  readonly label: string | undefined;
  /** Config path of the rule, e.g. `relabel_configs[2]` or `aggregations[0]`. */
  readonly rule: string;
  readonly reason: string;
}

/** The verdict on one query. */
export interface QuerySafetyResult {
  readonly query: string;
  readonly origin: QueryOrigin | undefined;
  readonly verdict: QueryVerdict;
  readonly findings: readonly QueryFinding[];
  /** Why an `invalid` query did not parse, with its position. */
  readonly error?: string;
}

/** Optional facts that make the check more precise. */
export interface QuerySafetyOptions {
  /**
   * Label names each metric is known to carry (from cardinality facts). Without them a
   * `labeldrop` pattern against a query that keeps every label is `changed` (the metric
   * may carry the label); with them it is `broken` exactly when the metric does.
   */
  readonly metricLabels?: ReadonlyMap<string, ReadonlySet<string>>;
  /** Metric names known to exist, to resolve `{__name__=~"..."}` selectors. */
  readonly knownMetrics?: readonly string[];
}

/** Checks every query; results are in the order of `queries`. */
export function checkQueries(
  pipeline: PipelineConfig,
  queries: readonly (SourcedQuery | string)[],
  options: QuerySafetyOptions = {},
): QuerySafetyResult[] {
  return queries.map((query) => checkQuery(pipeline, query, options));
}

/** Checks one query against `pipeline`. */
export function checkQuery(
  pipeline: PipelineConfig,
  query: SourcedQuery | string,
  options: QuerySafetyOptions = {},
): QuerySafetyResult {
  const text = typeof query === 'string' ? query : query.query;
  const origin = typeof query === 'string' ? undefined : query.origin;
  const usage = analyzeQuery(text);
  if (!usage.ok)
    return { query: text, origin, verdict: 'invalid', findings: [], error: usage.error };
  const findings: QueryFinding[] = [];
  const seen = new Set<string>();
  const add = (finding: QueryFinding): void => {
    if (seen.has(finding.reason)) return;
    seen.add(finding.reason);
    findings.push(finding);
  };
  usage.selectors.forEach((selector, index) => {
    const checker = new SelectorChecker(pipeline, usage, index, options, add);
    for (const name of candidateNames(selector, options.knownMetrics)) checker.check(name);
  });
  let verdict: QueryVerdict = 'safe';
  if (findings.some((finding) => finding.verdict === 'changed')) verdict = 'changed';
  if (findings.some((finding) => finding.verdict === 'broken')) verdict = 'broken';
  return { query: text, origin, verdict, findings };
}

/** The metric names a selector reads, or `[undefined]` when that cannot be told. */
function candidateNames(
  selector: SelectorUsage,
  knownMetrics: readonly string[] | undefined,
): (string | undefined)[] {
  // A selector without name matchers (`{job="api"}`) stays unknown even with known
  // metrics: which of them carry its labels is not known.
  if (selector.metricName === undefined && selector.nameMatchers.length === 0) return [undefined];
  return resolveMetricNames(selector, knownMetrics) ?? [undefined];
}

type MatchState = 'yes' | 'no' | 'maybe';

class SelectorChecker {
  readonly #selector: SelectorUsage;

  constructor(
    private readonly pipeline: PipelineConfig,
    private readonly usage: QueryUsage,
    private readonly index: number,
    private readonly options: QuerySafetyOptions,
    private readonly add: (finding: QueryFinding) => void,
  ) {
    this.#selector = usage.selectors[index]!;
  }

  /** Labels the query names for this selector: matchers and explicitly needed labels. */
  #explicitLabels(): string[] {
    const need = this.#selector.needs;
    const labels = new Set(this.#selector.labelMatchers.map((matcher) => matcher.name));
    if (need.kind === 'only') for (const label of need.labels) labels.add(label);
    else {
      // Every label is needed; name those the query mentions, so reasons can be exact.
      const mentioned = [
        ...this.usage.aggregations.flatMap((aggregation) => aggregation.by ?? []),
        ...this.usage.vectorMatching.flatMap((matching) => [
          ...(matching.on ?? []),
          ...matching.include,
        ]),
        ...this.usage.labelFunctions.flatMap((call) => call.sources),
      ];
      for (const label of mentioned) if (needsLabel(need, label)) labels.add(label);
    }
    labels.delete('__name__');
    return [...labels].filter((label) => !isTemplated(label)).sort();
  }

  /** Grouping or matching labels given by a template variable (`by ($group)`). */
  #templatedLabels(): string[] {
    const need = this.#selector.needs;
    return need.kind === 'only' ? [...need.labels].filter(isTemplated).sort() : [];
  }

  /** A templated label may name any label: removing labels may change the answer. */
  #templatedLabelFinding(name: string | undefined, rule: string, what: string): void {
    const templated = this.#templatedLabels();
    if (templated.length === 0) return;
    this.add({
      verdict: 'changed',
      metric: name,
      label: templated.join(', '),
      rule,
      reason: `the query uses label ${templated.join(', ')} of ${this.#metricText(name)}, a template variable that may name a label ${rule} ${what}`,
    });
  }

  /** How the query uses `label` of this selector, for reasons. */
  #role(label: string): string {
    const selector = this.#selector;
    if (selector.labelMatchers.some((matcher) => matcher.name === label)) return 'matches on';
    const inAggregation = this.usage.aggregations.some(
      (aggregation) =>
        aggregation.selectors.includes(this.index) && aggregation.by?.includes(label),
    );
    if (inAggregation) return 'groups by';
    const joined = this.usage.vectorMatching.some(
      (matching) => matching.on?.includes(label) || matching.include.includes(label),
    );
    if (joined) return 'joins on';
    if (this.usage.labelFunctions.some((call) => call.sources.includes(label))) {
      return 'reads in label_replace/label_join';
    }
    if (label === 'le') return 'needs for histogram_quantile';
    if (selector.needs.kind === 'all-except') {
      return selector.reducer === undefined
        ? 'shows (no aggregation)'
        : 'keeps through `without`/`ignoring`';
    }
    return 'uses';
  }

  #metricText(name: string | undefined): string {
    return name ?? `the metrics of ${this.#selector.text}`;
  }

  check(name: string | undefined): void {
    const selector = this.#selector;
    const pinned = new Map<string, string>();
    for (const matcher of selector.labelMatchers) {
      if (matcher.op === '=' && !matcher.templated) pinned.set(matcher.name, matcher.value);
    }
    if (name !== undefined && this.#readsAggregationOutput(name, pinned)) return;
    const outcome = evaluateRelabelStatically(this.pipeline.relabelConfigs, 'relabel_configs', {
      metricName: name,
      pinned,
    });
    if (!this.#relabelFindings(name, outcome)) return;
    this.#aggregationFindings(name, outcome);
  }

  /**
   * Whether `name` is an output of an aggregation rule (`x:1m_by_job_total`): the query
   * already reads the aggregate, and only needs its labels to be in the output.
   */
  #readsAggregationOutput(name: string, pinned: ReadonlyMap<string, string>): boolean {
    const rules = this.pipeline.aggregations ?? [];
    for (const [index, rule] of rules.entries()) {
      if (rule.keepMetricNames) continue;
      for (const output of rule.outputs) {
        const suffix = outputNameSuffix(rule, output);
        if (!name.endsWith(suffix) || name.length === suffix.length) continue;
        const input = name.slice(0, -suffix.length);
        if (ruleMatch(rule, input, pinned) === 'no') continue;
        for (const label of this.#explicitLabels()) {
          if (outputKeepsLabel(rule, label)) continue;
          this.add({
            verdict: 'broken',
            metric: name,
            label,
            rule: `aggregations[${index}]`,
            reason: `label ${label}, which the query ${this.#role(label)}, is not in ${name}: aggregations[${index}] groups ${describeGrouping(rule)}`,
          });
        }
        return true;
      }
    }
    return false;
  }

  /** Reports what relabel rules do; false when the series are gone (nothing more to check). */
  #relabelFindings(name: string | undefined, outcome: RelabelOutcome): boolean {
    const metric = this.#metricText(name);
    const selector = this.#selector;
    if (outcome.dropped !== undefined) {
      this.add({
        verdict: 'broken',
        metric: name,
        label: undefined,
        rule: outcome.dropped.rule,
        reason: `${metric} is dropped by ${outcome.dropped.reason}`,
      });
      return false;
    }
    if (outcome.renamedTo !== undefined) {
      this.add({
        verdict: 'broken',
        metric: name,
        label: undefined,
        rule: outcome.renamedTo.rule,
        reason: `${metric} is renamed to ${outcome.renamedTo.name} by ${outcome.renamedTo.rule}`,
      });
      return false;
    }
    for (const uncertain of outcome.uncertain) {
      this.add({
        verdict: 'changed',
        metric: name,
        label: undefined,
        rule: uncertain.rule,
        reason: `${metric}: ${uncertain.reason}`,
      });
    }
    for (const label of this.#explicitLabels()) {
      const removedBy =
        outcome.removedLabels.get(label) ??
        outcome.removalPatterns.find((pattern) => patternRemoves(pattern, label))?.rule;
      if (removedBy !== undefined) {
        this.add({
          verdict: 'broken',
          metric: name,
          label,
          rule: removedBy,
          reason: `label ${label}, which the query ${this.#role(label)}, is removed from ${metric} by ${removedBy}`,
        });
        continue;
      }
      const writtenBy = outcome.writtenLabels.get(label);
      if (writtenBy !== undefined) {
        this.add({
          verdict: 'changed',
          metric: name,
          label,
          rule: writtenBy,
          reason: `label ${label}, which the query ${this.#role(label)}, is rewritten on ${metric} by ${writtenBy}`,
        });
      }
    }
    if (selector.needs.kind === 'all-except') this.#allLabelsFindings(name, outcome);
    for (const pattern of outcome.removalPatterns)
      this.#templatedLabelFinding(name, pattern.rule, 'removes');
    for (const [, rule] of outcome.writtenLabels)
      this.#templatedLabelFinding(name, rule, 'rewrites');
    return true;
  }

  /** The query keeps every label (but a few): any removal or rewrite changes its result. */
  #allLabelsFindings(name: string | undefined, outcome: RelabelOutcome): void {
    const need = this.#selector.needs;
    const metric = this.#metricText(name);
    const keeps = `the query keeps ${describeNeed(need)} of ${metric}`;
    const known = name === undefined ? undefined : this.options.metricLabels?.get(name);
    for (const pattern of outcome.removalPatterns) {
      if (known !== undefined) {
        for (const label of [...known].sort()) {
          if (!needsLabel(need, label) || !patternRemoves(pattern, label)) continue;
          this.add({
            verdict: 'broken',
            metric: name,
            label,
            rule: pattern.rule,
            reason: `label ${label} is removed from ${metric} by ${pattern.rule}, and ${keeps}`,
          });
        }
        continue;
      }
      const literal =
        pattern.action === 'labeldrop' ? literalAlternatives(pattern.regex.expression) : undefined;
      const explicit = this.#explicitLabels();
      const labels = literal?.filter(
        (label) => needsLabel(need, label) && label !== '__name__' && !explicit.includes(label),
      );
      if (labels !== undefined && labels.length === 0) continue;
      const what =
        labels === undefined
          ? `labels ${pattern.action === 'labeldrop' ? 'matching' : 'not matching'} ${JSON.stringify(pattern.regex.expression)}`
          : `label ${labels.join(', ')}`;
      this.add({
        verdict: 'changed',
        metric: name,
        label: labels?.join(', '),
        rule: pattern.rule,
        reason: `${pattern.rule} removes ${what} wherever present, and ${keeps}`,
      });
    }
    for (const [label, rule] of outcome.writtenLabels) {
      if (!needsLabel(need, label) || this.#explicitLabels().includes(label)) continue;
      this.add({
        verdict: 'changed',
        metric: name,
        label,
        rule,
        reason: `${rule} sets label ${label}, and ${keeps}`,
      });
    }
    for (const rule of outcome.addedLabelRules) {
      this.add({
        verdict: 'changed',
        metric: name,
        label: undefined,
        rule,
        reason: `${rule} (labelmap) may add labels, and ${keeps}`,
      });
    }
  }

  #aggregationFindings(inputName: string | undefined, outcome: RelabelOutcome): void {
    const rules = this.pipeline.aggregations ?? [];
    if (rules.length === 0) return;
    // Aggregation rules see the series after relabeling.
    const name = outcome.metricName;
    const metric = this.#metricText(inputName);
    const pinned = new Map(outcome.pinned);
    for (const label of outcome.removedLabels.keys()) pinned.set(label, '');
    const states = rules.map((rule) => ruleMatch(rule, name, pinned));
    const matching = rules.flatMap((rule, index) =>
      states[index] === 'yes' ? [{ rule, index }] : [],
    );
    const maybe = rules.flatMap((rule, index) =>
      states[index] === 'maybe' ? [{ rule, index }] : [],
    );
    const dropInputRule = rules.findIndex((rule) => rule.dropInput === true);
    const blocking = matching.find(({ rule }) => !rule.keepInput);
    const keptByKeepInput = matching.some(({ rule }) => rule.keepInput);
    let rawGoneBecause: string | undefined;
    let rawGoneRule = '';
    if (blocking !== undefined) {
      const outputs = blocking.rule.outputs
        .map((output) => aggregationOutputName(blocking.rule, name ?? metric, output))
        .join(', ');
      rawGoneRule = `aggregations[${blocking.index}]`;
      rawGoneBecause = `${metric} is aggregated by ${rawGoneRule} (${describeGrouping(blocking.rule)}) into ${outputs}; its raw series are no longer forwarded`;
    } else if (dropInputRule >= 0 && !keptByKeepInput) {
      rawGoneRule = `aggregations[${dropInputRule}]`;
      if (maybe.some(({ rule }) => rule.keepInput)) {
        this.add({
          verdict: 'changed',
          metric: inputName,
          label: undefined,
          rule: rawGoneRule,
          reason: `${metric} is forwarded only where a keep_input rule matches, which depends on label values (drop_input on ${rawGoneRule})`,
        });
        return;
      }
      rawGoneBecause = `${metric} is not forwarded: drop_input on ${rawGoneRule} forwards only aggregation outputs and keep_input series`;
    }
    if (rawGoneBecause === undefined) {
      for (const { rule, index } of maybe) {
        this.add({
          verdict: 'changed',
          metric: inputName,
          label: undefined,
          rule: `aggregations[${index}]`,
          reason:
            inputName === undefined
              ? `aggregations[${index}] (match ${rule.match.map((s) => s.text).join(', ')}) may aggregate series that ${this.#selector.text} reads`
              : `aggregations[${index}] may aggregate some series of ${metric}: its match ${rule.match.map((s) => s.text).join(', ')} depends on label values the query does not fix`,
        });
      }
      for (const { rule, index } of matching) {
        if (!rule.keepMetricNames) continue;
        this.add({
          verdict: 'changed',
          metric: inputName,
          label: undefined,
          rule: `aggregations[${index}]`,
          reason: `aggregations[${index}] writes its ${rule.outputs[0]} output under the same name beside the raw series of ${metric} (keep_input with keep_metric_names)`,
        });
      }
      return;
    }
    const keepName = matching.filter(({ rule }) => rule.keepMetricNames);
    if (keepName.length === 0) {
      this.add({
        verdict: 'broken',
        metric: inputName,
        label: undefined,
        rule: rawGoneRule,
        reason: rawGoneBecause,
      });
      return;
    }
    if (keepName.length > 1) {
      this.add({
        verdict: 'changed',
        metric: inputName,
        label: undefined,
        rule: `aggregations[${keepName[0]!.index}]`,
        reason: `${keepName.length} rules (${keepName.map(({ index }) => `aggregations[${index}]`).join(', ')}) write outputs under the name of ${metric}`,
      });
    }
    for (const { rule, index } of keepName) this.#keptNameFindings(inputName, rule, index);
  }

  /** The query reads the outputs of `rule`, which keep the metric's name. */
  #keptNameFindings(name: string | undefined, rule: AggregationRule, index: number): void {
    const metric = this.#metricText(name);
    const path = `aggregations[${index}]`;
    const selector = this.#selector;
    const lost = labelsLostByRule(rule, selector.needs, this.#explicitLabels());
    for (const label of lost) {
      this.add({
        verdict: 'broken',
        metric: name,
        label: label === '*' ? undefined : label,
        rule: path,
        reason:
          label === '*'
            ? `the query keeps ${describeNeed(selector.needs)} of ${metric}, and ${path} aggregates it ${describeGrouping(rule)}`
            : `label ${label}, which the query ${this.#role(label)}, is aggregated away from ${metric} by ${path} (${describeGrouping(rule)})`,
      });
    }
    if (lost.length > 0) return;
    if (ruleMergesSeries(rule)) this.#templatedLabelFinding(name, path, 'aggregates away');
    const change = reducerChange(
      selector.reducer,
      selector.applied,
      rule.outputs[0]!,
      ruleMergesSeries(rule),
    );
    if (change !== undefined) {
      this.add({
        verdict: 'changed',
        metric: name,
        label: undefined,
        rule: path,
        reason: `${metric} is aggregated by ${path} (${describeGrouping(rule)}, ${rule.outputs[0]}, same name): ${change}`,
      });
    }
    for (const [list, scope] of [
      [rule.inputRelabelConfigs, `${path}.input_relabel_configs`],
      [rule.outputRelabelConfigs, `${path}.output_relabel_configs`],
    ] as const) {
      if (list === undefined) continue;
      const pinned = new Map<string, string>();
      for (const matcher of selector.labelMatchers) {
        if (matcher.op === '=' && !matcher.templated) pinned.set(matcher.name, matcher.value);
      }
      const outcome = evaluateRelabelStatically(list, scope, { metricName: name, pinned });
      this.#relabelFindings(name, outcome);
    }
  }
}

/** A label name that is a Grafana template variable (`$group`, `${group}`, `[[group]]`). */
function isTemplated(label: string): boolean {
  return label.startsWith('$') || label.startsWith('[[');
}

/**
 * Whether `rule` selects the series of metric `name` (undefined: unknown) with the label
 * values `pinned` (`''`: absent); `maybe` when it depends on values not known.
 */
export function ruleMatch(
  rule: AggregationRule,
  name: string | undefined,
  pinned: ReadonlyMap<string, string>,
): MatchState {
  let result: MatchState = 'no';
  for (const selector of rule.match) {
    let state: MatchState = 'yes';
    for (const matcher of selector.matchers) {
      const value = matcher.name === '__name__' ? name : pinned.get(matcher.name);
      if (value === undefined) {
        state = 'maybe';
        continue;
      }
      if (!matcherMatches(matcher, value)) {
        state = 'no';
        break;
      }
    }
    if (state === 'yes') return 'yes';
    if (state === 'maybe') result = 'maybe';
  }
  return result;
}
