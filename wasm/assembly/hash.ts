// Byte hashing and comparison for interning and series identity. Reads 8 bytes at a time;
// WebAssembly allows unaligned loads.

import { hash64Finish } from './hll';

// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const SEED: u64 = 0x9e3779b97f4a7c15;
// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const MUL_A: u64 = 0xff51afd7ed558ccd;
// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const MUL_B: u64 = 0xc4ceb9fe1a85ec53;

/** Hash of `len` bytes at `ptr`, good enough for open addressing with power-of-two tables. */
export function hashBytes(ptr: usize, len: usize): u32 {
  let h: u64 = SEED ^ (<u64>len * MUL_B);
  let end = ptr + len;
  if (len >= 32) {
    // Two independent lanes over 16-byte stripes: the multiply chains overlap, which
    // roughly halves the latency for label blocks of a few hundred bytes.
    let other: u64 = h ^ MUL_A;
    while (ptr + 16 <= end) {
      h = (h ^ load<u64>(ptr)) * MUL_A;
      other = (other ^ load<u64>(ptr, 8)) * MUL_B;
      h ^= h >> 32;
      other ^= other >> 29;
      ptr += 16;
    }
    h = (h ^ other) * MUL_A;
  }
  while (ptr + 8 <= end) {
    h = (h ^ load<u64>(ptr)) * MUL_A;
    h ^= h >> 32;
    ptr += 8;
  }
  if (ptr + 4 <= end) {
    h = (h ^ <u64>load<u32>(ptr)) * MUL_A;
    h ^= h >> 32;
    ptr += 4;
  }
  while (ptr < end) {
    h = (h ^ <u64>load<u8>(ptr)) * MUL_B;
    ptr++;
  }
  return finalizeHash(h);
}

/**
 * Copies `len` bytes; short copies (label names and values) run as plain loads and stores,
 * which is cheaper than a bulk memory.copy for a handful of bytes.
 */
export function copyBytes(dst: usize, src: usize, len: usize): void {
  if (len > 64) {
    memory.copy(dst, src, len);
    return;
  }
  let end = src + len;
  while (src + 8 <= end) {
    store<u64>(dst, load<u64>(src));
    src += 8;
    dst += 8;
  }
  while (src < end) {
    store<u8>(dst, load<u8>(src));
    src++;
    dst++;
  }
}

/** Folds one 32-bit value into a running 64-bit hash. */
export function mixHash(h: u64, value: u32): u64 {
  h = (h ^ <u64>value) * MUL_A;
  return h ^ (h >> 29);
}

// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const SEED_2: u64 = 0x7f4a7c159e3779b9;
// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const MUL_C: u64 = 0x9fb21c651e98df25;

/** High 64 bits of the fingerprint {@link fingerprintBytes} computed last. */
export let fingerprintHigh: u64 = 0;

/**
 * A 128-bit fingerprint of `len` bytes, in one pass of four 64-bit multiply-xorshift
 * chains: two over the even and odd 8-byte words make the low half, two more over the
 * same words rotated, with other constants, make the high half, so every word reaches
 * both halves and the four multiply chains overlap in the CPU. Returns the low 64 bits;
 * the high 64 are in {@link fingerprintHigh}. Each step of a chain is invertible, so inputs
 * that differ in one word never meet in that step; distinct label sets share a
 * fingerprint with a probability of about 2^-128 per pair.
 */
export function fingerprintBytes(ptr: usize, len: usize): u64 {
  let a0: u64 = SEED ^ (<u64>len * MUL_B);
  let a1: u64 = a0 ^ MUL_C;
  let b0: u64 = SEED_2 ^ (<u64>len * MUL_A);
  let b1: u64 = b0 ^ MUL_B;
  let end = ptr + len;
  while (ptr + 16 <= end) {
    let even = load<u64>(ptr);
    let odd = load<u64>(ptr, 8);
    a0 = (a0 ^ even) * MUL_A;
    a1 = (a1 ^ odd) * MUL_A;
    b0 = (b0 ^ rotl<u64>(even, 31)) * MUL_C;
    b1 = (b1 ^ rotl<u64>(odd, 31)) * MUL_C;
    a0 ^= a0 >> 32;
    a1 ^= a1 >> 32;
    b0 ^= b0 >> 29;
    b1 ^= b1 >> 29;
    ptr += 16;
  }
  if (ptr + 8 <= end) {
    let word = load<u64>(ptr);
    a0 = (a0 ^ word) * MUL_A;
    b0 = (b0 ^ rotl<u64>(word, 31)) * MUL_C;
    a0 ^= a0 >> 32;
    b0 ^= b0 >> 29;
    ptr += 8;
  }
  if (ptr < end) {
    let word: u64 = 0;
    let shift: u64 = 0;
    while (ptr < end) {
      word |= (<u64>load<u8>(ptr)) << shift;
      shift += 8;
      ptr++;
    }
    a1 = (a1 ^ word) * MUL_A;
    b1 = (b1 ^ rotl<u64>(word, 31)) * MUL_C;
    a1 ^= a1 >> 32;
    b1 ^= b1 >> 29;
  }
  fingerprintHigh = hash64Finish(b0 ^ hash64Finish(b1));
  return hash64Finish(a0 ^ hash64Finish(a1));
}

/** Avalanches a running hash into 32 bits. */
export function finalizeHash(h: u64): u32 {
  h ^= h >> 33;
  h *= MUL_B;
  h ^= h >> 29;
  return <u32>h;
}

/** True when the `len` bytes at `a` and `b` are equal. */
export function bytesEqual(a: usize, b: usize, len: usize): bool {
  let end = a + len;
  // 16 bytes per step: series cache keys are a few hundred bytes of label fields.
  while (a + 16 <= end) {
    if (v128.any_true(v128.xor(v128.load(a), v128.load(b)))) return false;
    a += 16;
    b += 16;
  }
  while (a + 8 <= end) {
    if (load<u64>(a) !== load<u64>(b)) return false;
    a += 8;
    b += 8;
  }
  while (a < end) {
    if (load<u8>(a) !== load<u8>(b)) return false;
    a++;
    b++;
  }
  return true;
}

/** Byte-wise ordering of two strings, like Go's string comparison: < 0, 0 or > 0. */
export function compareBytes(a: usize, aLen: usize, b: usize, bLen: usize): i32 {
  let n = min<usize>(aLen, bLen);
  for (let i: usize = 0; i < n; i++) {
    let x = <i32>load<u8>(a + i);
    let y = <i32>load<u8>(b + i);
    if (x !== y) return x - y;
  }
  return aLen < bLen ? -1 : aLen > bLen ? 1 : 0;
}
