import { describe, expect, it } from 'vitest';
import { parseAggregationRules, parseDurationMs } from './aggregation-config.js';
import { parsePipelineConfig } from './load.js';

describe('parseDurationMs', () => {
  const cases: [string, number][] = [
    ['1s', 1000],
    ['1m', 60_000],
    ['1m30s', 90_000],
    ['1.5m', 90_000],
    ['500ms', 500],
    ['2h', 7_200_000],
  ];
  for (const [text, ms] of cases)
    it(`${text} is ${ms} ms`, () => expect(parseDurationMs(text)).toBe(ms));
  for (const text of ['', '1', 'm', '1 m', '-1s', '1x']) {
    it(`${JSON.stringify(text)} is invalid`, () => expect(parseDurationMs(text)).toBeNaN());
  }
});

describe('relabel configs of an aggregation rule', () => {
  it('parses input and output relabel configs with Prometheus defaults', () => {
    const config = parsePipelineConfig(
      [
        'aggregations:',
        '  - match: requests_total',
        '    interval: 1m',
        '    by: [tier]',
        '    outputs: [total]',
        '    input_relabel_configs:',
        '      - source_labels: [job]',
        '        target_label: tier',
        '    output_relabel_configs:',
        '      - action: hashmod',
        '        source_labels: [tier]',
        '        target_label: shard',
        '        modulus: 18446744073709551615',
      ].join('\n'),
      'phoenix.yaml',
    );
    const rule = config.aggregations?.[0];
    expect(rule?.inputRelabelConfigs).toEqual([
      expect.objectContaining({
        action: 'replace',
        sourceLabels: ['job'],
        targetLabel: 'tier',
        regex: '(.*)',
        replacement: '$1',
        separator: ';',
      }),
    ]);
    expect(rule?.outputRelabelConfigs?.[0]?.modulus).toBe(18446744073709551615n);
  });

  it('leaves both absent when not given', () => {
    const [rule] = parseAggregationRules(
      [{ match: 'up', interval: '1m', outputs: ['total'], input_relabel_configs: null }],
      'phoenix.yaml',
    );
    expect(rule?.inputRelabelConfigs).toBeUndefined();
    expect(rule?.outputRelabelConfigs).toBeUndefined();
  });
});

describe('aggregations in phoenix.yaml', () => {
  it('loads a vmagent-shaped rule with defaults', () => {
    const config = parsePipelineConfig(
      [
        'aggregations:',
        '  - match: \'{__name__=~"http_.*",job="api"}\'',
        '    interval: 1m',
        '    without: [pod, instance]',
        '    outputs: [sum_samples, total]',
      ].join('\n'),
      'phoenix.yaml',
    );
    const rule = config.aggregations?.[0];
    expect(rule?.intervalMs).toBe(60_000);
    expect(rule?.without).toEqual(['instance', 'pod']);
    expect(rule?.by).toBeUndefined();
    // Kept in the module's output order.
    expect(rule?.outputs).toEqual(['total', 'sum_samples']);
    expect(rule?.stalenessIntervalMs).toBe(120_000);
    expect(rule?.flushOnShutdown).toBe(true);
    expect(rule?.match[0]?.matchers.map((matcher) => matcher.name)).toEqual(['__name__', 'job']);
  });

  it('has no aggregations when the key is absent', () => {
    expect(parsePipelineConfig('relabel_configs: []', 'phoenix.yaml').aggregations).toBeUndefined();
  });

  it('reads quantiles(φ…) and dedup_interval', () => {
    const [rule] = parseAggregationRules(
      [
        {
          match: 'latency_seconds',
          interval: '1m',
          without: ['pod'],
          outputs: ['quantiles(0.5, 0.9, 0.99)', 'count_samples'],
          dedup_interval: '15s',
        },
      ],
      'phoenix.yaml',
    );
    // Kind order: quantiles (kind 14) comes after every other output.
    expect(rule?.outputs).toEqual(['count_samples', 'quantiles']);
    expect(rule?.quantiles).toEqual([0.5, 0.9, 0.99]);
    expect(rule?.dedupIntervalMs).toBe(15_000);
  });

  const bad: { rule: Record<string, unknown>; message: string }[] = [
    {
      rule: { match: 'up', interval: '1m', outputs: ['median'] },
      message: 'phoenix.yaml: aggregations[0].outputs: unknown output "median"',
    },
    {
      rule: { match: 'up', interval: '1m', outputs: ['total'], by: ['job'], without: ['pod'] },
      message: 'phoenix.yaml: aggregations[0]: `by` and `without` cannot be used together',
    },
    {
      rule: { match: 'up', interval: '500ms', outputs: ['total'] },
      message: 'phoenix.yaml: aggregations[0].interval: interval 500ms must be at least 1s',
    },
    {
      rule: {
        match: 'up',
        interval: '1m',
        outputs: ['total', 'sum_samples'],
        keep_metric_names: true,
      },
      message:
        'phoenix.yaml: aggregations[0].keep_metric_names: keep_metric_names needs exactly one output',
    },
    {
      rule: { match: '{job=~"("}', interval: '1m', outputs: ['total'] },
      message: 'phoenix.yaml: aggregations[0].match: invalid selector: invalid regex',
    },
    {
      rule: { match: 'up', interval: 'soon', outputs: ['total'] },
      message: 'phoenix.yaml: aggregations[0].interval: invalid duration "soon"',
    },
    {
      rule: { match: 'up', interval: '1m', outputs: ['total'], colour: 'red' },
      message: 'phoenix.yaml: aggregations[0].colour: unknown key "colour"',
    },
    {
      rule: { match: 'up', interval: '1m', outputs: ['quantiles(0.5, 1.5)'] },
      message:
        'phoenix.yaml: aggregations[0].outputs: quantiles(0.5, 1.5): "1.5" is not a quantile between 0 and 1',
    },
    {
      rule: { match: 'up', interval: '1m', outputs: ['quantiles()'] },
      message:
        'phoenix.yaml: aggregations[0].outputs: quantiles(): "" is not a quantile between 0 and 1',
    },
    {
      rule: { match: 'up', interval: '1m', outputs: ['quantiles(0.5, 0.5)'] },
      message:
        'phoenix.yaml: aggregations[0].outputs: quantiles(0.5, 0.5): quantile 0.5 is listed twice',
    },
    {
      rule: { match: 'up', interval: '1m', outputs: ['quantiles(0.5)', 'quantiles(0.9)'] },
      message: 'phoenix.yaml: aggregations[0].outputs: output quantiles(...) is listed twice',
    },
    {
      rule: {
        match: 'up',
        interval: '1m',
        outputs: [`quantiles(${Array.from({ length: 17 }, (_, i) => i / 20).join(', ')})`],
      },
      message: 'at most 16 quantiles, found 17',
    },
    {
      rule: { match: 'up', interval: '1m', outputs: ['total'], dedup_interval: '7s' },
      message:
        'phoenix.yaml: aggregations[0].dedup_interval: dedup_interval 7s must divide the interval 1m',
    },
    {
      rule: { match: 'up', interval: '1m', outputs: ['total'], dedup_interval: '2m' },
      message:
        'phoenix.yaml: aggregations[0].dedup_interval: dedup_interval 2m must divide the interval 1m',
    },
    {
      rule: { match: 'up', interval: '1m', outputs: ['total'], dedup_interval: 'often' },
      message: 'phoenix.yaml: aggregations[0].dedup_interval: invalid duration "often"',
    },
    {
      rule: { interval: '1m', outputs: ['total'] },
      message: 'phoenix.yaml: aggregations[0].match: required',
    },
    {
      rule: { match: 'up', interval: '1m', outputs: ['total'], input_relabel_configs: {} },
      message:
        'phoenix.yaml: aggregations[0].input_relabel_configs: expected a list of relabel configs',
    },
    {
      rule: {
        match: 'up',
        interval: '1m',
        outputs: ['total'],
        input_relabel_configs: [{ action: 'labeldrop', regex: 'pod' }, { action: 'explode' }],
      },
      message:
        'phoenix.yaml: aggregations[0].input_relabel_configs[1].action: unknown relabel action "explode"',
    },
    {
      rule: {
        match: 'up',
        interval: '1m',
        outputs: ['total'],
        output_relabel_configs: [{ source_labels: ['a'], regex: '(' }],
      },
      message: 'phoenix.yaml: aggregations[0].output_relabel_configs[0].regex:',
    },
  ];
  for (const { rule, message } of bad) {
    it(`refuses ${JSON.stringify(rule)}`, () => {
      expect(() =>
        parseAggregationRules(
          [{ match: 'ok_metric', interval: '1m', outputs: ['total'] }, rule],
          'phoenix.yaml',
        ),
      ).toThrow(message.replace('aggregations[0]', 'aggregations[1]'));
    });
  }
});
