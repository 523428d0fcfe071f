/**
 * Stream aggregation end to end: a real Prometheus scrapes four pods' counters and
 * remote-writes twice, raw into one receiver and through `phoenix proxy` (which
 * aggregates the pods away) into another. `sum(rate(...))` must agree on both receivers,
 * through a counter reset of one pod and a restart of Phoenix in the middle.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningPhoenix, startPhoenix } from '../helpers/phoenix.js';
import { pollUntil } from '../helpers/poll.js';
import { freePort, LOOPBACK_HOST } from '../helpers/ports.js';
import { type RunningPrometheus, startPrometheus } from '../helpers/prometheus.js';
import {
  renderExposition,
  type ScrapeTarget,
  startScrapeTarget,
} from '../helpers/scrape-target.js';

const METRIC = 'app_requests_total';
const AGGREGATED = `${METRIC}:2s_without_instance_pod_total`;
/** Requests per second of pod i: (i + 1) × 5, so the sum is 50/s. */
const PODS = 4;
const RATE_PER_POD = [5, 10, 15, 20];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function queryAt(
  server: RunningPrometheus,
  promql: string,
  atSeconds: number,
): Promise<number | undefined> {
  const url = `${server.url}/api/v1/query?query=${encodeURIComponent(promql)}&time=${atSeconds}`;
  const response = await fetch(url);
  const body = (await response.json()) as { data: { result: { value: [number, string] }[] } };
  const value = body.data.result[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

describe('aggregation: Prometheus → phoenix (sum without pod) → Prometheus, against raw', () => {
  const startedAtMs = Date.now();
  /** Per pod: value offset and the time its counter (re)started. */
  const counters = RATE_PER_POD.map(() => ({ base: 100, sinceMs: startedAtMs }));
  let target: ScrapeTarget | undefined;
  let rawReceiver: RunningPrometheus | undefined;
  let aggregatedReceiver: RunningPrometheus | undefined;
  let phoenix: RunningPhoenix | undefined;
  let sender: RunningPrometheus | undefined;
  let dataDir = '';
  let listen = '';

  const startOurPhoenix = (): Promise<RunningPhoenix> =>
    startPhoenix({
      upstreamUrl: aggregatedReceiver!.remoteWriteUrl,
      workers: 2,
      dataDir,
      extraArgs: ['--listen', listen],
      config: {
        aggregations: [
          {
            match: `{__name__="${METRIC}"}`,
            interval: '2s',
            without: ['pod', 'instance'],
            outputs: ['total'],
          },
        ],
      },
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'phoenix-aggregation-'));
    listen = `${LOOPBACK_HOST}:${await freePort()}`;
    target = await startScrapeTarget((path) => {
      if (path !== '/metrics') return undefined;
      const now = Date.now();
      return renderExposition(
        counters.map((counter, pod) => ({
          name: METRIC,
          labels: { pod: `api-${pod}`, route: '/checkout' },
          value: counter.base + Math.floor(((now - counter.sinceMs) / 1000) * RATE_PER_POD[pod]!),
        })),
      );
    });
    [rawReceiver, aggregatedReceiver] = await Promise.all([
      startPrometheus({ name: 'raw-receiver', config: { global: {} }, remoteWriteReceiver: true }),
      startPrometheus({
        name: 'aggregated-receiver',
        config: { global: {} },
        remoteWriteReceiver: true,
      }),
    ]);
    phoenix = await startOurPhoenix();
    const queue = { batch_send_deadline: '1s', min_backoff: '100ms', max_backoff: '1s' };
    sender = await startPrometheus({
      name: 'sender',
      config: {
        global: { scrape_interval: '1s', scrape_timeout: '1s' },
        scrape_configs: [{ job_name: 'app', static_configs: [{ targets: [target.address] }] }],
        remote_write: [
          { url: `http://${listen}/api/v1/write`, queue_config: queue },
          { url: rawReceiver.remoteWriteUrl, queue_config: queue },
        ],
      },
    });
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled([sender?.stop()]);
    await Promise.allSettled([phoenix?.stop()]);
    await Promise.allSettled([rawReceiver?.stop(), aggregatedReceiver?.stop(), target?.close()]);
    if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
  });

  it('gives the same sum(rate) as the raw series across a counter reset and a restart', async () => {
    await pollUntil(
      async () => ((await aggregatedReceiver!.query(AGGREGATED)).length > 0 ? true : undefined),
      { description: 'aggregated series at the receiver', timeoutMs: 30_000 },
    );
    const firstOutputSeconds = Math.ceil(Date.now() / 1000);
    await sleep(20_000);
    // Pod 2's process restarts: its counter starts again from 0.
    counters[2] = { base: 0, sinceMs: Date.now() };
    await sleep(15_000);
    // Phoenix restarts on its data dir; the sender keeps the samples meanwhile and retries.
    await phoenix!.stop();
    const restartedAtSeconds = Date.now() / 1000;
    await sleep(2_000);
    phoenix = await startOurPhoenix();
    await sleep(75_000);

    const nowSeconds = Math.floor(Date.now() / 1000) - 10;
    const raw = `sum(rate(${METRIC}[1m]))`;
    const aggregated = `sum(rate(${AGGREGATED}[1m]))`;
    const expectedRate = RATE_PER_POD.reduce((sum, rate) => sum + rate, 0);
    let compared = 0;
    // Every 4 s from the first full one-minute window on: all of them span the reset, the
    // restart or both.
    for (let at = firstOutputSeconds + 62; at <= nowSeconds; at += 4) {
      const rawRate = await queryAt(rawReceiver!, raw, at);
      const aggregatedRate = await queryAt(aggregatedReceiver!, aggregated, at);
      expect(rawRate, `raw rate at ${at}`).toBeDefined();
      expect(aggregatedRate, `aggregated rate at ${at}`).toBeDefined();
      expect(
        Math.abs(aggregatedRate! - rawRate!) / rawRate!,
        `at ${at}: ${aggregatedRate} vs ${rawRate}`,
      ).toBeLessThan(0.1);
      expect(Math.abs(aggregatedRate! - expectedRate) / expectedRate).toBeLessThan(0.15);
      compared++;
    }
    expect(compared).toBeGreaterThan(8);
    expect(restartedAtSeconds).toBeGreaterThan(firstOutputSeconds + 30);

    // The aggregated counter never went down: no drop from the reset or the restart.
    const resets = await queryAt(aggregatedReceiver!, `resets(${AGGREGATED}[5m])`, nowSeconds);
    expect(resets).toBe(0);
    // Four pods became one series.
    expect(await aggregatedReceiver!.series(AGGREGATED)).toHaveLength(1);
    // keep_input defaults to false: the raw pod series did not reach the aggregated side.
    expect(await aggregatedReceiver!.series(METRIC)).toHaveLength(0);
    expect(await rawReceiver!.series(METRIC)).toHaveLength(PODS);
    // Phoenix reports its aggregation state: the four pods' series, samples taken in.
    const metricValue = (text: string, name: string): number =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    const selfMetrics = await pollUntil(
      async () => {
        const text = await phoenix!.metrics();
        return metricValue(text, 'phoenix_aggregation_series') === PODS ? text : undefined;
      },
      { description: 'aggregation self-metrics', timeoutMs: 15_000 },
    );
    expect(metricValue(selfMetrics, 'phoenix_aggregation_samples_total')).toBeGreaterThan(100);
  }, 240_000);
});
