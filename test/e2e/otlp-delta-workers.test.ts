/**
 * OTLP delta temporality with several pipeline workers: the real OpenTelemetry JS SDK
 * (protobuf and JSON exporters, DELTA temporality) sends the same recordings through a
 * `phoenix proxy --workers 1` and a `phoenix proxy --workers 4` into one real Prometheus.
 * Four senders flush at the same time every round, so their requests are in flight
 * together and land on different workers from round to round. The cumulative values
 * PromQL shows must be exactly the recorded totals, and the same through both proxies.
 */

import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningPhoenix, startPhoenix } from '../helpers/phoenix.js';
import { pollUntil } from '../helpers/poll.js';
import { type RunningPrometheus, startPrometheus } from '../helpers/prometheus.js';

const SENDERS = 4;
const ROUNDS = 8;
const ROUTES = ['/cart', '/pay', '/search'];
const BOUNDARIES = [0.1, 0.5, 1];

/** One sender's recordings in one round: counter increments and observed durations. */
interface Recording {
  readonly route: string;
  readonly increment: number;
  readonly durations: readonly number[];
}

/** The same recordings for both proxies, generated once (deterministically). */
function recordings(): Recording[][][] {
  let state = 7;
  const next = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  return Array.from({ length: ROUNDS }, () =>
    Array.from({ length: SENDERS }, () =>
      ROUTES.filter(() => next() < 0.8).map((route) => ({
        route,
        increment: 1 + Math.floor(next() * 20),
        durations: Array.from(
          { length: Math.floor(next() * 4) },
          () => Math.round(next() * 1500) / 1000,
        ),
      })),
    ),
  );
}

interface Sender {
  readonly provider: MeterProvider;
  readonly reader: PeriodicExportingMetricReader;
  record(recording: Recording): void;
}

function startSender(job: string, index: number, phoenix: RunningPhoenix): Sender {
  const options = {
    temporalityPreference: AggregationTemporality.DELTA,
    timeoutMillis: 10_000,
    url: `${phoenix.url}/v1/metrics`,
  };
  const reader = new PeriodicExportingMetricReader({
    exporter: index % 2 === 0 ? new ProtoExporter(options) : new JsonExporter(options),
    exportIntervalMillis: 3_600_000,
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': job,
      'service.instance.id': `pod-${index}`,
    }),
    readers: [reader],
    views: [
      {
        instrumentName: 'request.duration',
        aggregation: {
          type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM,
          options: { boundaries: BOUNDARIES },
        },
      },
    ],
  });
  const meter = provider.getMeter('phoenix-e2e', '1.0.0');
  const requests = meter.createCounter('requests.served');
  const duration = meter.createHistogram('request.duration', { unit: 's' });
  return {
    provider,
    reader,
    record({ route, increment, durations }) {
      requests.add(increment, { route });
      for (const value of durations) duration.record(value, { route });
    },
  };
}

/** What PromQL must show: each series' total, keyed like {@link seriesKey}. */
function expectedTotals(rounds: Recording[][][]): Map<string, number> {
  const totals = new Map<string, number>();
  const add = (key: string, value: number) => totals.set(key, (totals.get(key) ?? 0) + value);
  for (const round of rounds) {
    round.forEach((senderRecordings, index) => {
      for (const { route, increment, durations } of senderRecordings) {
        const labels = `instance=pod-${index},route=${route}`;
        add(`requests_served_total{${labels}}`, increment);
        if (durations.length === 0) continue;
        add(`request_duration_seconds_count{${labels}}`, durations.length);
        add(
          `request_duration_seconds_sum{${labels}}`,
          durations.reduce((a, b) => a + b, 0),
        );
        for (const bound of [...BOUNDARIES, Number.POSITIVE_INFINITY]) {
          const le = bound === Number.POSITIVE_INFINITY ? '+Inf' : String(bound);
          add(
            `request_duration_seconds_bucket{instance=pod-${index},le=${le},route=${route}}`,
            durations.filter((value) => value <= bound).length,
          );
        }
      }
    });
  }
  return totals;
}

/** The senders' flush order in round `round`: a different permutation each round. */
function rotation(round: number): number[] {
  const order = Array.from({ length: SENDERS }, (_, index) => (index + round) % SENDERS);
  return round % 2 === 0 ? order : order.reverse();
}

function seriesKey(metric: Record<string, string>): string {
  const labels = Object.entries(metric)
    .filter(([name]) => name !== '__name__' && name !== 'job')
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join(',');
  return `${metric['__name__']}{${labels}}`;
}

describe('OTLP delta temporality through 1 and 4 pipeline workers', () => {
  let receiver: RunningPrometheus;
  let oneWorker: RunningPhoenix;
  let fourWorkers: RunningPhoenix;

  beforeAll(async () => {
    receiver = await startPrometheus({
      name: 'receiver',
      config: { global: { scrape_interval: '1h' } },
      remoteWriteReceiver: true,
    });
    [oneWorker, fourWorkers] = await Promise.all([
      startPhoenix({ upstreamUrl: receiver.remoteWriteUrl, workers: 1 }),
      startPhoenix({ upstreamUrl: receiver.remoteWriteUrl, workers: 4 }),
    ]);
  });

  afterAll(async () => {
    await Promise.allSettled([oneWorker?.stop(), fourWorkers?.stop()]);
    await receiver?.stop();
  });

  it('gives exactly the recorded totals, the same whatever the number of workers', async () => {
    const rounds = recordings();
    const proxies = [
      { job: 'delta-one-worker', phoenix: oneWorker },
      { job: 'delta-four-workers', phoenix: fourWorkers },
    ];
    const senders = proxies.map(({ job, phoenix }) =>
      Array.from({ length: SENDERS }, (_, index) => startSender(job, index, phoenix)),
    );
    for (const [roundIndex, round] of rounds.entries()) {
      for (const proxySenders of senders) {
        round.forEach((senderRecordings, index) => {
          for (const recording of senderRecordings) proxySenders[index]!.record(recording);
        });
      }
      // The senders of each proxy flush at once, in a different order every round: their
      // requests are in flight together, and a proxy's pool hands the first to arrive to
      // its first free worker, so a sender's requests go to a different worker each round.
      const order = rotation(roundIndex);
      await Promise.all(
        senders.flatMap((proxySenders) =>
          order.map((index) => proxySenders[index]!.reader.forceFlush()),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await Promise.all(senders.flat().map((sender) => sender.provider.shutdown()));

    const expected = expectedTotals(rounds);
    const totalsOf = async (job: string) => {
      const found = await receiver.query(
        `{job="${job}",__name__=~"requests_served_total|request_duration_seconds_.*"}`,
      );
      return new Map(found.map((sample) => [seriesKey(sample.metric), Number(sample.value)]));
    };
    for (const { job } of proxies) {
      const lastKey = `requests_served_total{instance=pod-0,route=${ROUTES[0]}}`;
      await pollUntil(
        async () =>
          (await totalsOf(job)).get(lastKey) === expected.get(lastKey) ? true : undefined,
        { description: `${job}: ${lastKey} reaching ${expected.get(lastKey)}`, timeoutMs: 20_000 },
      );
    }
    const one = await totalsOf('delta-one-worker');
    const four = await totalsOf('delta-four-workers');
    expect([...one.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, total] of expected) {
      if (key.startsWith('request_duration_seconds_sum')) {
        expect(one.get(key), key).toBeCloseTo(total, 9);
      } else {
        expect(one.get(key), key).toBe(total);
      }
    }
    expect(four).toEqual(one);
  });
});
