/**
 * `GET /api/v1/status/tsdb` of a real `phoenix proxy` (bin/phoenix, two workers) against
 * the same endpoint of the real Prometheus 2.42 that receives the proxy's output: the
 * answers must have the same shape (keys and value types, at every level), and the proxy's
 * output-view numbers must match what Prometheus counts in its head within the error
 * bounds stated in docs/cardinality.md. Prometheus 2.42 ignores `limit` and always lists
 * 10 entries, so both are compared at the default.
 */
import { compressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../../proxy/pipeline/remote-write-fixtures.js';
import { type RunningPhoenix, startPhoenix } from '../helpers/phoenix.js';
import { pollUntil } from '../helpers/poll.js';
import { type RunningPrometheus, startPrometheus } from '../helpers/prometheus.js';

interface NameValue {
  name: string;
  value: number;
}
interface TsdbStatus {
  status: string;
  data: {
    headStats: Record<string, number>;
    seriesCountByMetricName: NameValue[];
    labelValueCountByLabelName: NameValue[];
    memoryInBytesByLabelName: NameValue[];
    seriesCountByLabelValuePair: NameValue[];
  };
}

const SERIES_ERROR = 1.04 / 64;
const TOTAL_ERROR = 1.04 / 128;
const LABEL_ERROR = 1.04 / 16;

let receiver: RunningPrometheus;
let phoenix: RunningPhoenix;

/** The workload: four metrics of known cardinality, one sample each, stamped now. */
function workload(): Buffer[] {
  const nowMs = BigInt(Date.now());
  const all = [];
  for (let i = 0; i < 3_000; i++) {
    all.push({
      __name__: 'api_requests_total',
      instance: `i-${i % 50}`,
      method: ['GET', 'POST', 'PUT'][i % 3] as string,
      path: `/api/v1/items/${i}`,
    });
  }
  for (let instance = 0; instance < 20; instance++) {
    all.push({ __name__: 'up', instance: `i-${instance}`, job: 'node' });
    for (let cpu = 0; cpu < 16; cpu++) {
      for (const mode of ['user', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal', 'nice']) {
        all.push({
          __name__: 'node_cpu_seconds_total',
          cpu: String(cpu),
          instance: `i-${instance}`,
          job: 'node',
          mode,
        });
      }
    }
  }
  for (let pod = 0; pod < 1_000; pod++) {
    all.push({
      __name__: 'kube_pod_info',
      namespace: `ns-${pod % 7}`,
      pod: `web-${pod}-5d8f7c9b4-x${pod % 10}`,
    });
  }
  const bodies: Buffer[] = [];
  for (let start = 0; start < all.length; start += 400) {
    const series = all.slice(start, start + 400).map((labels) => {
      const timeSeries = seriesWith(sortedLabels(labels));
      for (const sample of timeSeries.samples) sample.timestamp = nowMs;
      return timeSeries;
    });
    bodies.push(compressSync(Buffer.from(encodeRequest(writeRequest(series)))));
  }
  return bodies;
}
/** Output series: api 150 (path dropped) + up 20 + node_cpu 2560 + kube_pod_info 1000. */
const OUTPUT_SERIES = 150 + 20 + 2_560 + 1_000;

async function tsdbStatus(baseUrl: string, query = ''): Promise<TsdbStatus> {
  const response = await fetch(`${baseUrl}/api/v1/status/tsdb${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as TsdbStatus;
}

/** Keys and value types at every level, as a comparable description. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shapeOf(value[0])];
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, field]) => [key, shapeOf(field)]),
    );
  }
  return typeof value;
}

function within(
  actual: number | undefined,
  expected: number,
  relativeError: number,
  what: string,
): void {
  expect(actual, what).toBeDefined();
  expect(
    Math.abs((actual as number) - expected),
    `${what}: ${actual} vs ${expected}`,
  ).toBeLessThanOrEqual(Math.max(1, 3 * relativeError * expected));
}

beforeAll(async () => {
  receiver = await startPrometheus({
    name: 'receiver',
    config: { global: { scrape_interval: '1m' } },
    remoteWriteReceiver: true,
  });
  phoenix = await startPhoenix({
    upstreamUrl: receiver.remoteWriteUrl,
    workers: 2,
    config: { relabel_configs: [{ action: 'labeldrop', regex: 'path' }] },
  });
  const bodies = workload();
  for (let i = 0; i < bodies.length; i += 3) {
    const statuses = await Promise.all(
      bodies
        .slice(i, i + 3)
        .map(
          async (body) => (await fetch(phoenix.remoteWriteUrl, { method: 'POST', body })).status,
        ),
    );
    expect(statuses).toEqual(statuses.map(() => 204));
  }
  // Asked with PromQL: Prometheus caches its TSDB status lists for 30 s, so the status
  // endpoint is read only once everything arrived.
  await pollUntil(
    async () => {
      const [count] = await receiver.query('count({__name__=~".+"})');
      return count?.value === String(OUTPUT_SERIES) ? true : undefined;
    },
    { description: 'the receiver to hold every output series', timeoutMs: 30_000 },
  );
}, 120_000);

afterAll(async () => {
  await phoenix?.stop();
  await receiver?.stop();
});

describe('GET /api/v1/status/tsdb against Prometheus 2.42', () => {
  it('has the same shape as Prometheus', async () => {
    const fromPrometheus = await tsdbStatus(receiver.url);
    const fromPhoenix = await tsdbStatus(phoenix.url);
    expect(shapeOf(fromPhoenix)).toEqual(shapeOf(fromPrometheus));
    expect(fromPhoenix.status).toBe('success');
    for (const list of [
      'seriesCountByMetricName',
      'labelValueCountByLabelName',
      'memoryInBytesByLabelName',
      'seriesCountByLabelValuePair',
    ] as const) {
      expect(fromPhoenix.data[list]).toHaveLength(fromPrometheus.data[list].length);
    }
  });

  it('counts the output series as the receiving Prometheus does, within the error bounds', async () => {
    const prometheus = (await tsdbStatus(receiver.url)).data;
    const proxy = (await tsdbStatus(phoenix.url, '?view=output')).data;
    within(
      proxy.headStats.numSeries,
      prometheus.headStats.numSeries as number,
      TOTAL_ERROR,
      'numSeries',
    );
    const proxyMetrics = new Map(
      proxy.seriesCountByMetricName.map((entry) => [entry.name, entry.value]),
    );
    for (const { name, value } of prometheus.seriesCountByMetricName) {
      within(proxyMetrics.get(name), value, SERIES_ERROR, `series of ${name}`);
    }
    const proxyLabels = new Map(
      proxy.labelValueCountByLabelName.map((entry) => [entry.name, entry.value]),
    );
    for (const { name, value } of prometheus.labelValueCountByLabelName) {
      within(proxyLabels.get(name), value, LABEL_ERROR, `values of ${name}`);
    }
    const proxyPairs = new Map(
      proxy.seriesCountByLabelValuePair.map((entry) => [entry.name, entry.value]),
    );
    for (const { name, value } of prometheus.seriesCountByLabelValuePair) {
      // Ties at the bottom of the list may be cut differently; compare what both list.
      if (proxyPairs.has(name))
        within(proxyPairs.get(name), value, SERIES_ERROR, `series of ${name}`);
    }
    const proxyBytes = new Map(
      proxy.memoryInBytesByLabelName.map((entry) => [entry.name, entry.value]),
    );
    for (const { name, value } of prometheus.memoryInBytesByLabelName.slice(0, 3)) {
      // Distinct values times the average value length: the label's distinct-value error
      // plus the spread of value lengths.
      within(proxyBytes.get(name), value, 2 * LABEL_ERROR, `value bytes of ${name}`);
    }
  });

  it('shows the input before the pipeline dropped `path`', async () => {
    const input = (await tsdbStatus(phoenix.url, '?view=input&limit=3')).data;
    expect(input.labelValueCountByLabelName[0]?.name).toBe('path');
    within(input.labelValueCountByLabelName[0]?.value, 3_000, LABEL_ERROR, 'values of path');
    within(
      input.seriesCountByMetricName.find((entry) => entry.name === 'api_requests_total')?.value,
      3_000,
      SERIES_ERROR,
      'input series of api_requests_total',
    );
    expect(input.seriesCountByMetricName).toHaveLength(3);
  });
});
