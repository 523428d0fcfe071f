/**
 * Counts what a remote-write 1.0 body holds by walking its protobuf with a minimal reader:
 * series, float samples, and a 64-bit hash of each series' label bytes for counting
 * distinct series. No message objects are built, so the sink that uses it stays cheap next
 * to the process being measured.
 */

/** What one decoded WriteRequest held. */
export interface RemoteWriteCounts {
  /** `timeseries` entries. */
  series: number;
  /** Float samples over all series. */
  samples: number;
}

/**
 * A set of 64-bit series hashes in an open-addressing table of typed arrays: hundreds of
 * thousands of entries without a heap object per entry, which a `Set<number>` of 53-bit
 * numbers would allocate.
 */
export class SeriesHashSet {
  #slots = new Uint32Array(2 * 1024);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds the hash `(high, low)`; equal pairs count once. */
  add(low: number, high: number): void {
    // (0, 0) marks an empty slot, so the low word is made odd.
    const key = (low | 1) >>> 0;
    const hi = high >>> 0;
    let mask = this.#slots.length / 2 - 1;
    let slot = Math.imul(key ^ hi, 0x9e3779b1) >>> 0;
    for (;;) {
      const at = 2 * (slot & mask);
      const existing = this.#slots[at]!;
      if (existing === 0) break;
      if (existing === key && this.#slots[at + 1] === hi) return;
      slot++;
    }
    if (2 * (this.#size + 1) > mask + 1) {
      this.#grow();
      mask = this.#slots.length / 2 - 1;
    }
    this.#insert(key, hi, mask);
    this.#size++;
  }

  #insert(key: number, hi: number, mask: number): void {
    let slot = Math.imul(key ^ hi, 0x9e3779b1) >>> 0;
    while (this.#slots[2 * (slot & mask)] !== 0) slot++;
    const at = 2 * (slot & mask);
    this.#slots[at] = key;
    this.#slots[at + 1] = hi;
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Uint32Array(old.length * 2);
    const mask = this.#slots.length / 2 - 1;
    for (let at = 0; at < old.length; at += 2) {
      if (old[at] !== 0) this.#insert(old[at]!, old[at + 1]!, mask);
    }
  }
}

/** A body that is not a valid WriteRequest. */
export class MalformedWriteRequestError extends Error {
  override readonly name = 'MalformedWriteRequestError';
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;
const FIELD_TIMESERIES = 1;
const FIELD_LABELS = 1;
const FIELD_SAMPLES = 2;

/**
 * Walks `bytes` (an uncompressed WriteRequest) and adds its series and samples to `into`.
 * When `seriesHashes` is given, the hash of every series' label fields goes into it: equal
 * label sets written in the same order hash the same, so its size counts distinct series.
 */
export function countWriteRequest(
  bytes: Uint8Array,
  into: RemoteWriteCounts,
  seriesHashes?: SeriesHashSet,
): void {
  const reader = new Reader(bytes, 0, bytes.length);
  while (reader.position < reader.end) {
    const tag = reader.varint();
    if (tag >>> 3 === FIELD_TIMESERIES && (tag & 7) === WIRE_LENGTH_DELIMITED) {
      const length = reader.varint();
      countSeries(bytes, reader.position, reader.position + length, into, seriesHashes);
      reader.skipTo(reader.position + length);
    } else {
      reader.skipField(tag);
    }
  }
}

function countSeries(
  bytes: Uint8Array,
  start: number,
  end: number,
  into: RemoteWriteCounts,
  seriesHashes: SeriesHashSet | undefined,
): void {
  const reader = new Reader(bytes, start, end);
  // Label fields come first in every sender's encoding; the hash covers the span from the
  // first label field to the end of the last one (other fields in between included).
  let labelsStart = -1;
  let labelsEnd = -1;
  while (reader.position < end) {
    const fieldStart = reader.position;
    const tag = reader.varint();
    if ((tag & 7) !== WIRE_LENGTH_DELIMITED) {
      reader.skipField(tag);
      continue;
    }
    const length = reader.varint();
    const fieldEnd = reader.position + length;
    const field = tag >>> 3;
    if (field === FIELD_SAMPLES) {
      into.samples++;
    } else if (field === FIELD_LABELS) {
      if (labelsStart < 0) labelsStart = fieldStart;
      labelsEnd = fieldEnd;
    }
    reader.skipTo(fieldEnd);
  }
  into.series++;
  if (seriesHashes !== undefined && labelsStart >= 0) {
    hashInto(seriesHashes, bytes, labelsStart, labelsEnd);
  }
}

/** Two 32-bit multiplicative hashes over `[start, end)`, four bytes per step. */
function hashInto(set: SeriesHashSet, bytes: Uint8Array, start: number, end: number): void {
  let low = 0x811c9dc5;
  let high = 0x01000193;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const word = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    low = Math.imul(low ^ word, 0x01000193);
    high = Math.imul(high ^ word, 0x5bd1e995) ^ (high >>> 15);
  }
  for (; i < end; i++) {
    low = Math.imul(low ^ bytes[i]!, 0x01000193);
    high = Math.imul(high ^ bytes[i]!, 0x5bd1e995) ^ (high >>> 15);
  }
  set.add(low, high);
}

/** Reads varints and skips fields within `[position, end)`, refusing to run past `end`. */
class Reader {
  readonly #bytes: Uint8Array;
  position: number;
  readonly end: number;

  constructor(bytes: Uint8Array, start: number, end: number) {
    this.#bytes = bytes;
    this.position = start;
    this.end = end;
  }

  varint(): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < 10; i++) {
      if (this.position >= this.end) throw new MalformedWriteRequestError('truncated varint');
      const byte = this.#bytes[this.position++]!;
      result += (byte & 0x7f) * multiplier;
      if (byte < 0x80) return result;
      multiplier *= 128;
    }
    throw new MalformedWriteRequestError('varint longer than 10 bytes');
  }

  skipTo(position: number): void {
    if (position > this.end) throw new MalformedWriteRequestError('field runs past its message');
    this.position = position;
  }

  skipField(tag: number): void {
    switch (tag & 7) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.skipTo(this.position + 8);
        return;
      case WIRE_LENGTH_DELIMITED: {
        const length = this.varint();
        this.skipTo(this.position + length);
        return;
      }
      case WIRE_FIXED32:
        this.skipTo(this.position + 4);
        return;
      default:
        throw new MalformedWriteRequestError(`unsupported wire type ${tag & 7}`);
    }
  }
}
