// The string intern table: every label name and value of a request, the program's strings
// and the host's answers get a small integer id, so relabeling compares and caches ids
// instead of bytes. Open addressing over a power-of-two slot array; bytes live in one arena.
// The table is bounded: past MAX_STRINGS or MAX_ARENA_BYTES it is reset at the start of the
// next request, keeping the program's own strings (interned first at loadProgram).

import { newRegion } from './buffers';
import { bytesEqual, hashBytes } from './hash';

/** Strings kept before the table resets at the next request. */
const MAX_STRINGS: u32 = 1 << 20;
/** Arena bytes kept before the table resets at the next request. */
const MAX_ARENA_BYTES: usize = 64 << 20;
const INITIAL_SLOTS: u32 = 1 << 14;
/** Bytes per entry: arena offset u32, length u32, hash u32. */
const ENTRY_BYTES: usize = 12;

const arena = newRegion();
const entries = newRegion();
const slots = newRegion();
// The arena is reserved at its bound up front: the stub allocator never reuses a block that
// was grown away from, and pages of linear memory cost nothing until they are written.
// A request that crosses the bound may still grow it; the next request resets it.
arena.ensure(MAX_ARENA_BYTES + (1 << 20), 0);

let arenaUsed: usize = 0;
let stringCount: u32 = 0;
let slotMask: u32 = 0;
/** Strings that survive a reset (the program's). */
let pinnedCount: u32 = 0;
let pinnedArenaBytes: usize = 0;

/** Address of the bytes of string `id`. Valid until the next intern call (the arena may move). */
export function stringPtr(id: u32): usize {
  return arena.ptr + <usize>load<u32>(entries.ptr + <usize>id * ENTRY_BYTES);
}

/** Byte length of string `id`. */
export function stringLen(id: u32): u32 {
  return load<u32>(entries.ptr + <usize>id * ENTRY_BYTES, 4);
}

/** Number of interned strings. */
export function internCount(): u32 {
  return stringCount;
}

function allocateSlots(slotCount: u32): void {
  let bytes = (<usize>slotCount) << 2;
  slots.ensure(bytes, 0);
  memory.fill(slots.ptr, 0, bytes);
  slotMask = slotCount - 1;
}

function placeInSlots(id: u32, hash: u32): void {
  let i = hash & slotMask;
  while (load<u32>(slots.ptr + ((<usize>i) << 2)) !== 0) i = (i + 1) & slotMask;
  store<u32>(slots.ptr + ((<usize>i) << 2), id + 1);
}

function rehash(slotCount: u32): void {
  allocateSlots(slotCount);
  for (let id: u32 = 0; id < stringCount; id++) {
    placeInSlots(id, load<u32>(entries.ptr + <usize>id * ENTRY_BYTES, 8));
  }
}

/** Empties the table completely (used when a new program is loaded). */
export function internClear(): void {
  stringCount = 0;
  arenaUsed = 0;
  pinnedCount = 0;
  pinnedArenaBytes = 0;
  allocateSlots(INITIAL_SLOTS);
}

/** Marks every string interned so far as surviving resets. */
export function internPinAll(): void {
  pinnedCount = stringCount;
  pinnedArenaBytes = arenaUsed;
}

/** True when the table has passed its bound and should be reset before the next request. */
export function internOverBound(): bool {
  return stringCount >= MAX_STRINGS || arenaUsed >= MAX_ARENA_BYTES;
}

/** Drops every string but the pinned ones. */
export function internResetToPinned(): void {
  stringCount = pinnedCount;
  arenaUsed = pinnedArenaBytes;
  let slotCount = INITIAL_SLOTS;
  while (slotCount < stringCount * 2) slotCount <<= 1;
  rehash(slotCount);
}

/**
 * Returns the id of the `len` bytes at `ptr`, adding them when new. `ptr` must not point
 * into the arena (it may move). Returns u32.MAX_VALUE when memory cannot grow.
 */
export function intern(ptr: usize, len: u32): u32 {
  let hash = hashBytes(ptr, len);
  let i = hash & slotMask;
  while (true) {
    let slot = load<u32>(slots.ptr + ((<usize>i) << 2));
    if (slot === 0) break;
    let entry = entries.ptr + <usize>(slot - 1) * ENTRY_BYTES;
    if (
      load<u32>(entry, 8) === hash &&
      load<u32>(entry, 4) === len &&
      bytesEqual(arena.ptr + <usize>load<u32>(entry), ptr, len)
    ) {
      return slot - 1;
    }
    i = (i + 1) & slotMask;
  }
  let id = stringCount;
  if (entries.ensure((<usize>id + 1) * ENTRY_BYTES, <usize>id * ENTRY_BYTES) === 0) {
    return u32.MAX_VALUE;
  }
  if (arena.ensure(arenaUsed + len, arenaUsed) === 0) return u32.MAX_VALUE;
  memory.copy(arena.ptr + arenaUsed, ptr, len);
  let entry = entries.ptr + <usize>id * ENTRY_BYTES;
  store<u32>(entry, <u32>arenaUsed);
  store<u32>(entry, len, 4);
  store<u32>(entry, hash, 8);
  arenaUsed += len;
  stringCount = id + 1;
  store<u32>(slots.ptr + ((<usize>i) << 2), id + 1);
  if (stringCount * 2 > slotMask + 1) rehash((slotMask + 1) << 1);
  return id;
}
