// HyperLogLog sketches over 64-bit hashes (Flajolet et al. 2007, estimated on the host
// with Ertl's 2017 improved estimator, which needs no bias tables and no switch to linear
// counting). A sketch is `2^precision` one-byte registers at a caller-owned address, so a
// sketch can sit inside any table of the module: the cardinality tracker embeds them per
// metric and per label, and experiments can keep one per arm. Two sketches of the same
// precision merge exactly by taking the register-wise maximum: merge(A, B) is the sketch
// of A ∪ B.
//
// Relative standard error: 1.04 / sqrt(2^precision) (p 8: 6.5%, p 12: 1.6%, p 14: 0.81%).

// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const MIX_A: u64 = 0xff51afd7ed558ccd;
// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const MIX_B: u64 = 0xc4ceb9fe1a85ec53;
// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const SEED_64: u64 = 0x9e3779b97f4a7c15;

/** Smallest and largest precision a sketch may have. */
export const HLL_MIN_PRECISION: u32 = 4;
export const HLL_MAX_PRECISION: u32 = 16;

/** Bytes of a sketch of `precision`: one register per byte. */
export function hllBytes(precision: u32): usize {
  return (<usize>1) << precision;
}

/** Empties a sketch. */
export function hllClear(registers: usize, precision: u32): void {
  memory.fill(registers, 0, hllBytes(precision));
}

/**
 * Adds one element, given as a well-mixed 64-bit hash. Returns true when a register grew
 * (the element was certainly not in the sketch before).
 */
export function hllAdd(registers: usize, precision: u32, hash: u64): bool {
  let index = <usize>(hash >>> <u64>(64 - precision));
  // The remaining bits, with a stop bit so the rank never exceeds 64 - precision + 1.
  let rest = (hash << (<u64>precision)) | ((<u64>1) << (<u64>(precision - 1)));
  let rank = <u8>(clz<u64>(rest) + 1);
  let slot = registers + index;
  if (rank > load<u8>(slot)) {
    store<u8>(slot, rank);
    return true;
  }
  return false;
}

/** Register-wise maximum of `source` into `target` (same precision): the union. */
export function hllMerge(target: usize, source: usize, precision: u32): void {
  let end = target + hllBytes(precision);
  while (target < end) {
    let value = load<u8>(source);
    if (value > load<u8>(target)) store<u8>(target, value);
    target++;
    source++;
  }
}

/** Registers that are not zero; decides between the dense and the sparse encoding. */
export function hllNonZero(registers: usize, precision: u32): u32 {
  let count: u32 = 0;
  let end = registers + hllBytes(precision);
  for (let p = registers; p < end; p++) if (load<u8>(p) !== 0) count++;
  return count;
}

/** Encoding tags of a serialized sketch. */
export const HLL_DENSE: u8 = 0;
export const HLL_SPARSE: u8 = 1;

/** Upper bound of the bytes {@link hllWrite} produces for a sketch of `precision`. */
export function hllMaxEncodedBytes(precision: u32): usize {
  return 2 + hllBytes(precision);
}

/**
 * Writes a sketch at `out`: `u8 precision, u8 encoding`, then either every register (dense)
 * or `u32 count` × `{u16 index, u8 register}` for the registers that are not zero (sparse,
 * chosen when it is smaller). Returns the address after it.
 */
export function hllWrite(out: usize, registers: usize, precision: u32): usize {
  let m = hllBytes(precision);
  let nonZero = hllNonZero(registers, precision);
  store<u8>(out, <u8>precision);
  if (<usize>4 + <usize>nonZero * 3 < m) {
    store<u8>(out, HLL_SPARSE, 1);
    store<u32>(out, nonZero, 2);
    out += 6;
    for (let i: usize = 0; i < m; i++) {
      let value = load<u8>(registers + i);
      if (value === 0) continue;
      store<u16>(out, <u16>i);
      store<u8>(out, value, 2);
      out += 3;
    }
    return out;
  }
  store<u8>(out, HLL_DENSE, 1);
  memory.copy(out + 2, registers, m);
  return out + 2 + m;
}

/** Folds a 64-bit word into a running hash. */
export function mix64(h: u64, word: u64): u64 {
  h = (h ^ word) * MIX_A;
  return h ^ (h >> 32);
}

/** A 64-bit hash of `len` bytes at `ptr`, continuing `h` (start from {@link HASH64_START}). */
export function hash64Bytes(h: u64, ptr: usize, len: usize): u64 {
  let end = ptr + len;
  while (ptr + 8 <= end) {
    h = mix64(h, load<u64>(ptr));
    ptr += 8;
  }
  let tail: u64 = 0;
  let shift: u64 = 0;
  while (ptr < end) {
    tail |= (<u64>load<u8>(ptr)) << shift;
    shift += 8;
    ptr++;
  }
  // The length goes in too, so "ab" + "c" and "a" + "bc" differ.
  return mix64(h, tail ^ ((<u64>len) << 56) ^ <u64>len);
}

export const HASH64_START: u64 = SEED_64;

/** Final avalanche: every input bit affects every output bit, as HLL needs. */
export function hash64Finish(h: u64): u64 {
  h ^= h >> 33;
  h *= MIX_B;
  h ^= h >> 29;
  h *= MIX_A;
  h ^= h >> 32;
  return h;
}
