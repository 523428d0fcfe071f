/**
 * A snappy block encoder that keeps chosen byte ranges as literals, so those bytes can be
 * rewritten inside the compressed block without compressing again. The load generator uses
 * it to advance sample values and timestamps round after round while sending the same
 * pre-compressed requests: patching costs a copy of the request, recompressing would cost
 * as much CPU as the proxy under test spends.
 *
 * A protected byte is never the source or the destination of a copy element, so its value
 * in the compressed block and in the decompressed output are always the same byte.
 */

/** A range of the uncompressed input, `[start, start + length)`, to be kept patchable. */
export interface ProtectedRange {
  readonly start: number;
  readonly length: number;
}

/** The compressed block and, for each protected range, where its bytes are in it. */
export interface PatchableBlock {
  readonly compressed: Uint8Array;
  /** `compressedOffsets[i]` is where protected range `i` starts in `compressed`. */
  readonly compressedOffsets: Uint32Array;
}

const MIN_MATCH_BYTES = 4;
const MAX_COPY_BYTES = 64;
const MAX_OFFSET = 0xffff;
const HASH_BITS = 14;

/**
 * Compresses `input` into one snappy block (the format of `snappy.compress` / Prometheus'
 * remote write). `ranges` must be sorted by start and must not overlap.
 */
export function compressPatchable(
  input: Uint8Array,
  ranges: readonly ProtectedRange[],
): PatchableBlock {
  const isProtected = new Uint8Array(input.length);
  for (const range of ranges) isProtected.fill(1, range.start, range.start + range.length);
  const out = new Growable(Math.ceil(input.length / 2) + 16);
  writeVarint(out, input.length);
  const compressedOffsets = new Uint32Array(ranges.length);
  const table = new Int32Array(1 << HASH_BITS).fill(-1);

  let literalStart = 0;
  let nextRange = 0;
  const flushLiteral = (end: number): void => {
    if (end === literalStart) return;
    writeLiteralHeader(out, end - literalStart);
    while (nextRange < ranges.length && ranges[nextRange]!.start < end) {
      compressedOffsets[nextRange] = out.length + (ranges[nextRange]!.start - literalStart);
      nextRange++;
    }
    out.append(input.subarray(literalStart, end));
    literalStart = end;
  };

  let position = 0;
  while (position + MIN_MATCH_BYTES <= input.length) {
    if (isProtected[position] === 1) {
      position++;
      continue;
    }
    const key = hash4(input, position);
    const candidate = table[key]!;
    table[key] = position;
    const offset = position - candidate;
    if (candidate < 0 || offset > MAX_OFFSET) {
      position++;
      continue;
    }
    let length = 0;
    while (
      position + length < input.length &&
      input[candidate + length] === input[position + length] &&
      isProtected[candidate + length] === 0 &&
      isProtected[position + length] === 0
    ) {
      length++;
    }
    if (length < MIN_MATCH_BYTES) {
      position++;
      continue;
    }
    flushLiteral(position);
    let remaining = length;
    while (remaining > 0) {
      const chunk = Math.min(remaining, MAX_COPY_BYTES);
      writeCopy(out, offset, chunk);
      remaining -= chunk;
    }
    position += length;
    literalStart = position;
  }
  flushLiteral(input.length);
  return { compressed: out.bytes(), compressedOffsets };
}

function hash4(input: Uint8Array, at: number): number {
  const word = input[at]! | (input[at + 1]! << 8) | (input[at + 2]! << 16) | (input[at + 3]! << 24);
  return Math.imul(word, 0x1e35a7bd) >>> (32 - HASH_BITS);
}

function writeVarint(out: Growable, value: number): void {
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

/** Literal tag: lengths up to 60 in the tag, longer ones in 1 to 4 little-endian bytes after it. */
function writeLiteralHeader(out: Growable, length: number): void {
  const n = length - 1;
  if (n < 60) {
    out.push(n << 2);
    return;
  }
  const extraBytes = n < 0x100 ? 1 : n < 0x1_0000 ? 2 : n < 0x100_0000 ? 3 : 4;
  out.push((59 + extraBytes) << 2);
  for (let i = 0; i < extraBytes; i++) out.push((n >>> (8 * i)) & 0xff);
}

function writeCopy(out: Growable, offset: number, length: number): void {
  if (length >= 4 && length <= 11 && offset < 2048) {
    out.push(1 | ((length - 4) << 2) | ((offset >>> 8) << 5));
    out.push(offset & 0xff);
    return;
  }
  out.push(2 | ((length - 1) << 2));
  out.push(offset & 0xff);
  out.push(offset >>> 8);
}

/** A byte buffer that doubles when full. */
class Growable {
  #buffer: Uint8Array;
  length = 0;

  constructor(initialBytes: number) {
    this.#buffer = new Uint8Array(Math.max(initialBytes, 16));
  }

  #reserve(extra: number): void {
    if (this.length + extra <= this.#buffer.length) return;
    let capacity = this.#buffer.length * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.#buffer.subarray(0, this.length));
    this.#buffer = grown;
  }

  push(byte: number): void {
    this.#reserve(1);
    this.#buffer[this.length++] = byte;
  }

  append(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  bytes(): Uint8Array {
    return this.#buffer.slice(0, this.length);
  }
}
