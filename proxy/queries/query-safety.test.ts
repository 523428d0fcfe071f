import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { outputMetricName } from '../aggregation/classify.js';
import { AGGREGATION_OUTPUTS } from '../pipeline/aggregation-config.js';
import { loadPipelineConfig, parsePipelineConfig } from '../pipeline/load.js';
import { aggregationOutputName } from './aggregation-outputs.js';
import { checkQueries, checkQuery } from './query-safety.js';
import { loadDashboards, loadQueryList, loadRuleFile } from './query-sources.js';

const TESTDATA = join(import.meta.dirname, 'testdata');

interface SafetyCase {
  readonly pipeline: string;
  readonly query: string;
  readonly verdict: 'safe' | 'changed' | 'broken' | 'invalid';
  /** Every finding's reason, in order (empty for safe). */
  readonly reasons: readonly string[];
}

const DROP_DEBUG = `
relabel_configs:
  - source_labels: [__name__]
    regex: 'debug_.*|tmp_.*'
    action: drop
`;
const LABELDROP_POD = `
relabel_configs:
  - action: labeldrop
    regex: 'pod|instance'
`;
const AGGREGATE_KEEP_NAME = `
aggregations:
  - match: http_requests_total
    interval: 1m
    without: [pod, instance]
    outputs: [total]
    keep_metric_names: true
`;
const AGGREGATE_RENAME = `
aggregations:
  - match: http_requests_total
    interval: 1m
    by: [job, code]
    outputs: [total]
`;

const cases: SafetyCase[] = [
  {
    pipeline: DROP_DEBUG,
    query: 'sum(rate(http_requests_total[5m]))',
    verdict: 'safe',
    reasons: [],
  },
  {
    pipeline: DROP_DEBUG,
    query: 'rate(debug_requests_total[5m])',
    verdict: 'broken',
    reasons: [
      'debug_requests_total is dropped by relabel_configs[0] (drop source_labels [__name__] =~ "debug_.*|tmp_.*")',
    ],
  },
  {
    pipeline: DROP_DEBUG,
    query: 'absent(tmp_flag{job="x"})',
    verdict: 'broken',
    reasons: [
      'tmp_flag is dropped by relabel_configs[0] (drop source_labels [__name__] =~ "debug_.*|tmp_.*")',
    ],
  },
  {
    pipeline: DROP_DEBUG,
    query: 'sum({__name__=~"debug_requests_total|http_requests_total"})',
    verdict: 'broken',
    reasons: [
      'debug_requests_total is dropped by relabel_configs[0] (drop source_labels [__name__] =~ "debug_.*|tmp_.*")',
    ],
  },
  {
    pipeline: `
relabel_configs:
  - source_labels: [__name__]
    regex: 'node_.*|up'
    action: keep
`,
    query: 'up + on(instance) group_left(nodename) node_uname_info',
    verdict: 'safe',
    reasons: [],
  },
  {
    pipeline: `
relabel_configs:
  - source_labels: [__name__]
    regex: 'node_.*'
    action: keep
`,
    query: 'sum by (job) (up)',
    verdict: 'broken',
    reasons: ['up is dropped by relabel_configs[0] (keep source_labels [__name__] =~ "node_.*")'],
  },
  {
    pipeline: LABELDROP_POD,
    query: 'sum by (pod) (rate(container_cpu_usage_seconds_total[5m]))',
    verdict: 'broken',
    reasons: [
      'label pod, which the query groups by, is removed from container_cpu_usage_seconds_total by relabel_configs[0]',
    ],
  },
  {
    pipeline: LABELDROP_POD,
    query: 'sum by (namespace) (rate(container_cpu_usage_seconds_total{pod=~"api-.*"}[5m]))',
    verdict: 'broken',
    reasons: [
      'label pod, which the query matches on, is removed from container_cpu_usage_seconds_total by relabel_configs[0]',
    ],
  },
  {
    pipeline: LABELDROP_POD,
    query: 'sum by (namespace) (rate(container_cpu_usage_seconds_total[5m]))',
    verdict: 'safe',
    reasons: [],
  },
  {
    pipeline: LABELDROP_POD,
    query: 'up * on(instance) group_left(nodename) node_uname_info',
    verdict: 'broken',
    reasons: [
      'label instance, which the query joins on, is removed from up by relabel_configs[0]',
      'relabel_configs[0] removes label pod wherever present, and the query keeps all labels of up',
      'label instance, which the query joins on, is removed from node_uname_info by relabel_configs[0]',
    ],
  },
  {
    pipeline: LABELDROP_POD,
    query: 'sum without (instance) (rate(x_total[5m]))',
    verdict: 'changed',
    reasons: [
      'relabel_configs[0] removes label pod wherever present, and the query keeps all labels except instance of x_total',
    ],
  },
  {
    pipeline: LABELDROP_POD,
    query: 'rate(x_total[5m])',
    verdict: 'changed',
    reasons: [
      'relabel_configs[0] removes label pod, instance wherever present, and the query keeps all labels of x_total',
    ],
  },
  {
    pipeline: `
relabel_configs:
  - source_labels: [namespace]
    regex: kube-system
    action: drop
`,
    query: 'sum(kube_pod_info)',
    verdict: 'changed',
    reasons: [
      'kube_pod_info: relabel_configs[0] (drop) may drop some series: it depends on the values of namespace',
    ],
  },
  {
    pipeline: `
relabel_configs:
  - source_labels: [namespace]
    regex: kube-system
    action: drop
`,
    query: 'sum(kube_pod_info{namespace="default"})',
    verdict: 'safe',
    reasons: [],
  },
  {
    pipeline: `
relabel_configs:
  - source_labels: [namespace]
    regex: kube-system
    action: drop
`,
    query: 'sum(kube_pod_info{namespace="kube-system"})',
    verdict: 'broken',
    reasons: [
      'kube_pod_info is dropped by relabel_configs[0] (drop source_labels [namespace] =~ "kube-system")',
    ],
  },
  {
    pipeline: `
relabel_configs:
  - source_labels: [__name__]
    regex: 'old_(.*)'
    target_label: __name__
    replacement: 'new_$1'
`,
    query: 'sum(old_requests_total)',
    verdict: 'broken',
    reasons: ['old_requests_total is renamed to new_requests_total by relabel_configs[0]'],
  },
  {
    pipeline: `
relabel_configs:
  - source_labels: [zone]
    regex: '(.+)-[a-z]'
    target_label: region
`,
    query: 'sum by (region) (x)',
    verdict: 'changed',
    reasons: ['label region, which the query groups by, is rewritten on x by relabel_configs[0]'],
  },
  {
    pipeline: AGGREGATE_KEEP_NAME,
    query: 'sum by (job, code) (rate(http_requests_total[5m]))',
    verdict: 'safe',
    reasons: [],
  },
  {
    pipeline: AGGREGATE_KEEP_NAME,
    query: 'sum by (pod) (rate(http_requests_total[5m]))',
    verdict: 'broken',
    reasons: [
      'label pod, which the query groups by, is aggregated away from http_requests_total by aggregations[0] (without [instance, pod])',
    ],
  },
  {
    pipeline: AGGREGATE_KEEP_NAME,
    query: 'count by (job) (http_requests_total)',
    verdict: 'changed',
    reasons: [
      'http_requests_total is aggregated by aggregations[0] (without [instance, pod], total, same name): count over series that are merged into one per group',
    ],
  },
  {
    pipeline: AGGREGATE_KEEP_NAME,
    query: 'group by (job) (http_requests_total)',
    verdict: 'safe',
    reasons: [],
  },
  {
    pipeline: AGGREGATE_KEEP_NAME,
    query: 'rate(http_requests_total[5m])',
    verdict: 'broken',
    reasons: [
      'label instance, which the query shows (no aggregation), is aggregated away from http_requests_total by aggregations[0] (without [instance, pod])',
      'label pod, which the query shows (no aggregation), is aggregated away from http_requests_total by aggregations[0] (without [instance, pod])',
    ],
  },
  {
    pipeline: AGGREGATE_RENAME,
    query: 'sum by (job) (rate(http_requests_total[5m]))',
    verdict: 'broken',
    reasons: [
      'http_requests_total is aggregated by aggregations[0] (by [code, job]) into http_requests_total:1m_by_code_job_total; its raw series are no longer forwarded',
    ],
  },
  {
    pipeline: AGGREGATE_RENAME,
    query: 'sum by (job) (rate(http_requests_total:1m_by_code_job_total[5m]))',
    verdict: 'safe',
    reasons: [],
  },
  {
    pipeline: AGGREGATE_RENAME,
    query: 'sum by (pod) (rate(http_requests_total:1m_by_code_job_total[5m]))',
    verdict: 'broken',
    reasons: [
      'label pod, which the query groups by, is not in http_requests_total:1m_by_code_job_total: aggregations[0] groups by [code, job]',
    ],
  },
  {
    pipeline: `
aggregations:
  - match: '{__name__="http_requests_total", namespace="prod"}'
    interval: 1m
    by: [job]
    outputs: [total]
`,
    query: 'sum by (job) (rate(http_requests_total[5m]))',
    verdict: 'changed',
    reasons: [
      'aggregations[0] may aggregate some series of http_requests_total: its match {__name__="http_requests_total", namespace="prod"} depends on label values the query does not fix',
    ],
  },
  {
    pipeline: `
aggregations:
  - match: node_memory_used_bytes
    interval: 1m
    by: [cluster]
    outputs: [max]
    keep_metric_names: true
`,
    query: 'max by (cluster) (node_memory_used_bytes)',
    verdict: 'safe',
    reasons: [],
  },
  {
    pipeline: `
aggregations:
  - match: node_memory_used_bytes
    interval: 1m
    by: [cluster]
    outputs: [max]
    keep_metric_names: true
`,
    query: 'sum by (cluster) (node_memory_used_bytes)',
    verdict: 'changed',
    reasons: [
      'node_memory_used_bytes is aggregated by aggregations[0] (by [cluster], max, same name): sum over max per window of the merged series is not sum over the raw series',
    ],
  },
  {
    pipeline: `
aggregations:
  - match: up
    interval: 1m
    outputs: [count_series]
    keep_input: true
  - match: 'http_requests_total'
    interval: 1m
    by: [job]
    outputs: [total]
    drop_input: true
`,
    query: 'up == 0',
    verdict: 'safe',
    reasons: [],
  },
  {
    pipeline: `
aggregations:
  - match: 'http_requests_total'
    interval: 1m
    by: [job]
    outputs: [total]
    drop_input: true
`,
    query: 'up == 0',
    verdict: 'broken',
    reasons: [
      'up is not forwarded: drop_input on aggregations[0] forwards only aggregation outputs and keep_input series',
    ],
  },
  {
    pipeline: AGGREGATE_KEEP_NAME,
    query: 'sum(rate($metric[5m]))',
    verdict: 'changed',
    reasons: [
      'aggregations[0] (match http_requests_total) may aggregate series that $metric[5m] reads',
    ],
  },
  {
    pipeline: `
relabel_configs:
  - action: labelkeep
    regex: '__name__|job|namespace'
`,
    query: 'sum by (pod) (kube_pod_info{namespace="a"})',
    verdict: 'broken',
    reasons: [
      'label pod, which the query groups by, is removed from kube_pod_info by relabel_configs[0]',
    ],
  },
  {
    pipeline: `
relabel_configs:
  - action: labelkeep
    regex: 'job|namespace'
`,
    query: 'sum by (job) (kube_pod_info)',
    verdict: 'broken',
    reasons: [
      'kube_pod_info is dropped by relabel_configs[0] (labelkeep "job|namespace", which removes the metric name)',
    ],
  },
  {
    pipeline: `
relabel_configs:
  - source_labels: [__name__, job]
    regex: 'up;(node|kubelet)'
    action: drop
`,
    query: 'up{job="api"} == 0',
    verdict: 'safe',
    reasons: [],
  },
  {
    pipeline: `
relabel_configs:
  - source_labels: [__name__, job]
    regex: 'up;(node|kubelet)'
    action: drop
`,
    query: 'up{job="node"} == 0',
    verdict: 'broken',
    reasons: [
      'up is dropped by relabel_configs[0] (drop source_labels [__name__, job] =~ "up;(node|kubelet)")',
    ],
  },
  {
    pipeline: LABELDROP_POD,
    query: 'sum by ($group) (rate(x_total[5m]))',
    verdict: 'changed',
    reasons: [
      'the query uses label $group of x_total, a template variable that may name a label relabel_configs[0] removes',
    ],
  },
  {
    pipeline: AGGREGATE_KEEP_NAME,
    query: 'sum by ($group) (rate(http_requests_total[5m]))',
    verdict: 'changed',
    reasons: [
      'the query uses label $group of http_requests_total, a template variable that may name a label aggregations[0] aggregates away',
    ],
  },
  {
    pipeline: DROP_DEBUG,
    query: 'sum({__name__=~"(("})',
    verdict: 'changed',
    reasons: [
      'the metrics of {__name__=~"(("}: relabel_configs[0] (drop) may drop some series: it depends on the values of __name__',
    ],
  },
  { pipeline: DROP_DEBUG, query: 'sum(rate(x[5m]) by (job)', verdict: 'invalid', reasons: [] },
];

describe('checkQuery', () => {
  for (const testCase of cases) {
    it(`${testCase.query} → ${testCase.verdict} (${testCase.pipeline.trim().split('\n').slice(0, 3).join(' ').slice(0, 60)})`, () => {
      const pipeline = parsePipelineConfig(testCase.pipeline, 'case.yaml');
      const result = checkQuery(pipeline, testCase.query);
      expect(result.findings.map((finding) => finding.reason)).toEqual(testCase.reasons);
      expect(result.verdict).toBe(testCase.verdict);
    });
  }

  it('names the metric, label and rule of each finding', () => {
    const pipeline = parsePipelineConfig(LABELDROP_POD, 'case.yaml');
    const [finding] = checkQuery(pipeline, 'count by (pod) (up)').findings;
    expect(finding).toMatchObject({
      verdict: 'broken',
      metric: 'up',
      label: 'pod',
      rule: 'relabel_configs[0]',
    });
  });

  it('reports a parse error with its position instead of a verdict', () => {
    const result = checkQuery(
      parsePipelineConfig(DROP_DEBUG, 'case.yaml'),
      'sum(rate(x[5m]) by (job)',
    );
    expect(result).toMatchObject({
      verdict: 'invalid',
      error: 'unexpected "by" at line 1, column 17',
    });
  });

  it('is exact about a label pattern when the metric labels are known', () => {
    const pipeline = parsePipelineConfig(LABELDROP_POD, 'case.yaml');
    const metricLabels = new Map([
      ['with_pod', new Set(['job', 'pod'])],
      ['without_pod', new Set(['job'])],
    ]);
    expect(checkQuery(pipeline, 'with_pod', { metricLabels }).verdict).toBe('broken');
    expect(checkQuery(pipeline, 'without_pod', { metricLabels }).verdict).toBe('safe');
  });

  it('resolves regex metric names against known metrics', () => {
    const pipeline = parsePipelineConfig(DROP_DEBUG, 'case.yaml');
    const query = 'sum({__name__=~"(debug|app)_.+"})';
    expect(checkQuery(pipeline, query).verdict).toBe('changed');
    expect(checkQuery(pipeline, query, { knownMetrics: ['app_a', 'app_b'] }).verdict).toBe('safe');
    expect(checkQuery(pipeline, query, { knownMetrics: ['app_a', 'debug_b'] }).verdict).toBe(
      'broken',
    );
  });
});

describe('checkQueries over the test data', () => {
  it('gives each rule, panel and listed query its verdict', async () => {
    const pipeline = await loadPipelineConfig(join(TESTDATA, 'pipeline.yaml'));
    const queries = [
      ...(await loadRuleFile(join(TESTDATA, 'api-rules.yaml'))),
      ...(await loadDashboards(join(TESTDATA, 'dashboards'))),
      ...(await loadQueryList(join(TESTDATA, 'queries.txt'))),
    ];
    const verdicts = checkQueries(pipeline, queries).map(
      (result) => `${result.verdict} ${result.origin?.location}`,
    );
    expect(verdicts).toEqual([
      'safe group "api.rules" / record "job:http_requests:rate5m"',
      'safe group "api.rules" / record "job_code:http_requests:rate5m"',
      'broken group "api.rules" / record "job:http_request_duration_seconds:p99"',
      'safe group "api.alerts" / alert "HighErrorRate"',
      'changed group "api.alerts" / alert "PodCrashLooping"',
      'safe group "api.alerts" / alert "TooFewReplicas"',
      'broken group "api.alerts" / alert "DebugEndpointScraped"',
      'safe dashboard "API overview" / panel "Requests by status code" / target A',
      'broken dashboard "API overview" / panel "Latency" / target A',
      'broken dashboard "API overview" / panel "Latency" / target B',
      'safe dashboard "API overview" / panel "CPU by pod" / target A',
      'broken dashboard "API overview" / panel "Debug requests" / target A',
      'safe dashboard "API overview" / variable "job"',
      'safe dashboard "API overview" / variable "namespace"',
      'safe dashboard "API overview" / variable "pod"',
      'safe dashboard "Nodes (legacy)" / panel "CPU busy" / target A',
      'safe line 2',
      'changed line 3',
      'broken line 4',
      'changed line 6',
      'invalid line 7',
    ]);
  });
});

describe('aggregationOutputName', () => {
  it('names outputs exactly as the aggregation thread does', () => {
    const pipeline = parsePipelineConfig(
      `
aggregations:
  - { match: a, interval: 1m, by: [job, code], outputs: [${AGGREGATION_OUTPUTS.join(', ')}] }
  - { match: a, interval: 30s, without: [pod], outputs: [total] }
  - { match: a, interval: 2m, outputs: [max] }
  - { match: a, interval: 1m, by: [job], outputs: [total], keep_metric_names: true }
`,
      'names.yaml',
    );
    for (const rule of pipeline.aggregations!) {
      for (const output of rule.outputs) {
        expect(aggregationOutputName(rule, 'http_requests_total', output)).toBe(
          outputMetricName(rule, 'http_requests_total', output),
        );
      }
    }
    expect(aggregationOutputName(pipeline.aggregations![1]!, 'x', 'total')).toBe(
      'x:30s_without_pod_total',
    );
  });
});
