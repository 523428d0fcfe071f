/**
 * A minimal protobuf wire reader for the format converters (remote write 2.0, OTLP). It
 * reads fields in place over one byte array and allocates nothing per field: values come
 * back as numbers, and strings and sub-messages as byte ranges (`start`/`end` of the last
 * length-delimited field), so a converter can copy bytes through without decoding them.
 */

/** Wire types of the protobuf encoding. */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

/** The body is not valid protobuf; the message says where it broke. */
export class WireError extends Error {
  override readonly name = 'WireError';
}

const TWO_POW_32 = 4_294_967_296;

/** A cursor over `bytes[start, end)`; `sub()` opens a nested message without copying. */
export class ProtoReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos: number;
  end: number;
  /** Field number of the last tag read by {@link next}. */
  field = 0;
  /** Wire type of the last tag read by {@link next}. */
  wireType = 0;
  /** Bounds of the last length-delimited value read with {@link lengthDelimited}. */
  start = 0;
  valueEnd = 0;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.end = end;
  }

  /** Repositions this reader on another range of the same bytes (reuse, no allocation). */
  reset(start: number, end: number): this {
    this.pos = start;
    this.end = end;
    return this;
  }

  /** Reads the next tag; false at the end of the range. */
  next(): boolean {
    if (this.pos >= this.end) return false;
    const tag = this.varint32();
    this.field = tag >>> 3;
    this.wireType = tag & 7;
    if (this.field === 0) throw new WireError(`field number 0 at byte ${this.pos}`);
    return true;
  }

  /** A varint that must fit in 32 bits (tags, lengths, enum values, refs). */
  varint32(): number {
    let result = 0;
    let shift = 0;
    const bytes = this.bytes;
    while (true) {
      if (this.pos >= this.end) throw new WireError(`truncated varint at byte ${this.pos}`);
      const byte = bytes[this.pos++]!;
      if (shift < 28) {
        result |= (byte & 0x7f) << shift;
      } else if (shift === 28) {
        result |= (byte & 0x0f) << 28;
      } else if (shift >= 70) {
        throw new WireError(`varint longer than 10 bytes at byte ${this.pos}`);
      }
      if ((byte & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  }

  /**
   * A varint as a JavaScript number: exact up to 2^53, then rounded. `signed` reads an
   * int64 in two's complement (negative numbers take 10 bytes on the wire).
   */
  varint(signed = false): number {
    let low = 0;
    let high = 0;
    let shift = 0;
    const bytes = this.bytes;
    while (true) {
      if (this.pos >= this.end) throw new WireError(`truncated varint at byte ${this.pos}`);
      const byte = bytes[this.pos++]!;
      if (shift < 28) {
        low |= (byte & 0x7f) << shift;
      } else if (shift === 28) {
        low |= (byte & 0x0f) << 28;
        high |= (byte & 0x7f) >>> 4;
      } else if (shift < 64) {
        high |= (byte & 0x7f) << (shift - 32);
      } else {
        throw new WireError(`varint longer than 10 bytes at byte ${this.pos}`);
      }
      if ((byte & 0x80) === 0) break;
      shift += 7;
    }
    return combine(low >>> 0, high >>> 0, signed);
  }

  /** A zigzag-encoded sint32/sint64. */
  zigzag(): number {
    const value = this.varint();
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }

  double(): number {
    this.need(8);
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** fixed64/sfixed64 as a number (exact up to 2^53). */
  fixed64(signed = false): number {
    this.need(8);
    const low = this.view.getUint32(this.pos, true);
    const high = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    return combine(low, high, signed);
  }

  /**
   * A fixed64 of nanoseconds since the epoch as whole milliseconds, exact for every value
   * (the product of the high word and 2^32 would lose the low digits in a double).
   */
  fixed64NanosToMillis(): number {
    this.need(8);
    const low = this.view.getUint32(this.pos, true);
    const high = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    // 2^32 = 4294 * 10^6 + 967296
    return high * 4294 + Math.floor((high * 967_296 + low) / 1_000_000);
  }

  /** Reads a length prefix and sets `start`/`valueEnd` to the value's bytes; skips them. */
  lengthDelimited(): void {
    const length = this.varint32();
    if (length > this.end - this.pos) {
      throw new WireError(`length ${length} at byte ${this.pos} runs past the end of its message`);
    }
    this.start = this.pos;
    this.valueEnd = this.pos + length;
    this.pos = this.valueEnd;
  }

  /** Skips the value of the last tag read. */
  skip(): void {
    switch (this.wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.need(8);
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        throw new WireError(`unsupported wire type ${this.wireType} at byte ${this.pos}`);
    }
  }

  /** Throws unless the last tag has `wireType`, naming the field as `what`. */
  expect(wireType: number, what: string): void {
    if (this.wireType !== wireType) {
      throw new WireError(`${what}: wire type ${this.wireType}, expected ${wireType}`);
    }
  }

  private need(bytes: number): void {
    if (this.end - this.pos < bytes) {
      throw new WireError(`truncated ${bytes}-byte value at byte ${this.pos}`);
    }
  }
}

function combine(low: number, high: number, signed: boolean): number {
  if (signed && high & 0x8000_0000) {
    // Two's complement: -(2^64 - value).
    const negLow = (~low + 1) >>> 0;
    const negHigh = (~high + (negLow === 0 ? 1 : 0)) >>> 0;
    return -(negHigh * TWO_POW_32 + negLow);
  }
  return high * TWO_POW_32 + low;
}
