/**
 * Remote-write 1.0 request bodies for tests and benchmarks of the pipeline engine, built and
 * read with the generated protobuf code (independent of the WebAssembly decoder).
 */

import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { type WriteRequest, WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import {
  ExemplarSchema,
  HistogramSchema,
  LabelSchema,
  MetricMetadata_MetricType,
  MetricMetadataSchema,
  SampleSchema,
  type TimeSeries,
  TimeSeriesSchema,
} from '../../proto/gen/prometheus/types_pb.js';

/** Labels as name/value pairs, in the order they are written to the wire. */
export type LabelPairs = ReadonlyArray<readonly [string, string]>;

/** Label pairs of a record, sorted by name bytes as remote write requires. */
export function sortedLabels(labels: Readonly<Record<string, string>>): LabelPairs {
  return Object.entries(labels).sort(([a], [b]) => compareNames(a, b));
}

/** Byte-wise (UTF-8) order of label names, the order the remote-write spec requires. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** A time series with the given labels (kept in the given order) and one float sample. */
export function seriesWith(labels: LabelPairs, sampleCount = 1): TimeSeries {
  return create(TimeSeriesSchema, {
    labels: labels.map(([name, value]) => create(LabelSchema, { name, value })),
    samples: Array.from({ length: sampleCount }, (_, i) =>
      create(SampleSchema, { value: i + 0.5, timestamp: BigInt(1_700_000_000_000 + i * 15_000) }),
    ),
  });
}

/** A time series carrying every kind of payload: samples, exemplars and native histograms. */
export function richSeries(labels: LabelPairs, seed: number): TimeSeries {
  const series = seriesWith(labels, 1 + (seed % 3));
  series.exemplars.push(
    create(ExemplarSchema, {
      labels: [create(LabelSchema, { name: 'trace_id', value: `trace-${seed}` })],
      value: seed * 1.25,
      timestamp: BigInt(1_700_000_000_000 + seed),
    }),
  );
  series.histograms.push(
    create(HistogramSchema, {
      count: { case: 'countInt', value: BigInt(10 + seed) },
      sum: seed * 3.5,
      schema: 3,
      zeroThreshold: 1e-128,
      zeroCount: { case: 'zeroCountInt', value: 2n },
      positiveSpans: [{ offset: 0, length: 2 }],
      positiveDeltas: [BigInt(seed), -1n],
      resetHint: 2,
      timestamp: BigInt(1_700_000_000_000 + seed),
    }),
  );
  return series;
}

/** A WriteRequest with the given series and metadata entries for the first metric names. */
export function writeRequest(series: TimeSeries[], metadataCount = 0): WriteRequest {
  return create(WriteRequestSchema, {
    timeseries: series,
    metadata: Array.from({ length: metadataCount }, (_, i) =>
      create(MetricMetadataSchema, {
        type: MetricMetadata_MetricType.COUNTER,
        metricFamilyName: `metric_${i}_total`,
        help: `help text ${i}`,
        unit: 'seconds',
      }),
    ),
  });
}

export function encodeRequest(request: WriteRequest): Uint8Array {
  return toBinary(WriteRequestSchema, request);
}

export function decodeRequest(bytes: Uint8Array): WriteRequest {
  return fromBinary(WriteRequestSchema, bytes);
}

/** The labels of a series as a record (for comparisons). */
export function labelRecord(series: TimeSeries): Record<string, string> {
  return Object.fromEntries(series.labels.map((label) => [label.name, label.value]));
}

/**
 * A request shaped like Kubernetes workload metrics: `seriesCount` series over a few metric
 * names, each with pod/namespace/container/instance labels, one sample each. `requestIndex`
 * shifts pod names so consecutive requests are similar but not identical.
 */
export function kubernetesRequest(seriesCount: number, requestIndex = 0): WriteRequest {
  const metrics = [
    'container_cpu_usage_seconds_total',
    'container_memory_working_set_bytes',
    'http_requests_total',
    'kube_pod_status_phase',
  ];
  const series: TimeSeries[] = [];
  for (let i = 0; i < seriesCount; i++) {
    const pod = `api-${(i + requestIndex * 7) % 400}-7d9f8c${i % 13}`;
    series.push(
      seriesWith(
        sortedLabels({
          __name__: metrics[i % metrics.length] ?? 'up',
          cluster: 'prod-eu-1',
          container: `app-${i % 5}`,
          endpoint: 'https-metrics',
          id: `/kubepods/burstable/pod${i}-${requestIndex % 3}`,
          image: `registry.example.com/app:${i % 9}`,
          instance: `10.0.${i % 250}.${(i * 7) % 250}:10250`,
          job: 'kubelet',
          namespace: `team-${i % 17}`,
          node: `node-${i % 40}`,
          pod,
          service: 'kubelet',
        }),
      ),
    );
  }
  return writeRequest(series, 4);
}
