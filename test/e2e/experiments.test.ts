/**
 * A/B experiments end to end, with real parts only: a real Prometheus scrapes a target with
 * per-pod counters and histograms and remote-writes to a real `phoenix proxy`, which
 * follows a real control plane and forwards to a primary Prometheus; the candidate arm of a
 * shadow experiment goes to a second (shadow) Prometheus.
 *
 * - Experiment 1 aggregates `pod` away from both metrics: the candidate arm shows at least
 *   80% fewer series, the rule grouping by `pod` is flagged broken and the one summing by
 *   `job` safe, and with `auto` the control plane rolls it back on the broken query.
 * - Experiment 2 keeps `pod` on the metric that rule reads: no query breaks, the live
 *   answers of both rules match between primary and shadow, and `auto` promotes it. The
 *   promotion is a new pipeline version that the proxy applies, aggregation included: the
 *   primary then receives the histogram without `pod`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type RunningControlPlane, startControlPlane } from '../../control-plane/index.js';
import {
  type Experiment,
  ExperimentMode,
  ExperimentPhase,
  ExperimentSpecSchema,
  LiveVerdict,
  QueryVerdict,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';
import {
  type ControlPlaneClients,
  controlPlaneClients,
} from '../../proxy/control/control-plane-client.js';
import { type RunningPhoenix, startPhoenix } from '../helpers/phoenix.js';
import { pollUntil } from '../helpers/poll.js';
import { type RunningPrometheus, startPrometheus } from '../helpers/prometheus.js';
import {
  type ExposedSample,
  renderExposition,
  type ScrapeTarget,
  startScrapeTarget,
} from '../helpers/scrape-target.js';

const PODS = 30;
const ROUTES = ['/a', '/b', '/c'];
const BUCKETS = ['0.1', '0.5', '1', '5', '+Inf'];

const RULES = stringify({
  groups: [
    {
      name: 'app',
      rules: [
        {
          record: 'pod:http_requests:rate1m',
          expr: 'sum by (pod) (rate(http_requests_total[30s]))',
        },
        {
          record: 'job:http_requests:rate1m',
          expr: 'sum by (job) (rate(http_requests_total[30s]))',
        },
      ],
    },
  ],
});

/** Aggregates `pod` away from both metrics. */
const CANDIDATE_ALL = stringify({
  aggregations: [
    {
      match: '{__name__=~"http_requests_total|http_request_duration_seconds_bucket"}',
      interval: '2s',
      without: ['pod'],
      outputs: ['total'],
      keep_metric_names: true,
    },
  ],
});

/** Keeps `pod` on `http_requests_total`, which the per-pod rule reads. */
const CANDIDATE_HISTOGRAM = stringify({
  aggregations: [
    {
      match: 'http_request_duration_seconds_bucket',
      interval: '2s',
      without: ['pod'],
      outputs: ['total'],
      keep_metric_names: true,
    },
  ],
});

let workDir: string;
let target: ScrapeTarget;
let primary: RunningPrometheus;
let shadow: RunningPrometheus;
/**
 * Experiment 2's shadow upstream. A fresh one: Prometheus keeps answering with the last
 * sample of a series for five minutes after remote writes of it stop, so experiment 1's
 * aggregated series would still be in a reused shadow's answers.
 */
let shadowTwo: RunningPrometheus;
let sender: RunningPrometheus;
let controlPlane: RunningControlPlane;
let proxy: RunningPhoenix;
let clients: ControlPlaneClients;
const startedMs = Date.now();

function exposition(): string {
  const seconds = Math.floor((Date.now() - startedMs) / 1000);
  const samples: ExposedSample[] = [];
  for (let pod = 0; pod < PODS; pod++) {
    for (const route of ROUTES) {
      const requests = seconds * (pod + 1);
      samples.push({
        name: 'http_requests_total',
        labels: { pod: `pod-${pod}`, route },
        value: requests,
      });
      BUCKETS.forEach((le, index) => {
        samples.push({
          name: 'http_request_duration_seconds_bucket',
          labels: { pod: `pod-${pod}`, route, le },
          value: Math.floor((requests * (index + 1)) / BUCKETS.length),
        });
      });
    }
  }
  return renderExposition(samples);
}

function spec(name: string, candidate: string, shadowUpstream: RunningPrometheus) {
  return create(ExperimentSpecSchema, {
    name,
    pipeline: 'default',
    mode: ExperimentMode.SHADOW,
    candidateConfigYaml: candidate,
    durationSeconds: 600,
    shadowUpstream: shadowUpstream.remoteWriteUrl,
    baselineQueryUrl: primary.url,
    candidateQueryUrl: shadowUpstream.url,
    auto: true,
    guardrails: {
      minDurationSeconds: 40,
      minReductionPercent: 50,
      maxBrokenQueries: 0,
      maxDivergence: 0.1,
    },
    queries: { ruleFiles: [{ name: 'rules.yaml', content: RULES }] },
  });
}

async function waitForEnd(name: string): Promise<Experiment> {
  return pollUntil(
    async () => {
      const { experiment } = await clients.experiments.getExperiment({ name });
      const phase = experiment?.phase;
      return phase === ExperimentPhase.RUNNING || phase === ExperimentPhase.DRAFT
        ? undefined
        : experiment;
    },
    { description: `experiment ${name} decided`, timeoutMs: 120_000, intervalMs: 500 },
  );
}

function verdictOf(experiment: Experiment, fragment: string) {
  const query = experiment.results?.queries.find((check) => check.query.includes(fragment));
  expect(query, `query with ${fragment}`).toBeDefined();
  return query!;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'phoenix-experiments-'));
  target = await startScrapeTarget((path) => (path === '/metrics' ? exposition() : undefined));
  primary = await startPrometheus({
    name: 'primary',
    config: { global: {} },
    remoteWriteReceiver: true,
  });
  shadow = await startPrometheus({
    name: 'shadow',
    config: { global: {} },
    remoteWriteReceiver: true,
  });
  shadowTwo = await startPrometheus({
    name: 'shadow-two',
    config: { global: {} },
    remoteWriteReceiver: true,
  });
  controlPlane = await startControlPlane({
    listenPort: 0,
    dataDir: join(workDir, 'control-plane'),
    experimentTickMs: 1_000,
  });
  clients = controlPlaneClients(controlPlane.url, undefined);
  await clients.pipelines.createPipeline({ name: 'default', configYaml: 'relabel_configs: []\n' });
  proxy = await startPhoenix({
    upstreamUrl: primary.remoteWriteUrl,
    workers: 2,
    extraArgs: ['--control-plane', controlPlane.url, '--pipeline', 'default'],
  });
  sender = await startPrometheus({
    name: 'sender',
    config: {
      global: { scrape_interval: '1s' },
      scrape_configs: [{ job_name: 'app', static_configs: [{ targets: [target.address] }] }],
      remote_write: [
        {
          url: proxy.remoteWriteUrl,
          queue_config: { batch_send_deadline: '1s', min_backoff: '100ms', max_backoff: '1s' },
        },
      ],
    },
  });
  // Traffic flows through the proxy before any experiment starts.
  await pollUntil(
    async () =>
      (await primary.query('count(http_requests_total)'))[0]?.value === String(PODS * ROUTES.length)
        ? true
        : undefined,
    { description: 'primary receives the workload', timeoutMs: 60_000, intervalMs: 500 },
  );
}, 180_000);

afterAll(async () => {
  await sender?.stop();
  await proxy?.stop();
  await controlPlane?.close();
  await Promise.all([primary?.stop(), shadow?.stop(), shadowTwo?.stop(), target?.close()]);
  await rm(workDir, { recursive: true, force: true });
});

describe('experiments on live traffic', () => {
  it('rolls back a candidate that breaks a query, then promotes one that keeps what queries need', async () => {
    // Experiment 1: the candidate aggregates pod away everywhere.
    const created = await clients.experiments.createExperiment({
      spec: spec('drop-pod-everywhere', CANDIDATE_ALL, shadow),
      start: true,
    });
    expect(created.experiment?.phase).toBe(ExperimentPhase.RUNNING);

    // While it runs, the candidate arm measures a large cut from live traffic.
    const measured = await pollUntil(
      async () => {
        const { experiment } = await clients.experiments.getExperiment({
          name: 'drop-pod-everywhere',
        });
        const results = experiment?.results;
        if (results === undefined || results.confidence.startsWith('thin')) return undefined;
        return results.reductionPercent >= 80 ? experiment : undefined;
      },
      { description: 'candidate arm reduction >= 80%', timeoutMs: 60_000, intervalMs: 500 },
    );
    const results = measured.results!;
    const expectedSeries = PODS * ROUTES.length * (1 + BUCKETS.length);
    expect(Number(results.baseline!.seriesIn)).toBeGreaterThan(expectedSeries * 0.95);
    expect(Number(results.candidate!.seriesOut)).toBeLessThan(expectedSeries * 0.2);
    expect(results.removed.map((group) => group.metric)).toContain('http_requests_total');
    expect(verdictOf(measured, 'by (pod)').verdict).toBe(QueryVerdict.BROKEN);
    expect(verdictOf(measured, 'by (pod)').reason).toContain('pod');
    expect(verdictOf(measured, 'by (job)').verdict).toBe(QueryVerdict.SAFE);

    // The candidate output really reaches the shadow upstream, without pod.
    await pollUntil(
      async () =>
        (await shadow.query('count(http_requests_total)'))[0]?.value === String(ROUTES.length)
          ? true
          : undefined,
      { description: 'shadow receives the aggregated counter', timeoutMs: 30_000, intervalMs: 500 },
    );

    const first = await waitForEnd('drop-pod-everywhere');
    expect(first.phase).toBe(ExperimentPhase.ROLLED_BACK);
    expect(first.decisionReason).toContain('broken_queries');
    expect(first.promotedVersion).toBe(0);
    const afterRollback = await clients.pipelines.getPipeline({ name: 'default' });
    expect(afterRollback.pipeline?.version).toBe(1);

    // Experiment 2: pod stays on the counter the per-pod rule reads.
    await clients.experiments.createExperiment({
      spec: spec('aggregate-histogram', CANDIDATE_HISTOGRAM, shadowTwo),
      start: true,
    });
    const second = await waitForEnd('aggregate-histogram');
    const liveDetails = second.results?.queries
      .map((query) => `${query.query}: ${query.liveDetail}`)
      .join('; ');
    expect(second.phase, `${second.decisionReason}; ${liveDetails}`).toBe(ExperimentPhase.PROMOTED);
    expect(second.results!.reductionPercent).toBeGreaterThan(50);
    expect(second.results!.brokenQueries).toBe(0);
    for (const fragment of ['by (pod)', 'by (job)']) {
      const check = verdictOf(second, fragment);
      expect(check.verdict).toBe(QueryVerdict.SAFE);
      expect(check.live, check.liveDetail).toBe(LiveVerdict.MATCH);
    }

    // The promotion is version 2 of the pipeline, which the proxy applies everywhere.
    const promoted = await clients.pipelines.getPipeline({ name: 'default' });
    expect(promoted.pipeline?.version).toBe(2);
    expect(second.promotedVersion).toBe(2);
    await pollUntil(
      async () => {
        const [status] = (await clients.proxies.listProxies({})).proxies;
        return status?.appliedVersion === 2 ? true : undefined;
      },
      { description: 'proxy applies the promoted version', timeoutMs: 20_000, intervalMs: 200 },
    );
    await pollUntil(
      async () => {
        const [sample] = await primary.query('count(http_request_duration_seconds_bucket{pod=""})');
        return sample?.value === String(ROUTES.length * BUCKETS.length) ? true : undefined;
      },
      {
        description: 'primary receives the aggregated histogram',
        timeoutMs: 30_000,
        intervalMs: 500,
      },
    );

    // The whole story is in the event log, with who and why.
    const events: string[] = [];
    for await (const { event } of clients.experiments.watchExperiment({
      name: 'aggregate-histogram',
    })) {
      if (event !== undefined && event.type !== 'results')
        events.push(`${event.type}:${event.actor}`);
    }
    expect(events).toEqual(['created:local', 'started:local', 'promoted:auto']);
  }, 300_000);
});
