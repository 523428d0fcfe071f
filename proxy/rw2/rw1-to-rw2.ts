/**
 * Converts the pipeline's output (snappy-compressed remote write 1.0) into remote write
 * 2.0 for upstreams that speak it: labels and exemplar labels become refs into one
 * de-duplicated symbol table, samples and native histograms are copied whole (same field
 * numbers in both versions), and each 1.0 metadata entry is attached to the series of its
 * metric (`name`, and for histograms and summaries also `name_bucket`, `_sum`, `_count`).
 * A series' start (created) timestamp, kept in the private 1.0 field 6 since a 2.0 request
 * came in, goes back to 2.0's `created_timestamp`.
 *
 * A 2.0 receiver answers 415 when it only takes 1.0; the spec lets the sender fall back to
 * 1.0 then ({@link RW2_FALLBACK_STATUS}), and the 1.0 payload is still at hand.
 */

import { compress, uncompress } from 'snappyjs';
import { ProtoReader, WIRE_LEN, WIRE_VARINT } from '../wire/proto-reader.js';
import { ProtoWriter } from '../wire/proto-writer.js';
import { RW1_SERIES_START_TIMESTAMP } from './rw2-to-rw1.js';

/** Request headers of a remote write 2.0 POST. */
export const RW2_REQUEST_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '2.0.0',
};

/** The answer of a receiver that does not take 2.0: resend as 1.0. */
export const RW2_FALLBACK_STATUS = 415;

const HISTOGRAM_TYPE = 3;
const GAUGEHISTOGRAM_TYPE = 4;
const SUMMARY_TYPE = 5;

/** Reusable converter; its buffers and symbol table are kept between requests. */
export class Rw1ToRw2Converter {
  readonly #series = new ProtoWriter();
  readonly #out = new ProtoWriter();
  readonly #symbols = new Map<string, number>();
  /** symbols[i] came from input[bounds[2i], bounds[2i+1]). */
  #symbolBounds: number[] = [];
  #input: Uint8Array = new Uint8Array(0);
  /** Metric family → [type, helpRef, unitRef]. */
  readonly #metadata = new Map<string, [number, number, number]>();
  #refs: number[] = [];

  /** Converts a snappy 1.0 `WriteRequest` into a snappy 2.0 `Request` (a new buffer). */
  convertSnappy(rw1Snappy: Uint8Array, maxDecompressedBytes: number): Uint8Array {
    return compress(this.convert(uncompress(rw1Snappy, maxDecompressedBytes)));
  }

  /** Converts uncompressed 1.0 bytes; the result is valid until the next call. */
  convert(input: Uint8Array): Uint8Array {
    this.#input = input;
    this.#series.reset();
    this.#out.reset();
    this.#symbols.clear();
    this.#symbolBounds = [];
    this.#metadata.clear();
    this.#symbol(-1, -1);

    const request = new ProtoReader(input);
    const entry = new ProtoReader(input);
    while (request.next()) {
      if (request.field !== 3) {
        request.skip();
        continue;
      }
      request.expect(WIRE_LEN, 'metadata');
      request.lengthDelimited();
      this.#readMetadata(entry.reset(request.start, request.valueEnd));
    }
    request.reset(0, input.length);
    const series = new ProtoReader(input);
    const nested = new ProtoReader(input);
    while (request.next()) {
      if (request.field !== 1) {
        request.skip();
        continue;
      }
      request.expect(WIRE_LEN, 'timeseries');
      request.lengthDelimited();
      this.#convertSeries(series.reset(request.start, request.valueEnd), nested);
    }

    const out = this.#out;
    const bounds = this.#symbolBounds;
    for (let i = 0; i < bounds.length; i += 2) {
      if (bounds[i]! < 0) out.stringField(4, '');
      else out.bytesField(4, input, bounds[i]!, bounds[i + 1]!);
    }
    out.raw(this.#series.view(), 0, this.#series.length);
    return out.view();
  }

  #readMetadata(entry: ProtoReader): void {
    let type = 0;
    let name = '';
    let helpRef = 0;
    let unitRef = 0;
    while (entry.next()) {
      if (entry.field === 1) type = entry.varint32();
      else if (entry.field === 2 || entry.field === 4 || entry.field === 5) {
        entry.expect(WIRE_LEN, 'metadata string');
        entry.lengthDelimited();
        if (entry.field === 2) name = latin1(this.#input, entry.start, entry.valueEnd);
        else if (entry.field === 4) helpRef = this.#symbol(entry.start, entry.valueEnd);
        else unitRef = this.#symbol(entry.start, entry.valueEnd);
      } else entry.skip();
    }
    if (name === '') return;
    const value: [number, number, number] = [type, helpRef, unitRef];
    this.#metadata.set(name, value);
    if (type === HISTOGRAM_TYPE || type === GAUGEHISTOGRAM_TYPE || type === SUMMARY_TYPE) {
      for (const suffix of ['_bucket', '_sum', '_count']) {
        if (!this.#metadata.has(name + suffix)) this.#metadata.set(name + suffix, value);
      }
    }
  }

  #convertSeries(series: ProtoReader, nested: ProtoReader): void {
    const writer = this.#series;
    const start = series.pos;
    const end = series.end;
    const refs = this.#refs;
    refs.length = 0;
    let metricName = '';
    while (series.next()) {
      if (series.field !== 1) {
        series.skip();
        continue;
      }
      series.expect(WIRE_LEN, 'labels');
      series.lengthDelimited();
      const isName = this.#readLabel(nested.reset(series.start, series.valueEnd), refs);
      if (isName) metricName = latin1(this.#input, this.#lastValueStart, this.#lastValueEnd);
    }
    const mark = writer.beginMessage(5);
    const packed = writer.beginMessage(1);
    for (const ref of refs) writer.varint32(ref);
    writer.endMessage(packed);
    series.reset(start, end);
    let startTimestampAt = -1;
    let startTimestampEnd = -1;
    while (series.next()) {
      const field = series.field;
      if (field === RW1_SERIES_START_TIMESTAMP && series.wireType === WIRE_VARINT) {
        startTimestampAt = series.pos;
        series.skip();
        startTimestampEnd = series.pos;
      } else if (field === 2 || field === 4) {
        series.expect(WIRE_LEN, field === 2 ? 'samples' : 'histograms');
        series.lengthDelimited();
        writer.bytesField(field === 2 ? 2 : 3, this.#input, series.start, series.valueEnd);
      } else if (field === 3) {
        series.expect(WIRE_LEN, 'exemplars');
        series.lengthDelimited();
        this.#convertExemplar(nested.reset(series.start, series.valueEnd));
      } else series.skip();
    }
    const metadata = this.#metadata.get(metricName);
    if (metadata !== undefined) {
      const metadataMark = writer.beginMessage(5);
      writer.varintField(1, metadata[0]);
      writer.varintField(3, metadata[1]);
      writer.varintField(4, metadata[2]);
      writer.endMessage(metadataMark);
    }
    if (startTimestampAt >= 0) {
      writer.tag(6, WIRE_VARINT);
      writer.raw(this.#input, startTimestampAt, startTimestampEnd);
    }
    writer.endMessage(mark);
  }

  #lastValueStart = 0;
  #lastValueEnd = 0;

  /** Appends a label's name and value refs; true when it is `__name__`. */
  #readLabel(label: ProtoReader, refs: number[]): boolean {
    let nameStart = -1;
    let nameEnd = -1;
    let valueStart = -1;
    let valueEnd = -1;
    while (label.next()) {
      if (label.field === 1 || label.field === 2) {
        label.expect(WIRE_LEN, 'label');
        label.lengthDelimited();
        if (label.field === 1) {
          nameStart = label.start;
          nameEnd = label.valueEnd;
        } else {
          valueStart = label.start;
          valueEnd = label.valueEnd;
        }
      } else label.skip();
    }
    refs.push(this.#symbol(nameStart, nameEnd), this.#symbol(valueStart, valueEnd));
    this.#lastValueStart = Math.max(valueStart, 0);
    this.#lastValueEnd = Math.max(valueEnd, 0);
    return nameEnd - nameStart === 8 && latin1(this.#input, nameStart, nameEnd) === '__name__';
  }

  #convertExemplar(exemplar: ProtoReader): void {
    const writer = this.#series;
    const mark = writer.beginMessage(4);
    const refs: number[] = [];
    const start = exemplar.pos;
    const end = exemplar.end;
    const label = new ProtoReader(this.#input);
    while (exemplar.next()) {
      if (exemplar.field === 1) {
        exemplar.expect(WIRE_LEN, 'exemplar label');
        exemplar.lengthDelimited();
        this.#readLabel(label.reset(exemplar.start, exemplar.valueEnd), refs);
      } else exemplar.skip();
    }
    if (refs.length > 0) {
      const packed = writer.beginMessage(1);
      for (const ref of refs) writer.varint32(ref);
      writer.endMessage(packed);
    }
    exemplar.reset(start, end);
    while (exemplar.next()) {
      const fieldStart = exemplar.pos;
      const field = exemplar.field;
      const wireType = exemplar.wireType;
      exemplar.skip();
      // value (2) and timestamp (3) have the same numbers and types in 2.0.
      if (field === 2 || field === 3) {
        writer.tag(field, wireType);
        writer.raw(this.#input, fieldStart, exemplar.pos);
      }
    }
    writer.endMessage(mark);
  }

  /** The ref of the symbol in `input[start, end)`; (-1, -1) is the empty string. */
  #symbol(start: number, end: number): number {
    const key = start < 0 ? '' : latin1(this.#input, start, end);
    let ref = this.#symbols.get(key);
    if (ref === undefined) {
      ref = this.#symbolBounds.length / 2;
      this.#symbols.set(key, ref);
      this.#symbolBounds.push(start, end);
    }
    return ref;
  }
}

/** The bytes as a one-char-per-byte string: a cheap, exact key for de-duplication. */
function latin1(input: Uint8Array, start: number, end: number): string {
  return Buffer.from(input.buffer, input.byteOffset + start, end - start).toString('latin1');
}
