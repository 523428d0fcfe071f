/**
 * Recommendations end to end, with real parts only. A workload of known cardinality
 * (five metrics, 6 780 series, one sample each per round, stamped now) goes through two
 * `bin/phoenix proxy` processes that follow one control plane; each proxy gets two thirds
 * of the series, overlapping, and forwards to its own real Prometheus 2.42 receiver.
 *
 * 1. The control plane's merged input cardinality matches the known numbers: series per
 *    metric and distinct values per label, within three standard errors of
 *    docs/cardinality.md.
 * 2. `bin/phoenix analyze recommend` with a rule file and a Grafana dashboard recommends,
 *    per metric, drop, aggregate or keep, and writes the pipeline. The static query check
 *    of the control plane (`ExperimentService.CheckQueries`) finds none of those queries
 *    broken by it.
 * 3. The pipeline is applied through the control plane (`bin/phoenix pipeline apply`),
 *    both proxies run it, and the series that reach the receivers afterwards are, per
 *    metric, what the recommendation claimed within the stated error.
 *
 * Each proxy has its own receiver because two proxies aggregating the same groups write
 * the same output series with different values at the same flush time, which one
 * Prometheus would refuse as duplicates; the series are counted over the union of both.
 *
 * The recommended aggregation interval (1m) is shortened to 2s before applying, so the
 * test need not wait for a minute boundary; it changes how often outputs are written,
 * not which series there are.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { compressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { type RunningControlPlane, startControlPlane } from '../../control-plane/index.js';
import { CardinalityView } from '../../proto/gen/phoenix/v1/analysis_pb.js';
import { QueryVerdict } from '../../proto/gen/phoenix/v1/experiment_pb.js';
import {
  type ControlPlaneClients,
  controlPlaneClients,
} from '../../proxy/control/control-plane-client.js';
import {
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../../proxy/pipeline/remote-write-fixtures.js';
import { phoenixBinary, REPO_DIR } from '../helpers/peers.js';
import { type RunningPhoenix, startPhoenix } from '../helpers/phoenix.js';
import { pollUntil } from '../helpers/poll.js';
import { type RunningPrometheus, startPrometheus } from '../helpers/prometheus.js';

const runFile = promisify(execFile);

/** Relative standard errors of docs/cardinality.md: series of a metric, values of a label. */
const SERIES_ERROR = 1.04 / 64;
const LABEL_ERROR = 1.04 / 16;

/** Metrics whose series are every combination of these label values. */
const COMBINED_METRICS: Record<string, Record<string, readonly string[]>> = {
  node_cpu_seconds_total: {
    instance: range(20, (i) => `node-${i}`),
    cpu: range(16, String),
    mode: ['user', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal', 'nice'],
    job: ['node'],
  },
  debug_cache_entries: { shard: range(200, String) },
  up: { instance: range(20, (i) => `node-${i}`), job: ['node'] },
};

function range(count: number, name: (index: number) => string): string[] {
  return Array.from({ length: count }, (_, index) => name(index));
}

/** Every series of the workload, with the known series and label values per metric. */
function allSeries(): Record<string, string>[] {
  const series: Record<string, string>[] = [];
  for (let i = 0; i < 3_000; i++) {
    series.push({
      __name__: 'api_requests_total',
      instance: `i-${i % 50}`,
      method: ['GET', 'POST', 'PUT'][i % 3] as string,
      path: `/api/v1/items/${i}`,
    });
  }
  for (const [name, labels] of Object.entries(COMBINED_METRICS)) {
    let sets: Record<string, string>[] = [{ __name__: name }];
    for (const [label, values] of Object.entries(labels)) {
      sets = sets.flatMap((set) => values.map((value) => ({ ...set, [label]: value })));
    }
    series.push(...sets);
  }
  for (let pod = 0; pod < 1_000; pod++) {
    series.push({
      __name__: 'kube_pod_info',
      namespace: `ns-${pod % 7}`,
      pod: `web-${pod}-5d8f7c9b4`,
    });
  }
  return series;
}

const SERIES = allSeries();
/** Known series and distinct label values per metric, counted from the workload itself. */
const KNOWN = (() => {
  const known = new Map<string, { series: number; values: Map<string, Set<string>> }>();
  for (const labels of SERIES) {
    const name = labels.__name__!;
    const entry = known.get(name) ?? { series: 0, values: new Map() };
    entry.series++;
    for (const [label, value] of Object.entries(labels)) {
      if (label === '__name__') continue;
      const values = entry.values.get(label) ?? new Set();
      values.add(value);
      entry.values.set(label, values);
    }
    known.set(name, entry);
  }
  return known;
})();

/** Proxy A gets series i with i % 3 != 2, proxy B those with i % 3 != 0: a third overlaps. */
const FOR_A = SERIES.filter((_, index) => index % 3 !== 2);
const FOR_B = SERIES.filter((_, index) => index % 3 !== 0);

const RULES = stringify({
  groups: [
    {
      name: 'platform',
      rules: [
        {
          record: 'method:api_requests:rate5m',
          expr: 'sum by (method) (rate(api_requests_total[5m]))',
        },
        { record: 'namespace:kube_pod_info:count', expr: 'count by (namespace) (kube_pod_info)' },
        { alert: 'NodeDown', expr: 'up == 0', for: '5m' },
      ],
    },
  ],
});

const DASHBOARD = JSON.stringify({
  title: 'Nodes',
  templating: { list: [] },
  panels: [
    {
      type: 'timeseries',
      title: 'CPU by mode',
      targets: [
        {
          refId: 'A',
          expr: 'sum by (instance, mode) (rate(node_cpu_seconds_total{job="node"}[$__rate_interval]))',
        },
      ],
    },
    {
      type: 'stat',
      title: 'Requests per second',
      targets: [{ refId: 'A', expr: 'sum(rate(api_requests_total[$__rate_interval]))' }],
    },
  ],
});

let workDir: string;
let controlPlane: RunningControlPlane;
let clients: ControlPlaneClients;
let receivers: RunningPrometheus[] = [];
let proxies: RunningPhoenix[] = [];
let round = 0;

/** One round: every series of `labelSets` gets one sample stamped now, value = round. */
async function sendRound(proxy: RunningPhoenix, labelSets: Record<string, string>[]) {
  const nowMs = BigInt(Date.now());
  for (let start = 0; start < labelSets.length; start += 500) {
    const series = labelSets.slice(start, start + 500).map((labels) => {
      const timeSeries = seriesWith(sortedLabels(labels));
      for (const sample of timeSeries.samples) {
        sample.timestamp = nowMs;
        sample.value = round;
      }
      return timeSeries;
    });
    const body = compressSync(Buffer.from(encodeRequest(writeRequest(series))));
    const response = await fetch(proxy.remoteWriteUrl, { method: 'POST', body });
    expect(response.status, await response.text()).toBe(204);
  }
}

async function sendRoundToBoth(): Promise<void> {
  round++;
  await Promise.all([sendRound(proxies[0]!, FOR_A), sendRound(proxies[1]!, FOR_B)]);
}

async function phoenix(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return runFile(phoenixBinary(), [...args, '--control-plane', controlPlane.url], {
    cwd: REPO_DIR,
  });
}

function expectWithin(actual: number, expected: number, relativeError: number, what: string) {
  expect(
    Math.abs(actual - expected),
    `${what}: ${actual}, expected ${expected}`,
  ).toBeLessThanOrEqual(Math.max(1, 3 * relativeError * expected));
}

/** Distinct label sets of `metric` with a sample in the last `seconds`, over both receivers. */
async function seriesSince(metric: string, seconds: number): Promise<number> {
  const keys = new Set<string>();
  for (const receiver of receivers) {
    for (const sample of await receiver.query(`last_over_time(${metric}[${seconds}s])`)) {
      keys.add(JSON.stringify(Object.entries(sample.metric).sort()));
    }
  }
  return keys.size;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'phoenix-recommend-'));
  receivers = await Promise.all(
    ['receiver-a', 'receiver-b'].map((name) =>
      startPrometheus({ name, config: { global: {} }, remoteWriteReceiver: true }),
    ),
  );
  controlPlane = await startControlPlane({
    listenPort: 0,
    dataDir: join(workDir, 'control-plane'),
  });
  clients = controlPlaneClients(controlPlane.url, undefined);
  await clients.pipelines.createPipeline({ name: 'default', configYaml: 'relabel_configs: []\n' });
  proxies = await Promise.all(
    receivers.map((receiver) =>
      startPhoenix({
        upstreamUrl: receiver.remoteWriteUrl,
        workers: 2,
        extraArgs: ['--control-plane', controlPlane.url, '--pipeline', 'default'],
      }),
    ),
  );
  await writeFile(join(workDir, 'rules.yaml'), RULES);
  await writeFile(join(workDir, 'nodes.json'), DASHBOARD);
}, 60_000);

afterAll(async () => {
  await Promise.all(proxies.map((proxy) => proxy.stop()));
  await controlPlane?.close();
  await Promise.all(receivers.map((receiver) => receiver.stop()));
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('recommendations from live cardinality', () => {
  it('measures the workload, recommends a pipeline that breaks no query and removes what it claims', async () => {
    // 1. Known cardinality, merged over both proxies' reports (every 10 s).
    await sendRoundToBoth();
    const sentSamples = FOR_A.length + FOR_B.length;
    const top = await pollUntil(
      async () => {
        const answer = await clients.analysis.topMetrics({
          view: CardinalityView.INPUT,
          limit: 20,
        });
        const samples = answer.metrics.reduce((sum, metric) => sum + metric.samples, 0);
        return answer.proxies === 2 && samples === sentSamples ? answer : undefined;
      },
      { description: 'both proxies reported every sample', timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(top.metrics.map((metric) => metric.name).sort()).toEqual([...KNOWN.keys()].sort());
    expectWithin(Number(top.totalSeries), SERIES.length, 1.04 / 128, 'all series');
    for (const metric of top.metrics) {
      const known = KNOWN.get(metric.name)!;
      expectWithin(Number(metric.activeSeries), known.series, SERIES_ERROR, metric.name);
      const labels = await clients.analysis.topLabels({
        metric: metric.name,
        view: CardinalityView.INPUT,
        limit: 20,
      });
      for (const [label, values] of known.values) {
        const measured = labels.labels.find((entry) => entry.name === label);
        expect(measured, `${metric.name} ${label}`).toBeDefined();
        expectWithin(
          Number(measured!.distinctValues),
          values.size,
          LABEL_ERROR,
          `${metric.name} ${label} values`,
        );
      }
    }

    // 2. The recommendation, through the CLI, from a rule file and a dashboard.
    const pipelineFile = join(workDir, 'recommended.yaml');
    const recommended = await phoenix([
      'analyze',
      'recommend',
      '--rules',
      join(workDir, 'rules.yaml'),
      '--dashboards',
      join(workDir, 'nodes.json'),
      '--pipeline-out',
      pipelineFile,
      '-o',
      'json',
    ]);
    expect(recommended.stderr).toBe(`wrote ${pipelineFile}\n`);
    const advice = JSON.parse(recommended.stdout) as {
      recommendations: {
        metric: string;
        action: string;
        seriesBefore: string;
        seriesAfter?: string;
        keepLabels?: string[];
      }[];
      pipelineYaml: string;
    };
    const byMetric = new Map(advice.recommendations.map((entry) => [entry.metric, entry]));
    expect(
      Object.fromEntries([...byMetric].map(([metric, entry]) => [metric, entry.action])),
    ).toEqual({
      api_requests_total: 'RECOMMENDATION_ACTION_AGGREGATE',
      node_cpu_seconds_total: 'RECOMMENDATION_ACTION_AGGREGATE',
      debug_cache_entries: 'RECOMMENDATION_ACTION_DROP',
      up: 'RECOMMENDATION_ACTION_KEEP',
      kube_pod_info: 'RECOMMENDATION_ACTION_KEEP',
    });
    expect(byMetric.get('api_requests_total')?.keepLabels).toEqual(['method']);
    expect(byMetric.get('node_cpu_seconds_total')?.keepLabels).toEqual(['instance', 'job', 'mode']);
    const pipelineYaml = await readFile(pipelineFile, 'utf8');
    expect(pipelineYaml).toBe(advice.pipelineYaml);

    // The control plane's static check: no query of the sources is broken by it.
    const checked = await clients.experiments.checkQueries({
      configYaml: pipelineYaml,
      queries: {
        ruleFiles: [{ name: 'rules.yaml', content: RULES }],
        dashboards: [{ name: 'nodes.json', content: DASHBOARD }],
      },
    });
    expect(checked.queries).toHaveLength(5);
    expect(
      checked.queries
        .filter((query) => query.verdict !== QueryVerdict.SAFE)
        .map((query) => `${query.origin}: ${query.reason}`),
    ).toEqual([]);

    // 3. Apply it through the control plane; both proxies run version 2.
    const applied = parseYaml(pipelineYaml) as { aggregations?: { interval: string }[] };
    for (const rule of applied.aggregations ?? []) rule.interval = '2s';
    const appliedFile = join(workDir, 'applied.yaml');
    await writeFile(appliedFile, stringify(applied));
    await phoenix(['pipeline', 'apply', '-f', appliedFile, '-m', 'recommended']);
    await pollUntil(
      async () => {
        const { proxies: statuses } = await clients.proxies.listProxies({});
        const running = statuses.filter((status) => status.connected);
        return running.length === 2 && running.every((status) => status.appliedVersion === 2)
          ? true
          : undefined;
      },
      { description: 'both proxies run version 2', timeoutMs: 15_000, intervalMs: 200 },
    );
    const appliedAtMs = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    // What reaches the receivers from now on, until every aggregation group has flushed.
    // Exactly: one series per combination of the values of the labels the queries need.
    const combinations = (metric: string, labels: string[]) =>
      labels.reduce((product, label) => product * KNOWN.get(metric)!.values.get(label)!.size, 1);
    const expectedAfter = new Map([
      ['api_requests_total', combinations('api_requests_total', ['method'])],
      [
        'node_cpu_seconds_total',
        combinations('node_cpu_seconds_total', ['instance', 'job', 'mode']),
      ],
      ['debug_cache_entries', 0],
      ['up', KNOWN.get('up')!.series],
      ['kube_pod_info', KNOWN.get('kube_pod_info')!.series],
    ]);
    const counted = await pollUntil(
      async () => {
        await sendRoundToBoth();
        const seconds = Math.max(1, Math.floor((Date.now() - appliedAtMs) / 1000));
        const counts = new Map<string, number>();
        for (const metric of expectedAfter.keys()) {
          counts.set(metric, await seriesSince(metric, seconds));
        }
        if ([...expectedAfter].every(([metric, count]) => counts.get(metric) === count)) {
          return counts;
        }
        // Quoted by pollUntil if the wait times out.
        throw new Error(`series since the apply: ${JSON.stringify(Object.fromEntries(counts))}`);
      },
      { description: 'the receivers hold the pipeline output', timeoutMs: 30_000, intervalMs: 500 },
    );

    // Per metric, the claimed series after the pipeline match what arrived.
    let claimedRemoved = 0;
    for (const [metric, arrived] of counted) {
      const claim = byMetric.get(metric)!;
      // The JSON mapping leaves out zero values: a dropped metric has no seriesAfter.
      const claimedAfter = Number(claim.seriesAfter ?? 0);
      // Kept metrics are claimed at their measured count (1.6%); aggregated ones at the
      // product of the kept labels' distinct values (6.5% each).
      const error = claim.action === 'RECOMMENDATION_ACTION_KEEP' ? SERIES_ERROR : 2 * LABEL_ERROR;
      expectWithin(claimedAfter, arrived, error, `${metric} series after`);
      claimedRemoved += Number(claim.seriesBefore) - claimedAfter;
    }
    const removed = SERIES.length - [...counted.values()].reduce((sum, count) => sum + count, 0);
    expectWithin(claimedRemoved, removed, SERIES_ERROR, 'series removed');
  }, 90_000);
});
