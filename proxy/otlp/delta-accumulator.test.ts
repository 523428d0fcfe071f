import { create, fromBinary, toBinary, toJsonString } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  type ExportMetricsServiceRequest,
  ExportMetricsServiceRequestSchema,
} from '../../proto/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import {
  AggregationTemporality,
  type Metric,
  MetricSchema,
} from '../../proto/gen/opentelemetry/proto/metrics/v1/metrics_pb.js';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import { seededRandom as random } from '../../test/helpers/seeded-random.js';
import { DeltaAccumulator } from './delta-accumulator.js';
import { OtlpConverter } from './otlp-converter.js';

const T0_MS = 1_700_000_000_000;
const nanos = (ms: number) => BigInt(ms) * 1_000_000n;
const attr = (key: string, value: string) => ({
  key,
  value: { value: { case: 'stringValue' as const, value } },
});

function exportRequest(metrics: Metric[]): ExportMetricsServiceRequest {
  return create(ExportMetricsServiceRequestSchema, {
    resourceMetrics: [
      {
        resource: { attributes: [attr('service.name', 'api'), attr('service.instance.id', 'a')] },
        scopeMetrics: [{ scope: { name: 's' }, metrics }],
      },
    ],
  });
}

function deltaSum(route: string, startMs: number, endMs: number, value: bigint): Metric {
  return create(MetricSchema, {
    name: 'requests',
    data: {
      case: 'sum',
      value: {
        isMonotonic: true,
        aggregationTemporality: AggregationTemporality.DELTA,
        dataPoints: [
          {
            attributes: [attr('route', route)],
            startTimeUnixNano: nanos(startMs),
            timeUnixNano: nanos(endMs),
            value: { case: 'asInt', value },
          },
        ],
      },
    },
  });
}

function deltaHistogram(route: string, startMs: number, endMs: number, buckets: bigint[]): Metric {
  return create(MetricSchema, {
    name: 'latency',
    unit: 'ms',
    data: {
      case: 'histogram',
      value: {
        aggregationTemporality: AggregationTemporality.DELTA,
        dataPoints: [
          {
            attributes: [attr('route', route)],
            startTimeUnixNano: nanos(startMs),
            timeUnixNano: nanos(endMs),
            count: buckets.reduce((a, b) => a + b, 0n),
            sum: Number(buckets[0]) * 3 + Number(buckets[1]) * 70 + Number(buckets[2]) * 400,
            explicitBounds: [10, 100],
            bucketCounts: buckets,
          },
        ],
      },
    },
  });
}

/** Series of a 1.0 request as "name{labels}" → [value, timestamp, start] triples. */
function seriesOf(rw1: Uint8Array): Map<string, Array<[number, number, bigint]>> {
  const out = new Map<string, Array<[number, number, bigint]>>();
  const decoded = fromBinary(WriteRequestSchema, rw1);
  for (const series of decoded.timeseries) {
    const key = series.labels.map((label) => `${label.name}=${label.value}`).join(',');
    const start = startField(series.$unknown);
    const samples = series.samples.map(
      (sample) => [sample.value, Number(sample.timestamp), start] as [number, number, bigint],
    );
    out.set(key, [...(out.get(key) ?? []), ...samples]);
  }
  return out;
}

/** Field 6 of a 1.0 series (the start time), read from protobuf-es' unknown fields. */
function startField(unknown: { no: number; data: Uint8Array }[] | undefined): bigint {
  const field = unknown?.find((entry) => entry.no === 6);
  if (field === undefined) return 0n;
  let value = 0n;
  let shift = 0n;
  for (const byte of field.data) {
    value |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if ((byte & 0x80) === 0) break;
  }
  return value;
}

interface Workload {
  /** Requests in the order they reach the accumulator. */
  readonly requests: ExportMetricsServiceRequest[];
  /** What each series' cumulative value must be after every request, by a plain model. */
  readonly expectedFinal: Map<string, number>;
}

/**
 * Senders export delta points for a few routes every 10 s, skipping some rounds (a gap the
 * next point spans), split into several requests per round.
 */
function workload(seed: number): Workload {
  const next = random(seed);
  const routes = ['/a', '/b', '/c', '/d', '/e'];
  const lastEnd = new Map<string, number>(routes.map((route) => [route, T0_MS]));
  const expectedFinal = new Map<string, number>();
  const add = (key: string, value: number) =>
    expectedFinal.set(key, (expectedFinal.get(key) ?? 0) + value);
  const requests: ExportMetricsServiceRequest[] = [];
  for (let round = 1; round <= 30; round++) {
    const endMs = T0_MS + round * 10_000;
    const metrics: Metric[] = [];
    for (const route of routes) {
      if (next() < 0.25) continue;
      const startMs = lastEnd.get(route)!;
      lastEnd.set(route, endMs);
      const count = BigInt(Math.floor(next() * 50));
      metrics.push(deltaSum(route, startMs, endMs, count));
      add(`__name__=requests_total,instance=a,job=api,route=${route}`, Number(count));
      const buckets = [0, 1, 2].map(() => BigInt(Math.floor(next() * 5)));
      metrics.push(deltaHistogram(route, startMs, endMs, buckets));
      const prefix = '__name__=latency_milliseconds';
      const labels = `instance=a,job=api`;
      add(`${prefix}_bucket,${labels},le=10,route=${route}`, Number(buckets[0]));
      add(`${prefix}_bucket,${labels},le=100,route=${route}`, Number(buckets[0]! + buckets[1]!));
      add(
        `${prefix}_bucket,${labels},le=+Inf,route=${route}`,
        Number(buckets[0]! + buckets[1]! + buckets[2]!),
      );
      add(
        `${prefix}_count,${labels},route=${route}`,
        Number(buckets[0]! + buckets[1]! + buckets[2]!),
      );
      add(
        `${prefix}_sum,${labels},route=${route}`,
        Number(buckets[0]) * 3 + Number(buckets[1]) * 70 + Number(buckets[2]) * 400,
      );
    }
    // One round's points leave in 1 to 3 requests.
    const parts = 1 + Math.floor(next() * 3);
    for (let part = 0; part < parts; part++) {
      const share = metrics.filter((_, index) => index % parts === part);
      if (share.length > 0) requests.push(exportRequest(share));
    }
  }
  return { requests, expectedFinal };
}

/**
 * Converts every request in a randomly picked one of `workers` converters (each a
 * worker's), in either encoding, and accumulates the delta series in one accumulator.
 * Returns every cumulative sample written, per series.
 */
function runThroughWorkers(
  requests: readonly ExportMetricsServiceRequest[],
  workers: number,
  seed: number,
  restartAt?: number,
): Map<string, Array<[number, number, bigint]>> {
  const next = random(seed);
  const converters = Array.from({ length: workers }, () => new OtlpConverter({ keepNames: false }));
  let accumulator = new DeltaAccumulator();
  const written = new Map<string, Array<[number, number, bigint]>>();
  requests.forEach((message, index) => {
    if (index === restartAt) {
      // A restart: a fresh accumulator from the snapshot, round-tripped through JSON.
      const snapshot = JSON.parse(JSON.stringify(accumulator.snapshot()));
      accumulator = new DeltaAccumulator();
      accumulator.restore(snapshot);
    }
    const converter = converters[Math.floor(next() * workers)]!;
    const json = next() < 0.5;
    const body = json
      ? new TextEncoder().encode(toJsonString(ExportMetricsServiceRequestSchema, message))
      : toBinary(ExportMetricsServiceRequestSchema, message);
    const converted = converter.convert(body, json);
    expect(converted.outcome.rejectedPoints).toBe(0);
    const result = accumulator.accumulate(converted.deltaRw1!.slice());
    expect(result.rejected).toBe(0);
    for (const [key, samples] of seriesOf(result.rw1)) {
      written.set(key, [...(written.get(key) ?? []), ...samples]);
    }
  });
  return written;
}

describe('DeltaAccumulator', () => {
  it('gives the same cumulative values for 1, 2 and 4 workers and any assignment of requests', () => {
    for (const seed of [1, 2, 3, 42, 1234]) {
      const { requests, expectedFinal } = workload(seed);
      const single = runThroughWorkers(requests, 1, seed);
      for (const [key, total] of expectedFinal) {
        const samples = single.get(key);
        expect(samples, key).toBeDefined();
        expect(samples!.at(-1)![0], key).toBeCloseTo(total, 9);
        // Counters only go up, and every sample carries the stream's start.
        for (let i = 1; i < samples!.length; i++) {
          expect(samples![i]![0]).toBeGreaterThanOrEqual(samples![i - 1]![0]);
          expect(samples![i]![1]).toBeGreaterThan(samples![i - 1]![1]);
        }
        expect(samples!.every((sample) => sample[2] === samples![0]![2])).toBe(true);
      }
      expect([...single.keys()].sort()).toEqual([...expectedFinal.keys()].sort());
      for (const workers of [2, 4]) {
        for (const assignmentSeed of [seed * 7, seed * 13 + 1]) {
          expect(runThroughWorkers(requests, workers, assignmentSeed)).toEqual(single);
        }
      }
      // A restart from the snapshot half-way changes nothing either.
      expect(runThroughWorkers(requests, 2, seed, Math.floor(requests.length / 2))).toEqual(single);
    }
  });

  it('adds contiguous and gapped points, refuses late ones, and starts over on overlap', () => {
    const converter = new OtlpConverter({ keepNames: false });
    const accumulator = new DeltaAccumulator();
    const key = '__name__=requests_total,instance=a,job=api,route=/a';
    const send = (startMs: number, endMs: number, value: bigint) => {
      const converted = converter.convert(
        toBinary(
          ExportMetricsServiceRequestSchema,
          exportRequest([deltaSum('/a', startMs, endMs, value)]),
        ),
        false,
      );
      const result = accumulator.accumulate(converted.deltaRw1!);
      return { result, samples: seriesOf(result.rw1).get(key) };
    };
    expect(send(T0_MS, T0_MS + 10_000, 5n).samples).toEqual([[5, T0_MS + 10_000, BigInt(T0_MS)]]);
    // Contiguous.
    expect(send(T0_MS + 10_000, T0_MS + 20_000, 2n).samples).toEqual([
      [7, T0_MS + 20_000, BigInt(T0_MS)],
    ]);
    // After a gap in which nothing was reported.
    expect(send(T0_MS + 50_000, T0_MS + 60_000, 1n).samples).toEqual([
      [8, T0_MS + 60_000, BigInt(T0_MS)],
    ]);
    // Late (ends before the last point): refused, nothing written.
    const late = send(T0_MS + 20_000, T0_MS + 30_000, 9n);
    expect(late.samples).toBeUndefined();
    expect(late.result.rejected).toBe(1);
    expect(late.result.message).toBe(
      'requests_total: delta point not newer than the previous one of its series',
    );
    // Overlapping time already counted: the sender started over, and so does the total.
    expect(send(T0_MS + 55_000, T0_MS + 70_000, 4n).samples).toEqual([
      [4, T0_MS + 70_000, BigInt(T0_MS + 55_000)],
    ]);
  });

  it('starts every series over past its series limit', () => {
    const converter = new OtlpConverter({ keepNames: false });
    const accumulator = new DeltaAccumulator({ maxStreams: 2 });
    for (const route of ['/a', '/b', '/c']) {
      const converted = converter.convert(
        toBinary(
          ExportMetricsServiceRequestSchema,
          exportRequest([deltaSum(route, T0_MS, T0_MS + 10_000, 1n)]),
        ),
        false,
      );
      accumulator.accumulate(converted.deltaRw1!);
    }
    expect(accumulator.size).toBe(1);
  });
});
