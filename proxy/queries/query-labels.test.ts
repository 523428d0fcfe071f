import { describe, expect, it } from 'vitest';
import { labelsUsedByMetric } from './query-labels.js';

describe('labelsUsedByMetric', () => {
  it('lists per metric the labels queries need and the queries that need them', () => {
    const usage = labelsUsedByMetric([
      'sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))',
      'sum by (job, code) (rate(http_requests_total[5m]))',
      'histogram_quantile(0.9, sum by (le) (rate(latency_bucket[5m])))',
    ]);
    const requests = usage.metrics.get('http_requests_total')!;
    expect(Object.fromEntries(requests.labels)).toEqual({
      code: [
        'sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))',
        'sum by (job, code) (rate(http_requests_total[5m]))',
      ],
      job: [
        'sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))',
        'sum by (job, code) (rate(http_requests_total[5m]))',
      ],
    });
    expect(requests.allLabels).toBe(false);
    expect([...usage.metrics.get('latency_bucket')!.labels.keys()]).toEqual(['le']);
    expect(usage.unresolved).toEqual([]);
  });

  it('marks a metric read unaggregated or through without as needing all labels', () => {
    const usage = labelsUsedByMetric([
      'sum without (pod, instance) (rate(x_total[5m]))',
      'sum without (pod) (x_total)',
      'up == 0',
    ]);
    const x = usage.metrics.get('x_total')!;
    expect(x.allLabels).toBe(true);
    // Only what every all-label query leaves out may go.
    expect([...x.exceptLabels!]).toEqual(['pod']);
    expect(usage.metrics.get('up')).toMatchObject({
      allLabels: true,
      allLabelsQueries: ['up == 0'],
    });
    expect([...usage.metrics.get('up')!.exceptLabels!]).toEqual([]);
  });

  it('keeps the origin of sourced queries', () => {
    const usage = labelsUsedByMetric([
      {
        query: 'count by (ns) (kube_pod_info)',
        origin: { kind: 'rule', file: 'k.yaml', location: 'group "k" / record "c"' },
      },
    ]);
    expect(usage.metrics.get('kube_pod_info')!.labels.get('ns')).toEqual([
      'k.yaml: group "k" / record "c"',
    ]);
  });

  it('resolves regex and label-only selectors against known metrics, or lists them as unresolved', () => {
    const queries = [
      'sum by (job) ({__name__=~"node_.+"})',
      'count({job="api"})',
      'sum by (job) ({__name__=~"a|b"})',
    ];
    const unresolved = labelsUsedByMetric(queries);
    expect(unresolved.unresolved.map((read) => read.selector.text)).toEqual([
      '{__name__=~"node_.+"}',
      '{job="api"}',
    ]);
    expect([...unresolved.metrics.keys()]).toEqual(['a', 'b']);
    const resolved = labelsUsedByMetric(queries, ['node_load1', 'up', 'a']);
    expect(resolved.unresolved).toEqual([]);
    expect([...resolved.metrics.keys()].sort()).toEqual(['a', 'b', 'node_load1', 'up']);
    expect([...resolved.metrics.get('up')!.labels.keys()]).toEqual(['job']);
  });

  it('lists queries that do not parse', () => {
    expect(labelsUsedByMetric(['sum(']).invalid).toEqual([
      { query: 'sum(', error: 'unexpected end of query at line 1, column 5' },
    ]);
  });
});
