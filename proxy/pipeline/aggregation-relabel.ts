/**
 * `input_relabel_configs` and `output_relabel_configs` of an aggregation rule: lists of
 * Prometheus relabel configs, validated exactly as the top-level `relabel_configs` are
 * (same parser, same defaults and checks), with errors reported at the rule's path.
 */
import { stringify } from 'yaml';
import type { RelabelRule } from './config.js';
import { ConfigError } from './config-error.js';
import { parsePipelineConfig } from './load.js';

const TOP_LEVEL_KEY = 'relabel_configs';

/**
 * Validates the relabel config list `value` (plain data) found at config path `path`
 * (e.g. `aggregations[0].input_relabel_configs`). `null`/`undefined` mean no rules.
 */
export function parseRuleRelabelConfigs(
  value: unknown,
  sourceName: string,
  path: string,
): RelabelRule[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value))
    throw new ConfigError(sourceName, path, 'expected a list of relabel configs');
  // The list is re-read by the one relabel config parser; only the path of an error
  // changes (line numbers would point into the re-written text, so they are left out).
  try {
    return [
      ...parsePipelineConfig(stringify({ [TOP_LEVEL_KEY]: value }), sourceName).relabelConfigs,
    ];
  } catch (error) {
    if (error instanceof ConfigError && error.path.startsWith(TOP_LEVEL_KEY)) {
      throw new ConfigError(
        sourceName,
        `${path}${error.path.slice(TOP_LEVEL_KEY.length)}`,
        error.reason,
      );
    }
    throw error;
  }
}
