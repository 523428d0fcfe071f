import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineConfig, parsePipelineConfig } from './load.js';

const RULES = [
  {
    metric: 'http_requests_total',
    match_type: 'exact',
    drop_labels: ['pod', 'instance'],
    aggregations: ['sum:counter'],
  },
  { metric: 'debug_cache_entries', drop: true },
];

describe('adaptive_metrics_rules: a rules.json referenced from phoenix.yaml', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'phoenix-adaptive-'));
    await mkdir(path.join(directory, 'grafana'));
    await writeFile(path.join(directory, 'grafana', 'rules.json'), JSON.stringify(RULES));
    await writeFile(
      path.join(directory, 'grafana', 'bad-rules.json'),
      JSON.stringify([...RULES, { metric: 'x', aggregations: ['median'] }]),
    );
    await writeFile(path.join(directory, 'grafana', 'broken.json'), '[{"metric": ');
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  async function load(yaml: string): Promise<ReturnType<typeof parsePipelineConfig>> {
    const file = path.join(directory, 'phoenix.yaml');
    await writeFile(file, yaml);
    return loadPipelineConfig(file);
  }

  it('merges the file after aggregations:, its drops after relabel_configs:', async () => {
    const config = await load(`
relabel_configs:
  - { action: labeldrop, regex: scratch }
aggregations:
  - { match: 'temperature', interval: 30s, by: [job], outputs: ['quantiles(0.5, 0.9)'] }
adaptive_metrics_rules: grafana/rules.json
`);
    expect(config.aggregations?.map((rule) => rule.match[0]?.text)).toEqual([
      'temperature',
      '{__name__=~"http_requests_total"}',
    ]);
    expect(config.aggregations?.[1]?.outputs).toEqual(['total']);
    expect(config.aggregations?.[1]?.without).toEqual(['instance', 'pod']);
    expect(config.relabelConfigs.map((rule) => `${rule.action} ${rule.regex}`)).toEqual([
      'labeldrop scratch',
      'drop debug_cache_entries',
    ]);
  });

  const refusals: Array<[string, string]> = [
    [
      'adaptive_metrics_rules: grafana/missing.json',
      'phoenix.yaml: adaptive_metrics_rules: cannot read grafana/missing.json: ENOENT',
    ],
    [
      'adaptive_metrics_rules: grafana/bad-rules.json',
      'phoenix.yaml: adaptive_metrics_rules: bad-rules.json: rules[2].aggregations: unknown aggregation "median"',
    ],
    [
      'adaptive_metrics_rules: grafana/broken.json',
      'phoenix.yaml: adaptive_metrics_rules: grafana/broken.json: invalid JSON:',
    ],
    [
      'adaptive_metrics_rules: [a, b]',
      'phoenix.yaml: adaptive_metrics_rules: expected the path of a Grafana Adaptive Metrics rules.json file',
    ],
  ];
  for (const [yaml, message] of refusals) {
    it(`refuses ${yaml}`, async () => {
      await expect(load(yaml)).rejects.toThrow(message);
    });
  }

  it('is refused in config text that has no file to resolve against', () => {
    expect(() =>
      parsePipelineConfig('adaptive_metrics_rules: rules.json\n', 'control-plane'),
    ).toThrow(
      'control-plane: adaptive_metrics_rules: rules.json: a rules file can only be referenced from a config file',
    );
  });
});
