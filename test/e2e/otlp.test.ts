/**
 * OTLP in: the real OpenTelemetry JS SDK and its OTLP exporters (HTTP protobuf, HTTP
 * JSON, gRPC) send counters, up-down counters, gauges and histograms, with cumulative and
 * delta temporality, through `phoenix proxy` into a real Prometheus 2.42; PromQL must show
 * the names, labels and values the OpenTelemetry ↔ Prometheus compatibility spec gives.
 */

import { gzipSync } from 'node:zlib';
import { create, fromBinary, toBinary, toJsonString } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import {
  AggregationTemporality,
  AggregationType,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ExportMetricsServiceRequestSchema,
  ExportMetricsServiceResponseSchema,
  MetricsService,
} from '../../proto/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import { AggregationTemporality as OtlpTemporality } from '../../proto/gen/opentelemetry/proto/metrics/v1/metrics_pb.js';
import { type RunningPhoenix, startPhoenix } from '../helpers/phoenix.js';
import { pollUntil } from '../helpers/poll.js';
import { freePort } from '../helpers/ports.js';
import { type RunningPrometheus, startPrometheus } from '../helpers/prometheus.js';

type ExporterKind = 'proto' | 'json' | 'grpc';

interface Case {
  readonly exporter: ExporterKind;
  readonly temporality: AggregationTemporality;
}

const CASES: readonly Case[] = [
  { exporter: 'proto', temporality: AggregationTemporality.CUMULATIVE },
  { exporter: 'json', temporality: AggregationTemporality.CUMULATIVE },
  { exporter: 'grpc', temporality: AggregationTemporality.CUMULATIVE },
  { exporter: 'proto', temporality: AggregationTemporality.DELTA },
  { exporter: 'json', temporality: AggregationTemporality.DELTA },
  { exporter: 'grpc', temporality: AggregationTemporality.DELTA },
];

function caseName({ exporter, temporality }: Case): string {
  return `${exporter}-${temporality === AggregationTemporality.DELTA ? 'delta' : 'cumulative'}`;
}

describe('OpenTelemetry SDK exporters through phoenix into Prometheus 2.42', () => {
  let receiver: RunningPrometheus;
  let phoenix: RunningPhoenix;
  let grpcPort: number;

  beforeAll(async () => {
    receiver = await startPrometheus({
      name: 'receiver',
      config: { global: { scrape_interval: '1h' } },
      remoteWriteReceiver: true,
    });
    grpcPort = await freePort();
    phoenix = await startPhoenix({
      upstreamUrl: receiver.remoteWriteUrl,
      extraArgs: ['--otlp-grpc-listen', `127.0.0.1:${grpcPort}`],
    });
  });

  afterAll(async () => {
    await phoenix?.stop();
    await receiver?.stop();
  });

  function exporterFor(testCase: Case): PushMetricExporter {
    const options = { temporalityPreference: testCase.temporality, timeoutMillis: 10_000 };
    switch (testCase.exporter) {
      case 'proto':
        return new ProtoExporter({ ...options, url: `${phoenix.url}/v1/metrics` });
      case 'json':
        return new JsonExporter({ ...options, url: `${phoenix.url}/v1/metrics` });
      case 'grpc':
        return new GrpcExporter({ ...options, url: `http://127.0.0.1:${grpcPort}` });
    }
  }

  for (const testCase of CASES) {
    const name = caseName(testCase);
    it(`${name}: counters, up-down counters, gauges and histograms arrive as the spec names them`, async () => {
      const reader = new PeriodicExportingMetricReader({
        exporter: exporterFor(testCase),
        exportIntervalMillis: 3_600_000,
      });
      const provider = new MeterProvider({
        resource: resourceFromAttributes({
          'service.name': name,
          'service.namespace': 'shop',
          'service.instance.id': 'pod-1',
          'deployment.environment': 'test',
        }),
        readers: [reader],
        views: [
          {
            instrumentName: 'request.duration',
            aggregation: {
              type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM,
              options: { boundaries: [0.1, 0.5, 1] },
            },
          },
        ],
      });
      const meter = provider.getMeter('phoenix-e2e', '1.0.0');
      const orders = meter.createCounter('orders.placed', { unit: '{order}' });
      const queue = meter.createUpDownCounter('queue.items', { description: 'Items waiting.' });
      const temperature = meter.createGauge('room.temperature', { unit: 'Cel' });
      const duration = meter.createHistogram('request.duration', { unit: 's' });
      const attributes = { 'http.method': 'GET' };

      // Two export rounds: with delta temporality the second carries only what changed.
      orders.add(3, attributes);
      queue.add(5);
      temperature.record(19, { room: 'lab' });
      duration.record(0.05, attributes);
      duration.record(0.3, attributes);
      await reader.forceFlush();
      await new Promise((resolve) => setTimeout(resolve, 20));
      orders.add(4, attributes);
      queue.add(-2);
      temperature.record(21.5, { room: 'lab' });
      duration.record(0.7, attributes);
      duration.record(2, attributes);
      await reader.forceFlush();
      await provider.shutdown();

      const job = `shop/${name}`;
      const value = async (promql: string) => {
        const found = await receiver.query(promql);
        return found.map((sample) => sample.value);
      };
      await pollUntil(
        async () =>
          (await value(`orders_placed_total{job="${job}"}`))[0] === '7' ? true : undefined,
        { description: `orders_placed_total of ${job} reaching 7`, timeoutMs: 20_000 },
      );
      expect(await receiver.query(`orders_placed_total{job="${job}"}`)).toEqual([
        {
          metric: {
            __name__: 'orders_placed_total',
            http_method: 'GET',
            instance: 'pod-1',
            job,
          },
          value: '7',
        },
      ]);
      expect(await value(`queue_items{job="${job}"}`)).toEqual(['3']);
      expect(await value(`room_temperature_celsius{job="${job}",room="lab"}`)).toEqual(['21.5']);
      const buckets = await receiver.query(`request_duration_seconds_bucket{job="${job}"}`);
      expect(
        Object.fromEntries(buckets.map((sample) => [sample.metric['le'], sample.value])),
      ).toEqual({ '0.1': '1', '0.5': '2', '1': '3', '+Inf': '4' });
      expect(await value(`request_duration_seconds_count{job="${job}"}`)).toEqual(['4']);
      const sums = await value(`request_duration_seconds_sum{job="${job}"}`);
      expect(sums).toHaveLength(1);
      expect(Number(sums[0])).toBeCloseTo(3.05, 9);
      expect(await receiver.query(`target_info{job="${job}"}`)).toEqual([
        {
          metric: {
            __name__: 'target_info',
            deployment_environment: 'test',
            instance: 'pod-1',
            job,
          },
          value: '1',
        },
      ]);
    });
  }

  it('answers OTLP/HTTP per its spec: partial success, 400 with a Status, 415', async () => {
    const nowNanos = BigInt(Date.now()) * 1_000_000n;
    const message = create(ExportMetricsServiceRequestSchema, {
      resourceMetrics: [
        {
          resource: {
            attributes: [
              { key: 'service.name', value: { value: { case: 'stringValue', value: 'raw' } } },
            ],
          },
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'raw.gauge',
                  data: {
                    case: 'gauge',
                    value: {
                      dataPoints: [
                        { timeUnixNano: nowNanos, value: { case: 'asDouble', value: 5 } },
                      ],
                    },
                  },
                },
                {
                  name: 'raw.delta.exponential',
                  data: {
                    case: 'exponentialHistogram',
                    value: {
                      aggregationTemporality: OtlpTemporality.DELTA,
                      dataPoints: [
                        { timeUnixNano: nowNanos, count: 1n, positive: { bucketCounts: [1n] } },
                      ],
                    },
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const post = (body: Uint8Array | string, contentType: string, contentEncoding?: string) =>
      fetch(`${phoenix.url}/v1/metrics`, {
        method: 'POST',
        headers: {
          'content-type': contentType,
          ...(contentEncoding === undefined ? {} : { 'content-encoding': contentEncoding }),
        },
        body,
      });

    const proto = await post(
      gzipSync(toBinary(ExportMetricsServiceRequestSchema, message)),
      'application/x-protobuf',
      'gzip',
    );
    expect(proto.status).toBe(200);
    expect(proto.headers.get('content-type')).toBe('application/x-protobuf');
    const protoAnswer = fromBinary(
      ExportMetricsServiceResponseSchema,
      new Uint8Array(await proto.arrayBuffer()),
    );
    expect(protoAnswer.partialSuccess?.rejectedDataPoints).toBe(1n);
    expect(protoAnswer.partialSuccess?.errorMessage).toMatch(
      /raw_delta_exponential: delta exponential histograms/,
    );

    const json = await post(
      toJsonString(ExportMetricsServiceRequestSchema, message),
      'application/json',
    );
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual({
      partialSuccess: {
        rejectedDataPoints: '1',
        errorMessage: expect.stringMatching(/raw_delta_exponential/),
      },
    });
    await pollUntil(
      async () => ((await receiver.query('raw_gauge{job="raw"}')).length === 1 ? true : undefined),
      { description: 'raw_gauge on the receiver', timeoutMs: 20_000 },
    );

    const badJson = await post('{"resourceMetrics": 5}', 'application/json');
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toEqual({
      code: 3,
      message: expect.stringMatching(/resourceMetrics: expected an array/),
    });

    const badProto = await post(new Uint8Array([0x0a, 0x7f, 0x00]), 'application/x-protobuf');
    expect(badProto.status).toBe(400);
    expect(badProto.headers.get('content-type')).toBe('application/x-protobuf');

    expect((await post('x', 'text/plain')).status).toBe(415);
    expect((await post('x', 'application/json', 'br')).status).toBe(415);
  });

  it('answers OTLP/gRPC per its spec: partial success, INVALID_ARGUMENT for bad data', async () => {
    const client = createClient(
      MetricsService,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcPort}` }),
    );
    const nowNanos = BigInt(Date.now()) * 1_000_000n;
    const answer = await client.export({
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'grpc.gauge',
                  data: {
                    case: 'gauge',
                    value: {
                      dataPoints: [
                        { timeUnixNano: nowNanos, value: { case: 'asDouble', value: 2 } },
                      ],
                    },
                  },
                },
                {
                  name: 'grpc.coarse.histogram',
                  data: {
                    case: 'exponentialHistogram',
                    value: {
                      aggregationTemporality: OtlpTemporality.CUMULATIVE,
                      dataPoints: [
                        {
                          timeUnixNano: nowNanos,
                          count: 1n,
                          scale: -9,
                          positive: { bucketCounts: [1n] },
                        },
                      ],
                    },
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    expect(answer.partialSuccess?.rejectedDataPoints).toBe(1n);
    expect(answer.partialSuccess?.errorMessage).toMatch(/scale -9 is below -4/);
    await pollUntil(
      async () => ((await receiver.query('grpc_gauge')).length === 1 ? true : undefined),
      { description: 'grpc_gauge on the receiver', timeoutMs: 20_000 },
    );

    const refused = await client
      .export({
        resourceMetrics: [
          {
            scopeMetrics: [
              {
                metrics: [
                  {
                    name: 'bad',
                    data: {
                      case: 'sum',
                      value: { aggregationTemporality: 9 as OtlpTemporality, dataPoints: [{}] },
                    },
                  },
                ],
              },
            ],
          },
        ],
      })
      .then(
        () => undefined,
        (error: unknown) => ConnectError.from(error),
      );
    expect(refused?.code).toBe(Code.InvalidArgument);
    expect(refused?.rawMessage).toMatch(/unknown aggregation_temporality 9/);
  });
});
