// Protobuf wire format with explicit bounds checks. The release build has no assertions, so
// every read checks its end: malformed input must become ERR_PROTOBUF, never a trap.
// The reader keeps its cursor and failure flag in globals to avoid tuples on the hot path.

export const WIRE_VARINT: u32 = 0;
export const WIRE_FIXED64: u32 = 1;
export const WIRE_LEN: u32 = 2;
export const WIRE_FIXED32: u32 = 5;

/** Read cursor (absolute address). */
export let readPos: usize = 0;
/** Set by any read that ran past its end or met an invalid encoding. */
export let readFailed: bool = false;

/** Starts reading at `ptr`. */
export function beginRead(ptr: usize): void {
  readPos = ptr;
  readFailed = false;
}

/** Moves the cursor (used after a length-delimited payload was consumed separately). */
export function seekRead(ptr: usize): void {
  readPos = ptr;
}

/** Reads a varint that must end before `end`; sets readFailed and returns 0 otherwise. */
export function readVarint(end: usize): u64 {
  let p = readPos;
  if (p < end) {
    let b = load<u8>(p);
    if (b < 0x80) {
      readPos = p + 1;
      return <u64>b;
    }
  }
  return readVarintSlow(end);
}

function readVarintSlow(end: usize): u64 {
  let p = readPos;
  let result: u64 = 0;
  let shift: u64 = 0;
  while (true) {
    if (p >= end || shift > 63) {
      readFailed = true;
      return 0;
    }
    let b = load<u8>(p++);
    result |= (<u64>(b & 0x7f)) << shift;
    if (b < 0x80) break;
    shift += 7;
  }
  readPos = p;
  return result;
}

/**
 * Reads the length prefix of a length-delimited field and checks that the payload fits
 * before `end`. Returns the payload length; the cursor sits at the payload start.
 */
export function readLength(end: usize): usize {
  let len = readVarint(end);
  if (len > <u64>(end - readPos)) {
    readFailed = true;
    return 0;
  }
  return <usize>len;
}

/**
 * Skips the payload of a field of `wireType`. Groups (3, 4) and unknown wire types are
 * rejected: remote write never uses them.
 */
export function skipField(wireType: u32, end: usize): void {
  if (wireType === WIRE_VARINT) {
    readVarint(end);
  } else if (wireType === WIRE_LEN) {
    let len = readLength(end);
    readPos += len;
  } else if (wireType === WIRE_FIXED64) {
    if (end - readPos < 8) readFailed = true;
    else readPos += 8;
  } else if (wireType === WIRE_FIXED32) {
    if (end - readPos < 4) readFailed = true;
    else readPos += 4;
  } else {
    readFailed = true;
  }
}

/** Bytes a varint of `value` takes. */
export function varintSize(value: u32): u32 {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

/** Writes `value` as a varint at `ptr`; returns the address after it. */
export function writeVarint(ptr: usize, value: u32): usize {
  while (value >= 0x80) {
    store<u8>(ptr++, <u8>(value | 0x80));
    value >>>= 7;
  }
  store<u8>(ptr++, <u8>value);
  return ptr;
}

/** Size of a length-delimited field with a one-byte tag and `payloadLen` bytes. */
export function lenFieldSize(payloadLen: u32): u32 {
  return 1 + varintSize(payloadLen) + payloadLen;
}
