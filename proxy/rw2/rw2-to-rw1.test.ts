import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  type Histogram_ResetHint,
  type Metadata_MetricType,
  RequestSchema,
  TimeSeriesSchema,
  HistogramSchema as V2HistogramSchema,
} from '../../proto/gen/io/prometheus/write/v2/types_pb.js';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import { HistogramSchema as V1HistogramSchema } from '../../proto/gen/prometheus/types_pb.js';
import { WireError } from '../wire/proto-reader.js';
import { HistogramFormatError } from './native-histogram-check.js';
import { goldenRw2Request, Rw2RequestBuilder } from './rw2-fixtures.js';
import { type Rw2ConversionStats, Rw2FormatError, Rw2ToRw1Converter } from './rw2-to-rw1.js';

function freshStats(): Rw2ConversionStats {
  return { series: 0, samples: 0, histograms: 0, exemplars: 0, metadata: 0, createdTimestamps: 0 };
}

describe('Rw2ToRw1Converter', () => {
  it('converts every field of a golden request to its 1.0 equivalent', () => {
    const golden = goldenRw2Request(1_700_000_000_000);
    const request = golden.build();
    const stats = freshStats();
    const converter = new Rw2ToRw1Converter();
    const v1 = fromBinary(WriteRequestSchema, converter.convert(golden.bytes(), stats));

    expect(stats).toEqual({
      series: 4,
      samples: 3,
      histograms: 3,
      exemplars: 1,
      metadata: 3,
      createdTimestamps: 2,
    });
    const symbol = (ref: number) => request.symbols[ref]!;
    expect(v1.timeseries).toHaveLength(request.timeseries.length);
    request.timeseries.forEach((v2Series, index) => {
      const v1Series = v1.timeseries[index]!;
      const expectedLabels = [];
      for (let i = 0; i < v2Series.labelsRefs.length; i += 2) {
        expectedLabels.push({
          name: symbol(v2Series.labelsRefs[i]!),
          value: symbol(v2Series.labelsRefs[i + 1]!),
        });
      }
      expect(v1Series.labels.map(({ name, value }) => ({ name, value }))).toEqual(expectedLabels);
      expect(v1Series.samples.map(({ value, timestamp }) => ({ value, timestamp }))).toEqual(
        v2Series.samples.map(({ value, timestamp }) => ({ value, timestamp })),
      );
      expect(
        v1Series.exemplars.map((exemplar) => ({
          labels: exemplar.labels.map(({ name, value }) => [name, value]),
          value: exemplar.value,
          timestamp: exemplar.timestamp,
        })),
      ).toEqual(
        v2Series.exemplars.map((exemplar) => ({
          labels: exemplar.labelsRefs
            .filter((_, i) => i % 2 === 0)
            .map((ref, i) => [symbol(ref), symbol(exemplar.labelsRefs[2 * i + 1]!)]),
          value: exemplar.value,
          timestamp: exemplar.timestamp,
        })),
      );
      // Same field numbers in both versions: the bytes must be identical.
      expect(v1Series.histograms.map((h) => toBinary(V1HistogramSchema, h))).toEqual(
        v2Series.histograms.map((h) => toBinary(V2HistogramSchema, h)),
      );
    });
    expect(
      v1.metadata.map(({ type, metricFamilyName, help, unit }) => ({
        type,
        metricFamilyName,
        help,
        unit,
      })),
    ).toEqual([
      {
        type: 1,
        metricFamilyName: 'http_requests_total',
        help: 'Requests served.',
        unit: 'requests',
      },
      { type: 2, metricFamilyName: 'queue_depth', help: 'Items waiting.', unit: '' },
      { type: 3, metricFamilyName: 'request_seconds', help: '', unit: '' },
    ]);
  });

  it('reuses its buffers: a second, smaller request comes out on its own', () => {
    const converter = new Rw2ToRw1Converter();
    converter.convert(goldenRw2Request(0).bytes(), freshStats());
    const small = new Rw2RequestBuilder();
    small.add(
      create(TimeSeriesSchema, {
        labelsRefs: small.labelRefs({ __name__: 'up' }),
        samples: [{ value: 1, timestamp: 5n }],
      }),
    );
    const v1 = fromBinary(WriteRequestSchema, converter.convert(small.bytes(), freshStats()));
    expect(v1.timeseries).toHaveLength(1);
    expect(v1.timeseries[0]!.labels[0]!.value).toBe('up');
    expect(v1.metadata).toHaveLength(0);
  });

  it('accepts symbols written after the series that use them, and long labels', () => {
    const long = 'x'.repeat(70_000);
    const builder = new Rw2RequestBuilder();
    builder.add(
      create(TimeSeriesSchema, {
        labelsRefs: builder.labelRefs({ __name__: 'm', long }),
        samples: [{ value: 2, timestamp: 1n }],
      }),
    );
    const request = builder.build();
    // Fields in reverse order: timeseries (5) first, then symbols (4).
    const seriesOnly = toBinary(
      RequestSchema,
      create(RequestSchema, { timeseries: request.timeseries }),
    );
    const symbolsOnly = toBinary(
      RequestSchema,
      create(RequestSchema, { symbols: request.symbols }),
    );
    const reordered = new Uint8Array([...seriesOnly, ...symbolsOnly]);
    const v1 = fromBinary(
      WriteRequestSchema,
      new Rw2ToRw1Converter().convert(reordered, freshStats()),
    );
    expect(v1.timeseries[0]!.labels.map((label) => label.value)).toEqual(['m', long]);
  });

  const invalid: Array<
    [string, (b: Rw2RequestBuilder) => void, RegExp, new (...args: never[]) => Error]
  > = [
    [
      'odd labels_refs',
      (b) =>
        b.add(
          create(TimeSeriesSchema, { labelsRefs: [b.ref('__name__'), b.ref('m'), b.ref('x')] }),
        ),
      /timeseries\[0\]: labels_refs has odd length 3/,
      Rw2FormatError,
    ],
    [
      'a symbol ref out of range',
      (b) => b.add(create(TimeSeriesSchema, { labelsRefs: [b.ref('__name__'), 99] })),
      /timeseries\[0\]: labels_refs\[1\] = 99 is out of range \(2 symbols\)/,
      Rw2FormatError,
    ],
    [
      'no metric name',
      (b) => b.add(create(TimeSeriesSchema, { labelsRefs: b.labelRefs({ job: 'x' }) })),
      /timeseries\[0\]: no metric name/,
      Rw2FormatError,
    ],
    [
      'an empty metric name',
      (b) => b.add(create(TimeSeriesSchema, { labelsRefs: [b.ref('__name__'), 0] })),
      /no metric name \(label __name__ missing or empty\)/,
      Rw2FormatError,
    ],
    [
      'an exemplar ref out of range',
      (b) =>
        b.add(
          create(TimeSeriesSchema, {
            labelsRefs: b.labelRefs({ __name__: 'm' }),
            exemplars: [{ labelsRefs: [1, 500], value: 1 }],
          }),
        ),
      /timeseries\[0\]\.exemplars\[0\]: labels_refs\[1\] = 500 is out of range/,
      Rw2FormatError,
    ],
    [
      'a metadata help_ref out of range',
      (b) =>
        b.add(
          create(TimeSeriesSchema, {
            labelsRefs: b.labelRefs({ __name__: 'm' }),
            metadata: { type: 1, helpRef: 77 },
          }),
        ),
      /timeseries\[0\]\.metadata\.help_ref = 77 is out of range/,
      Rw2FormatError,
    ],
    [
      'an unknown metric type',
      (b) =>
        b.add(
          create(TimeSeriesSchema, {
            labelsRefs: b.labelRefs({ __name__: 'm' }),
            metadata: { type: 9 as Metadata_MetricType },
          }),
        ),
      /timeseries\[0\]\.metadata\.type: unknown metric type 9/,
      Rw2FormatError,
    ],
    [
      'histogram spans that do not match the bucket counts',
      (b) =>
        b.add(
          create(TimeSeriesSchema, {
            labelsRefs: b.labelRefs({ __name__: 'h' }),
            histograms: [
              create(V2HistogramSchema, {
                schema: 1,
                positiveSpans: [{ offset: 0, length: 3 }],
                positiveDeltas: [1n, 1n],
              }),
            ],
          }),
        ),
      /timeseries\[0\]\.histograms\[0\]: positive_spans cover 3 buckets but 2 bucket counts/,
      HistogramFormatError,
    ],
    [
      'a histogram whose buckets hold more than its count',
      (b) =>
        b.add(
          create(TimeSeriesSchema, {
            labelsRefs: b.labelRefs({ __name__: 'h' }),
            histograms: [
              create(V2HistogramSchema, {
                count: { case: 'countInt', value: 3n },
                schema: 1,
                positiveSpans: [{ offset: 0, length: 2 }],
                positiveDeltas: [2n, 1n],
              }),
            ],
          }),
        ),
      /histograms\[0\]: 5 observations in the buckets but count is 3/,
      HistogramFormatError,
    ],
    [
      'a histogram with a negative bucket count',
      (b) =>
        b.add(
          create(TimeSeriesSchema, {
            labelsRefs: b.labelRefs({ __name__: 'h' }),
            histograms: [
              create(V2HistogramSchema, {
                count: { case: 'countInt', value: 3n },
                schema: 1,
                positiveSpans: [{ offset: 0, length: 2 }],
                positiveDeltas: [2n, -3n],
              }),
            ],
          }),
        ),
      /histograms\[0\]: a bucket count is negative/,
      HistogramFormatError,
    ],
    [
      'a histogram with an unknown reset hint',
      (b) =>
        b.add(
          create(TimeSeriesSchema, {
            labelsRefs: b.labelRefs({ __name__: 'h' }),
            histograms: [
              create(V2HistogramSchema, { schema: 1, resetHint: 6 as Histogram_ResetHint }),
            ],
          }),
        ),
      /histograms\[0\]\.reset_hint: unknown value 6/,
      HistogramFormatError,
    ],
    [
      'a histogram with an unknown schema',
      (b) =>
        b.add(
          create(TimeSeriesSchema, {
            labelsRefs: b.labelRefs({ __name__: 'h' }),
            histograms: [create(V2HistogramSchema, { schema: 9 })],
          }),
        ),
      /histograms\[0\]: unknown schema 9/,
      HistogramFormatError,
    ],
  ];
  for (const [name, build, message, errorType] of invalid) {
    it(`refuses ${name}`, () => {
      const builder = new Rw2RequestBuilder();
      build(builder);
      const convert = () => new Rw2ToRw1Converter().convert(builder.bytes(), freshStats());
      expect(convert).toThrow(errorType);
      expect(convert).toThrow(message);
    });
  }

  it.each([
    ['truncated', new Uint8Array([0x22, 0x05, 0x61])],
    ['field number 0', new Uint8Array([0x02, 0x00])],
    ['wire type 7', new Uint8Array([0x27])],
  ])('refuses malformed protobuf: %s', (_name, bytes) => {
    expect(() => new Rw2ToRw1Converter().convert(bytes, freshStats())).toThrow(WireError);
  });
});
