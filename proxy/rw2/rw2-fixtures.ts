/**
 * Remote write 2.0 requests for tests, built with the generated protobuf-es code
 * (independent of the hand-written converter), and the 1.0 request each should become.
 */

import { create, toBinary } from '@bufbuild/protobuf';
import {
  Histogram_ResetHint,
  HistogramSchema,
  Metadata_MetricType,
  type Request,
  RequestSchema,
  type TimeSeries,
  TimeSeriesSchema,
} from '../../proto/gen/io/prometheus/write/v2/types_pb.js';

/** A request builder that de-duplicates symbols as a real sender does ("" first). */
export class Rw2RequestBuilder {
  readonly symbols: string[] = [''];
  readonly #index = new Map<string, number>([['', 0]]);
  readonly timeseries: TimeSeries[] = [];

  ref(symbol: string): number {
    let index = this.#index.get(symbol);
    if (index === undefined) {
      index = this.symbols.length;
      this.symbols.push(symbol);
      this.#index.set(symbol, index);
    }
    return index;
  }

  /** Label refs of `labels`, sorted by name as the spec asks. */
  labelRefs(labels: Readonly<Record<string, string>>): number[] {
    return Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .flatMap(([name, value]) => [this.ref(name), this.ref(value)]);
  }

  add(series: TimeSeries): this {
    this.timeseries.push(series);
    return this;
  }

  build(): Request {
    return create(RequestSchema, { symbols: this.symbols, timeseries: this.timeseries });
  }

  bytes(): Uint8Array {
    return toBinary(RequestSchema, this.build());
  }
}

/**
 * A request that uses every field of remote write 2.0: float samples with metadata (type,
 * help, unit) and a created timestamp, exemplars with labels, an integer native histogram,
 * a float native histogram and (unless `customBuckets: false`) a custom-bucket one, and a
 * series with two samples. Timestamps start at `baseMs`.
 */
export function goldenRw2Request(
  baseMs: number,
  options: { customBuckets?: boolean } = {},
): Rw2RequestBuilder {
  const builder = new Rw2RequestBuilder();
  const ts = (offsetMs: number) => BigInt(baseMs + offsetMs);
  builder.add(
    create(TimeSeriesSchema, {
      labelsRefs: builder.labelRefs({
        __name__: 'http_requests_total',
        job: 'api',
        instance: 'host-1:8080',
        method: 'GET',
      }),
      samples: [
        { value: 41, timestamp: ts(0) },
        { value: 42.5, timestamp: ts(1000) },
      ],
      exemplars: [
        {
          labelsRefs: builder.labelRefs({ trace_id: 'abc123', span_id: 'def' }),
          value: 1.5,
          timestamp: ts(500),
        },
      ],
      metadata: {
        type: Metadata_MetricType.COUNTER,
        helpRef: builder.ref('Requests served.'),
        unitRef: builder.ref('requests'),
      },
      createdTimestamp: ts(-60_000),
    }),
  );
  builder.add(
    create(TimeSeriesSchema, {
      labelsRefs: builder.labelRefs({ __name__: 'queue_depth', job: 'api', queue: 'émails' }),
      samples: [{ value: -3.25, timestamp: ts(0) }],
      metadata: { type: Metadata_MetricType.GAUGE, helpRef: builder.ref('Items waiting.') },
    }),
  );
  builder.add(
    create(TimeSeriesSchema, {
      labelsRefs: builder.labelRefs({ __name__: 'request_seconds', job: 'api' }),
      histograms: [
        create(HistogramSchema, {
          count: { case: 'countInt', value: 15n },
          sum: 3.5,
          schema: 3,
          zeroThreshold: 1e-128,
          zeroCount: { case: 'zeroCountInt', value: 2n },
          negativeSpans: [{ offset: 1, length: 1 }],
          negativeDeltas: [1n],
          positiveSpans: [
            { offset: -2, length: 2 },
            { offset: 3, length: 1 },
          ],
          positiveDeltas: [4n, -1n, 2n],
          resetHint: Histogram_ResetHint.NO,
          timestamp: ts(0),
        }),
        create(HistogramSchema, {
          count: { case: 'countFloat', value: 7.5 },
          sum: 10.25,
          schema: 0,
          zeroCount: { case: 'zeroCountFloat', value: 0.5 },
          positiveSpans: [{ offset: 0, length: 2 }],
          positiveCounts: [3, 4],
          resetHint: Histogram_ResetHint.GAUGE,
          timestamp: ts(1000),
        }),
      ],
      metadata: { type: Metadata_MetricType.HISTOGRAM },
      createdTimestamp: ts(-30_000),
    }),
  );
  // Custom buckets (schema -53) came after Prometheus 2.42, whose receiver refuses them.
  if (options.customBuckets === false) return builder;
  builder.add(
    create(TimeSeriesSchema, {
      labelsRefs: builder.labelRefs({ __name__: 'custom_bucket_seconds', job: 'api' }),
      histograms: [
        create(HistogramSchema, {
          count: { case: 'countInt', value: 6n },
          sum: 2,
          schema: -53,
          positiveSpans: [{ offset: 0, length: 3 }],
          positiveDeltas: [1n, 2n, -1n],
          customValues: [0.1, 0.5, 1],
          timestamp: ts(0),
        }),
      ],
    }),
  );
  return builder;
}

/** One series of a {@link resolveRw2Request} result. */
export interface ResolvedRw2Series {
  readonly labels: (string | undefined)[];
  readonly samples: { value: number; timestamp: bigint }[];
  /** Each histogram's encoding, so integer and float variants compare exactly. */
  readonly histograms: Uint8Array[];
  readonly exemplars: { labels: (string | undefined)[]; value: number; timestamp: bigint }[];
  readonly metadata:
    | { type: number; help: string | undefined; unit: string | undefined }
    | undefined;
  readonly createdTimestamp: bigint;
}

/** A request with every ref resolved, for comparing requests with different symbol tables. */
export function resolveRw2Request(request: Request): ResolvedRw2Series[] {
  const symbol = (ref: number) => request.symbols[ref];
  return request.timeseries.map((series) => ({
    labels: series.labelsRefs.map(symbol),
    samples: series.samples.map(({ value, timestamp }) => ({ value, timestamp })),
    histograms: series.histograms.map((histogram) => toBinary(HistogramSchema, histogram)),
    exemplars: series.exemplars.map(({ labelsRefs, value, timestamp }) => ({
      labels: labelsRefs.map(symbol),
      value,
      timestamp,
    })),
    metadata: series.metadata
      ? {
          type: series.metadata.type,
          help: symbol(series.metadata.helpRef),
          unit: symbol(series.metadata.unitRef),
        }
      : undefined,
    createdTimestamp: series.createdTimestamp,
  }));
}

/**
 * What a resolved 2.0 request becomes after a trip through remote write 1.0 (Phoenix's
 * pipeline format): a series whose metadata was all defaults had no 1.0 metadata entry,
 * so it comes back without. `created_timestamp` comes back as sent (private 1.0 field 6).
 */
export function afterRw1Trip(series: readonly ResolvedRw2Series[]): ResolvedRw2Series[] {
  return series.map((one) => ({
    ...one,
    metadata:
      one.metadata === undefined ||
      (one.metadata.type === 0 && one.metadata.help === '' && one.metadata.unit === '')
        ? undefined
        : one.metadata,
  }));
}
