import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  loadDashboards,
  loadQueryList,
  loadQueryLog,
  loadRuleFile,
  parseDashboard,
  parseQueryLog,
  parseRuleFile,
  QuerySourceError,
  variableQuery,
} from './query-sources.js';

const TESTDATA = join(import.meta.dirname, 'testdata');

describe('query sources', () => {
  it('reads every rule of a Prometheus rule file with its group and name', async () => {
    const queries = await loadRuleFile(join(TESTDATA, 'api-rules.yaml'));
    expect(queries.map((query) => query.origin.location)).toEqual([
      'group "api.rules" / record "job:http_requests:rate5m"',
      'group "api.rules" / record "job_code:http_requests:rate5m"',
      'group "api.rules" / record "job:http_request_duration_seconds:p99"',
      'group "api.alerts" / alert "HighErrorRate"',
      'group "api.alerts" / alert "PodCrashLooping"',
      'group "api.alerts" / alert "TooFewReplicas"',
      'group "api.alerts" / alert "DebugEndpointScraped"',
    ]);
    expect(queries[2]!.query).toBe(
      'histogram_quantile(0.99,\n  sum by (job, le) (rate(http_request_duration_seconds_bucket[5m])))',
    );
    expect(queries.every((query) => query.origin.kind === 'rule')).toBe(true);
  });

  it('reads panels, collapsed rows, legacy rows and Prometheus variables of a dashboard directory', async () => {
    const queries = await loadDashboards(join(TESTDATA, 'dashboards'));
    expect(queries.map((query) => `${query.origin.location} | ${query.query}`)).toEqual([
      'dashboard "API overview" / panel "Requests by status code" / target A | sum by (code) (rate(http_requests_total{job="$job"}[$__rate_interval]))',
      'dashboard "API overview" / panel "Latency" / target A | histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="$job"}[$__rate_interval])))',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      'dashboard "API overview" / panel "Latency" / target B | histogram_quantile(0.5, sum by (le, pod) (rate(http_request_duration_seconds_bucket{job="$job", pod=~"${pod:regex}"}[$__rate_interval])))',
      'dashboard "API overview" / panel "CPU by pod" / target A | sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="$namespace", container!=""}[$__rate_interval]))',
      'dashboard "API overview" / panel "Debug requests" / target A | debug_requests_total{job="$job"}',
      'dashboard "API overview" / variable "job" | group by (job) (up)',
      'dashboard "API overview" / variable "namespace" | group by (namespace) (kube_pod_info{job="kube-state-metrics"})',
      'dashboard "API overview" / variable "pod" | group by (pod) (kube_pod_info{namespace="$namespace"})',
      'dashboard "Nodes (legacy)" / panel "CPU busy" / target A | 1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))',
    ]);
    expect(queries[0]!.origin.file).toBe(join(TESTDATA, 'dashboards', 'api-overview.json'));
    expect(queries.at(-1)!.origin.file).toBe(join(TESTDATA, 'dashboards', 'legacy', 'node.json'));
  });

  it('turns Prometheus variable queries into the PromQL they depend on', () => {
    const cases: [string, string | undefined][] = [
      ['label_values(up{job="a"}, instance)', 'group by (instance) (up{job="a"})'],
      ['label_values(job)', undefined],
      ['label_names()', undefined],
      ['query_result(topk(5, sum by (pod) (x)))', 'topk(5, sum by (pod) (x))'],
      ['metrics(node_.*)', 'group by (__name__) ({__name__=~"node_.*"})'],
      ['up{job="a"}', 'up{job="a"}'],
    ];
    for (const [text, expected] of cases) expect(variableQuery(text)).toBe(expected);
  });

  it('reads a query list, skipping comments and blank lines', async () => {
    const queries = await loadQueryList(join(TESTDATA, 'queries.txt'));
    expect(queries.map((query) => query.origin.location)).toEqual([
      'line 2',
      'line 3',
      'line 4',
      'line 6',
      'line 7',
    ]);
    expect(queries[0]!.query).toBe('sum(rate(http_requests_total{job="api"}[5m])) by (code)');
  });

  it('reads a Prometheus query log once per distinct query', async () => {
    const queries = await loadQueryLog(join(TESTDATA, 'query.log'));
    expect(queries).toEqual([
      {
        query: 'sum by (job) (rate(http_requests_total[5m]))',
        origin: {
          kind: 'query-log',
          file: join(TESTDATA, 'query.log'),
          location: 'line 1 (logged 2 times)',
        },
      },
      {
        query: 'debug_requests_total',
        origin: { kind: 'query-log', file: join(TESTDATA, 'query.log'), location: 'line 2' },
      },
    ]);
  });

  it('refuses malformed sources with the file and the reason', async () => {
    const cases: [() => unknown, string][] = [
      [
        () => parseRuleFile('groups: [{name: a, rules: [{record: x}]}]', 'r.yaml'),
        'r.yaml: groups[0].rules[0]: expected a rule with `expr`',
      ],
      [
        () => parseRuleFile('rules: []', 'r.yaml'),
        'r.yaml: expected a rule file with a `groups` list',
      ],
      [() => parseRuleFile('groups: [', 'r.yaml'), 'r.yaml: invalid YAML:'],
      [
        () => parseDashboard('{"title": "x"}', 'd.json'),
        'd.json: expected a Grafana dashboard with `panels` or `rows`',
      ],
      [() => parseDashboard('{', 'd.json'), 'd.json: invalid JSON:'],
      [
        () => parseQueryLog('{"params":{}}\n', 'q.log'),
        'q.log: line 1: expected an entry with params.query',
      ],
      [
        () => parseQueryLog('{"params":{"query":"up"}}\nnot json\n', 'q.log'),
        'q.log: line 2: invalid JSON:',
      ],
    ];
    for (const [run, message] of cases) {
      expect(run).toThrow(QuerySourceError);
      expect(run).toThrow(message);
    }
    const dir = await mkdtemp(join(tmpdir(), 'phoenix-queries-'));
    try {
      await writeFile(join(dir, 'broken.json'), '[1, 2]');
      await expect(loadDashboards(dir)).rejects.toThrow(
        `${join(dir, 'broken.json')}: expected a Grafana dashboard`,
      );
      await expect(loadRuleFile(join(dir, 'missing.yaml'))).rejects.toThrow(
        'missing.yaml: cannot read',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
