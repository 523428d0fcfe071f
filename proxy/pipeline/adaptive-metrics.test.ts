import { describe, expect, it } from 'vitest';
import { parsePipelineConfig } from './load.js';

const RULES_JSON = JSON.stringify([
  {
    metric: 'http_requests_total',
    match_type: 'exact',
    drop_labels: ['pod', 'instance'],
    aggregations: ['sum:counter'],
  },
  {
    metric: 'kube_pod_',
    match_type: 'prefix',
    keep_labels: ['namespace'],
    aggregations: ['sum', 'count', 'max'],
  },
  { metric: 'debug_cache_entries', drop: true },
  { metric: 'unchanged_metric', aggregations: [] },
]);

describe('Grafana Adaptive Metrics rules.json', () => {
  it('becomes aggregation rules and relabel drops', () => {
    const config = parsePipelineConfig(RULES_JSON, 'rules.json');
    expect(config.relabelConfigs).toEqual([
      expect.objectContaining({
        action: 'drop',
        sourceLabels: ['__name__'],
        regex: 'debug_cache_entries',
      }),
    ]);
    const [counter, gauges] = config.aggregations ?? [];
    expect(counter?.without).toEqual(['instance', 'pod']);
    expect(counter?.outputs).toEqual(['total']);
    expect(counter?.keepMetricNames).toBe(true);
    expect(counter?.intervalMs).toBe(60_000);
    expect(counter?.match[0]?.text).toBe('{__name__=~"http_requests_total"}');
    expect(gauges?.by).toEqual(['namespace']);
    expect(gauges?.outputs).toEqual(['sum_samples', 'count_samples', 'max']);
    expect(gauges?.keepMetricNames).toBe(false);
    expect(gauges?.match[0]?.text).toBe('{__name__=~"kube_pod_.*"}');
    expect(config.aggregations).toHaveLength(2);
  });

  it('accepts the export shape with a top-level `rules` field', () => {
    const config = parsePipelineConfig(
      JSON.stringify({ rules: JSON.parse(RULES_JSON) }),
      'rules.json',
    );
    expect(config.aggregations).toHaveLength(2);
  });

  const bad: [unknown[], string][] = [
    [
      [{ metric: 'm', aggregations: ['p99'] }],
      'rules.json: rules[0].aggregations: unknown aggregation "p99"',
    ],
    [
      [{ metric: 'm', match_type: 'regex', aggregations: ['sum'] }],
      'rules.json: rules[0].match_type: unknown match_type "regex"',
    ],
    [
      [{ metric: 'm', drop_labels: ['a'], keep_labels: ['b'], aggregations: ['sum'] }],
      'rules.json: rules[0]: `drop_labels` and `keep_labels` cannot be used together',
    ],
    [
      [{ metric: 'm', aggregations: ['sum'], aggregation_interval: '100ms' }],
      'rules.json: rules[0].interval: interval 100ms must be at least 1s',
    ],
    [[{ metric: 'm', colour: 'red' }], 'rules.json: rules[0].colour: unknown key "colour"'],
  ];
  for (const [rules, message] of bad) {
    it(`refuses ${JSON.stringify(rules)}`, () => {
      expect(() => parsePipelineConfig(JSON.stringify(rules), 'rules.json')).toThrow(message);
    });
  }
});
