/**
 * Reads a binary OTLP `ExportMetricsServiceRequest` on the wire (no protobuf-es objects)
 * and feeds every resource, metric and data point to an {@link OtlpRw1Builder}. Fields are
 * read in whatever order they come: a message is scanned for the fields others depend on
 * (resource attributes, a metric's name and unit) before its points are read.
 */

import {
  ProtoReader,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
  WireError,
} from '../wire/proto-reader.js';
import { prometheusLabelName } from './otlp-names.js';
import type { OtlpDataKind, OtlpRw1Builder } from './otlp-rw1-builder.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Field numbers of opentelemetry/proto/metrics/v1/metrics.proto and its neighbours. */
const DATA_FIELDS: Readonly<Record<number, OtlpDataKind>> = {
  5: 'gauge',
  7: 'sum',
  9: 'histogram',
  10: 'exponential_histogram',
  11: 'summary',
};
/** Data-point field that holds the attributes, per data kind. */
const ATTRIBUTES_FIELD: Readonly<Record<OtlpDataKind, number>> = {
  gauge: 7,
  sum: 7,
  histogram: 9,
  exponential_histogram: 1,
  summary: 7,
};
const MAX_TEMPORALITY = 2;

/** Converts one binary request; the reader's errors say where the bytes broke. */
export function readOtlpProto(input: Uint8Array, builder: OtlpRw1Builder): void {
  const request = new ProtoReader(input);
  const readers = new ReaderPool(input);
  let resourceIndex = 0;
  while (request.next()) {
    if (request.field !== 1) {
      request.skip();
      continue;
    }
    request.expect(WIRE_LEN, 'resource_metrics');
    request.lengthDelimited();
    readResourceMetrics(
      readers.at(0, request.start, request.valueEnd),
      builder,
      readers,
      `resource_metrics[${resourceIndex++}]`,
    );
  }
}

/** Readers for each nesting depth, reused for every message at that depth. */
class ReaderPool {
  readonly #readers: ProtoReader[] = [];
  readonly #input: Uint8Array;
  constructor(input: Uint8Array) {
    this.#input = input;
  }
  at(depth: number, start: number, end: number): ProtoReader {
    let reader = this.#readers[depth];
    if (reader === undefined) {
      reader = new ProtoReader(this.#input);
      this.#readers[depth] = reader;
    }
    return reader.reset(start, end);
  }
}

function readResourceMetrics(
  resourceMetrics: ProtoReader,
  builder: OtlpRw1Builder,
  readers: ReaderPool,
  where: string,
): void {
  const start = resourceMetrics.pos;
  builder.beginResource();
  while (resourceMetrics.next()) {
    if (resourceMetrics.field !== 1) {
      resourceMetrics.skip();
      continue;
    }
    resourceMetrics.expect(WIRE_LEN, `${where}.resource`);
    resourceMetrics.lengthDelimited();
    const resource = readers.at(1, resourceMetrics.start, resourceMetrics.valueEnd);
    while (resource.next()) {
      if (resource.field === 1) {
        readKeyValue(resource, readers, 2, (key, value) => builder.resourceAttribute(key, value));
      } else {
        resource.skip();
      }
    }
  }
  builder.endResourceAttributes();
  resourceMetrics.reset(start, resourceMetrics.end);
  let scopeIndex = 0;
  while (resourceMetrics.next()) {
    if (resourceMetrics.field !== 2) {
      resourceMetrics.skip();
      continue;
    }
    resourceMetrics.expect(WIRE_LEN, `${where}.scope_metrics`);
    resourceMetrics.lengthDelimited();
    const scope = readers.at(1, resourceMetrics.start, resourceMetrics.valueEnd);
    const scopeWhere = `${where}.scope_metrics[${scopeIndex++}]`;
    let metricIndex = 0;
    while (scope.next()) {
      if (scope.field !== 2) {
        scope.skip();
        continue;
      }
      scope.expect(WIRE_LEN, `${scopeWhere}.metrics`);
      scope.lengthDelimited();
      readMetric(
        readers.at(2, scope.start, scope.valueEnd),
        builder,
        readers,
        `${scopeWhere}.metrics[${metricIndex++}]`,
      );
    }
  }
  builder.endResource();
}

function readMetric(
  metric: ProtoReader,
  builder: OtlpRw1Builder,
  readers: ReaderPool,
  where: string,
): void {
  const start = metric.pos;
  let name = '';
  let description = '';
  let unit = '';
  let dataKind: OtlpDataKind | undefined;
  let dataStart = 0;
  let dataEnd = 0;
  while (metric.next()) {
    const field = metric.field;
    if (field === 1 || field === 2 || field === 3) {
      metric.expect(WIRE_LEN, `${where} field ${field}`);
      metric.lengthDelimited();
      const text = utf8(metric, `${where} field ${field}`);
      if (field === 1) name = text;
      else if (field === 2) description = text;
      else unit = text;
    } else if (DATA_FIELDS[field] !== undefined) {
      metric.expect(WIRE_LEN, `${where} data`);
      metric.lengthDelimited();
      dataKind = DATA_FIELDS[field];
      dataStart = metric.start;
      dataEnd = metric.valueEnd;
    } else {
      metric.skip();
    }
  }
  metric.reset(start, metric.end);
  if (dataKind === undefined) return;
  if (name === '') throw new WireError(`${where}: metric without a name`);
  const data = readers.at(3, dataStart, dataEnd);
  let temporality = 0;
  let monotonic = false;
  while (data.next()) {
    if (data.field === 2 && dataKind !== 'gauge' && dataKind !== 'summary') {
      data.expect(WIRE_VARINT, `${where}.aggregation_temporality`);
      temporality = data.varint32();
      if (temporality > MAX_TEMPORALITY) {
        throw new WireError(`${where}: unknown aggregation_temporality ${temporality}`);
      }
    } else if (data.field === 3 && dataKind === 'sum') {
      data.expect(WIRE_VARINT, `${where}.is_monotonic`);
      monotonic = data.varint32() !== 0;
    } else {
      data.skip();
    }
  }
  builder.beginMetric(name, description, unit, dataKind, temporality, monotonic);
  data.reset(dataStart, dataEnd);
  let pointIndex = 0;
  while (data.next()) {
    if (data.field !== 1) {
      data.skip();
      continue;
    }
    data.expect(WIRE_LEN, `${where}.data_points`);
    data.lengthDelimited();
    readPoint(
      readers.at(4, data.start, data.valueEnd),
      dataKind,
      builder,
      readers,
      `${where}.data_points[${pointIndex++}]`,
    );
  }
}

/** Scratch arrays for repeated numeric fields, reused from point to point. */
const scratch = {
  bounds: [] as number[],
  counts: [] as number[],
  positive: [] as number[],
  negative: [] as number[],
  quantiles: [] as number[],
};

function readPoint(
  point: ProtoReader,
  kind: OtlpDataKind,
  builder: OtlpRw1Builder,
  readers: ReaderPool,
  where: string,
): void {
  const attributesField = ATTRIBUTES_FIELD[kind];
  let timeMs = 0;
  let value = 0;
  let count = 0;
  let sum: number | undefined;
  let flags = 0;
  let scale = 0;
  let zeroCount = 0;
  let zeroThreshold = 0;
  let positiveOffset = 0;
  let negativeOffset = 0;
  scratch.bounds.length = 0;
  scratch.counts.length = 0;
  scratch.positive.length = 0;
  scratch.negative.length = 0;
  scratch.quantiles.length = 0;
  while (point.next()) {
    const field = point.field;
    if (field === attributesField) {
      readKeyValue(point, readers, 5, (key, text) => builder.pointAttribute(key, text));
      continue;
    }
    if (field === 3) {
      point.expect(WIRE_FIXED64, `${where}.time_unix_nano`);
      timeMs = point.fixed64NanosToMillis();
      continue;
    }
    if (field === 2) {
      point.expect(WIRE_FIXED64, `${where}.start_time_unix_nano`);
      builder.pointStartTime(point.fixed64NanosToMillis());
      continue;
    }
    if (kind === 'gauge' || kind === 'sum') {
      if (field === 4) {
        point.expect(WIRE_FIXED64, `${where}.as_double`);
        value = point.double();
      } else if (field === 6) {
        point.expect(WIRE_FIXED64, `${where}.as_int`);
        value = point.fixed64(true);
      } else if (field === 8) {
        flags = point.varint32();
      } else if (field === 5) {
        readExemplar(point, readers, builder, `${where}.exemplars`);
      } else point.skip();
    } else if (kind === 'histogram') {
      if (field === 4) count = fixed(point, `${where}.count`);
      else if (field === 5) sum = double(point, `${where}.sum`);
      else if (field === 6) repeatedFixed64(point, scratch.counts, `${where}.bucket_counts`);
      else if (field === 7) repeatedDouble(point, scratch.bounds, `${where}.explicit_bounds`);
      else if (field === 10) flags = point.varint32();
      else if (field === 8) readExemplar(point, readers, builder, `${where}.exemplars`);
      else point.skip();
    } else if (kind === 'exponential_histogram') {
      if (field === 4) count = fixed(point, `${where}.count`);
      else if (field === 5) sum = double(point, `${where}.sum`);
      else if (field === 6) scale = point.zigzag();
      else if (field === 7) zeroCount = fixed(point, `${where}.zero_count`);
      else if (field === 8 || field === 9) {
        point.expect(WIRE_LEN, `${where} buckets`);
        point.lengthDelimited();
        const buckets = readers.at(6, point.start, point.valueEnd);
        const target = field === 8 ? scratch.positive : scratch.negative;
        let offset = 0;
        while (buckets.next()) {
          if (buckets.field === 1) offset = buckets.zigzag();
          else if (buckets.field === 2) repeatedVarint(buckets, target, readers);
          else buckets.skip();
        }
        if (field === 8) positiveOffset = offset;
        else negativeOffset = offset;
      } else if (field === 10) flags = point.varint32();
      else if (field === 14) zeroThreshold = double(point, `${where}.zero_threshold`);
      else point.skip();
    } else {
      if (field === 4) count = fixed(point, `${where}.count`);
      else if (field === 5) sum = double(point, `${where}.sum`);
      else if (field === 6) {
        point.expect(WIRE_LEN, `${where}.quantile_values`);
        point.lengthDelimited();
        const quantile = readers.at(6, point.start, point.valueEnd);
        let q = 0;
        let v = 0;
        while (quantile.next()) {
          if (quantile.field === 1) q = double(quantile, `${where}.quantile`);
          else if (quantile.field === 2) v = double(quantile, `${where}.value`);
          else quantile.skip();
        }
        scratch.quantiles.push(q, v);
      } else if (field === 8) flags = point.varint32();
      else point.skip();
    }
  }
  switch (kind) {
    case 'gauge':
    case 'sum':
      builder.numberPoint(timeMs, value, flags);
      return;
    case 'histogram':
      builder.histogramPoint(timeMs, count, sum, scratch.bounds, scratch.counts, flags);
      return;
    case 'exponential_histogram':
      builder.exponentialPoint(
        timeMs,
        count,
        sum,
        scale,
        zeroCount,
        zeroThreshold,
        positiveOffset,
        scratch.positive,
        negativeOffset,
        scratch.negative,
      );
      return;
    case 'summary':
      builder.summaryPoint(timeMs, count, sum ?? 0, scratch.quantiles, flags);
      return;
  }
}

/** Reads one `Exemplar` (the reader is on its tag) and gives it to the builder. */
function readExemplar(
  reader: ProtoReader,
  readers: ReaderPool,
  builder: OtlpRw1Builder,
  where: string,
): void {
  reader.expect(WIRE_LEN, where);
  reader.lengthDelimited();
  const exemplar = readers.at(6, reader.start, reader.valueEnd);
  const labels: Array<[string, string]> = [];
  let timeMs = 0;
  let value = 0;
  while (exemplar.next()) {
    switch (exemplar.field) {
      case 2:
        exemplar.expect(WIRE_FIXED64, `${where}.time_unix_nano`);
        timeMs = exemplar.fixed64NanosToMillis();
        break;
      case 3:
        value = double(exemplar, `${where}.as_double`);
        break;
      case 6:
        exemplar.expect(WIRE_FIXED64, `${where}.as_int`);
        value = exemplar.fixed64(true);
        break;
      case 4:
      case 5: {
        exemplar.expect(WIRE_LEN, `${where} id`);
        exemplar.lengthDelimited();
        if (exemplar.valueEnd > exemplar.start) {
          const hex = Buffer.from(
            exemplar.bytes.buffer,
            exemplar.bytes.byteOffset + exemplar.start,
            exemplar.valueEnd - exemplar.start,
          ).toString('hex');
          labels.push([exemplar.field === 5 ? 'trace_id' : 'span_id', hex]);
        }
        break;
      }
      case 7:
        readKeyValue(exemplar, readers, 8, (key, text) =>
          labels.push([prometheusLabelName(key), text]),
        );
        break;
      default:
        exemplar.skip();
    }
  }
  builder.exemplar({ timeMs, value, labels });
}

function fixed(reader: ProtoReader, where: string): number {
  reader.expect(WIRE_FIXED64, where);
  return reader.fixed64();
}

function double(reader: ProtoReader, where: string): number {
  reader.expect(WIRE_FIXED64, where);
  return reader.double();
}

function repeatedFixed64(reader: ProtoReader, target: number[], where: string): void {
  if (reader.wireType === WIRE_FIXED64) {
    target.push(reader.fixed64());
    return;
  }
  reader.expect(WIRE_LEN, where);
  reader.lengthDelimited();
  if ((reader.valueEnd - reader.start) % 8 !== 0)
    throw new WireError(`${where}: bad packed length`);
  for (let at = reader.start; at < reader.valueEnd; at += 8) {
    target.push(
      reader.view.getUint32(at, true) + reader.view.getUint32(at + 4, true) * 4_294_967_296,
    );
  }
}

function repeatedDouble(reader: ProtoReader, target: number[], where: string): void {
  if (reader.wireType === WIRE_FIXED64) {
    target.push(reader.double());
    return;
  }
  reader.expect(WIRE_LEN, where);
  reader.lengthDelimited();
  if ((reader.valueEnd - reader.start) % 8 !== 0)
    throw new WireError(`${where}: bad packed length`);
  for (let at = reader.start; at < reader.valueEnd; at += 8) {
    target.push(reader.view.getFloat64(at, true));
  }
}

function repeatedVarint(reader: ProtoReader, target: number[], readers: ReaderPool): void {
  if (reader.wireType === WIRE_VARINT) {
    target.push(reader.varint());
    return;
  }
  reader.expect(WIRE_LEN, 'bucket_counts');
  reader.lengthDelimited();
  const packed = readers.at(7, reader.start, reader.valueEnd);
  while (packed.pos < packed.end) target.push(packed.varint());
}

function utf8(reader: ProtoReader, where: string): string {
  try {
    return decoder.decode(reader.bytes.subarray(reader.start, reader.valueEnd));
  } catch {
    throw new WireError(`${where}: invalid UTF-8`);
  }
}

/** Reads one `KeyValue` (the reader is on its tag) and passes key and value text on. */
function readKeyValue(
  reader: ProtoReader,
  readers: ReaderPool,
  depth: number,
  onAttribute: (key: string, value: string) => void,
): void {
  reader.expect(WIRE_LEN, 'attributes');
  reader.lengthDelimited();
  const keyValue = readers.at(depth, reader.start, reader.valueEnd);
  let key = '';
  let value = '';
  while (keyValue.next()) {
    if (keyValue.field === 1) {
      keyValue.expect(WIRE_LEN, 'attribute key');
      keyValue.lengthDelimited();
      key = utf8(keyValue, 'attribute key');
    } else if (keyValue.field === 2) {
      keyValue.expect(WIRE_LEN, `attribute ${key} value`);
      keyValue.lengthDelimited();
      value = anyValueText(
        readers.at(depth + 1, keyValue.start, keyValue.valueEnd),
        readers,
        depth + 1,
      );
    } else keyValue.skip();
  }
  onAttribute(key, value);
}

/** An `AnyValue` as label text: scalars as text, arrays and maps as JSON, bytes as base64. */
function anyValueText(any: ProtoReader, readers: ReaderPool, depth: number): string {
  let text = '';
  while (any.next()) {
    switch (any.field) {
      case 1:
        any.expect(WIRE_LEN, 'string_value');
        any.lengthDelimited();
        text = utf8(any, 'string_value');
        break;
      case 2:
        text = any.varint32() !== 0 ? 'true' : 'false';
        break;
      case 3:
        text = String(any.varint(true));
        break;
      case 4:
        text = String(double(any, 'double_value'));
        break;
      case 5:
      case 6:
      case 7:
        any.expect(WIRE_LEN, 'value');
        any.lengthDelimited();
        text =
          any.field === 7
            ? Buffer.from(any.bytes.subarray(any.start, any.valueEnd)).toString('base64')
            : JSON.stringify(
                nestedValue(
                  readers.at(depth + 1, any.start, any.valueEnd),
                  any.field,
                  readers,
                  depth + 1,
                ),
              );
        break;
      default:
        any.skip();
    }
  }
  return text;
}

/** Arrays and key-value lists, for their JSON text. */
function nestedValue(
  reader: ProtoReader,
  field: number,
  readers: ReaderPool,
  depth: number,
): unknown {
  if (field === 5) {
    const values: string[] = [];
    while (reader.next()) {
      if (reader.field !== 1) {
        reader.skip();
        continue;
      }
      reader.expect(WIRE_LEN, 'array value');
      reader.lengthDelimited();
      const saved = [reader.pos, reader.end] as const;
      values.push(
        anyValueText(readers.at(depth + 1, reader.start, reader.valueEnd), readers, depth + 2),
      );
      reader.reset(saved[0], saved[1]);
    }
    return values;
  }
  const entries: Record<string, string> = {};
  while (reader.next()) {
    if (reader.field !== 1) {
      reader.skip();
      continue;
    }
    const saved = reader.end;
    readKeyValue(reader, readers, depth + 1, (key, value) => {
      entries[key] = value;
    });
    reader.end = saved;
  }
  return entries;
}
