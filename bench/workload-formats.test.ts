import { fromBinary } from '@bufbuild/protobuf';
import { uncompressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { RequestSchema } from '../proto/gen/io/prometheus/write/v2/types_pb.js';
import { ExportMetricsServiceRequestSchema } from '../proto/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import { decodeRequest } from '../proxy/pipeline/remote-write-fixtures.js';
import { Workload } from './workload.js';
import { formatUrl, requestHeaders } from './workload-formats.js';

const SERIES = 1_500;
const PER_REQUEST = 500;

/** What a series carries, in any format: sorted labels, one value and timestamp. */
interface PlainSample {
  labels: Record<string, string>;
  value: number;
  timestampMs: number;
}

function rw1Samples(workload: Workload, sequence: number): PlainSample[] {
  const request = decodeRequest(uncompressSync(Buffer.from(workload.body(sequence))) as Buffer);
  return request.timeseries.map((series) => ({
    labels: Object.fromEntries(series.labels.map((label) => [label.name, label.value])),
    value: series.samples[0]!.value,
    timestampMs: Number(series.samples[0]!.timestamp),
  }));
}

function rw2Samples(workload: Workload, sequence: number): PlainSample[] {
  const request = fromBinary(
    RequestSchema,
    uncompressSync(Buffer.from(workload.body(sequence))) as Buffer,
  );
  expect(request.symbols[0]).toBe('');
  return request.timeseries.map((series) => {
    const labels: Record<string, string> = {};
    for (let i = 0; i < series.labelsRefs.length; i += 2) {
      labels[request.symbols[series.labelsRefs[i]!]!] = request.symbols[series.labelsRefs[i + 1]!]!;
    }
    expect(series.samples).toHaveLength(1);
    return {
      labels,
      value: series.samples[0]!.value,
      timestampMs: Number(series.samples[0]!.timestamp),
    };
  });
}

function otlpSamples(workload: Workload, sequence: number): PlainSample[] {
  const request = fromBinary(ExportMetricsServiceRequestSchema, workload.body(sequence));
  expect(request.resourceMetrics).toHaveLength(1);
  return request.resourceMetrics[0]!.scopeMetrics[0]!.metrics.map((metric) => {
    expect(metric.data.case).toBe('gauge');
    const points = metric.data.case === 'gauge' ? metric.data.value.dataPoints : [];
    expect(points).toHaveLength(1);
    const point = points[0]!;
    const labels: Record<string, string> = { __name__: metric.name };
    for (const attribute of point.attributes) {
      expect(attribute.value?.value.case).toBe('stringValue');
      labels[attribute.key] = String(attribute.value?.value.value);
    }
    return {
      labels: Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1))),
      value: point.value.case === 'asDouble' ? point.value.value : Number.NaN,
      timestampMs: Number(point.timeUnixNano / 1_000_000n),
    };
  });
}

describe('workload formats', () => {
  const rw1 = new Workload({ seriesCount: SERIES, seriesPerRequest: PER_REQUEST });
  const cases = [
    ['rw2', rw2Samples],
    ['otlp', otlpSamples],
  ] as const;

  for (const [format, decode] of cases) {
    it(`encodes the same series, values and timestamps as ${format} in every round`, () => {
      const workload = new Workload({ seriesCount: SERIES, seriesPerRequest: PER_REQUEST, format });
      expect(workload.requestsPerRound).toBe(rw1.requestsPerRound);
      // Round 0 and a later round: the patched values and timestamps decode right too.
      for (const sequence of [0, 2, 3 * workload.requestsPerRound + 1]) {
        const expected = rw1Samples(rw1, sequence);
        expect(expected).toHaveLength(PER_REQUEST);
        expect(decode(workload, sequence)).toEqual(expected);
      }
    });
  }

  it('sends each format where and how Phoenix takes it', () => {
    expect(formatUrl('http://127.0.0.1:1/api/v1/write', 'otlp')).toBe(
      'http://127.0.0.1:1/v1/metrics',
    );
    expect(formatUrl('http://127.0.0.1:1/api/v1/write', 'rw2')).toBe(
      'http://127.0.0.1:1/api/v1/write',
    );
    expect(requestHeaders('rw2')['content-type']).toBe(
      'application/x-protobuf;proto=io.prometheus.write.v2.Request',
    );
    expect(requestHeaders('otlp')['content-encoding']).toBeUndefined();
  });
});
