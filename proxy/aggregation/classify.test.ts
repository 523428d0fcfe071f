import { toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { TimeSeriesSchema } from '../../proto/gen/prometheus/types_pb.js';
import { parseAggregationRules } from '../pipeline/aggregation-config.js';
import { seriesWith, sortedLabels } from '../pipeline/remote-write-fixtures.js';
import {
  decodeSeriesLabels,
  encodeLabelFields,
  groupLabels,
  outputMetricName,
  writeClassification,
} from './classify.js';

const rule = (fields: Record<string, unknown>) =>
  parseAggregationRules([{ match: 'm', interval: '1m', outputs: ['total'], ...fields }], 't')[0]!;

describe('outputMetricName', () => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{ without: ['pod', 'instance'] }, 'total', 'm:1m_without_instance_pod_total'],
    [{ by: ['job', 'cluster'] }, 'sum_samples', 'm:1m_by_cluster_job_sum_samples'],
    [{}, 'count_series', 'm:1m_count_series'],
    [{ keep_metric_names: true }, 'total', 'm'],
  ];
  for (const [fields, output, name] of cases) {
    it(`${JSON.stringify(fields)} ${output} → ${name}`, () => {
      expect(outputMetricName(rule(fields), 'm', output)).toBe(name);
    });
  }
});

describe('groupLabels', () => {
  const input = new Map([
    ['__name__', 'm'],
    ['job', 'api'],
    ['pod', 'p1'],
    ['le', '0.5'],
    ['tmp', 'x'],
  ]);
  const cases: [Record<string, unknown>, Record<string, string>][] = [
    [{ without: ['pod'] }, { job: 'api', le: '0.5', tmp: 'x' }],
    [{ by: ['job'] }, { job: 'api' }],
    [
      { by: ['job'], outputs: ['histogram_bucket'] },
      { job: 'api', le: '0.5' },
    ],
    [
      { without: ['pod'], drop_input_labels: ['tmp'] },
      { job: 'api', le: '0.5' },
    ],
  ];
  for (const [fields, expected] of cases) {
    it(JSON.stringify(fields), () => {
      expect(Object.fromEntries(groupLabels(rule(fields), input))).toEqual(expected);
    });
  }
});

describe('decodeSeriesLabels', () => {
  it('reads the labels of a TimeSeries with samples, exemplars and large timestamps', () => {
    const labels = { __name__: 'http_requests_total', job: 'api', path: '/ä/ß' };
    const series = seriesWith(sortedLabels(labels), 3);
    series.samples[1]!.timestamp = 1_795_657_088_123n;
    const payload = toBinary(TimeSeriesSchema, series);
    expect(Object.fromEntries(decodeSeriesLabels(payload))).toEqual(labels);
  });

  it('round-trips encodeLabelFields', () => {
    const labels = new Map([
      ['b', '2'],
      ['__name__', 'x'],
      ['a', ''],
    ]);
    expect(decodeSeriesLabels(encodeLabelFields(labels))).toEqual(labels);
  });
});

describe('writeClassification', () => {
  const rules = parseAggregationRules(
    [
      { match: 'm', interval: '1m', without: ['pod'], outputs: ['total', 'max'] },
      { match: 'other', interval: '1m', outputs: ['total'] },
      { match: '{job="api"}', interval: '10s', by: ['job'], outputs: ['count_series'] },
    ],
    't',
  );

  it('lists the matching rules with one label blob per output', () => {
    const out = new Uint8Array(4096);
    const written = writeClassification(
      rules,
      new Map([
        ['__name__', 'm'],
        ['job', 'api'],
        ['pod', 'p'],
      ]),
      out,
    );
    const view = new DataView(out.buffer);
    expect(view.getUint32(0, true)).toBe(2);
    let pos = 4;
    const found: [number, string[]][] = [];
    while (pos < written) {
      const ruleIndex = view.getUint32(pos, true);
      const end = pos + 8 + view.getUint32(pos + 4, true);
      pos += 8;
      const names: string[] = [];
      while (pos < end) {
        const length = view.getUint32(pos, true);
        const labels = decodeSeriesLabels(out.subarray(pos + 4, pos + 4 + length));
        names.push(`${labels.get('__name__')}{job=${labels.get('job')},pod=${labels.get('pod')}}`);
        pos += 4 + length;
      }
      found.push([ruleIndex, names]);
    }
    expect(found).toEqual([
      [
        0,
        [
          'm:1m_without_pod_total{job=api,pod=undefined}',
          'm:1m_without_pod_max{job=api,pod=undefined}',
        ],
      ],
      [2, ['m:10s_by_job_count_series{job=api,pod=undefined}']],
    ]);
  });

  it('answers -2 when the answer does not fit', () => {
    expect(writeClassification(rules, new Map([['__name__', 'm']]), new Uint8Array(16))).toBe(-2);
  });
});
