/**
 * Types of a Phoenix pipeline config (`phoenix.yaml`).
 *
 * `relabel_configs` has exactly the YAML shape of Prometheus' `write_relabel_configs`, so an
 * operator can paste theirs. {@link RelabelConfig} is that shape as written; {@link RelabelRule}
 * is one rule after Prometheus' defaults are applied and validation passed, which is what the
 * rest of the system works with.
 */

import type { AggregationRule } from './aggregation-config.js';

/** Every relabel action Prometheus 2.42 knows, in lower case (the YAML accepts any case). */
export const RELABEL_ACTIONS = [
  'replace',
  'keep',
  'drop',
  'hashmod',
  'labelmap',
  'labeldrop',
  'labelkeep',
  'keepequal',
  'dropequal',
  'lowercase',
  'uppercase',
] as const;

export type RelabelAction = (typeof RELABEL_ACTIONS)[number];

/** One `relabel_configs` entry as written in YAML or JSON; every field is optional there. */
export interface RelabelConfig {
  source_labels?: string[];
  separator?: string;
  regex?: string;
  target_label?: string;
  replacement?: string;
  /** A uint64; a bigint when it does not fit a double exactly. */
  modulus?: number | bigint;
  action?: string;
}

/** The keys a `relabel_configs` entry may have; any other key is an error. */
export const RELABEL_CONFIG_KEYS = [
  'source_labels',
  'separator',
  'regex',
  'target_label',
  'replacement',
  'modulus',
  'action',
] as const;

/** Prometheus' defaults for a rule's omitted fields (`DefaultRelabelConfig`). */
export const DEFAULT_RELABEL_RULE = {
  action: 'replace',
  separator: ';',
  regex: '(.*)',
  replacement: '$1',
} as const;

/** A validated rule with defaults applied. */
export interface RelabelRule {
  readonly action: RelabelAction;
  /** Label names whose values are joined with {@link separator}; missing labels count as ''. */
  readonly sourceLabels: readonly string[];
  readonly separator: string;
  /** The expression as written (RE2 syntax), before Prometheus anchors it. */
  readonly regex: string;
  /** The label a rule writes or compares; may hold `$1`-style references for `replace`. */
  readonly targetLabel: string;
  readonly replacement: string;
  /** hashmod's modulus, a uint64; 0 for every other action. */
  readonly modulus: bigint;
}

/** A whole pipeline config. An empty document is a valid pipeline that changes nothing. */
export interface PipelineConfig {
  readonly relabelConfigs: readonly RelabelRule[];
  /** Stream aggregation rules (`aggregations:`), applied to the relabeled series. */
  readonly aggregations?: readonly AggregationRule[];
}

/** The top-level keys a pipeline config may have; any other key is an error. */
export const PIPELINE_CONFIG_KEYS = [
  'relabel_configs',
  'aggregations',
  'adaptive_metrics_rules',
] as const;
