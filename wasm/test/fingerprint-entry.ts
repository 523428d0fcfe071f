/**
 * Test entry for the series cache's 128-bit fingerprint: the function and a bump
 * allocator, so tests can fingerprint bytes they write into the module's memory.
 */

import { fingerprintBytes, fingerprintHigh } from '../assembly/hash';

/** Reserves `byteLength` bytes in the module's memory and returns their address. */
export function allocate(byteLength: u32): usize {
  return heap.alloc(<usize>byteLength);
}

export function resetHeap(): void {
  heap.reset();
}

/** Low 64 bits of the fingerprint of `len` bytes at `ptr`. */
export function fingerprintLow(ptr: usize, len: u32): u64 {
  return fingerprintBytes(ptr, <usize>len);
}

/** High 64 bits of the fingerprint computed last. */
export function lastFingerprintHigh(): u64 {
  return fingerprintHigh;
}
