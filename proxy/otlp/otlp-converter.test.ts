import {
  create,
  fromBinary,
  type MessageInitShape,
  toBinary,
  toJsonString,
} from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { RequestSchema as Rw2RequestSchema } from '../../proto/gen/io/prometheus/write/v2/types_pb.js';
import { ExportMetricsServiceRequestSchema } from '../../proto/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import {
  AggregationTemporality,
  type Metric,
  MetricSchema,
} from '../../proto/gen/opentelemetry/proto/metrics/v1/metrics_pb.js';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import { Rw1ToRw2Converter } from '../rw2/rw1-to-rw2.js';
import { WireError } from '../wire/proto-reader.js';
import { DeltaAccumulator } from './delta-accumulator.js';
import { OtlpConverter } from './otlp-converter.js';
import { OtlpJsonError } from './otlp-json-reader.js';

const T0_MS = 1_700_000_000_000;
const nanos = (ms: number) => BigInt(ms) * 1_000_000n + 123_456n;
const attr = (key: string, value: string) => ({
  key,
  value: { value: { case: 'stringValue' as const, value } },
});

function request(metrics: MessageInitShape<typeof MetricSchema>[], resource = defaultResource()) {
  return create(ExportMetricsServiceRequestSchema, {
    resourceMetrics: [
      { resource: { attributes: resource }, scopeMetrics: [{ scope: { name: 's' }, metrics }] },
    ],
  });
}

function defaultResource() {
  return [
    attr('service.name', 'checkout'),
    attr('service.namespace', 'shop'),
    attr('service.instance.id', 'pod-1'),
    attr('k8s.pod.name', 'checkout-abc'),
  ];
}

/** Series of a converted request as "name{a="1",…}" → [value, timestamp] pairs. */
function seriesOf(rw1: Uint8Array): Record<string, Array<[number, number]>> {
  const decoded = fromBinary(WriteRequestSchema, rw1);
  const out: Record<string, Array<[number, number]>> = {};
  for (const series of decoded.timeseries) {
    const names = series.labels.map((label) => label.name);
    expect(names).toEqual([...names].sort());
    const name = series.labels.find((label) => label.name === '__name__')?.value ?? '';
    const rest = series.labels
      .filter((label) => label.name !== '__name__')
      .map((label) => `${label.name}="${label.value}"`)
      .join(',');
    out[`${name}{${rest}}`] = series.samples.map((s) => [s.value, Number(s.timestamp)]);
  }
  return out;
}

/** Converts the request in both encodings, checks they agree, returns the binary result. */
function convertBoth(converter: OtlpConverter, message: ReturnType<typeof request>) {
  const binary = converter.convert(toBinary(ExportMetricsServiceRequestSchema, message), false);
  const binaryBytes = binary.rw1.slice();
  const json = new OtlpConverter({ keepNames: false }).convert(
    new TextEncoder().encode(toJsonString(ExportMetricsServiceRequestSchema, message)),
    true,
  );
  expect(json.rw1).toEqual(binaryBytes);
  return { rw1: binaryBytes, outcome: binary.outcome };
}

const ID = 'instance="pod-1",job="shop/checkout"';

describe('OtlpConverter', () => {
  it('converts gauges, sums, histograms and summaries per the compatibility spec', () => {
    const metrics: MessageInitShape<typeof MetricSchema>[] = [
      {
        name: 'room.temperature',
        unit: 'Cel',
        data: {
          case: 'gauge',
          value: {
            dataPoints: [
              {
                attributes: [attr('room', 'lab')],
                timeUnixNano: nanos(T0_MS),
                value: { case: 'asDouble', value: 21.5 },
              },
            ],
          },
        },
      },
      {
        name: 'http.requests',
        unit: '{request}',
        description: 'Requests served.',
        data: {
          case: 'sum',
          value: {
            isMonotonic: true,
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPoints: [
              {
                attributes: [attr('http.method', 'GET'), attr('http_method', 'get')],
                timeUnixNano: nanos(T0_MS),
                value: { case: 'asInt', value: 42n },
              },
            ],
          },
        },
      },
      {
        name: 'queue.items',
        data: {
          case: 'sum',
          value: {
            isMonotonic: false,
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPoints: [{ timeUnixNano: nanos(T0_MS), value: { case: 'asInt', value: -3n } }],
          },
        },
      },
      {
        name: 'request.duration',
        unit: 'ms',
        data: {
          case: 'histogram',
          value: {
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPoints: [
              {
                timeUnixNano: nanos(T0_MS),
                count: 6n,
                sum: 120,
                explicitBounds: [10, 100],
                bucketCounts: [1n, 3n, 2n],
              },
            ],
          },
        },
      },
      {
        name: 'rpc.latency',
        unit: 's',
        data: {
          case: 'summary',
          value: {
            dataPoints: [
              {
                timeUnixNano: nanos(T0_MS),
                count: 10n,
                sum: 2.5,
                quantileValues: [
                  { quantile: 0.5, value: 0.2 },
                  { quantile: 0.99, value: 0.9 },
                ],
              },
            ],
          },
        },
      },
      {
        name: 'gone',
        data: {
          case: 'gauge',
          value: { dataPoints: [{ timeUnixNano: nanos(T0_MS), flags: 1 }] },
        },
      },
    ];
    const { rw1, outcome } = convertBoth(new OtlpConverter({ keepNames: false }), request(metrics));
    const series = seriesOf(rw1);
    const stale = series[`gone{${ID}}`]?.[0]?.[0];
    delete series[`gone{${ID}}`];
    expect(Number.isNaN(stale)).toBe(true);
    expect(series).toEqual({
      [`room_temperature_celsius{${ID},room="lab"}`]: [[21.5, T0_MS]],
      [`http_requests_total{http_method="GET;get",${ID}}`]: [[42, T0_MS]],
      [`queue_items{${ID}}`]: [[-3, T0_MS]],
      [`request_duration_milliseconds_bucket{${ID},le="10"}`]: [[1, T0_MS]],
      [`request_duration_milliseconds_bucket{${ID},le="100"}`]: [[4, T0_MS]],
      [`request_duration_milliseconds_bucket{${ID},le="+Inf"}`]: [[6, T0_MS]],
      [`request_duration_milliseconds_sum{${ID}}`]: [[120, T0_MS]],
      [`request_duration_milliseconds_count{${ID}}`]: [[6, T0_MS]],
      [`rpc_latency_seconds{${ID},quantile="0.5"}`]: [[0.2, T0_MS]],
      [`rpc_latency_seconds{${ID},quantile="0.99"}`]: [[0.9, T0_MS]],
      [`rpc_latency_seconds_sum{${ID}}`]: [[2.5, T0_MS]],
      [`rpc_latency_seconds_count{${ID}}`]: [[10, T0_MS]],
      [`target_info{${ID},k8s_pod_name="checkout-abc"}`]: [[1, T0_MS]],
    });
    expect(outcome.rejectedPoints).toBe(0);
    const metadata = fromBinary(WriteRequestSchema, rw1).metadata;
    expect(
      metadata.find((entry) => entry.metricFamilyName === 'http_requests_total'),
    ).toMatchObject({
      type: 1,
      help: 'Requests served.',
      unit: '{request}',
    });
  });

  it('writes exponential histograms as native histograms, merging scale 10 down to 8', () => {
    const metric: MessageInitShape<typeof MetricSchema> = {
      name: 'size',
      unit: 'By',
      data: {
        case: 'exponentialHistogram',
        value: {
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPoints: [
            {
              timeUnixNano: nanos(T0_MS),
              count: 13n,
              sum: 99,
              scale: 10,
              zeroCount: 1n,
              zeroThreshold: 0.001,
              positive: { offset: 3, bucketCounts: [1n, 2n, 3n, 4n, 1n] },
              negative: { offset: -1, bucketCounts: [1n] },
            },
          ],
        },
      },
    };
    const { rw1, outcome } = convertBoth(
      new OtlpConverter({ keepNames: false }),
      request([metric]),
    );
    expect(outcome.histograms).toBe(1);
    const series = fromBinary(WriteRequestSchema, rw1).timeseries.find((entry) =>
      entry.labels.some((label) => label.value === 'size_bytes'),
    );
    const histogram = series?.histograms[0];
    expect(histogram).toBeDefined();
    expect(histogram).toMatchObject({
      schema: 8,
      sum: 99,
      zeroThreshold: 0.001,
      timestamp: BigInt(T0_MS),
    });
    expect(histogram?.count).toEqual({ case: 'countInt', value: 13n });
    expect(histogram?.zeroCount).toEqual({ case: 'zeroCountInt', value: 1n });
    // OTLP indexes 3..7 at scale 10 are 0,1,1,1,1 at scale 8 (index >> 2): counts 1 | 2+3+4+1.
    // Prometheus' bucket index is OTLP's plus one.
    expect(histogram?.positiveSpans.map(({ offset, length }) => [offset, length])).toEqual([
      [1, 2],
    ]);
    expect(histogram?.positiveDeltas).toEqual([1n, 9n]);
    expect(histogram?.negativeSpans.map(({ offset, length }) => [offset, length])).toEqual([
      [0, 1],
    ]);
    expect(histogram?.negativeDeltas).toEqual([1n]);
  });

  it('turns delta sums and histograms into running totals per stream', () => {
    const converter = new OtlpConverter({ keepNames: false });
    const round = (offsetMs: number, count: bigint, buckets: bigint[]): Metric[] => [
      create(MetricSchema, {
        name: 'jobs.done',
        data: {
          case: 'sum',
          value: {
            isMonotonic: true,
            aggregationTemporality: AggregationTemporality.DELTA,
            dataPoints: [
              { timeUnixNano: nanos(T0_MS + offsetMs), value: { case: 'asInt', value: count } },
            ],
          },
        },
      }),
      create(MetricSchema, {
        name: 'wait',
        unit: 's',
        data: {
          case: 'histogram',
          value: {
            aggregationTemporality: AggregationTemporality.DELTA,
            dataPoints: [
              {
                timeUnixNano: nanos(T0_MS + offsetMs),
                count: buckets.reduce((a, b) => a + b, 0n),
                sum: Number(count),
                explicitBounds: [1],
                bucketCounts: buckets,
              },
            ],
          },
        },
      }),
    ];
    // The converter keeps no totals: delta points come out apart, for the one accumulator.
    const accumulator = new DeltaAccumulator();
    const convert = (metrics: Metric[]) => {
      const converted = converter.convert(
        toBinary(ExportMetricsServiceRequestSchema, request(metrics)),
        false,
      );
      expect(seriesOf(converted.rw1)[`jobs_done_total{${ID}}`]).toBeUndefined();
      const totals = accumulator.accumulate(converted.deltaRw1!);
      return { deltas: seriesOf(converted.deltaRw1!), totals, series: seriesOf(totals.rw1) };
    };
    const first = convert(round(0, 3n, [1n, 1n]));
    expect(first.series[`jobs_done_total{${ID}}`]).toEqual([[3, T0_MS]]);
    const second = convert(round(10_000, 4n, [2n, 0n]));
    expect(second.deltas[`jobs_done_total{${ID}}`]).toEqual([[4, T0_MS + 10_000]]);
    expect(second.series[`jobs_done_total{${ID}}`]).toEqual([[7, T0_MS + 10_000]]);
    expect(second.series[`wait_seconds_bucket{${ID},le="1"}`]).toEqual([[3, T0_MS + 10_000]]);
    expect(second.series[`wait_seconds_bucket{${ID},le="+Inf"}`]).toEqual([[4, T0_MS + 10_000]]);
    expect(second.series[`wait_seconds_sum{${ID}}`]).toEqual([[7, T0_MS + 10_000]]);
    expect(second.series[`wait_seconds_count{${ID}}`]).toEqual([[4, T0_MS + 10_000]]);

    // The same points again: duplicates, refused rather than counted twice; a histogram
    // point counts as one point, not as the four series it became.
    const replay = convert(round(10_000, 4n, [2n, 0n]));
    expect(replay.totals.rejected).toBe(2);
    expect(replay.totals.message).toMatch(/jobs_done_total: delta point not newer/);
    expect(replay.series[`jobs_done_total{${ID}}`]).toBeUndefined();
  });

  it('gives cumulative counters and histograms their start time as start timestamp, gauges none', () => {
    const startMs = T0_MS - 3_600_000;
    const point = { startTimeUnixNano: nanos(startMs), timeUnixNano: nanos(T0_MS) };
    const converted = convertBoth(
      new OtlpConverter({ keepNames: false }),
      request([
        {
          name: 'jobs.done',
          data: {
            case: 'sum',
            value: {
              isMonotonic: true,
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPoints: [{ ...point, value: { case: 'asInt', value: 9n } }],
            },
          },
        },
        {
          name: 'wait',
          unit: 's',
          data: {
            case: 'histogram',
            value: {
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPoints: [
                { ...point, count: 2n, sum: 1, explicitBounds: [1], bucketCounts: [1n, 1n] },
              ],
            },
          },
        },
        {
          name: 'temperature',
          data: {
            case: 'gauge',
            value: { dataPoints: [{ ...point, value: { case: 'asDouble', value: 20 } }] },
          },
        },
      ]),
    );
    const rw2 = fromBinary(Rw2RequestSchema, new Rw1ToRw2Converter().convert(converted.rw1));
    const startOf = Object.fromEntries(
      rw2.timeseries.map((series) => {
        const labels = series.labelsRefs.map((ref) => rw2.symbols[ref]);
        const name = labels[labels.indexOf('__name__') + 1]!;
        const le = labels.includes('le') ? `{le=${labels[labels.indexOf('le') + 1]}}` : '';
        return [`${name}${le}`, series.createdTimestamp];
      }),
    );
    expect(startOf).toEqual({
      jobs_done_total: BigInt(startMs),
      'wait_seconds_bucket{le=1}': BigInt(startMs),
      'wait_seconds_bucket{le=+Inf}': BigInt(startMs),
      wait_seconds_sum: BigInt(startMs),
      wait_seconds_count: BigInt(startMs),
      temperature: 0n,
      target_info: 0n,
    });
  });

  it('carries exemplars: trace and span ids in hex, each with the bucket of its value', () => {
    const exemplar = (value: number, traceByte: number) => ({
      timeUnixNano: nanos(T0_MS - 500),
      value: { case: 'asDouble' as const, value },
      traceId: new Uint8Array(16).fill(traceByte),
      spanId: new Uint8Array(8).fill(0xab),
      filteredAttributes: [attr('user.id', 'u1')],
    });
    const metrics: MessageInitShape<typeof MetricSchema>[] = [
      {
        name: 'orders',
        data: {
          case: 'sum',
          value: {
            isMonotonic: true,
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPoints: [
              {
                timeUnixNano: nanos(T0_MS),
                value: { case: 'asInt', value: 5n },
                exemplars: [exemplar(1, 1)],
              },
            ],
          },
        },
      },
      {
        name: 'latency',
        data: {
          case: 'histogram',
          value: {
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPoints: [
              {
                timeUnixNano: nanos(T0_MS),
                count: 2n,
                sum: 155,
                explicitBounds: [10, 100],
                bucketCounts: [1n, 0n, 1n],
                exemplars: [exemplar(5, 2), exemplar(150, 3)],
              },
            ],
          },
        },
      },
    ];
    const converter = new OtlpConverter({ keepNames: false });
    const { rw1, outcome } = converter.convert(
      toBinary(ExportMetricsServiceRequestSchema, request(metrics)),
      false,
    );
    expect(outcome.exemplars).toBe(3);
    const exemplarsOf = (name: string, le?: string) =>
      fromBinary(WriteRequestSchema, rw1)
        .timeseries.filter(
          (series) =>
            series.labels.some((label) => label.name === '__name__' && label.value === name) &&
            (le === undefined ||
              series.labels.some((label) => label.name === 'le' && label.value === le)),
        )
        .flatMap((series) =>
          series.exemplars.map((e) => ({
            labels: Object.fromEntries(e.labels.map((label) => [label.name, label.value])),
            value: e.value,
            timestamp: Number(e.timestamp),
          })),
        );
    const labels = (traceByte: number) => ({
      trace_id: traceByte.toString(16).padStart(2, '0').repeat(16),
      span_id: 'ab'.repeat(8),
      user_id: 'u1',
    });
    expect(exemplarsOf('orders_total')).toEqual([
      { labels: labels(1), value: 1, timestamp: T0_MS - 500 },
    ]);
    expect(exemplarsOf('latency_bucket', '10')).toEqual([
      { labels: labels(2), value: 5, timestamp: T0_MS - 500 },
    ]);
    expect(exemplarsOf('latency_bucket', '100')).toEqual([]);
    expect(exemplarsOf('latency_bucket', '+Inf')).toEqual([
      { labels: labels(3), value: 150, timestamp: T0_MS - 500 },
    ]);
    expect(exemplarsOf('latency_count')).toEqual([]);

    // OTLP JSON writes the ids in hex.
    const json = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'orders',
                  sum: {
                    isMonotonic: true,
                    aggregationTemporality: 2,
                    dataPoints: [
                      {
                        timeUnixNano: String(nanos(T0_MS)),
                        asInt: '5',
                        exemplars: [
                          {
                            timeUnixNano: String(nanos(T0_MS - 500)),
                            asDouble: 1,
                            traceId: '01'.repeat(16),
                            spanId: 'AB'.repeat(8),
                            filteredAttributes: [{ key: 'user.id', value: { stringValue: 'u1' } }],
                          },
                        ],
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const fromJson = converter.convert(new TextEncoder().encode(JSON.stringify(json)), true);
    const decoded = fromBinary(WriteRequestSchema, fromJson.rw1);
    expect(
      Object.fromEntries(decoded.timeseries[0]!.exemplars[0]!.labels.map((l) => [l.name, l.value])),
    ).toEqual(labels(1));
  });

  it('keeps names as sent with keepNames', () => {
    const metric: MessageInitShape<typeof MetricSchema> = {
      name: 'http.server.requests',
      unit: 's',
      data: {
        case: 'sum',
        value: {
          isMonotonic: true,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPoints: [{ timeUnixNano: nanos(T0_MS), value: { case: 'asDouble', value: 1 } }],
        },
      },
    };
    const converter = new OtlpConverter({ keepNames: true });
    const { rw1 } = converter.convert(
      toBinary(ExportMetricsServiceRequestSchema, request([metric])),
      false,
    );
    expect(Object.keys(seriesOf(rw1))).toContain(`http_server_requests{${ID}}`);
  });

  it('refuses delta exponential histograms and too-small scales as partial success', () => {
    const metric = (
      scale: number,
      temporality: AggregationTemporality,
    ): MessageInitShape<typeof MetricSchema> => ({
      name: 'h',
      data: {
        case: 'exponentialHistogram',
        value: {
          aggregationTemporality: temporality,
          dataPoints: [
            { timeUnixNano: nanos(T0_MS), count: 1n, scale, positive: { bucketCounts: [1n] } },
          ],
        },
      },
    });
    const { outcome } = new OtlpConverter({ keepNames: false }).convert(
      toBinary(
        ExportMetricsServiceRequestSchema,
        request([
          metric(0, AggregationTemporality.DELTA),
          metric(-5, AggregationTemporality.CUMULATIVE),
        ]),
      ),
      false,
    );
    expect(outcome.rejectedPoints).toBe(2);
    expect(outcome.message).toMatch(
      /delta exponential histograms are not converted; h: exponential histogram scale -5/,
    );
  });

  it.each([
    ['truncated protobuf', new Uint8Array([0x0a, 0x10, 0x0a]), false, WireError],
    [
      'unknown temporality',
      toBinary(
        ExportMetricsServiceRequestSchema,
        request([
          {
            name: 'x',
            data: {
              case: 'sum',
              value: { aggregationTemporality: 7 as AggregationTemporality, dataPoints: [{}] },
            },
          },
        ]),
      ),
      false,
      WireError,
    ],
    [
      'JSON that is not JSON',
      new TextEncoder().encode('{"resourceMetrics": ['),
      true,
      OtlpJsonError,
    ],
    [
      'JSON with a string for an object',
      new TextEncoder().encode('{"resourceMetrics": ["x"]}'),
      true,
      OtlpJsonError,
    ],
    [
      'JSON with a bad timestamp',
      new TextEncoder().encode(
        '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"timeUnixNano":"soon","asDouble":1}]}}]}]}]}',
      ),
      true,
      OtlpJsonError,
    ],
  ])('refuses %s', (_name, body, json, errorType) => {
    expect(() => new OtlpConverter({ keepNames: false }).convert(body, json)).toThrow(errorType);
  });
});
