// Byte hashing and comparison for interning and series identity. Reads 8 bytes at a time;
// WebAssembly allows unaligned loads.

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
