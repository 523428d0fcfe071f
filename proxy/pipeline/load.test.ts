// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${1}` is template syntax here.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { loadPipelineConfig, parsePipelineConfig } from './load.js';

function parseError(text: string): ConfigError {
  try {
    parsePipelineConfig(text, 'phoenix.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for:\n${text}`);
}

/** One rule in flow style, as the only entry of `relabel_configs`. */
function oneRule(rule: string): string {
  return `relabel_configs:\n  - ${rule}\n`;
}

/**
 * [rule, config path, reason]. Each reason with Prometheus wording was checked with
 * `promtool check config` of Prometheus 2.42 on the same rule under `write_relabel_configs`.
 */
const ruleErrors: [string, string, string][] = [
  ['{action: }', 'relabel_configs[0].action', 'relabel action cannot be empty'],
  ['{action: foo}', 'relabel_configs[0].action', 'unknown relabel action "foo"'],
  ["{action: ''}", 'relabel_configs[0].action', 'unknown relabel action ""'],
  ['{action: 1}', 'relabel_configs[0].action', 'unknown relabel action "1"'],
  [
    '{action: hashmod, target_label: x}',
    'relabel_configs[0].modulus',
    'relabel configuration for hashmod requires non-zero modulus',
  ],
  [
    '{action: hashmod, target_label: x, modulus: 0.5}',
    'relabel_configs[0].modulus',
    'relabel configuration for hashmod requires non-zero modulus',
  ],
  [
    '{source_labels: [a]}',
    'relabel_configs[0].target_label',
    "relabel configuration for replace action requires 'target_label' value",
  ],
  [
    '{action: lowercase, source_labels: [a]}',
    'relabel_configs[0].target_label',
    "relabel configuration for lowercase action requires 'target_label' value",
  ],
  [
    '{action: keepequal}',
    'relabel_configs[0].target_label',
    "relabel configuration for keepequal action requires 'target_label' value",
  ],
  [
    "{target_label: '1a'}",
    'relabel_configs[0].target_label',
    `"1a" is invalid 'target_label' for replace action`,
  ],
  [
    "{target_label: 'a b'}",
    'relabel_configs[0].target_label',
    `"a b" is invalid 'target_label' for replace action`,
  ],
  [
    "{target_label: '-${1}'}",
    'relabel_configs[0].target_label',
    `"-\${1}" is invalid 'target_label' for replace action`,
  ],
  [
    "{target_label: '${'}",
    'relabel_configs[0].target_label',
    `"\${" is invalid 'target_label' for replace action`,
  ],
  [
    "{action: lowercase, target_label: '1a'}",
    'relabel_configs[0].target_label',
    `"1a" is invalid 'target_label' for lowercase action`,
  ],
  [
    "{action: uppercase, target_label: 'a-b'}",
    'relabel_configs[0].target_label',
    `"a-b" is invalid 'target_label' for uppercase action`,
  ],
  [
    "{action: keepequal, target_label: '1a'}",
    'relabel_configs[0].target_label',
    `"1a" is invalid 'target_label' for keepequal action`,
  ],
  [
    '{action: lowercase, target_label: a, replacement: x}',
    'relabel_configs[0].replacement',
    "'replacement' can not be set for lowercase action",
  ],
  [
    '{action: keepequal, target_label: a, replacement: x}',
    'relabel_configs[0].replacement',
    "'replacement' can not be set for keepequal action",
  ],
  [
    "{action: labelmap, regex: 'a(.*)', replacement: '-$1'}",
    'relabel_configs[0].replacement',
    `"-$1" is invalid 'replacement' for labelmap action`,
  ],
  [
    "{action: labelmap, regex: a, replacement: ''}",
    'relabel_configs[0].replacement',
    `"" is invalid 'replacement' for labelmap action`,
  ],
  [
    "{action: hashmod, target_label: '1a', modulus: 2}",
    'relabel_configs[0].target_label',
    `"1a" is invalid 'target_label' for hashmod action`,
  ],
  [
    "{action: hashmod, target_label: '$1', modulus: 2}",
    'relabel_configs[0].target_label',
    `"$1" is invalid 'target_label' for hashmod action`,
  ],
  [
    "{action: keepequal, target_label: a, regex: '(.*)'}",
    'relabel_configs[0]',
    "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
  ],
  [
    "{action: keepequal, target_label: a, separator: ','}",
    'relabel_configs[0]',
    "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
  ],
  [
    '{action: dropequal, target_label: a, modulus: 3}',
    'relabel_configs[0]',
    "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
  ],
  [
    '{action: labeldrop, regex: a, source_labels: [a]}',
    'relabel_configs[0]',
    "labeldrop action requires only 'regex', and no other fields",
  ],
  [
    '{action: labeldrop, regex: a, source_labels: []}',
    'relabel_configs[0]',
    "labeldrop action requires only 'regex', and no other fields",
  ],
  [
    '{action: labelkeep, regex: a, target_label: b}',
    'relabel_configs[0]',
    "labelkeep action requires only 'regex', and no other fields",
  ],
  [
    '{action: labeldrop, regex: a, replacement: b}',
    'relabel_configs[0]',
    "labeldrop action requires only 'regex', and no other fields",
  ],
  [
    "{action: labeldrop, regex: a, separator: ','}",
    'relabel_configs[0]',
    "labeldrop action requires only 'regex', and no other fields",
  ],
  [
    "{source_labels: ['a-b'], target_label: x}",
    'relabel_configs[0].source_labels[0]',
    '"a-b" is not a valid label name',
  ],
  [
    "{regex: 'a(b', target_label: x}",
    'relabel_configs[0].regex',
    'invalid regex "a(b": missing closing )',
  ],
  [
    "{regex: 'x)', target_label: x}",
    'relabel_configs[0].regex',
    'invalid regex "x)": unexpected )',
  ],
  [
    "{regex: '(?=x)', target_label: x}",
    'relabel_configs[0].regex',
    'invalid regex "(?=x)": invalid or unsupported Perl syntax: `(?=`',
  ],
  [
    "{regex: '(a)\\1', target_label: x}",
    'relabel_configs[0].regex',
    'invalid regex "(a)\\\\1": invalid escape sequence: `\\1`',
  ],
  [
    "{regex: 'a[b', target_label: x}",
    'relabel_configs[0].regex',
    'invalid regex "a[b": missing closing ]: `[b`',
  ],
  [
    "{regexp: 'a', target_label: x}",
    'relabel_configs[0].regexp',
    'unknown key "regexp" (known keys: source_labels, separator, regex, target_label, replacement, modulus, action)',
  ],
  [
    '{action: hashmod, target_label: x, modulus: -1}',
    'relabel_configs[0].modulus',
    'cannot unmarshal "-1" into an unsigned 64-bit integer',
  ],
  [
    "{action: hashmod, target_label: x, modulus: 'abc'}",
    'relabel_configs[0].modulus',
    'cannot unmarshal "abc" into an unsigned 64-bit integer',
  ],
  [
    '{action: hashmod, target_label: x, modulus: true}',
    'relabel_configs[0].modulus',
    'cannot unmarshal "true" into an unsigned 64-bit integer',
  ],
  [
    '{action: hashmod, target_label: x, modulus: 18446744073709551616}',
    'relabel_configs[0].modulus',
    'cannot unmarshal "18446744073709551616" into an unsigned 64-bit integer',
  ],
  ['{target_label: x, separator: [a]}', 'relabel_configs[0].separator', 'expected a string'],
  ['{regex: [a], target_label: x}', 'relabel_configs[0].regex', 'expected a string'],
  [
    '{source_labels: a, target_label: x}',
    'relabel_configs[0].source_labels',
    'expected a list of label names',
  ],
  ['foo', 'relabel_configs[0]', 'expected a mapping (one relabel config)'],
];

describe('parsePipelineConfig: rule errors', () => {
  it.each(ruleErrors)('%s → %s: %s', (rule, path, reason) => {
    const error = parseError(oneRule(rule));
    expect(error.path).toBe(path);
    expect(error.reason).toBe(reason);
    expect(error.message).toBe(`phoenix.yaml: ${path}: ${reason}`);
    expect(error.line).toBe(2);
  });

  it('names the index of the failing rule', () => {
    const error = parseError(
      'relabel_configs:\n  - {target_label: a}\n  - {target_label: b}\n  - {regex: "a(b", target_label: c}\n',
    );
    expect(error.message).toBe(
      'phoenix.yaml: relabel_configs[2].regex: invalid regex "a(b": missing closing )',
    );
    expect([error.line, error.column]).toEqual([4, 13]);
  });
});

describe('parsePipelineConfig: document errors', () => {
  it.each([
    [
      'aggregation: []\n',
      'aggregation',
      'unknown key "aggregation" (known keys: relabel_configs, aggregations, adaptive_metrics_rules)',
    ],
    ['- a\n', '', 'expected a mapping at the top level'],
    ['relabel_configs: {a: 1}\n', 'relabel_configs', 'expected a list of relabel configs'],
  ])('%j', (text, path, reason) => {
    const error = parseError(text);
    expect([error.path, error.reason]).toEqual([path, reason]);
  });

  it.each([
    [
      'relabel_configs:\n  - {target_label: x, target_label: y}\n',
      2,
      23,
      'Map keys must be unique',
    ],
    ['relabel_configs: [\n', 2, 1, ''],
    ['a: b: c\n', 1, 4, ''],
    ['a: 1\n---\nb: 2\n', 2, 1, 'expected one YAML document, found several'],
  ])('YAML error in %j at line %d column %d', (text, line, column, reasonPart) => {
    const error = parseError(text);
    expect(error.path).toBe('');
    expect([error.line, error.column]).toEqual([line, column]);
    expect(error.message.startsWith(`phoenix.yaml:${line}:${column}: `)).toBe(true);
    expect(error.reason).toContain(reasonPart);
  });
});

describe('parsePipelineConfig: valid configs', () => {
  it.each([
    '',
    '# only a comment\n',
    '{}',
    '{}\n',
    'relabel_configs:\n',
    'relabel_configs: []\n',
    '---\n',
  ])('empty pipeline from %j', (text) => {
    expect(parsePipelineConfig(text, 'phoenix.yaml')).toEqual({ relabelConfigs: [] });
  });

  it('applies Prometheus defaults', () => {
    const config = parsePipelineConfig('relabel_configs:\n  - target_label: env\n', 'p.yaml');
    expect(config.relabelConfigs).toEqual([
      {
        action: 'replace',
        sourceLabels: [],
        separator: ';',
        regex: '(.*)',
        targetLabel: 'env',
        replacement: '$1',
        modulus: 0n,
      },
    ]);
  });

  it('reads every field, any action case, and YAML 1.1 integers', () => {
    const config = parsePipelineConfig(
      `relabel_configs:
  - source_labels: [job, instance]
    separator: '/'
    regex: '(.+)/(.+)'
    target_label: shard
    modulus: 0x10
    action: HashMod
  - {action: DROP, regex: x, source_labels: [a]}
  - {target_label: x, replacement: 012}
  - {action: keep, source_labels: [a], regex: }
  - {action: lowercase, target_label: '\${1}'}
  - {action: hashmod, target_label: s, modulus: 2.7}
  - {source_labels: [~], target_label: x}
`,
      'p.yaml',
    );
    const rules = config.relabelConfigs;
    expect(rules[0]).toEqual({
      action: 'hashmod',
      sourceLabels: ['job', 'instance'],
      separator: '/',
      regex: '(.+)/(.+)',
      targetLabel: 'shard',
      replacement: '$1',
      modulus: 16n,
    });
    expect(rules[1]!.action).toBe('drop');
    // yaml.v2 reads a plain scalar into a string field by its text.
    expect(rules[2]!.replacement).toBe('012');
    // A null regex is the empty regex, which only matches ''.
    expect(rules[3]!.regex).toBe('');
    // Prometheus 2.42 accepts a `$` target for lowercase and uses it literally.
    expect(rules[4]!.targetLabel).toBe('${1}');
    expect(rules[5]!.modulus).toBe(2n);
    expect(rules[6]!.sourceLabels).toEqual(['']);
  });

  it('reads JSON, which is YAML too', () => {
    const config = parsePipelineConfig(
      JSON.stringify({ relabel_configs: [{ source_labels: ['a'], regex: 'x', action: 'drop' }] }),
      'phoenix.json',
    );
    expect(config.relabelConfigs.map((rule) => [rule.action, rule.regex])).toEqual([['drop', 'x']]);
  });

  it('keeps a uint64 modulus exactly', () => {
    const config = parsePipelineConfig(
      'relabel_configs: [{action: hashmod, target_label: s, modulus: 18446744073709551615}]',
      'p.yaml',
    );
    expect(config.relabelConfigs[0]!.modulus).toBe(18446744073709551615n);
  });
});

describe('loadPipelineConfig', () => {
  let directory = '';
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'phoenix-load-'));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('reads a file and names errors by its base name', async () => {
    const good = join(directory, 'phoenix.yaml');
    await writeFile(
      good,
      'relabel_configs:\n  - {regex: go_.*, source_labels: [__name__], action: drop}\n',
    );
    expect((await loadPipelineConfig(good)).relabelConfigs).toHaveLength(1);

    const bad = join(directory, 'bad.yaml');
    await writeFile(bad, 'relabel_configs:\n  - {action: nope}\n');
    await expect(loadPipelineConfig(bad)).rejects.toThrow(
      'bad.yaml: relabel_configs[0].action: unknown relabel action "nope"',
    );
  });

  it('reports a missing file as a ConfigError', async () => {
    const missing = join(directory, 'missing.yaml');
    await expect(loadPipelineConfig(missing)).rejects.toBeInstanceOf(ConfigError);
    await expect(loadPipelineConfig(missing)).rejects.toThrow(/^missing\.yaml: cannot read/);
  });
});
