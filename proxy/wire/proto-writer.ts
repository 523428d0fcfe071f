/**
 * A minimal protobuf wire writer that the format converters use to emit remote write 1.0
 * directly: one growable buffer reused between requests, nested messages written in place
 * (the length prefix is fixed up afterwards), and strings encoded straight into the buffer.
 */

import { WIRE_FIXED64, WIRE_LEN, WIRE_VARINT } from './proto-reader.js';

const INITIAL_BYTES = 64 * 1024;
const TWO_POW_32 = 4_294_967_296;
/** Copies up to this many bytes byte by byte rather than through `set`. */
const SHORT_COPY_BYTES = 64;

/** Appends protobuf fields to a buffer that grows by doubling. */
export class ProtoWriter {
  #bytes = new Uint8Array(INITIAL_BYTES);
  #view = new DataView(this.#bytes.buffer);
  #pos = 0;
  readonly #encoder = new TextEncoder();

  /** Bytes written so far. */
  get length(): number {
    return this.#pos;
  }

  /** Starts over, keeping the buffer. */
  reset(): void {
    this.#pos = 0;
  }

  /** A view of what was written; valid until the next write or reset. */
  view(): Uint8Array {
    return this.#bytes.subarray(0, this.#pos);
  }

  /** A copy of what was written, in a buffer of its own (to transfer to another thread). */
  copy(): Uint8Array<ArrayBuffer> {
    return this.#bytes.slice(0, this.#pos);
  }

  tag(field: number, wireType: number): void {
    this.varint32(((field << 3) | wireType) >>> 0);
  }

  varint32(value: number): void {
    this.#ensure(5);
    let remaining = value >>> 0;
    while (remaining >= 0x80) {
      this.#bytes[this.#pos++] = (remaining & 0x7f) | 0x80;
      remaining >>>= 7;
    }
    this.#bytes[this.#pos++] = remaining;
  }

  /** A non-negative integer up to 2^53, or a negative one as a 10-byte int64. */
  varint(value: number): void {
    if (value >= 0 && value < TWO_POW_32) {
      this.varint32(value);
      return;
    }
    this.#ensure(10);
    let low: number;
    let high: number;
    if (value >= 0) {
      low = (value % TWO_POW_32) >>> 0;
      high = Math.floor(value / TWO_POW_32) >>> 0;
    } else {
      const magnitude = -value;
      const magLow = (magnitude % TWO_POW_32) >>> 0;
      const magHigh = Math.floor(magnitude / TWO_POW_32) >>> 0;
      low = (~magLow + 1) >>> 0;
      high = (~magHigh + (low === 0 ? 1 : 0)) >>> 0;
    }
    while (high > 0 || low >= 0x80) {
      this.#bytes[this.#pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    this.#bytes[this.#pos++] = low;
  }

  /** A zigzag-encoded sint32/sint64. */
  zigzag(value: number): void {
    this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  double(value: number): void {
    this.#ensure(8);
    this.#view.setFloat64(this.#pos, value, true);
    this.#pos += 8;
  }

  /** Eight bytes given as two little-endian words (NaN payloads such as Prometheus' stale marker). */
  fixed64Words(low: number, high: number): void {
    this.#ensure(8);
    this.#view.setUint32(this.#pos, low >>> 0, true);
    this.#view.setUint32(this.#pos + 4, high >>> 0, true);
    this.#pos += 8;
  }

  /** `field: varint`, left out when zero as proto3 does. */
  varintField(field: number, value: number): void {
    if (value === 0) return;
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  /** `field: double`, left out when +0 as proto3 does. */
  doubleField(field: number, value: number): void {
    if (value === 0 && 1 / value > 0) return;
    this.tag(field, WIRE_FIXED64);
    this.double(value);
  }

  /** `field: string`; always written (a label value may be empty but present). */
  stringField(field: number, value: string): void {
    this.tag(field, WIRE_LEN);
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    this.#ensure(5 + value.length * 3);
    const lengthAt = this.#pos;
    // Reserve one length byte; most strings are short.
    this.#pos++;
    // Label names and most values are ASCII: copy code units, and hand anything else to
    // the encoder (which would cost a subarray and a native call per string).
    const bytes = this.#bytes;
    const start = this.#pos;
    let ascii = true;
    for (let i = 0; i < value.length; i++) {
      const unit = value.charCodeAt(i);
      if (unit >= 0x80) {
        ascii = false;
        break;
      }
      bytes[start + i] = unit;
    }
    let written = value.length;
    if (!ascii) written = this.#encoder.encodeInto(value, bytes.subarray(start)).written;
    this.#pos += written;
    this.#fixLength(lengthAt, written);
  }

  /** `field: bytes` copied from `source[start, end)`. */
  bytesField(field: number, source: Uint8Array, start: number, end: number): void {
    this.tag(field, WIRE_LEN);
    this.varint32(end - start);
    this.raw(source, start, end);
  }

  /** Copies `source[start, end)` as they are. */
  raw(source: Uint8Array, start: number, end: number): void {
    const length = end - start;
    this.#ensure(length);
    if (length <= SHORT_COPY_BYTES) {
      // Label names and values are short: a loop beats making a subarray per copy.
      const bytes = this.#bytes;
      let pos = this.#pos;
      for (let i = start; i < end; i++) bytes[pos++] = source[i]!;
      this.#pos = pos;
      return;
    }
    this.#bytes.set(source.subarray(start, end), this.#pos);
    this.#pos += length;
  }

  /** Opens `field: message`; returns the mark to pass to {@link endMessage}. */
  beginMessage(field: number): number {
    this.tag(field, WIRE_LEN);
    this.#ensure(1);
    return this.#pos++;
  }

  /** Closes the message opened at `mark`, writing its length. */
  endMessage(mark: number): void {
    this.#fixLength(mark, this.#pos - mark - 1);
  }

  /** Writes `length` at `at`, where one byte was reserved, moving the content if needed. */
  #fixLength(at: number, length: number): void {
    if (length < 0x80) {
      this.#bytes[at] = length;
      return;
    }
    let size = 1;
    for (let rest = length >>> 7; rest > 0; rest >>>= 7) size++;
    this.#ensure(size - 1);
    this.#bytes.copyWithin(at + size, at + 1, this.#pos);
    this.#pos += size - 1;
    let remaining = length;
    let index = at;
    while (remaining >= 0x80) {
      this.#bytes[index++] = (remaining & 0x7f) | 0x80;
      remaining >>>= 7;
    }
    this.#bytes[index] = remaining;
  }

  #ensure(extra: number): void {
    const needed = this.#pos + extra;
    if (needed <= this.#bytes.length) return;
    let capacity = this.#bytes.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.#bytes.subarray(0, this.#pos));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }
}
