import { describe, expect, it } from 'vitest';
import { parseAggregationRules } from '../pipeline/aggregation-config.js';
import {
  decodeRequest,
  encodeRequest,
  labelRecord,
  seriesWith,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { RuleRelabelers } from './rule-relabel.js';

const RULES = parseAggregationRules(
  [
    { match: 'plain', interval: '1m', outputs: ['total'] },
    {
      match: 'requests_total',
      interval: '1m',
      outputs: ['total'],
      input_relabel_configs: [
        { action: 'drop', source_labels: ['env'], regex: 'test' },
        { source_labels: ['zone'], regex: '(.+)-[a-z]', target_label: 'region' },
        { action: 'labeldrop', regex: 'zone' },
      ],
      output_relabel_configs: [
        { action: 'keep', source_labels: ['region'], regex: 'eu-.*' },
        { target_label: 'source', replacement: 'phoenix' },
      ],
    },
  ],
  'test.yaml',
);

describe('RuleRelabelers', () => {
  it('relabels matched input series with the rule’s input_relabel_configs', async () => {
    const relabelers = await RuleRelabelers.load(RULES);
    const labels = new Map([
      ['__name__', 'requests_total'],
      ['zone', 'eu-west-1-a'],
    ]);
    expect(relabelers.relabelInput(1, labels)).toEqual(
      new Map([
        ['__name__', 'requests_total'],
        ['region', 'eu-west-1'],
      ]),
    );
    expect(relabelers.relabelInput(1, new Map([...labels, ['env', 'test']]))).toBeNull();
    // A rule without relabel configs hands the labels back untouched.
    expect(relabelers.relabelInput(0, labels)).toBe(labels);
  });

  it('relabels and drops flush output series with output_relabel_configs', async () => {
    const relabelers = await RuleRelabelers.load(RULES);
    const request = writeRequest([
      seriesWith([
        ['__name__', 'requests_total:1m_total'],
        ['region', 'eu-west-1'],
      ]),
      seriesWith([
        ['__name__', 'requests_total:1m_total'],
        ['region', 'us-east-1'],
      ]),
    ]);
    const output = relabelers.relabelOutput(1, encodeRequest(request), false);
    expect(decodeRequest(output).timeseries.map(labelRecord)).toEqual([
      { __name__: 'requests_total:1m_total', region: 'eu-west-1', source: 'phoenix' },
    ]);
    const onlyDropped = writeRequest([request.timeseries[1]!]);
    expect(relabelers.relabelOutput(1, encodeRequest(onlyDropped), false)).toHaveLength(0);
    const untouched = encodeRequest(request);
    expect(relabelers.relabelOutput(0, untouched, false)).toBe(untouched);
  });
});
