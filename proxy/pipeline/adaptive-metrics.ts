/**
 * Grafana Adaptive Metrics recommendations (`rules.json`) as Phoenix pipeline rules, so an
 * exported rule set applies as it is: each aggregating rule becomes an aggregation rule,
 * each `drop` rule a relabel `drop`.
 */
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { type AggregationRule, parseAggregationRule } from './aggregation-config.js';
import type { PipelineConfig, RelabelRule } from './config.js';
import { ConfigError } from './config-error.js';

/** Adaptive Metrics aggregation names → Phoenix outputs. */
const AGGREGATION_OUTPUTS: Readonly<Record<string, string>> = {
  sum: 'sum_samples',
  count: 'count_samples',
  min: 'min',
  max: 'max',
  'sum:counter': 'total',
};

const RULE_KEYS = [
  'metric',
  'match_type',
  'drop_labels',
  'keep_labels',
  'aggregations',
  'drop',
  'aggregation_interval',
  'aggregation_delay',
] as const;

/** True when `value` looks like an Adaptive Metrics rule list (every entry has `metric`). */
export function isAdaptiveMetricsRules(value: unknown): boolean {
  const list = rulesOf(value);
  return (
    Array.isArray(list) &&
    list.length > 0 &&
    list.every((rule) => typeof rule === 'object' && rule !== null && 'metric' in rule)
  );
}

/** The rule list: the document itself, or its `rules` field (the API's export shape). */
function rulesOf(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'rules' in value) {
    return (value as { rules: unknown }).rules;
  }
  return value;
}

function escapeRegex(text: string): string {
  return text.replace(/[\\.^$|?*+()[\]{}]/g, '\\$&');
}

/** The config key that references a rules.json file from `phoenix.yaml`. */
export const ADAPTIVE_METRICS_RULES_KEY = 'adaptive_metrics_rules';

/**
 * Reads the rules.json that `adaptive_metrics_rules: <file>` references, resolved against
 * `configDir` (the directory of the config file). Errors are reported on the key of the
 * config, with the file and the rule inside it: `phoenix.yaml: adaptive_metrics_rules:
 * rules.json: rules[2].aggregations: unknown aggregation "avg" ...`.
 */
export function readAdaptiveMetricsRulesFile(
  reference: unknown,
  configDir: string | undefined,
  sourceName: string,
): PipelineConfig {
  const fail = (reason: string): never => {
    throw new ConfigError(sourceName, ADAPTIVE_METRICS_RULES_KEY, reason);
  };
  if (typeof reference !== 'string' || reference === '') {
    return fail('expected the path of a Grafana Adaptive Metrics rules.json file');
  }
  if (configDir === undefined) {
    // Text from the control plane has no directory, and the proxies it reaches may not
    // have the file: the rules must be inline (aggregations:) there.
    return fail(`${reference}: a rules file can only be referenced from a config file`);
  }
  const file = resolve(configDir, reference);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return fail(`cannot read ${reference}: ${reason}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return fail(`${reference}: invalid JSON: ${reason}`);
  }
  if (!isAdaptiveMetricsRules(document)) {
    return fail(`${reference}: expected a list of Adaptive Metrics rules (each with a metric)`);
  }
  try {
    return parseAdaptiveMetricsRules(document, basename(file));
  } catch (error) {
    if (error instanceof ConfigError) return fail(error.message);
    throw error;
  }
}

/** Converts a rules.json document; errors name the rule as `rules[i].field`. */
export function parseAdaptiveMetricsRules(value: unknown, sourceName: string): PipelineConfig {
  const list = rulesOf(value);
  if (!Array.isArray(list)) throw new ConfigError(sourceName, '', 'expected a list of rules');
  const relabelConfigs: RelabelRule[] = [];
  const aggregations: AggregationRule[] = [];
  list.forEach((item, index) => {
    const path = `rules[${index}]`;
    const rule = item as Record<string, unknown>;
    for (const key of Object.keys(rule)) {
      if (!(RULE_KEYS as readonly string[]).includes(key)) {
        throw new ConfigError(sourceName, `${path}.${key}`, `unknown key ${JSON.stringify(key)}`);
      }
    }
    if (typeof rule.metric !== 'string' || rule.metric === '') {
      throw new ConfigError(sourceName, `${path}.metric`, 'required: a metric name');
    }
    const matchType = rule.match_type ?? 'exact';
    const escaped = escapeRegex(rule.metric);
    let regex: string;
    if (matchType === 'exact') regex = escaped;
    else if (matchType === 'prefix') regex = `${escaped}.*`;
    else if (matchType === 'suffix') regex = `.*${escaped}`;
    else {
      throw new ConfigError(
        sourceName,
        `${path}.match_type`,
        `unknown match_type ${JSON.stringify(matchType)}`,
      );
    }
    if (rule.drop === true) {
      relabelConfigs.push({
        action: 'drop',
        sourceLabels: ['__name__'],
        separator: ';',
        regex,
        targetLabel: '',
        replacement: '$1',
        modulus: 0n,
      });
      return;
    }
    const names = rule.aggregations ?? [];
    if (!Array.isArray(names)) {
      throw new ConfigError(sourceName, `${path}.aggregations`, 'expected a list');
    }
    if (names.length === 0) return;
    const outputs = names.map((name) => {
      const output = typeof name === 'string' ? AGGREGATION_OUTPUTS[name] : undefined;
      if (output === undefined) {
        throw new ConfigError(
          sourceName,
          `${path}.aggregations`,
          `unknown aggregation ${JSON.stringify(name)} (known: ${Object.keys(AGGREGATION_OUTPUTS).join(', ')})`,
        );
      }
      return output;
    });
    if (rule.drop_labels !== undefined && rule.keep_labels !== undefined) {
      throw new ConfigError(
        sourceName,
        path,
        '`drop_labels` and `keep_labels` cannot be used together',
      );
    }
    const aggregation = {
      match: `{__name__=~${JSON.stringify(regex)}}`,
      interval: rule.aggregation_interval ?? '1m',
      ...(rule.keep_labels === undefined
        ? { without: rule.drop_labels ?? [] }
        : { by: rule.keep_labels }),
      outputs,
      // Adaptive Metrics keeps the metric name for a single aggregation.
      keep_metric_names: outputs.length === 1,
    };
    aggregations.push(parseAggregationRule(aggregation, sourceName, path));
  });
  return aggregations.length > 0 ? { relabelConfigs, aggregations } : { relabelConfigs };
}
