// Snapshot and restore of the aggregation state as one byte string: the window clock of
// every rule, the (series, rule) table, the group index, the group slab, the label arena,
// the pending samples of deduplicated rules and the quantile buffers. Everything in them is an offset or an index, never an address, so the bytes can
// be copied into a fresh instance as they are. The classification cache is left out: it
// is rebuilt from the host on first sight of each series.

import { SNAPSHOT_MAGIC } from './aggregate-abi';
import {
  arena,
  arenaUsed,
  arenaWasted,
  classTable,
  dedupTable,
  freeGroupHead,
  freeQuantileHead,
  GROUP_BYTES,
  groupIndex,
  groupSlots,
  groups,
  liveGroups,
  QBUF_BYTES,
  quantileBuffers,
  quantileSlots,
  RULE_LAST_FLUSH_MS,
  RULE_WINDOW,
  refreshGauges,
  ruleCount,
  rulePtr,
  seriesTable,
  setGroupBookkeeping,
  setQuantileBookkeeping,
} from './aggregate-state';
// biome-ignore lint/style/useImportType: AssemblyScript has no type-only imports
import { HashTable } from './aggregate-tables';
import { newRegion } from './buffers';

/** 2: adds the dedup table and the quantile buffers after the label arena. */
const SNAPSHOT_VERSION: u32 = 2;
const snapshot = newRegion();

export function snapshotPtr(): usize {
  return snapshot.ptr;
}

/** Writes the snapshot; returns its length in bytes. */
export function writeSnapshot(): u32 {
  let size: usize =
    <usize>16 +
    <usize>ruleCount * 16 +
    8 +
    seriesTable.bytes() +
    8 +
    groupIndex.bytes() +
    20 +
    <usize>groupSlots * GROUP_BYTES +
    <usize>arenaUsed +
    8 +
    dedupTable.bytes() +
    8 +
    <usize>quantileSlots * QBUF_BYTES;
  let p = snapshot.ensure(size, 0);
  store<u32>(p, SNAPSHOT_MAGIC);
  store<u32>(p, SNAPSHOT_VERSION, 4);
  store<u32>(p, ruleCount, 8);
  store<u32>(p, 0, 12);
  p += 16;
  for (let rule: u32 = 0; rule < ruleCount; rule++) {
    let r = rulePtr(rule);
    store<f64>(p, load<f64>(r, RULE_LAST_FLUSH_MS));
    store<u32>(p, load<u32>(r, RULE_WINDOW), 8);
    p += 16;
  }
  p = writeTable(p, seriesTable);
  p = writeTable(p, groupIndex);
  store<u32>(p, groupSlots);
  store<u32>(p, liveGroups, 4);
  store<u32>(p, freeGroupHead(), 8);
  store<u32>(p, arenaUsed, 12);
  store<u32>(p, arenaWasted, 16);
  p += 20;
  let slabBytes = <usize>groupSlots * GROUP_BYTES;
  memory.copy(p, groups.ptr, slabBytes);
  p += slabBytes;
  memory.copy(p, arena.ptr, arenaUsed);
  p += arenaUsed;
  p = writeTable(p, dedupTable);
  store<u32>(p, quantileSlots);
  store<u32>(p, freeQuantileHead(), 4);
  p += 8;
  let quantileBytes = <usize>quantileSlots * QBUF_BYTES;
  memory.copy(p, quantileBuffers.ptr, quantileBytes);
  p += quantileBytes;
  return <u32>(p - snapshot.ptr);
}

function writeTable(p: usize, table: HashTable): usize {
  store<u32>(p, table.capacity);
  store<u32>(p, table.count, 4);
  p += 8;
  let bytes = table.bytes();
  memory.copy(p, table.region.ptr, bytes);
  return p + bytes;
}

let readEnd: usize = 0;

function readTable(p: usize, table: HashTable, entryBytes: usize): usize {
  if (p + 8 > readEnd) return 0;
  let capacity = load<u32>(p);
  let count = load<u32>(p, 4);
  p += 8;
  let bytes = <usize>capacity * entryBytes;
  if (capacity === 0 || (capacity & (capacity - 1)) !== 0 || count >= capacity) return 0;
  if (p + bytes > readEnd) return 0;
  table.region.ensure(bytes, 0);
  memory.copy(table.region.ptr, p, bytes);
  table.capacity = capacity;
  table.count = count;
  return p + bytes;
}

/**
 * Replaces the state with the snapshot of `len` bytes at `src`. The rules must already be
 * configured as they were when it was written (the host checks a fingerprint of the
 * configuration). Returns false, leaving the state empty, when the bytes do not fit.
 */
export function readSnapshot(src: usize, len: u32): bool {
  readEnd = src + len;
  if (len < 16 || load<u32>(src) !== SNAPSHOT_MAGIC) return false;
  if (load<u32>(src, 4) !== SNAPSHOT_VERSION || load<u32>(src, 8) !== ruleCount) return false;
  let p = src + 16;
  if (p + <usize>ruleCount * 16 > readEnd) return false;
  for (let rule: u32 = 0; rule < ruleCount; rule++) {
    let r = rulePtr(rule);
    store<f64>(r, load<f64>(p), RULE_LAST_FLUSH_MS);
    store<u32>(r, load<u32>(p, 8), RULE_WINDOW);
    p += 16;
  }
  p = readTable(p, seriesTable, seriesTable.entryBytes);
  if (p === 0) return false;
  p = readTable(p, groupIndex, groupIndex.entryBytes);
  if (p === 0 || p + 20 > readEnd) return false;
  let slots = load<u32>(p);
  let live = load<u32>(p, 4);
  let free = load<u32>(p, 8);
  let used = load<u32>(p, 12);
  let wasted = load<u32>(p, 16);
  p += 20;
  let slabBytes = <usize>slots * GROUP_BYTES;
  if (p + slabBytes + <usize>used > readEnd) return false;
  groups.ensure(max<usize>(slabBytes, 16), 0);
  memory.copy(groups.ptr, p, slabBytes);
  p += slabBytes;
  arena.ensure(max<usize>(<usize>used, 16), 0);
  memory.copy(arena.ptr, p, used);
  p += used;
  p = readTable(p, dedupTable, dedupTable.entryBytes);
  if (p === 0 || p + 8 > readEnd) return false;
  let quantileCount = load<u32>(p);
  let quantileFree = load<u32>(p, 4);
  p += 8;
  let quantileBytes = <usize>quantileCount * QBUF_BYTES;
  if (p + quantileBytes > readEnd) return false;
  quantileBuffers.ensure(max<usize>(quantileBytes, 16), 0);
  memory.copy(quantileBuffers.ptr, p, quantileBytes);
  setQuantileBookkeeping(quantileCount, quantileFree);
  setGroupBookkeeping(slots, live, free, used, wasted);
  classTable.clear(1024);
  refreshGauges();
  return true;
}
