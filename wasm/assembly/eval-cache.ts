// Cache of host.evaluate answers keyed by (rule, op, interned string). Entries refer to
// string ids, so the cache is reset together with the intern table. A generation counter
// makes the reset O(1); the table grows by rehashing the live generation.

import { newRegion } from './buffers';
import { finalizeHash, mixHash } from './hash';

/** Bytes per entry: generation, rule/op key, string id, result1, result2 (all u32). */
const ENTRY_BYTES: usize = 20;
const INITIAL_ENTRIES: u32 = 1 << 12;
/** Entries kept before the cache asks for a reset at the next request. */
const MAX_ENTRIES: u32 = 1 << 21;

let table = newRegion();
let spare = newRegion();
let mask: u32 = 0;
let generation: u32 = 1;
let liveCount: u32 = 0;

/** First result of the last successful {@link cacheLookup}. */
export let cachedResult1: i32 = 0;
/** Second result of the last successful {@link cacheLookup}. */
export let cachedResult2: i32 = 0;

function ruleKey(rule: u32, op: i32): u32 {
  return (rule << 3) | <u32>op;
}

function slotOf(key: u32, stringId: u32): u32 {
  return finalizeHash(mixHash(mixHash(0x2545f491, key), stringId)) & mask;
}

/** Empties the cache. */
export function cacheReset(): void {
  if (mask === 0) {
    let bytes = <usize>INITIAL_ENTRIES * ENTRY_BYTES;
    memory.fill(table.ensure(bytes, 0), 0, bytes);
    mask = INITIAL_ENTRIES - 1;
  }
  generation++;
  if (generation === 0) {
    memory.fill(table.ptr, 0, <usize>(mask + 1) * ENTRY_BYTES);
    generation = 1;
  }
  liveCount = 0;
}

/** True when the cache has passed its bound and should be reset before the next request. */
export function cacheOverBound(): bool {
  return liveCount >= MAX_ENTRIES;
}

/** Looks up an answer; on a hit sets cachedResult1/2 and returns true. */
export function cacheLookup(rule: u32, op: i32, stringId: u32): bool {
  let key = ruleKey(rule, op);
  let i = slotOf(key, stringId);
  let base = table.ptr;
  while (true) {
    let entry = base + <usize>i * ENTRY_BYTES;
    if (load<u32>(entry) !== generation) return false;
    if (load<u32>(entry, 4) === key && load<u32>(entry, 8) === stringId) {
      cachedResult1 = load<i32>(entry, 12);
      cachedResult2 = load<i32>(entry, 16);
      return true;
    }
    i = (i + 1) & mask;
  }
}

function place(base: usize, key: u32, stringId: u32, result1: i32, result2: i32): void {
  let i = slotOf(key, stringId);
  while (load<u32>(base + <usize>i * ENTRY_BYTES) === generation) i = (i + 1) & mask;
  let entry = base + <usize>i * ENTRY_BYTES;
  store<u32>(entry, generation);
  store<u32>(entry, key, 4);
  store<u32>(entry, stringId, 8);
  store<i32>(entry, result1, 12);
  store<i32>(entry, result2, 16);
}

function grow(): void {
  let oldMask = mask;
  let oldBase = table.ptr;
  let newCount = (oldMask + 1) << 1;
  let bytes = <usize>newCount * ENTRY_BYTES;
  memory.fill(spare.ensure(bytes, 0), 0, bytes);
  mask = newCount - 1;
  let newBase = spare.ptr;
  for (let i: u32 = 0; i <= oldMask; i++) {
    let entry = oldBase + <usize>i * ENTRY_BYTES;
    if (load<u32>(entry) !== generation) continue;
    place(
      newBase,
      load<u32>(entry, 4),
      load<u32>(entry, 8),
      load<i32>(entry, 12),
      load<i32>(entry, 16),
    );
  }
  let swap = table;
  table = spare;
  spare = swap;
}

/** Records an answer (the caller checked it is not cached yet). */
export function cacheStore(rule: u32, op: i32, stringId: u32, result1: i32, result2: i32): void {
  if ((liveCount + 1) * 2 > mask + 1) grow();
  place(table.ptr, ruleKey(rule, op), stringId, result1, result2);
  liveCount++;
}
