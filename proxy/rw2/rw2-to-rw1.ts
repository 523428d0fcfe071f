/**
 * Converts a remote write 2.0 `io.prometheus.write.v2.Request` into the bytes of a remote
 * write 1.0 `prometheus.WriteRequest`, so the relabel pipeline in WebAssembly runs on it
 * unchanged. It works on wire bytes: symbols stay byte ranges of the input and are copied
 * into the 1.0 labels, samples and native histograms (whose messages have the same field
 * numbers in both versions) are copied whole, and no JavaScript object is made per sample.
 *
 * What 1.0 has no field for: `created_timestamp`, carried in field 6 of the 1.0
 * `TimeSeries` (see {@link RW1_SERIES_START_TIMESTAMP}), and per-series metadata, which
 * becomes one 1.0 `MetricMetadata` entry per metric name.
 */

import { ProtoReader, WIRE_LEN, WIRE_VARINT, WireError } from '../wire/proto-reader.js';
import { ProtoWriter } from '../wire/proto-writer.js';
import { checkNativeHistogram } from './native-histogram-check.js';

/** Counts of one converted request, for the `X-Prometheus-Remote-Write-*-Written` answer. */
export interface Rw2ConversionStats {
  series: number;
  samples: number;
  histograms: number;
  exemplars: number;
  metadata: number;
  /** Series that carried a created timestamp (kept in the private 1.0 field 6). */
  createdTimestamps: number;
}

/** A request that is valid protobuf but not a valid 2.0 request; the message says where. */
export class Rw2FormatError extends Error {
  override readonly name = 'Rw2FormatError';
}

const METRIC_NAME = new TextEncoder().encode('__name__');

/**
 * Field of the 1.0 `TimeSeries` that carries a 2.0 series' `created_timestamp` (int64 ms,
 * varint) through the pipeline. Remote write 1.0 defines fields 1 to 4 only; 6 is the
 * number the field has in 2.0. The WebAssembly pipeline copies unknown series fields
 * through unchanged, the 2.0 encoder for `protocol: rw2` upstreams puts it back, and 1.0
 * receivers skip it as protobuf requires of unknown fields.
 */
export const RW1_SERIES_START_TIMESTAMP = 6;

// remote write 1.0 field numbers (proto/prometheus/*.proto)
const V1_REQUEST_TIMESERIES = 1;
const V1_REQUEST_METADATA = 3;
const V1_SERIES_LABELS = 1;
const V1_SERIES_SAMPLES = 2;
const V1_SERIES_EXEMPLARS = 3;
const V1_SERIES_HISTOGRAMS = 4;
const V1_LABEL_NAME = 1;
const V1_LABEL_VALUE = 2;
const V1_EXEMPLAR_LABELS = 1;
const V1_METADATA_TYPE = 1;
const V1_METADATA_FAMILY_NAME = 2;
const V1_METADATA_HELP = 4;
const V1_METADATA_UNIT = 5;

// remote write 2.0 field numbers (proto/io/prometheus/write/v2/types.proto)
const V2_REQUEST_SYMBOLS = 4;
const V2_REQUEST_TIMESERIES = 5;
const V2_SERIES_LABELS_REFS = 1;
const V2_SERIES_SAMPLES = 2;
const V2_SERIES_HISTOGRAMS = 3;
const V2_SERIES_EXEMPLARS = 4;
const V2_SERIES_METADATA = 5;
const V2_SERIES_CREATED_TIMESTAMP = 6;
const V2_EXEMPLAR_LABELS_REFS = 1;
const V2_METADATA_TYPE = 1;
const V2_METADATA_HELP_REF = 3;
const V2_METADATA_UNIT_REF = 4;
const MAX_METRIC_TYPE = 7;

/**
 * Reusable converter: its buffers (symbol offsets, label refs, output) grow to the largest
 * request seen and are kept, so a worker converts request after request without garbage.
 */
export class Rw2ToRw1Converter {
  readonly #writer = new ProtoWriter();
  /** symbols[i] is input[symbolBounds[2i], symbolBounds[2i+1]). */
  #symbolBounds = new Uint32Array(1024);
  #symbolCount = 0;
  #refs = new Uint32Array(64);
  #refCount = 0;
  /** Metadata to write after the series: (type, nameRef, helpRef, unitRef) quadruples. */
  #metadata: number[] = [];
  readonly #metadataNames = new Set<number>();

  /**
   * Converts `input` (uncompressed 2.0 protobuf). Returns the 1.0 bytes, valid until the
   * next call. Throws {@link WireError} for malformed protobuf and {@link Rw2FormatError}
   * for a request that breaks the 2.0 spec.
   */
  convert(input: Uint8Array, stats: Rw2ConversionStats): Uint8Array {
    stats.series = 0;
    stats.samples = 0;
    stats.histograms = 0;
    stats.exemplars = 0;
    stats.metadata = 0;
    stats.createdTimestamps = 0;
    this.#writer.reset();
    this.#symbolCount = 0;
    this.#metadata.length = 0;
    this.#metadataNames.clear();

    const request = new ProtoReader(input);
    // Symbols may come after the series that use them, so they are collected first.
    while (request.next()) {
      if (request.field === V2_REQUEST_SYMBOLS) {
        request.expect(WIRE_LEN, 'symbols');
        request.lengthDelimited();
        this.#addSymbol(request.start, request.valueEnd);
      } else {
        request.skip();
      }
    }
    request.reset(0, input.length);
    const series = new ProtoReader(input);
    const nested = new ProtoReader(input);
    const innermost = new ProtoReader(input);
    while (request.next()) {
      if (request.field !== V2_REQUEST_TIMESERIES) {
        request.skip();
        continue;
      }
      request.expect(WIRE_LEN, 'timeseries');
      request.lengthDelimited();
      series.reset(request.start, request.valueEnd);
      this.#convertSeries(input, series, nested, innermost, stats);
      stats.series++;
    }
    this.#writeMetadata(input, stats);
    return this.#writer.view();
  }

  #convertSeries(
    input: Uint8Array,
    series: ProtoReader,
    nested: ProtoReader,
    innermost: ProtoReader,
    stats: Rw2ConversionStats,
  ): void {
    const where = `timeseries[${stats.series}]`;
    const seriesStart = series.pos;
    const seriesEnd = series.end;
    // First pass: the label refs (their position among the fields is not fixed).
    this.#refCount = 0;
    let metadataStart = -1;
    let metadataEnd = -1;
    let createdStart = -1;
    let createdEnd = -1;
    while (series.next()) {
      if (series.field === V2_SERIES_LABELS_REFS) {
        this.#readRefs(series, nested);
      } else if (series.field === V2_SERIES_METADATA) {
        series.expect(WIRE_LEN, `${where}.metadata`);
        series.lengthDelimited();
        metadataStart = series.start;
        metadataEnd = series.valueEnd;
      } else if (series.field === V2_SERIES_CREATED_TIMESTAMP) {
        series.expect(WIRE_VARINT, `${where}.created_timestamp`);
        const valueStart = series.pos;
        if (series.varint(true) !== 0) {
          stats.createdTimestamps++;
          createdStart = valueStart;
          createdEnd = series.pos;
        } else {
          createdStart = -1;
        }
      } else {
        series.skip();
      }
    }
    const nameRef = this.#checkLabelRefs(input, where, this.#refs, this.#refCount);

    const writer = this.#writer;
    const seriesMark = writer.beginMessage(V1_REQUEST_TIMESERIES);
    this.#writeLabels(input, V1_SERIES_LABELS, this.#refs, this.#refCount);
    series.reset(seriesStart, seriesEnd);
    let histogramIndex = 0;
    let exemplarIndex = 0;
    while (series.next()) {
      switch (series.field) {
        case V2_SERIES_SAMPLES:
          series.expect(WIRE_LEN, `${where}.samples`);
          series.lengthDelimited();
          writer.bytesField(V1_SERIES_SAMPLES, input, series.start, series.valueEnd);
          stats.samples++;
          break;
        case V2_SERIES_HISTOGRAMS:
          series.expect(WIRE_LEN, `${where}.histograms`);
          series.lengthDelimited();
          checkNativeHistogram(
            nested.reset(series.start, series.valueEnd),
            `${where}.histograms[${histogramIndex++}]`,
          );
          writer.bytesField(V1_SERIES_HISTOGRAMS, input, series.start, series.valueEnd);
          stats.histograms++;
          break;
        case V2_SERIES_EXEMPLARS:
          series.expect(WIRE_LEN, `${where}.exemplars`);
          series.lengthDelimited();
          this.#convertExemplar(
            input,
            nested.reset(series.start, series.valueEnd),
            innermost,
            `${where}.exemplars[${exemplarIndex++}]`,
          );
          stats.exemplars++;
          break;
        default:
          series.skip();
      }
    }
    if (createdStart >= 0) {
      // The varint as sent (a negative int64 is ten bytes), so it round-trips exactly.
      writer.tag(RW1_SERIES_START_TIMESTAMP, WIRE_VARINT);
      writer.raw(input, createdStart, createdEnd);
    }
    writer.endMessage(seriesMark);
    if (metadataStart >= 0) {
      this.#collectMetadata(nested.reset(metadataStart, metadataEnd), nameRef, `${where}.metadata`);
    }
  }

  /** Reads `labels_refs`, packed or one per field, appending to `#refs`. */
  #readRefs(series: ProtoReader, nested: ProtoReader): void {
    if (series.wireType === WIRE_VARINT) {
      this.#pushRef(series.varint32());
      return;
    }
    series.expect(WIRE_LEN, 'labels_refs');
    series.lengthDelimited();
    nested.reset(series.start, series.valueEnd);
    while (nested.pos < nested.end) this.#pushRef(nested.varint32());
  }

  #pushRef(ref: number): void {
    if (this.#refCount === this.#refs.length) {
      const grown = new Uint32Array(this.#refs.length * 2);
      grown.set(this.#refs);
      this.#refs = grown;
    }
    this.#refs[this.#refCount++] = ref;
  }

  /**
   * Checks a series' label refs: even count, every ref in the symbol table, a non-empty
   * `__name__`. Returns the symbol ref of the metric name.
   */
  #checkLabelRefs(input: Uint8Array, where: string, refs: Uint32Array, count: number): number {
    if (count % 2 !== 0) {
      throw new Rw2FormatError(`${where}: labels_refs has odd length ${count}`);
    }
    let nameRef = -1;
    for (let i = 0; i < count; i++) {
      const ref = refs[i]!;
      if (ref >= this.#symbolCount) {
        throw new Rw2FormatError(
          `${where}: labels_refs[${i}] = ${ref} is out of range (${this.#symbolCount} symbols)`,
        );
      }
      if (i % 2 === 0 && this.#symbolEquals(input, ref, METRIC_NAME)) nameRef = refs[i + 1]!;
    }
    if (nameRef < 0 || this.#symbolLength(nameRef) === 0) {
      throw new Rw2FormatError(`${where}: no metric name (label __name__ missing or empty)`);
    }
    return nameRef;
  }

  #writeLabels(input: Uint8Array, field: number, refs: Uint32Array, count: number): void {
    const writer = this.#writer;
    const bounds = this.#symbolBounds;
    for (let i = 0; i < count; i += 2) {
      const nameRef = refs[i]!;
      const valueRef = refs[i + 1]!;
      const labelMark = writer.beginMessage(field);
      writer.bytesField(V1_LABEL_NAME, input, bounds[2 * nameRef]!, bounds[2 * nameRef + 1]!);
      writer.bytesField(V1_LABEL_VALUE, input, bounds[2 * valueRef]!, bounds[2 * valueRef + 1]!);
      writer.endMessage(labelMark);
    }
  }

  /** 1.0 and 2.0 exemplars differ only in field 1 (labels vs. label refs). */
  #convertExemplar(
    input: Uint8Array,
    exemplar: ProtoReader,
    refsReader: ProtoReader,
    where: string,
  ): void {
    const writer = this.#writer;
    const mark = writer.beginMessage(V1_SERIES_EXEMPLARS);
    const savedRefs = this.#refCount;
    const refsStart = this.#refCount;
    const start = exemplar.pos;
    const end = exemplar.end;
    while (exemplar.next()) {
      if (exemplar.field === V2_EXEMPLAR_LABELS_REFS) this.#readRefs(exemplar, refsReader);
      else exemplar.skip();
    }
    const count = this.#refCount - refsStart;
    if (count % 2 !== 0) throw new Rw2FormatError(`${where}: labels_refs has odd length ${count}`);
    const refs = this.#refs.subarray(refsStart, this.#refCount);
    for (let i = 0; i < count; i++) {
      if (refs[i]! >= this.#symbolCount) {
        throw new Rw2FormatError(
          `${where}: labels_refs[${i}] = ${refs[i]} is out of range (${this.#symbolCount} symbols)`,
        );
      }
    }
    this.#writeLabels(input, V1_EXEMPLAR_LABELS, refs, count);
    exemplar.reset(start, end);
    while (exemplar.next()) {
      const fieldStart = exemplar.pos;
      if (exemplar.field === V2_EXEMPLAR_LABELS_REFS) {
        exemplar.skip();
        continue;
      }
      // Same field numbers and types: copy the field (its tag is re-written).
      const tagBytes = tagLength(exemplar.field, exemplar.wireType);
      exemplar.skip();
      writer.raw(input, fieldStart - tagBytes, exemplar.pos);
    }
    this.#refCount = savedRefs;
    writer.endMessage(mark);
  }

  #collectMetadata(metadata: ProtoReader, nameRef: number, where: string): void {
    let type = 0;
    let helpRef = 0;
    let unitRef = 0;
    while (metadata.next()) {
      if (metadata.field === V2_METADATA_TYPE) {
        metadata.expect(WIRE_VARINT, `${where}.type`);
        type = metadata.varint32();
        if (type > MAX_METRIC_TYPE) {
          throw new Rw2FormatError(`${where}.type: unknown metric type ${type}`);
        }
      } else if (metadata.field === V2_METADATA_HELP_REF) {
        metadata.expect(WIRE_VARINT, `${where}.help_ref`);
        helpRef = metadata.varint32();
      } else if (metadata.field === V2_METADATA_UNIT_REF) {
        metadata.expect(WIRE_VARINT, `${where}.unit_ref`);
        unitRef = metadata.varint32();
      } else {
        metadata.skip();
      }
    }
    for (const [name, ref] of [
      ['help_ref', helpRef],
      ['unit_ref', unitRef],
    ] as const) {
      if (ref >= this.#symbolCount) {
        throw new Rw2FormatError(
          `${where}.${name} = ${ref} is out of range (${this.#symbolCount} symbols)`,
        );
      }
    }
    const empty =
      type === 0 && this.#symbolLength(helpRef) === 0 && this.#symbolLength(unitRef) === 0;
    if (empty || this.#metadataNames.has(nameRef)) return;
    this.#metadataNames.add(nameRef);
    this.#metadata.push(type, nameRef, helpRef, unitRef);
  }

  #writeMetadata(input: Uint8Array, stats: Rw2ConversionStats): void {
    const writer = this.#writer;
    const bounds = this.#symbolBounds;
    const entries = this.#metadata;
    for (let i = 0; i < entries.length; i += 4) {
      const mark = writer.beginMessage(V1_REQUEST_METADATA);
      writer.varintField(V1_METADATA_TYPE, entries[i]!);
      for (const [field, ref] of [
        [V1_METADATA_FAMILY_NAME, entries[i + 1]!],
        [V1_METADATA_HELP, entries[i + 2]!],
        [V1_METADATA_UNIT, entries[i + 3]!],
      ] as const) {
        if (this.#symbolLength(ref) > 0) {
          writer.bytesField(field, input, bounds[2 * ref]!, bounds[2 * ref + 1]!);
        }
      }
      writer.endMessage(mark);
      stats.metadata++;
    }
  }

  #addSymbol(start: number, end: number): void {
    if (2 * this.#symbolCount + 2 > this.#symbolBounds.length) {
      const grown = new Uint32Array(this.#symbolBounds.length * 2);
      grown.set(this.#symbolBounds);
      this.#symbolBounds = grown;
    }
    this.#symbolBounds[2 * this.#symbolCount] = start;
    this.#symbolBounds[2 * this.#symbolCount + 1] = end;
    this.#symbolCount++;
  }

  #symbolLength(ref: number): number {
    return this.#symbolBounds[2 * ref + 1]! - this.#symbolBounds[2 * ref]!;
  }

  #symbolEquals(input: Uint8Array, ref: number, expected: Uint8Array): boolean {
    const start = this.#symbolBounds[2 * ref]!;
    if (this.#symbolBounds[2 * ref + 1]! - start !== expected.length) return false;
    for (let i = 0; i < expected.length; i++) {
      if (input[start + i] !== expected[i]) return false;
    }
    return true;
  }
}

/** Bytes of the varint tag of (field, wireType). */
function tagLength(field: number, wireType: number): number {
  let tag = ((field << 3) | wireType) >>> 0;
  let length = 1;
  while (tag >= 0x80) {
    tag >>>= 7;
    length++;
  }
  return length;
}

export { WireError };
