/**
 * Test entry for the HyperLogLog sketches: the sketch exports plus helpers that add a run
 * of distinct elements inside the module (hashed like series labels), so a test of a
 * million elements does not cross the JS boundary a million times.
 */

import {
  HASH64_START,
  hash64Bytes,
  hash64Finish,
  hllAdd,
  hllBytes,
  hllClear,
  hllMaxEncodedBytes,
  hllMerge,
  hllWrite,
} from '../assembly/hll';

export { hllBytes, hllClear, hllMaxEncodedBytes, hllMerge, hllWrite };

/** Reserves `byteLength` bytes in the module's memory and returns their address. */
export function allocate(byteLength: u32): usize {
  return heap.alloc(<usize>byteLength);
}

export function resetHeap(): void {
  heap.reset();
}

/**
 * Adds the elements `first` .. `first + count - 1`, each hashed as the 8-byte decimal-free
 * encoding of its number (as a label value would be hashed). Returns how many calls grew
 * a register.
 */
export function hllAddSequence(registers: usize, precision: u32, first: f64, count: u32): u32 {
  const scratch = heap.alloc(8);
  let grew: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    store<u64>(scratch, <u64>(first + <f64>i));
    const hash = hash64Finish(hash64Bytes(HASH64_START, scratch, 8));
    if (hllAdd(registers, precision, hash)) grew++;
  }
  return grew;
}
