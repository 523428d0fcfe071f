/**
 * Stream aggregation rules (`aggregations:` in `phoenix.yaml`) in vmagent's shape, parsed
 * and validated into {@link AggregationRule}s. Every refusal names the rule's config path.
 */

import { parseRuleRelabelConfigs } from './aggregation-relabel.js';
import { isValidLabelName } from './compile.js';
import type { RelabelRule } from './config.js';
import { ConfigError } from './config-error.js';
import { parseSeriesSelector, SelectorSyntaxError, type SeriesSelector } from './selector.js';

/**
 * Outputs in the order of the module's output kinds (`OUT_*` in wasm/ABI.md): the index
 * of a name here is its kind.
 */
export const AGGREGATION_OUTPUTS = [
  'total',
  'total_prometheus',
  'increase',
  'increase_prometheus',
  'sum_samples',
  'count_samples',
  'count_series',
  'last',
  'min',
  'max',
  'avg',
  'rate_sum',
  'rate_avg',
  'histogram_bucket',
] as const;

/**
 * An output of a rule: one of {@link AGGREGATION_OUTPUTS}, or `quantiles`, written
 * `quantiles(0.5, 0.99)` in the config; its φ values are in {@link AggregationRule.quantiles}.
 */
export type AggregationOutput = (typeof AGGREGATION_OUTPUTS)[number] | 'quantiles';

/** Every output in the module's kind order: `quantiles` is kind 14 (`OUT_QUANTILES`). */
export const AGGREGATION_OUTPUT_KINDS: readonly AggregationOutput[] = [
  ...AGGREGATION_OUTPUTS,
  'quantiles',
];

/** Most φ values in one `quantiles(...)` output (the module's `MAX_QUANTILES`). */
export const MAX_QUANTILES = 16;

/** The keys an aggregation rule may have. */
export const AGGREGATION_RULE_KEYS = [
  'match',
  'interval',
  'by',
  'without',
  'outputs',
  'staleness_interval',
  'keep_metric_names',
  'drop_input_labels',
  'flush_on_shutdown',
  'keep_input',
  'drop_input',
  'ignore_first_intervals',
  'dedup_interval',
  'input_relabel_configs',
  'output_relabel_configs',
] as const;

/** A validated aggregation rule. */
export interface AggregationRule {
  /** Series selected by any of these are aggregated by this rule. */
  readonly match: readonly SeriesSelector[];
  /** The interval as written (`1m`): it is part of the output names. */
  readonly interval: string;
  readonly intervalMs: number;
  /** Group by these labels only; `undefined` when `without` (or neither) is used. */
  readonly by: readonly string[] | undefined;
  /** Group by every label but these; `[]` when neither `by` nor `without` is given. */
  readonly without: readonly string[];
  readonly outputs: readonly AggregationOutput[];
  /** φ values of the `quantiles(...)` output, in the order written; absent without it. */
  readonly quantiles?: readonly number[];
  /**
   * Only the last sample (greatest timestamp, then greatest value) of each input series in
   * each dedup interval is aggregated. Absent: every sample is.
   */
  readonly dedupIntervalMs?: number;
  /** An input series with no sample for this long is forgotten. Default 2 × interval. */
  readonly stalenessIntervalMs: number;
  /** Outputs keep the input metric name (only with one output). */
  readonly keepMetricNames: boolean;
  /** Labels removed from input series before grouping. */
  readonly dropInputLabels: readonly string[];
  /** Flush the open window when Phoenix shuts down. Default true. */
  readonly flushOnShutdown: boolean;
  /** Windows after start whose output is not written (state still builds up). Default 0. */
  readonly ignoreFirstIntervals: number;
  /** Whether matched raw series are forwarded too. Default false, as in vmagent. */
  readonly keepInput: boolean;
  /**
   * vmagent's `-streamAggr.dropInput`: series that no aggregation rule matches are not
   * forwarded. Set on any rule, it applies to the whole proxy. Absent: false.
   */
  readonly dropInput?: boolean;
  /**
   * Relabel rules applied to each matched input series before it is grouped (once per
   * distinct series); a series they drop is not aggregated by this rule. Absent: none.
   */
  readonly inputRelabelConfigs?: readonly RelabelRule[];
  /** Relabel rules applied to every output series of a flush before it is written. */
  readonly outputRelabelConfigs?: readonly RelabelRule[];
}

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/gy;
const DURATION_UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** Parses a Prometheus duration (`30s`, `1m30s`, `1.5m`) to milliseconds; NaN when invalid. */
export function parseDurationMs(text: string): number {
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let part = DURATION_PART.exec(text); part !== null; part = DURATION_PART.exec(text)) {
    total += Number(part[1]) * DURATION_UNIT_MS[part[2]!]!;
    consumed = DURATION_PART.lastIndex;
  }
  return consumed === text.length && text.length > 0 ? total : Number.NaN;
}

/**
 * Validates the `aggregations` value of a config (a list of rule mappings, as plain data).
 * `sourceName` labels errors; `basePath` is the path of the list (`aggregations`).
 */
export function parseAggregationRules(
  value: unknown,
  sourceName: string,
  basePath = 'aggregations',
): AggregationRule[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value))
    throw new ConfigError(sourceName, basePath, 'expected a list of aggregation rules');
  const rules = value.map((item, index) => parseRule(item, sourceName, `${basePath}[${index}]`));
  if (rules.some((rule) => rule.dropInput === true)) {
    // Only the series of keep_input rules are forwarded then, selected by relabel rules,
    // which can express only positive matchers.
    rules.forEach((rule, index) => {
      if (!rule.keepInput) return;
      for (const selector of rule.match) {
        const negative = selector.matchers.find((m) => m.type === '!=' || m.type === '!~');
        if (negative !== undefined) {
          throw new ConfigError(
            sourceName,
            `${basePath}[${index}].match`,
            `selector ${selector.text}: a ${negative.type} matcher cannot select the input kept with drop_input: true (only = and =~ matchers)`,
          );
        }
      }
    });
  }
  if (rules.length > 64) {
    throw new ConfigError(
      sourceName,
      basePath,
      `at most 64 aggregation rules, found ${rules.length}`,
    );
  }
  return rules;
}

/** Validates one aggregation rule (plain data) found at config path `path`. */
export function parseAggregationRule(
  value: unknown,
  sourceName: string,
  path: string,
): AggregationRule {
  return parseRule(value, sourceName, path);
}

function parseRule(value: unknown, sourceName: string, path: string): AggregationRule {
  const fail = (field: string, reason: string): never => {
    throw new ConfigError(sourceName, field === '' ? path : `${path}.${field}`, reason);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('', 'expected a mapping (one aggregation rule)');
  }
  const rule = value as Record<string, unknown>;
  for (const key of Object.keys(rule)) {
    if (!(AGGREGATION_RULE_KEYS as readonly string[]).includes(key)) {
      fail(
        key,
        `unknown key ${JSON.stringify(key)} (known keys: ${AGGREGATION_RULE_KEYS.join(', ')})`,
      );
    }
  }
  const match = parseMatch(rule.match, (reason) => fail('match', reason));
  if (typeof rule.interval !== 'string') return fail('interval', 'required: a duration such as 1m');
  const intervalMs = parseDurationMs(rule.interval);
  if (Number.isNaN(intervalMs))
    return fail('interval', `invalid duration ${JSON.stringify(rule.interval)}`);
  if (intervalMs < 1000) return fail('interval', `interval ${rule.interval} must be at least 1s`);
  if (intervalMs % 1000 !== 0)
    return fail('interval', `interval ${rule.interval} must be whole seconds`);
  if (rule.by !== undefined && rule.without !== undefined) {
    return fail('', '`by` and `without` cannot be used together');
  }
  const by = rule.by === undefined ? undefined : labelList(rule.by, (reason) => fail('by', reason));
  const without =
    rule.without === undefined ? [] : labelList(rule.without, (reason) => fail('without', reason));
  const { outputs, quantiles } = parseOutputs(rule.outputs, (reason) => fail('outputs', reason));
  const keepMetricNames = optionalBoolean(rule.keep_metric_names, false, (r) =>
    fail('keep_metric_names', r),
  );
  if (keepMetricNames && outputs.length > 1) {
    return fail('keep_metric_names', 'keep_metric_names needs exactly one output');
  }
  let stalenessIntervalMs = 2 * intervalMs;
  if (rule.staleness_interval !== undefined) {
    if (typeof rule.staleness_interval !== 'string')
      return fail('staleness_interval', 'expected a duration');
    stalenessIntervalMs = parseDurationMs(rule.staleness_interval);
    if (Number.isNaN(stalenessIntervalMs)) return fail('staleness_interval', 'invalid duration');
    if (stalenessIntervalMs < intervalMs) {
      return fail('staleness_interval', `must be at least the interval (${rule.interval})`);
    }
  }
  let dedupIntervalMs: number | undefined;
  if (rule.dedup_interval !== undefined && rule.dedup_interval !== null) {
    if (typeof rule.dedup_interval !== 'string')
      return fail('dedup_interval', 'expected a duration such as 30s');
    dedupIntervalMs = parseDurationMs(rule.dedup_interval);
    if (Number.isNaN(dedupIntervalMs) || dedupIntervalMs <= 0)
      return fail('dedup_interval', `invalid duration ${JSON.stringify(rule.dedup_interval)}`);
    // As in vmagent: every window holds whole dedup intervals.
    if (dedupIntervalMs > intervalMs || intervalMs % dedupIntervalMs !== 0) {
      return fail(
        'dedup_interval',
        `dedup_interval ${rule.dedup_interval} must divide the interval ${rule.interval}`,
      );
    }
  }
  const keepInput = optionalBoolean(rule.keep_input, false, (r) => fail('keep_input', r));
  const dropInput = optionalBoolean(rule.drop_input, false, (r) => fail('drop_input', r));
  if (!keepInput) {
    // Matched input is dropped by relabel rules, which can express only positive matchers.
    for (const selector of match) {
      const negative = selector.matchers.find((m) => m.type === '!=' || m.type === '!~');
      if (negative !== undefined) {
        return fail(
          'match',
          `selector ${selector.text}: a ${negative.type} matcher needs keep_input: true (matched input can only be dropped for = and =~ matchers)`,
        );
      }
    }
  }
  const ignoreFirstIntervals =
    typeof rule.ignore_first_intervals === 'bigint'
      ? Number(rule.ignore_first_intervals)
      : (rule.ignore_first_intervals ?? 0);
  if (
    typeof ignoreFirstIntervals !== 'number' ||
    !Number.isInteger(ignoreFirstIntervals) ||
    ignoreFirstIntervals < 0
  ) {
    return fail('ignore_first_intervals', 'expected an integer >= 0');
  }
  const inputRelabelConfigs = parseRuleRelabelConfigs(
    rule.input_relabel_configs,
    sourceName,
    `${path}.input_relabel_configs`,
  );
  const outputRelabelConfigs = parseRuleRelabelConfigs(
    rule.output_relabel_configs,
    sourceName,
    `${path}.output_relabel_configs`,
  );
  return {
    match,
    interval: rule.interval,
    intervalMs,
    by,
    without,
    outputs,
    ...(quantiles === undefined ? {} : { quantiles }),
    ...(dedupIntervalMs === undefined ? {} : { dedupIntervalMs }),
    stalenessIntervalMs,
    keepMetricNames,
    dropInputLabels:
      rule.drop_input_labels === undefined
        ? []
        : labelList(rule.drop_input_labels, (reason) => fail('drop_input_labels', reason)),
    flushOnShutdown: optionalBoolean(rule.flush_on_shutdown, true, (r) =>
      fail('flush_on_shutdown', r),
    ),
    ignoreFirstIntervals,
    keepInput,
    ...(dropInput ? { dropInput } : {}),
    ...(inputRelabelConfigs.length > 0 ? { inputRelabelConfigs } : {}),
    ...(outputRelabelConfigs.length > 0 ? { outputRelabelConfigs } : {}),
  };
}

function parseMatch(value: unknown, fail: (reason: string) => never): SeriesSelector[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    return fail('required: a series selector or a list of them');
  }
  return list.map((text, index) => {
    if (typeof text !== 'string') return fail(`entry ${index}: expected a string`);
    try {
      return parseSeriesSelector(text);
    } catch (error) {
      if (error instanceof SelectorSyntaxError) return fail(`invalid selector: ${error.message}`);
      throw error;
    }
  });
}

const QUANTILES_OUTPUT = /^quantiles\((.*)\)$/s;

function parseOutputs(
  value: unknown,
  fail: (reason: string) => never,
): { outputs: AggregationOutput[]; quantiles: number[] | undefined } {
  if (!Array.isArray(value) || value.length === 0)
    return fail('required: a non-empty list of outputs');
  const seen = new Set<string>();
  let quantiles: number[] | undefined;
  for (const output of value) {
    if (typeof output !== 'string') return fail('expected output names');
    const quantileList = QUANTILES_OUTPUT.exec(output.trim());
    if (quantileList !== null) {
      if (quantiles !== undefined) return fail('output quantiles(...) is listed twice');
      quantiles = parsePhis(quantileList[1]!, output, fail);
      seen.add('quantiles');
      continue;
    }
    if (!(AGGREGATION_OUTPUTS as readonly string[]).includes(output)) {
      return fail(
        `unknown output ${JSON.stringify(output)} (known: ${AGGREGATION_OUTPUTS.join(', ')})`,
      );
    }
    if (seen.has(output)) return fail(`output ${output} is listed twice`);
    seen.add(output);
  }
  // The module writes outputs in kind order; keep the list in that order too.
  return {
    outputs: AGGREGATION_OUTPUT_KINDS.filter((output) => seen.has(output)),
    quantiles,
  };
}

function parsePhis(list: string, output: string, fail: (reason: string) => never): number[] {
  const phis: number[] = [];
  for (const part of list.split(',')) {
    const text = part.trim();
    const phi = text === '' ? Number.NaN : Number(text);
    if (!(phi >= 0 && phi <= 1)) {
      return fail(`${output}: ${JSON.stringify(text)} is not a quantile between 0 and 1`);
    }
    if (phis.includes(phi)) return fail(`${output}: quantile ${text} is listed twice`);
    phis.push(phi);
  }
  if (phis.length > MAX_QUANTILES) {
    return fail(`${output}: at most ${MAX_QUANTILES} quantiles, found ${phis.length}`);
  }
  return phis;
}

function labelList(value: unknown, fail: (reason: string) => never): string[] {
  if (!Array.isArray(value)) return fail('expected a list of label names');
  for (const name of value) {
    if (typeof name !== 'string' || !isValidLabelName(name)) {
      return fail(`invalid label name ${JSON.stringify(name)}`);
    }
  }
  return [...new Set(value as string[])].sort();
}

function optionalBoolean(
  value: unknown,
  fallback: boolean,
  fail: (reason: string) => never,
): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') return fail('expected true or false');
  return value;
}
