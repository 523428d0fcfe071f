// Label sets of the output series of one request, to count collisions: series that a rule
// made identical to an earlier output series. Pairs are appended to an arena that the
// encoder also reads for re-encoded series; the hash set is cleared per request by bumping a
// generation instead of zeroing memory.

import { newRegion } from './buffers';
import { finalizeHash, mixHash } from './hash';

/** Bytes per slot: generation, hash, first pair index, pair count (u32 each). */
const SLOT_BYTES: usize = 16;
const INITIAL_SLOTS: u32 = 1 << 12;

const pairsArena = newRegion();
let table = newRegion();
let spare = newRegion();
let mask: u32 = 0;
let generation: u32 = 0;
let members: u32 = 0;
/** Pairs stored in the arena this request. */
let pairsUsed: u32 = 0;

/** Address of pair `index` of the arena (8 bytes: name id, value id). */
export function storedPair(index: u32): usize {
  return pairsArena.ptr + ((<usize>index) << 3);
}

/** Starts a new request. */
export function seriesSetBegin(): void {
  if (mask === 0) {
    table.ensure(<usize>INITIAL_SLOTS * SLOT_BYTES, 0);
    memory.fill(table.ptr, 0, <usize>INITIAL_SLOTS * SLOT_BYTES);
    mask = INITIAL_SLOTS - 1;
  }
  generation++;
  if (generation === 0) {
    memory.fill(table.ptr, 0, <usize>(mask + 1) * SLOT_BYTES);
    generation = 1;
  }
  members = 0;
  pairsUsed = 0;
}

function setsEqual(a: u32, b: u32, count: u32): bool {
  let pa = storedPair(a);
  let pb = storedPair(b);
  for (let i: u32 = 0; i < count; i++) {
    if (load<u64>(pa + ((<usize>i) << 3)) !== load<u64>(pb + ((<usize>i) << 3))) return false;
  }
  return true;
}

function place(base: usize, hash: u32, first: u32, count: u32): void {
  let i = hash & mask;
  while (load<u32>(base + <usize>i * SLOT_BYTES) === generation) i = (i + 1) & mask;
  let slot = base + <usize>i * SLOT_BYTES;
  store<u32>(slot, generation);
  store<u32>(slot, hash, 4);
  store<u32>(slot, first, 8);
  store<u32>(slot, count, 12);
}

function grow(): void {
  let oldMask = mask;
  let oldBase = table.ptr;
  let newCount = (oldMask + 1) << 1;
  let bytes = <usize>newCount * SLOT_BYTES;
  spare.ensure(bytes, 0);
  memory.fill(spare.ptr, 0, bytes);
  mask = newCount - 1;
  for (let i: u32 = 0; i <= oldMask; i++) {
    let slot = oldBase + <usize>i * SLOT_BYTES;
    if (load<u32>(slot) !== generation) continue;
    place(spare.ptr, load<u32>(slot, 4), load<u32>(slot, 8), load<u32>(slot, 12));
  }
  let swap = table;
  table = spare;
  spare = swap;
}

/**
 * Stores a sorted label set (`count` pairs at `pairs`) and returns the index of its first
 * pair in the arena. Sets {@link lastWasCollision} when an equal set was stored before.
 */
export function seriesSetAdd(pairs: usize, count: u32): u32 {
  let first = pairsUsed;
  let bytes = (<usize>count) << 3;
  let used = (<usize>first) << 3;
  pairsArena.ensure(used + bytes + 8, used);
  memory.copy(pairsArena.ptr + used, pairs, bytes);
  pairsUsed = first + count;
  let h: u64 = <u64>count;
  for (let i: u32 = 0; i < count; i++)
    h = mixHash(
      mixHash(h, load<u32>(pairs + ((<usize>i) << 3))),
      load<u32>(pairs + ((<usize>i) << 3), 4),
    );
  let hash = finalizeHash(h);
  let i = hash & mask;
  lastWasCollision = false;
  while (true) {
    let slot = table.ptr + <usize>i * SLOT_BYTES;
    if (load<u32>(slot) !== generation) break;
    if (
      load<u32>(slot, 4) === hash &&
      load<u32>(slot, 12) === count &&
      setsEqual(load<u32>(slot, 8), first, count)
    ) {
      lastWasCollision = true;
      return first;
    }
    i = (i + 1) & mask;
  }
  if ((members + 1) * 2 > mask + 1) grow();
  place(table.ptr, hash, first, count);
  members++;
  return first;
}

/** True when the last {@link seriesSetAdd} found an equal earlier set. */
export let lastWasCollision: bool = false;
