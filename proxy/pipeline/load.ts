/**
 * Reads a pipeline config (`phoenix.yaml`, or JSON, which is YAML too) into a validated
 * {@link PipelineConfig}, with Prometheus 2.42's parsing and validation of `relabel_configs`,
 * so a `write_relabel_configs` block that Prometheus accepts loads unchanged and one it
 * rejects is rejected here with the same reason, plus the config path of the field.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Scalar,
  type YAMLMap,
  type Node as YamlNode,
} from 'yaml';
import {
  ADAPTIVE_METRICS_RULES_KEY,
  isAdaptiveMetricsRules,
  parseAdaptiveMetricsRules,
  readAdaptiveMetricsRulesFile,
} from './adaptive-metrics.js';
import { parseAggregationRules } from './aggregation-config.js';
import { compileRegex, isValidLabelName } from './compile.js';
import {
  DEFAULT_RELABEL_RULE,
  PIPELINE_CONFIG_KEYS,
  type PipelineConfig,
  RELABEL_ACTIONS,
  RELABEL_CONFIG_KEYS,
  type RelabelAction,
  type RelabelRule,
} from './config.js';
import { ConfigError } from './config-error.js';
import { Re2SyntaxError } from './re2.js';

/** Reads and validates the pipeline config at `path`; errors name the file by its base name. */
export async function loadPipelineConfig(path: string): Promise<PipelineConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(basename(path), '', `cannot read the config file: ${reason}`);
  }
  return parsePipelineConfig(text, basename(path), { configDir: dirname(path) });
}

/** Options of {@link parsePipelineConfig}. */
export interface ParsePipelineOptions {
  /**
   * Directory of the config file, against which `adaptive_metrics_rules` resolves. Absent
   * for config text that has no file (from the control plane): the key is refused then.
   */
  readonly configDir?: string;
}

/**
 * Parses and validates a pipeline config. `sourceName` labels errors (`phoenix.yaml: ...`).
 * An empty document, or `{}`, is an empty pipeline.
 */
export function parsePipelineConfig(
  text: string,
  sourceName: string,
  options: ParsePipelineOptions = {},
): PipelineConfig {
  const lineCounter = new LineCounter();
  // YAML 1.1 and big integers: the integer forms Go's yaml.v2 reads (Prometheus' parser),
  // and a uint64 modulus without loss.
  const documents = parseAllDocuments(text, {
    lineCounter,
    version: '1.1',
    intAsBigInt: true,
    uniqueKeys: true,
    prettyErrors: false,
  });
  const list = Array.isArray(documents) ? documents : [];
  for (const document of list) {
    const error = document.errors[0];
    if (error !== undefined) {
      const position = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
      throw new ConfigError(sourceName, '', `invalid YAML: ${error.message}`, {
        line: position.line,
        column: position.col,
      });
    }
  }
  if (list.length > 1) {
    const position = lineCounter.linePos(list[1]!.range[0]);
    throw new ConfigError(sourceName, '', 'expected one YAML document, found several', {
      line: position.line,
      column: position.col,
    });
  }
  const reader = new NodeReader(sourceName, lineCounter);
  const root = list[0]?.contents ?? null;
  if (root === null || isNullScalar(root)) return { relabelConfigs: [] };
  // A Grafana Adaptive Metrics rules.json is accepted as it is.
  const plain: unknown = root.toJSON();
  if (isAdaptiveMetricsRules(plain)) return parseAdaptiveMetricsRules(plain, sourceName);
  if (!isMap(root)) throw reader.error('', root, 'expected a mapping at the top level');
  reader.checkKeys(root, '', PIPELINE_CONFIG_KEYS);
  const aggregationsNode = root.get('aggregations', true) as YamlNode | undefined;
  // toJS, not toJSON: toJSON turns big integers (a relabel modulus) into lossy numbers.
  const aggregations = parseAggregationRules(aggregationsNode?.toJS(list[0]!), sourceName);
  // Adaptive Metrics rules from a referenced rules.json follow the inline ones.
  const referenced = root.has(ADAPTIVE_METRICS_RULES_KEY)
    ? readAdaptiveMetricsRulesFile(
        root.get(ADAPTIVE_METRICS_RULES_KEY),
        options.configDir,
        sourceName,
      )
    : { relabelConfigs: [] };
  aggregations.push(...(referenced.aggregations ?? []));
  if (aggregations.length > 64) {
    throw new ConfigError(
      sourceName,
      ADAPTIVE_METRICS_RULES_KEY,
      `at most 64 aggregation rules, found ${aggregations.length} with those of aggregations:`,
    );
  }
  const rulesNode = root.get('relabel_configs', true) as YamlNode | undefined;
  let relabelConfigs: RelabelRule[] = [];
  if (rulesNode !== undefined && !isNullScalar(rulesNode)) {
    if (!isSeq(rulesNode)) {
      throw reader.error('relabel_configs', rulesNode, 'expected a list of relabel configs');
    }
    relabelConfigs = rulesNode.items.map((item, index) =>
      reader.relabelRule(item as YamlNode, `relabel_configs[${index}]`),
    );
  }
  relabelConfigs.push(...referenced.relabelConfigs);
  return aggregations.length > 0 ? { relabelConfigs, aggregations } : { relabelConfigs };
}

function isNullScalar(node: unknown): boolean {
  return isScalar(node) && node.value === null;
}

/** The fields of one rule as read, before Prometheus' defaults and checks. */
interface RuleFields {
  action: string | null;
  sourceLabels: string[] | null;
  separator: string | null;
  regex: string | null;
  targetLabel: string | null;
  replacement: string | null;
  modulus: bigint | null;
}

class NodeReader {
  constructor(
    private readonly sourceName: string,
    private readonly lineCounter: LineCounter,
  ) {}

  error(path: string, node: YamlNode | undefined, reason: string): ConfigError {
    const offset = node?.range?.[0];
    if (offset === undefined) return new ConfigError(this.sourceName, path, reason);
    const position = this.lineCounter.linePos(offset);
    return new ConfigError(this.sourceName, path, reason, {
      line: position.line,
      column: position.col,
    });
  }

  checkKeys(map: YAMLMap, path: string, known: readonly string[]): void {
    for (const pair of map.items) {
      const keyNode = pair.key as YamlNode;
      const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
      const keyPath = path === '' ? (key ?? '') : `${path}.${key}`;
      if (key === undefined || !known.includes(key)) {
        throw this.error(
          keyPath,
          keyNode,
          `unknown key ${JSON.stringify(key ?? '?')} (known keys: ${known.join(', ')})`,
        );
      }
    }
  }

  /** One `relabel_configs` entry, parsed and validated as Prometheus 2.42 does. */
  relabelRule(node: YamlNode, path: string): RelabelRule {
    if (!isMap(node)) throw this.error(path, node, 'expected a mapping (one relabel config)');
    this.checkKeys(node, path, RELABEL_CONFIG_KEYS);
    const field = (key: string): YamlNode | undefined =>
      node.get(key, true) as YamlNode | undefined;
    const fields: RuleFields = {
      action: this.optionalString(field('action'), `${path}.action`),
      sourceLabels: this.sourceLabels(field('source_labels'), `${path}.source_labels`),
      separator: this.optionalString(field('separator'), `${path}.separator`),
      regex: this.optionalString(field('regex'), `${path}.regex`),
      targetLabel: this.optionalString(field('target_label'), `${path}.target_label`),
      replacement: this.optionalString(field('replacement'), `${path}.replacement`),
      modulus: this.modulus(field('modulus'), `${path}.modulus`),
    };
    return validateRule(fields, node, path, this, field);
  }

  /**
   * A string field: undefined when absent; null when present but null (Go's yaml.v2 then
   * sets the zero value, overriding the default). Any scalar counts, by its source text,
   * as yaml.v2 reads `replacement: 1` as "1".
   */
  optionalString(node: YamlNode | undefined, path: string): string | null {
    if (node === undefined) return null;
    if (!isScalar(node)) throw this.error(path, node, 'expected a string');
    if (node.value === null) return '';
    return scalarText(node);
  }

  sourceLabels(node: YamlNode | undefined, path: string): string[] | null {
    if (node === undefined || isNullScalar(node)) return null;
    if (!isSeq(node)) throw this.error(path, node, 'expected a list of label names');
    return node.items.map((item, index) => {
      const itemPath = `${path}[${index}]`;
      const itemNode = item as YamlNode;
      if (!isScalar(itemNode)) throw this.error(itemPath, itemNode, 'expected a label name');
      // yaml.v2 leaves a null item as the zero value without validating it.
      if (itemNode.value === null) return '';
      const name = scalarText(itemNode);
      if (!isValidLabelName(name)) {
        throw this.error(itemPath, itemNode, `${JSON.stringify(name)} is not a valid label name`);
      }
      return name;
    });
  }

  modulus(node: YamlNode | undefined, path: string): bigint | null {
    if (node === undefined) return null;
    if (!isScalar(node)) throw this.error(path, node, 'expected an unsigned integer');
    if (node.value === null) return 0n;
    const value = node.value;
    if (typeof value === 'bigint' && value >= 0n && value <= UINT64_MAX) return value;
    // yaml.v2 converts a float to uint64 by truncation (`modulus: 2.5` is 2).
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value < 2 ** 64) {
      return BigInt(Math.trunc(value));
    }
    throw this.error(
      path,
      node,
      `cannot unmarshal ${JSON.stringify(scalarText(node))} into an unsigned 64-bit integer`,
    );
  }
}

function scalarText(node: Scalar): string {
  if (node.type === 'PLAIN' && typeof node.source === 'string') return node.source;
  return String(node.value);
}

/** Applies `DefaultRelabelConfig` and runs `Config.Validate` of Prometheus 2.42, in order. */
function validateRule(
  fields: RuleFields,
  node: YAMLMap,
  path: string,
  reader: NodeReader,
  field: (key: string) => YamlNode | undefined,
): RelabelRule {
  const fail = (key: string | undefined, reason: string): ConfigError =>
    reader.error(
      key === undefined ? path : `${path}.${key}`,
      key === undefined ? node : (field(key) ?? node),
      reason,
    );

  let action: RelabelAction | '' = DEFAULT_RELABEL_RULE.action;
  if (fields.action !== null) {
    const lower = fields.action.toLowerCase();
    const known = RELABEL_ACTIONS.find((name) => name === lower);
    if (known !== undefined) action = known;
    else if (field('action') !== undefined && isNullScalar(field('action'))) action = '';
    else throw fail('action', `unknown relabel action ${JSON.stringify(fields.action)}`);
  }
  const regex = fields.regex ?? DEFAULT_RELABEL_RULE.regex;
  try {
    compileRegex(regex);
  } catch (error) {
    if (!(error instanceof Re2SyntaxError)) throw error;
    throw fail(
      'regex',
      `invalid regex ${JSON.stringify(regex)}: ${describeRegexError(error, regex)}`,
    );
  }
  const separator = fields.separator ?? DEFAULT_RELABEL_RULE.separator;
  const targetLabel = fields.targetLabel ?? '';
  const replacement = fields.replacement ?? DEFAULT_RELABEL_RULE.replacement;
  const modulus = fields.modulus ?? 0n;
  const sourceLabels = fields.sourceLabels ?? [];

  if (action === '') throw fail('action', 'relabel action cannot be empty');
  if (modulus === 0n && action === 'hashmod') {
    throw fail('modulus', 'relabel configuration for hashmod requires non-zero modulus');
  }
  const writesTarget = ['replace', 'hashmod', 'lowercase', 'uppercase', 'keepequal', 'dropequal'];
  if (writesTarget.includes(action) && targetLabel === '') {
    throw fail(
      'target_label',
      `relabel configuration for ${action} action requires 'target_label' value`,
    );
  }
  const invalidTarget = `${JSON.stringify(targetLabel)} is invalid 'target_label' for ${action} action`;
  if (action === 'replace' && !targetLabel.includes('$') && !isValidLabelName(targetLabel)) {
    throw fail('target_label', invalidTarget);
  }
  if (action === 'replace' && targetLabel.includes('$') && !RELABEL_TARGET.test(targetLabel)) {
    throw fail('target_label', invalidTarget);
  }
  const equalOrCase = ['lowercase', 'uppercase', 'keepequal', 'dropequal'].includes(action);
  // 2.42 checks these against the `$`-reference pattern, not as plain label names, so it
  // accepts `target_label: ${1}` here and then uses it literally. Later releases reject it.
  if (equalOrCase && !RELABEL_TARGET.test(targetLabel)) throw fail('target_label', invalidTarget);
  if (equalOrCase && replacement !== DEFAULT_RELABEL_RULE.replacement) {
    throw fail('replacement', `'replacement' can not be set for ${action} action`);
  }
  if (action === 'labelmap' && !RELABEL_TARGET.test(replacement)) {
    throw fail(
      'replacement',
      `${JSON.stringify(replacement)} is invalid 'replacement' for ${action} action`,
    );
  }
  if (action === 'hashmod' && !isValidLabelName(targetLabel)) {
    throw fail('target_label', invalidTarget);
  }
  if (action === 'keepequal' || action === 'dropequal') {
    // Prometheus compares the parsed regex object with the default one, so any regex given
    // explicitly, even `(.*)`, counts as set.
    if (
      fields.regex !== null ||
      modulus !== 0n ||
      separator !== DEFAULT_RELABEL_RULE.separator ||
      replacement !== DEFAULT_RELABEL_RULE.replacement
    ) {
      throw fail(
        undefined,
        `${action} action requires only 'source_labels' and \`target_label\`, and no other fields`,
      );
    }
  }
  if (action === 'labeldrop' || action === 'labelkeep') {
    if (
      fields.sourceLabels !== null ||
      targetLabel !== '' ||
      modulus !== 0n ||
      separator !== DEFAULT_RELABEL_RULE.separator ||
      replacement !== DEFAULT_RELABEL_RULE.replacement
    ) {
      throw fail(undefined, `${action} action requires only 'regex', and no other fields`);
    }
  }
  return {
    action,
    sourceLabels,
    separator,
    regex,
    targetLabel,
    replacement,
    modulus: action === 'hashmod' ? modulus : 0n,
  };
}

const UINT64_MAX = 0xffffffffffffffffn;

/** Prometheus' `relabelTarget`: a label name that may hold `$1`/`${name}` references. */
const RELABEL_TARGET = /^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$/;

/** Go's message for the expression, written against the user's text, not the anchored one. */
function describeRegexError(error: Re2SyntaxError, expression: string): string {
  const anchored = `^(?:${expression})$`;
  if (error.expr === anchored || error.expr === '') return error.code;
  const expr =
    error.expr.endsWith(')$') && anchored.endsWith(error.expr)
      ? error.expr.slice(0, -2)
      : error.expr;
  return `${error.code}: \`${expr}\``;
}
