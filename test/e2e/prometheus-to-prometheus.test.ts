/**
 * The acceptance test: a real Prometheus 2.42 scrapes a target and remote-writes
 * through `phoenix proxy` into a second real Prometheus. Phoenix drops two labels and one
 * metric; PromQL on the receiver must show exactly the expected series with the values the
 * target served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningPhoenix, startPhoenix } from '../helpers/phoenix.js';
import { pollUntil } from '../helpers/poll.js';
import { type RunningPrometheus, startPrometheus } from '../helpers/prometheus.js';
import {
  type ExposedSample,
  renderExposition,
  type ScrapeTarget,
  startScrapeTarget,
} from '../helpers/scrape-target.js';

const JOB = 'phoenix-e2e';
const DROPPED_LABELS = ['pod_uid', 'controller_revision_hash'] as const;
const DROPPED_METRIC = 'debug_cache_entries';
/** Series Prometheus makes for every scrape itself; they flow through Phoenix too. */
const SCRAPE_REPORT_METRICS = [
  'scrape_duration_seconds',
  'scrape_samples_post_metric_relabeling',
  'scrape_samples_scraped',
  'scrape_series_added',
  'up',
];

/** Two pods of a checkout service; each series stays unique after the label drop. */
function servedSamples(): ExposedSample[] {
  const samples: ExposedSample[] = [];
  const pods = [
    { pod: 'checkout-7d9f-abcde', pod_uid: '8c1e0a52-1f0b-4d6e-9a51-0c2b7e11aa01' },
    { pod: 'checkout-7d9f-fghij', pod_uid: '1f4b9c33-77aa-4c1d-8e02-5d9a3f20bb02' },
  ];
  const requests = [
    { method: 'GET', route: '/api/cart', status: '200', count: 1027 },
    { method: 'POST', route: '/api/cart', status: '201', count: 88 },
    { method: 'GET', route: '/api/cart', status: '500', count: 3 },
  ];
  pods.forEach((pod, podIndex) => {
    const common = { namespace: 'shop', ...pod, controller_revision_hash: '7d9f6b5c48' };
    for (const request of requests) {
      samples.push({
        name: 'http_requests_total',
        labels: { ...common, method: request.method, route: request.route, status: request.status },
        value: request.count * (podIndex + 1),
      });
    }
    samples.push({
      name: 'queue_depth',
      labels: { ...common, queue: 'orders' },
      value: 12.5 + podIndex,
    });
    samples.push({ name: DROPPED_METRIC, labels: { ...common, cache: 'sessions' }, value: 4096 });
  });
  return samples;
}

/** What the receiver must hold for one served sample: Phoenix's drops plus scrape labels. */
function expectedLabels(sample: ExposedSample, targetAddress: string): Record<string, string> {
  const labels: Record<string, string> = {
    __name__: sample.name,
    job: JOB,
    instance: targetAddress,
  };
  for (const [name, value] of Object.entries(sample.labels)) {
    if (!(DROPPED_LABELS as readonly string[]).includes(name)) labels[name] = value;
  }
  return labels;
}

/** A stable text key of a label set, for comparing sets of series. */
function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Sum of every sample of `name` in a text exposition. */
function sumOfMetric(exposition: string, name: string): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

describe('Prometheus → phoenix proxy → Prometheus', () => {
  const samples = servedSamples();
  let target: ScrapeTarget | undefined;
  let receiver: RunningPrometheus | undefined;
  let phoenix: RunningPhoenix | undefined;
  let sender: RunningPrometheus | undefined;

  beforeAll(async () => {
    target = await startScrapeTarget((path) =>
      path === '/metrics' ? renderExposition(samples) : undefined,
    );
    receiver = await startPrometheus({
      name: 'receiver',
      config: { global: {} },
      remoteWriteReceiver: true,
    });
    phoenix = await startPhoenix({
      upstreamUrl: receiver.remoteWriteUrl,
      config: {
        relabel_configs: [
          { action: 'labeldrop', regex: DROPPED_LABELS.join('|') },
          { action: 'drop', source_labels: ['__name__'], regex: DROPPED_METRIC },
        ],
      },
    });
    sender = await startPrometheus({
      name: 'sender',
      config: {
        global: { scrape_interval: '1s', scrape_timeout: '1s' },
        scrape_configs: [{ job_name: JOB, static_configs: [{ targets: [target.address] }] }],
        remote_write: [
          {
            url: phoenix.remoteWriteUrl,
            queue_config: { batch_send_deadline: '1s', min_backoff: '100ms', max_backoff: '1s' },
          },
        ],
      },
    });
  });

  afterAll(async () => {
    // Sender first, so nothing writes into a stopped proxy; each stop runs even if one fails.
    await Promise.allSettled([sender?.stop()]);
    await Promise.allSettled([phoenix?.stop()]);
    await Promise.allSettled([receiver?.stop(), target?.close()]);
  });

  it('delivers exactly the expected series and values', async () => {
    const targetAddress = target!.address;
    const keptSamples = samples.filter((sample) => sample.name !== DROPPED_METRIC);
    const expectedSeries = new Map(
      keptSamples.map((sample) => [seriesKey(expectedLabels(sample, targetAddress)), sample]),
    );
    expect(expectedSeries.size).toBe(keptSamples.length);

    // The sender itself scraped the labels and the metric Phoenix must remove.
    const senderDropped = await pollUntil(
      async () => {
        const result = await sender!.query(DROPPED_METRIC);
        return result.length > 0 ? result : undefined;
      },
      { description: 'the sender to scrape the target' },
    );
    expect(senderDropped[0]!.metric).toHaveProperty('pod_uid');

    const received = await pollUntil(
      async () => {
        const result = await receiver!.query(`{job="${JOB}"}`);
        const targetSeries = result.filter(
          (entry) => !SCRAPE_REPORT_METRICS.includes(entry.metric['__name__']!),
        );
        return targetSeries.length >= expectedSeries.size ? result : undefined;
      },
      { description: 'the receiver to hold every expected series', timeoutMs: 30_000 },
    );

    const receivedTarget = received.filter(
      (entry) => !SCRAPE_REPORT_METRICS.includes(entry.metric['__name__']!),
    );
    expect(receivedTarget.map((entry) => seriesKey(entry.metric)).sort()).toEqual(
      [...expectedSeries.keys()].sort(),
    );
    for (const entry of receivedTarget) {
      const served = expectedSeries.get(seriesKey(entry.metric))!;
      expect(Number(entry.value), seriesKey(entry.metric)).toBe(served.value);
    }
    // Prometheus's own per-scrape series pass through unchanged (they had no dropped label).
    const reportNames = received
      .filter((entry) => SCRAPE_REPORT_METRICS.includes(entry.metric['__name__']!))
      .map((entry) => entry.metric['__name__'])
      .sort();
    expect(reportNames).toEqual(SCRAPE_REPORT_METRICS);

    // Over everything the receiver ever stored: no dropped metric, no dropped label.
    expect(await receiver!.series(`{__name__="${DROPPED_METRIC}"}`)).toEqual([]);
    for (const label of DROPPED_LABELS) {
      expect(await receiver!.series(`{${label}!=""}`)).toEqual([]);
    }
    // Phoenix answered every write with success and counted what it dropped.
    const senderMetrics = await sender!.metrics();
    expect(sumOfMetric(senderMetrics, 'prometheus_remote_storage_samples_total')).toBeGreaterThan(
      0,
    );
    expect(sumOfMetric(senderMetrics, 'prometheus_remote_storage_samples_failed_total')).toBe(0);
    expect(sumOfMetric(await phoenix!.metrics(), 'phoenix_series_dropped_total')).toBeGreaterThan(
      0,
    );
    expect(await receiver!.query(`count({job="${JOB}"})`)).toEqual([
      { metric: {}, value: String(expectedSeries.size + SCRAPE_REPORT_METRICS.length) },
    ]);
  });
});
