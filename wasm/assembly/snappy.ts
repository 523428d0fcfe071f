/**
 * Snappy block format (not the framed format): the compression of Prometheus remote-write
 * bodies. It runs inside the module so that request and response bytes never cross into JS
 * between decompression, decoding, encoding and compression.
 *
 * The module is built with `noAssert` and memory is one flat array, so a hostile body can
 * only be kept from reading or writing outside its buffers by the explicit bound checks
 * below: every read is checked against the end of the source, every write against the end
 * of the destination, before it happens.
 */

/** Low two bits of an element's first byte. */
const TAG_LITERAL: u32 = 0;
const TAG_COPY_1: u32 = 1;
const TAG_COPY_2: u32 = 2;

/** Literal length codes from 60 up say "the length - 1 follows in (code - 59) bytes". */
const LITERAL_LENGTH_INLINE_LIMIT: u32 = 60;

/** The compressor works on independent blocks so that offsets fit in 16 bits. */
const BLOCK_BYTES: u32 = 1 << 16;
/** 2^14 u16 slots: the reference size, 32 KiB, small enough to stay in cache. */
const MAX_HASH_TABLE_BITS: u32 = 14;
/** Small blocks get a smaller table so that clearing it does not dominate. */
const MIN_HASH_TABLE_BITS: u32 = 8;
/** The match finder stops this far before the block end so its 8-byte loads stay inside. */
const INPUT_MARGIN_BYTES: u32 = 15;
/** Multiplicative hash constant of the reference implementation. */
const HASH_MULTIPLIER: u32 = 0x1e35a7bd;

/** Block position (u16) of the last occurrence of each hashed 4-byte window. 2 << 14 bytes. */
const hashTable: usize = memory.data(32768, 16);

/**
 * Reads the varint header (at most 5 bytes, value below 2^32).
 * Returns `(headerBytes << 32) | decodedLength`, or -1 when the header is corrupt.
 */
function readHeader(src: usize, srcLen: u32): i64 {
  let value: u64 = 0;
  let shift: u64 = 0;
  const maxBytes = min<u32>(srcLen, 5);
  for (let i: u32 = 0; i < maxBytes; i++) {
    const byte = <u64>load<u8>(src + i);
    value |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      if (value > 0xffffffff) return -1;
      return ((<i64>(i + 1)) << 32) | <i64>value;
    }
    shift += 7;
  }
  return -1;
}

/** Uncompressed length from the varint header, or -1 when the header is corrupt. */
export function snappyDecodedLength(src: usize, srcLen: u32): i64 {
  const header = readHeader(src, srcLen);
  return header < 0 ? -1 : header & 0xffffffff;
}

/**
 * Copies `length` bytes that start `offset` bytes back from `op` (offset >= 1, already
 * checked against what was produced). Overlap (offset < length) repeats the pattern, as
 * the format requires. `room` is the space left in the destination from `op`.
 */
function copyFromOutput(op: usize, offset: u32, length: u32, room: usize): void {
  const from = op - offset;
  if (room >= <usize>length + 16) {
    // Whole chunks may write up to 15 bytes past the copy; those bytes lie inside the
    // destination and are overwritten by the elements that follow.
    if (offset >= 16) {
      for (let i: u32 = 0; i < length; i += 16) {
        v128.store(op + i, v128.load(from + i));
      }
      return;
    }
    if (offset >= 8) {
      for (let i: u32 = 0; i < length; i += 8) {
        store<u64>(op + i, load<u64>(from + i));
      }
      return;
    }
    // A short pattern: write one period (the smallest multiple of offset >= 8) byte by
    // byte, then copy 8 bytes at a time from one period back, which holds the same bytes.
    let period = offset;
    while (period < 8) period += offset;
    const prefix = min<u32>(period, length);
    let i: u32 = 0;
    for (; i < prefix; i++) store<u8>(op + i, load<u8>(from + i));
    for (; i < length; i += 8) store<u64>(op + i, load<u64>(op + i - period));
    return;
  }
  // Near the end of the destination: exact copies only.
  if (offset >= length) {
    memory.copy(op, from, length);
    return;
  }
  for (let i: u32 = 0; i < length; i++) store<u8>(op + i, load<u8>(from + i));
}

/**
 * Decompresses a snappy block into `dst` (`dstLen` must equal the decoded length of the
 * header). Returns 0, or -1 when the block is corrupt: a bad header, a truncated element,
 * an offset of 0 or before the start of the output, or output that does not end exactly at
 * `dstLen`. Never reads outside `[src, src + srcLen)` nor writes outside `[dst, dst + dstLen)`.
 */
export function snappyDecompress(src: usize, srcLen: u32, dst: usize, dstLen: u32): i32 {
  const header = readHeader(src, srcLen);
  if (header < 0 || <u32>header !== dstLen) return -1;
  let ip = src + <usize>(header >>> 32);
  const ipEnd = src + srcLen;
  let op = dst;
  const opEnd = dst + dstLen;

  while (ip < ipEnd) {
    const tag = <u32>load<u8>(ip);
    ip++;
    const kind = tag & 3;

    if (kind === TAG_LITERAL) {
      let lengthMinusOne = tag >> 2;
      if (lengthMinusOne >= LITERAL_LENGTH_INLINE_LIMIT) {
        const lengthBytes = lengthMinusOne - (LITERAL_LENGTH_INLINE_LIMIT - 1);
        if (<usize>lengthBytes > ipEnd - ip) return -1;
        lengthMinusOne = <u32>load<u8>(ip);
        if (lengthBytes > 1) lengthMinusOne |= (<u32>load<u8>(ip, 1)) << 8;
        if (lengthBytes > 2) lengthMinusOne |= (<u32>load<u8>(ip, 2)) << 16;
        if (lengthBytes > 3) lengthMinusOne |= (<u32>load<u8>(ip, 3)) << 24;
        ip += lengthBytes;
      }
      const available = ipEnd - ip;
      const room = opEnd - op;
      // Compared before adding one, so a length of 2^32 cannot wrap to 0.
      if (<usize>lengthMinusOne >= available || <usize>lengthMinusOne >= room) return -1;
      const length = lengthMinusOne + 1;
      if (length <= 16 && available >= 16 && room >= 16) {
        v128.store(op, v128.load(ip));
      } else {
        memory.copy(op, ip, length);
      }
      ip += length;
      op += length;
      continue;
    }

    let length: u32;
    let offset: u32;
    if (kind === TAG_COPY_1) {
      if (ip >= ipEnd) return -1;
      length = 4 + ((tag >> 2) & 7);
      offset = ((tag & 0xe0) << 3) | <u32>load<u8>(ip);
      ip += 1;
    } else if (kind === TAG_COPY_2) {
      if (ipEnd - ip < 2) return -1;
      length = (tag >> 2) + 1;
      offset = <u32>load<u16>(ip);
      ip += 2;
    } else {
      if (ipEnd - ip < 4) return -1;
      length = (tag >> 2) + 1;
      offset = load<u32>(ip);
      ip += 4;
    }
    if (offset === 0 || <usize>offset > op - dst) return -1;
    const room = opEnd - op;
    if (<usize>length > room) return -1;
    copyFromOutput(op, offset, length, room);
    op += length;
  }
  return op === opEnd ? 0 : -1;
}

/** Worst-case compressed size of `n` bytes: 32 + n + n/6, as the reference implementation. */
export function snappyMaxCompressedLength(n: u32): u32 {
  const bound = 32 + <u64>n + <u64>n / 6;
  return bound > 0xffffffff ? 0xffffffff : <u32>bound;
}

function hashWindow(bytes: u32, shift: u32): usize {
  return (<usize>((bytes * HASH_MULTIPLIER) >> shift)) << 1;
}

/** Length of the common prefix of `a` and `b`, reading `b` no further than `bEnd` (a < b). */
function matchLength(a: usize, b: usize, bEnd: usize): u32 {
  const bStart = b;
  while (bEnd - b >= 8) {
    const difference = load<u64>(a) ^ load<u64>(b);
    if (difference !== 0) return <u32>(b - bStart) + <u32>(ctz<u64>(difference) >> 3);
    a += 8;
    b += 8;
  }
  while (b < bEnd && load<u8>(a) === load<u8>(b)) {
    a++;
    b++;
  }
  return <u32>(b - bStart);
}

/** Writes a literal element of any length >= 1. */
function emitLiteral(op: usize, literal: usize, length: u32): usize {
  const lengthMinusOne = length - 1;
  if (lengthMinusOne < LITERAL_LENGTH_INLINE_LIMIT) {
    store<u8>(op, lengthMinusOne << 2);
    op++;
  } else if (lengthMinusOne < 0x100) {
    store<u8>(op, 60 << 2);
    store<u8>(op, lengthMinusOne, 1);
    op += 2;
  } else if (lengthMinusOne < 0x10000) {
    store<u8>(op, 61 << 2);
    store<u16>(op, lengthMinusOne, 1);
    op += 3;
  } else if (lengthMinusOne < 0x1000000) {
    store<u8>(op, 62 << 2);
    store<u16>(op, lengthMinusOne, 1);
    store<u8>(op, lengthMinusOne >> 16, 3);
    op += 4;
  } else {
    store<u8>(op, 63 << 2);
    store<u32>(op, lengthMinusOne, 1);
    op += 5;
  }
  memory.copy(op, literal, length);
  return op + length;
}

/** One copy element of 4..64 bytes: the 2-byte form when it fits, else the 3-byte form. */
function emitCopyAtMost64(op: usize, offset: u32, length: u32): usize {
  if (length < 12 && offset < 2048) {
    store<u8>(op, TAG_COPY_1 | ((length - 4) << 2) | ((offset >> 3) & 0xe0));
    store<u8>(op, offset, 1);
    return op + 2;
  }
  store<u8>(op, TAG_COPY_2 | ((length - 1) << 2));
  store<u16>(op, offset, 1);
  return op + 3;
}

/** Copy elements for a match of any length >= 4, keeping every piece at least 4 long. */
function emitCopy(op: usize, offset: u32, length: u32): usize {
  while (length >= 68) {
    op = emitCopyAtMost64(op, offset, 64);
    length -= 64;
  }
  if (length > 64) {
    op = emitCopyAtMost64(op, offset, 60);
    length -= 60;
  }
  return emitCopyAtMost64(op, offset, length);
}

/** Compresses one block of at most 64 KiB (the reference `CompressFragment`). */
function compressBlock(input: usize, inputLen: u32, op: usize): usize {
  let tableBits = MIN_HASH_TABLE_BITS;
  while (tableBits < MAX_HASH_TABLE_BITS && (<u32>1) << tableBits < inputLen) tableBits++;
  const shift = 32 - tableBits;
  memory.fill(hashTable, 0, (<usize>2) << tableBits);

  const inputEnd = input + inputLen;
  let nextEmit = input;
  if (inputLen >= INPUT_MARGIN_BYTES) {
    const ipLimit = inputEnd - INPUT_MARGIN_BYTES;
    let ip = input + 1;
    let nextHash = hashWindow(load<u32>(ip), shift);
    let finished = false;
    while (!finished) {
      // Find a 4-byte match. After 32 misses the step grows by one byte every 32 lookups,
      // so incompressible input is skipped quickly; any match resets the step.
      let skip: u32 = 32;
      let nextIp = ip;
      let candidate: usize = 0;
      while (true) {
        ip = nextIp;
        const slot = hashTable + nextHash;
        const step = skip >> 5;
        skip += step;
        nextIp = ip + step;
        if (nextIp > ipLimit) {
          finished = true;
          break;
        }
        nextHash = hashWindow(load<u32>(nextIp), shift);
        candidate = input + <usize>load<u16>(slot);
        store<u16>(slot, <u16>(ip - input));
        if (load<u32>(ip) === load<u32>(candidate)) break;
      }
      if (finished) break;

      // Most literals between matches are short: one tag byte and a 16-byte copy, which the
      // margin keeps inside the block (the source) and the size bound (the destination).
      const literalLength = <u32>(ip - nextEmit);
      if (literalLength <= 16) {
        store<u8>(op, (literalLength - 1) << 2);
        v128.store(op, v128.load(nextEmit), 1);
        op += 1 + literalLength;
      } else {
        op = emitLiteral(op, nextEmit, literalLength);
      }

      // Emit copies while the bytes right after a match start another one.
      let windowBytes: u64 = 0;
      while (true) {
        const matchStart = ip;
        const matched = 4 + matchLength(candidate + 4, ip + 4, inputEnd);
        ip += matched;
        op = emitCopy(op, <u32>(matchStart - candidate), matched);
        nextEmit = ip;
        if (ip >= ipLimit) {
          finished = true;
          break;
        }
        windowBytes = load<u64>(ip - 1);
        store<u16>(hashTable + hashWindow(<u32>windowBytes, shift), <u16>(ip - input - 1));
        const currentBytes = <u32>(windowBytes >> 8);
        const slot = hashTable + hashWindow(currentBytes, shift);
        candidate = input + <usize>load<u16>(slot);
        store<u16>(slot, <u16>(ip - input));
        if (currentBytes !== load<u32>(candidate)) break;
      }
      if (finished) break;
      nextHash = hashWindow(<u32>(windowBytes >> 16), shift);
      ip++;
    }
  }
  if (nextEmit < inputEnd) op = emitLiteral(op, nextEmit, <u32>(inputEnd - nextEmit));
  return op;
}

/**
 * Compresses `srcLen` bytes into `dst`, which must hold `snappyMaxCompressedLength(srcLen)`
 * bytes (the fast paths write up to 15 bytes past the element they emit, inside that
 * bound). Returns the compressed length.
 */
export function snappyCompress(src: usize, srcLen: u32, dst: usize): u32 {
  let op = dst;
  let remaining = srcLen;
  while (remaining >= 0x80) {
    store<u8>(op, (remaining & 0x7f) | 0x80);
    remaining >>= 7;
    op++;
  }
  store<u8>(op, remaining);
  op++;

  let blockStart: u32 = 0;
  while (blockStart < srcLen) {
    const blockLen = min<u32>(srcLen - blockStart, BLOCK_BYTES);
    op = compressBlock(src + blockStart, blockLen, op);
    blockStart += blockLen;
  }
  return <u32>(op - dst);
}
