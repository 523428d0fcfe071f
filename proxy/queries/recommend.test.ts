import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  LabelSchema,
  SampleSchema,
  type TimeSeries,
  TimeSeriesSchema,
} from '../../proto/gen/prometheus/types_pb.js';
import { AggregationEngine } from '../aggregation/aggregation-engine.js';
import { compileWithInputDrop } from '../aggregation/input-drop.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { PipelineEngine } from '../pipeline/engine.js';
import { parsePipelineConfig } from '../pipeline/load.js';
import {
  decodeRequest,
  encodeRequest,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { labelsUsedByMetric } from './query-labels.js';
import { checkQueries } from './query-safety.js';
import { parseRuleFile } from './query-sources.js';
import {
  estimateSeries,
  type MetricFacts,
  recommend,
  recommendationsToAdaptiveMetricsRules,
  recommendationsToPipelineYaml,
} from './recommend.js';

/** Facts whose series are the full product of their label values, so estimates are exact. */
function facts(
  name: string,
  type: MetricFacts['type'],
  labelValues: Record<string, number>,
): MetricFacts {
  const series = Object.values(labelValues).reduce((total, count) => total * count, 1);
  return { name, type, series, labelValues };
}

const FACTS: MetricFacts[] = [
  facts('http_requests_total', 'counter', { job: 3, code: 5, pod: 20, instance: 20 }),
  facts('http_request_duration_seconds_bucket', 'histogram', { job: 3, le: 8, pod: 20 }),
  facts('http_request_duration_seconds_count', 'histogram', { job: 3, pod: 20 }),
  facts('node_memory_used_bytes', 'gauge', { cluster: 2, node: 15 }),
  facts('kube_pod_info', 'gauge', { namespace: 4, pod: 20 }),
  facts('debug_requests_total', 'counter', { job: 3, pod: 20 }),
  facts('up', 'gauge', { job: 3, instance: 20 }),
];

const RULES = `
groups:
  - name: service
    rules:
      - record: job_code:http_requests:rate5m
        expr: sum by (job, code) (rate(http_requests_total[5m]))
      - record: job:http_request_duration_seconds:p99
        expr: histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m])))
      - record: cluster:node_memory_used_bytes:max
        expr: max by (cluster) (node_memory_used_bytes)
      - record: namespace:kube_pod_info:count
        expr: count by (namespace) (kube_pod_info)
      - alert: TargetDown
        expr: up == 0
`;

const QUERIES = parseRuleFile(RULES, 'service.rules.yaml');
const PRICE_PER_1K = 8;

function recommendations() {
  const usage = labelsUsedByMetric(
    QUERIES,
    FACTS.map((fact) => fact.name),
  );
  return recommend(FACTS, usage, { pricePer1kSeriesMonthly: PRICE_PER_1K });
}

describe('recommend', () => {
  it('drops unused metrics, aggregates unused labels away with a fitting output, keeps the rest', () => {
    const result = recommendations();
    const summary = Object.fromEntries(
      result.metrics.map((metric) => [
        metric.metric,
        `${metric.action} ${metric.output ?? '-'} [${metric.removedLabels.join(',')}] ${metric.seriesBefore}->${metric.seriesAfter}`,
      ]),
    );
    expect(summary).toEqual({
      http_requests_total: 'aggregate total [instance,pod] 6000->15',
      http_request_duration_seconds_bucket: 'aggregate histogram_bucket [pod] 480->24',
      http_request_duration_seconds_count: 'drop - [] 60->0',
      node_memory_used_bytes: 'aggregate max [node] 30->2',
      kube_pod_info: 'keep - [] 80->80',
      debug_requests_total: 'drop - [] 60->0',
      up: 'keep - [] 60->60',
    });
    expect(result.metrics[0]!.metric).toBe('http_requests_total');
    expect(result.metrics[0]!.monthlySaving).toBe(((6000 - 15) / 1000) * PRICE_PER_1K);
    expect(result.seriesBefore).toBe(6770);
    expect(result.seriesAfter).toBe(15 + 24 + 2 + 80 + 60);
    expect(result.monthlySaving).toBe(Math.round(((6770 - 181) / 1000) * PRICE_PER_1K * 100) / 100);
  });

  it('names the queries that pin each kept label, and why a metric is kept', () => {
    const byName = new Map(recommendations().metrics.map((metric) => [metric.metric, metric]));
    expect(byName.get('http_requests_total')!.pinnedBy).toEqual({
      code: ['service.rules.yaml: group "service" / record "job_code:http_requests:rate5m"'],
      job: ['service.rules.yaml: group "service" / record "job_code:http_requests:rate5m"'],
    });
    expect(byName.get('kube_pod_info')!.reason).toMatch(
      /^aggregating would change answers: max: count over series that are merged into one per group/,
    );
    expect(byName.get('up')!.reason).toBe(
      'a query reads every label (service.rules.yaml: group "service" / alert "TargetDown")',
    );
  });

  it('keeps metrics no query names when some selector picks metrics by label only', () => {
    const usage = labelsUsedByMetric(['sum by (job) ({job="api"})']);
    const result = recommend([FACTS[5]!], usage, { pricePer1kSeriesMonthly: 1 });
    expect(result.metrics[0]).toMatchObject({ action: 'keep' });
    expect(result.metrics[0]!.reason).toMatch(/pick metrics by label or pattern/);
  });

  it('keeps a gauge that queries sum across series, and a counter read without rate()', () => {
    const memory = facts('container_memory_working_set_bytes', 'gauge', { namespace: 4, pod: 20 });
    const restarts = facts('restarts_total', 'counter', { namespace: 4, pod: 20 });
    const usage = labelsUsedByMetric([
      'sum by (namespace) (container_memory_working_set_bytes)',
      'sum by (namespace) (restarts_total)',
    ]);
    const result = recommend([memory, restarts], usage, { pricePer1kSeriesMonthly: 1 });
    expect(
      result.metrics.map((metric) => `${metric.metric} ${metric.action}: ${metric.reason}`),
    ).toEqual([
      'container_memory_working_set_bytes keep: aggregating would change answers: max: sum over max per window of the merged series is not sum over the raw series (sum by (namespace) (container_memory_working_set_bytes))',
      'restarts_total keep: aggregating would change answers: total: the query reads total values directly (not through rate() or increase()), and that counter restarts from 0 (sum by (namespace) (restarts_total))',
    ]);
    expect(result.monthlySaving).toBe(0);
  });

  it('estimates series as the product of kept label values, capped by the series count', () => {
    const sparse: MetricFacts = {
      name: 'x',
      type: 'gauge',
      series: 50,
      labelValues: { a: 10, b: 10, c: 3 },
    };
    expect(estimateSeries(sparse, ['a'])).toBe(10);
    expect(estimateSeries(sparse, ['a', 'b'])).toBe(50);
    expect(estimateSeries(sparse, [])).toBe(1);
  });

  it('renders a pipeline that loads and breaks none of the queries', () => {
    const yamlText = recommendationsToPipelineYaml(recommendations());
    const pipeline = parsePipelineConfig(yamlText, 'recommended.yaml');
    expect(pipeline.relabelConfigs).toHaveLength(1);
    expect(pipeline.aggregations).toHaveLength(3);
    const verdicts = checkQueries(pipeline, QUERIES).map(
      (result) => `${result.verdict} ${result.findings.map((f) => f.reason).join('; ')}`,
    );
    expect(verdicts).toEqual(QUERIES.map(() => 'safe '));
  });

  it('renders Adaptive Metrics rules that load and break none of the queries', () => {
    const rules = recommendationsToAdaptiveMetricsRules(recommendations());
    expect(rules).toContainEqual({
      metric: 'debug_requests_total',
      match_type: 'exact',
      drop: true,
    });
    expect(rules).toContainEqual({
      metric: 'http_requests_total',
      match_type: 'exact',
      drop_labels: ['instance', 'pod'],
      aggregations: ['sum:counter'],
    });
    const pipeline = parsePipelineConfig(JSON.stringify(rules), 'rules.json');
    expect(pipeline.relabelConfigs).toHaveLength(2);
    expect(pipeline.aggregations).toHaveLength(3);
    expect(checkQueries(pipeline, QUERIES).map((result) => result.verdict)).toEqual(
      QUERIES.map(() => 'safe'),
    );
  });

  it('removes, in the real pipeline and aggregation engines, the series it claims', async () => {
    const result = recommendations();
    const pipeline: PipelineConfig = parsePipelineConfig(
      recommendationsToPipelineYaml(result),
      'recommended.yaml',
    );
    const intervalMs = 60_000;
    const windowStartMs = Math.floor(Date.now() / intervalMs) * intervalMs;
    const input = encodeRequest(
      writeRequest(FACTS.flatMap((fact) => generateSeries(fact, windowStartMs + 1000))),
    );

    // The worker's engine: the pipeline's rules, then the forward-only rules that keep
    // what keep_input: false rules aggregate out of what is forwarded.
    const engine = await PipelineEngine.load();
    engine.use(compileWithInputDrop(pipeline));
    const relabeled = engine.processRemoteWrite(input, { snappyIn: false, snappyOut: false });
    const afterRelabel = relabeled.unchanged ? input : relabeled.output;
    const counts = countByMetric(relabeled.forward ?? afterRelabel);

    const aggregation = await AggregationEngine.load({
      rules: pipeline.aggregations ?? [],
      windowStartMs,
    });
    aggregation.ingest(afterRelabel, false);
    for (const [index] of (pipeline.aggregations ?? []).entries()) {
      for (const [metric, count] of countByMetric(
        aggregation.flush(index, windowStartMs + intervalMs, false),
      )) {
        counts.set(metric, (counts.get(metric) ?? 0) + count);
      }
    }
    const claimed = new Map(
      result.metrics
        .filter((metric) => metric.seriesAfter > 0)
        .map((metric) => [metric.metric, metric.seriesAfter]),
    );
    expect(counts).toEqual(claimed);
  });
});

/** Every combination of the label values of `fact` (value `v<i>`), one sample at `timestampMs`. */
function generateSeries(fact: MetricFacts, timestampMs: number): TimeSeries[] {
  let combinations: Record<string, string>[] = [{ __name__: fact.name }];
  for (const [label, count] of Object.entries(fact.labelValues)) {
    combinations = combinations.flatMap((labels) =>
      Array.from({ length: count }, (_, index) => ({ ...labels, [label]: `v${index}` })),
    );
  }
  return combinations.map((labels, index) =>
    create(TimeSeriesSchema, {
      labels: sortedLabels(labels).map(([name, value]) => create(LabelSchema, { name, value })),
      samples: [create(SampleSchema, { value: index + 1, timestamp: BigInt(timestampMs) })],
    }),
  );
}

function countByMetric(body: Uint8Array): Map<string, number> {
  const counts = new Map<string, number>();
  if (body.length === 0) return counts;
  for (const series of decodeRequest(body).timeseries) {
    const name = series.labels.find((label) => label.name === '__name__')?.value ?? '';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}
