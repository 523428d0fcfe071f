// Hand-off of aggregation groups between replicas of the two-tier layout
// (docs/aggregation-tier.md). A replica that gives groups away exports them (running
// total, label blobs, and the counter baseline of every input series), removes them, and
// the new owner merges them: its totals continue where the old owner's stopped and no
// input series loses the increase between its last sample there and its next one here.
//
// Format (little-endian), shared by the export and the merge:
//   u32 HANDOFF_MAGIC, u32 groupCount, u32 seriesCount
//   groupCount × { u32 groupId, u32 rule, u64 groupHash, f64 total, u32 blobBytes, blobs }
//   seriesCount × { u32 groupId, u32 rule, u64 seriesKey, i64 lastTs, f64 lastValue }
// groupId is the group's slab slot in an export; a merge accepts any ids below
// groupCount that the group records define.

import { HANDOFF_MAGIC } from './aggregate-abi';
import {
  arena,
  classTable,
  compactArena,
  GROUP_ARENA_BYTES,
  GROUP_ARENA_OFFSET,
  GROUP_HASH,
  GROUP_IN_USE,
  GROUP_INDEX_SLOT,
  GROUP_LIVE_SERIES,
  GROUP_RULE,
  GROUP_TOTAL,
  groupFor,
  groupIndex,
  groupPtr,
  groupSlots,
  RULE_WINDOW,
  refreshGauges,
  removeGroup,
  ruleCount,
  rulePtr,
  SERIES_GROUP,
  SERIES_LAST_TS,
  SERIES_LAST_VALUE,
  SERIES_RULE,
  SERIES_WINDOW_SEEN,
  seriesTable,
} from './aggregate-state';
import { hash64, inserted } from './aggregate-tables';
import { newRegion } from './buffers';

const HEADER_BYTES: usize = 12;
const GROUP_RECORD_BYTES: usize = 28;
const SERIES_RECORD_BYTES: usize = 32;

const exported = newRegion();
const slotMap = newRegion();
const removeMarks = newRegion();

export function handoffExportPtr(): usize {
  return exported.ptr;
}

/** Writes every live group and its input series; returns the length in bytes. */
export function exportGroups(): u32 {
  let size: usize = HEADER_BYTES;
  let groupCount: u32 = 0;
  for (let slot: u32 = 0; slot < groupSlots; slot++) {
    let group = groupPtr(slot);
    if (load<u32>(group, GROUP_IN_USE) === 0) continue;
    size += GROUP_RECORD_BYTES + <usize>load<u32>(group, GROUP_ARENA_BYTES);
    groupCount++;
  }
  size += <usize>seriesTable.count * SERIES_RECORD_BYTES;
  let p = exported.ensure(size, 0);
  store<u32>(p, HANDOFF_MAGIC);
  store<u32>(p, groupCount, 4);
  p += HEADER_BYTES;
  for (let slot: u32 = 0; slot < groupSlots; slot++) {
    let group = groupPtr(slot);
    if (load<u32>(group, GROUP_IN_USE) === 0) continue;
    let blobBytes = load<u32>(group, GROUP_ARENA_BYTES);
    store<u32>(p, slot);
    store<u32>(p, load<u32>(group, GROUP_RULE), 4);
    store<u64>(p, load<u64>(group, GROUP_HASH), 8);
    store<f64>(p, load<f64>(group, GROUP_TOTAL), 16);
    store<u32>(p, blobBytes, 24);
    memory.copy(
      p + GROUP_RECORD_BYTES,
      arena.ptr + load<u32>(group, GROUP_ARENA_OFFSET),
      blobBytes,
    );
    p += GROUP_RECORD_BYTES + <usize>blobBytes;
  }
  let seriesCount: u32 = 0;
  for (let i: u32 = 0; i < seriesTable.capacity; i++) {
    let entry = seriesTable.entryAt(i);
    let key = load<u64>(entry);
    if (key === 0) continue;
    store<u32>(p, load<u32>(entry, SERIES_GROUP));
    store<u32>(p, load<u32>(entry, SERIES_RULE), 4);
    store<u64>(p, key, 8);
    store<i64>(p, load<i64>(entry, SERIES_LAST_TS), 16);
    store<f64>(p, load<f64>(entry, SERIES_LAST_VALUE), 24);
    p += SERIES_RECORD_BYTES;
    seriesCount++;
  }
  store<u32>(exported.ptr, seriesCount, 8);
  return <u32>(p - exported.ptr);
}

/**
 * Removes the groups whose hashes (u64 each) are the `len` bytes at `src`, with their
 * input series. The classification cache is emptied: a removed series seen again is
 * classified afresh. Returns the number of groups removed.
 */
export function removeGroups(src: usize, len: u32): u32 {
  let marks = removeMarks.ensure(max<usize>(<usize>groupSlots, 16), 0);
  memory.fill(marks, 0, <usize>groupSlots);
  let removed: u32 = 0;
  for (let at: usize = 0; at + 8 <= <usize>len; at += 8) {
    let entry = groupIndex.find(load<u64>(src + at));
    if (entry === 0) continue;
    let slot = load<u32>(entry, GROUP_INDEX_SLOT) - 1;
    if (load<u8>(marks + slot) !== 0) continue;
    store<u8>(marks + slot, 1);
    removed++;
  }
  if (removed === 0) return 0;
  // Backward-shift deletion may move an entry into a slot already visited; the loop stays
  // on a slot after a removal, so every entry is looked at.
  let i: u32 = 0;
  while (i < seriesTable.capacity) {
    let entry = seriesTable.entryAt(i);
    if (load<u64>(entry) !== 0 && load<u8>(marks + load<u32>(entry, SERIES_GROUP)) !== 0) {
      seriesTable.removeAt(i);
      continue;
    }
    i++;
  }
  for (let slot: u32 = 0; slot < groupSlots; slot++) {
    if (load<u8>(marks + slot) === 0) continue;
    store<u32>(groupPtr(slot), 0, GROUP_LIVE_SERIES);
    removeGroup(slot);
  }
  compactArena();
  classTable.clear(1024);
  refreshGauges();
  return removed;
}

/**
 * Merges hand-off bytes (`len` at `src`) into the state: a group's total is added to the
 * local group's (created when absent); an input series takes the newer of the two
 * baselines. Returns the number of groups merged, or -1 when the bytes are malformed
 * (nothing is merged then).
 */
export function mergeGroups(src: usize, len: u32): i32 {
  let end = src + <usize>len;
  if (len < <u32>HEADER_BYTES || load<u32>(src) !== HANDOFF_MAGIC) return -1;
  let groupCount = load<u32>(src, 4);
  let seriesCount = load<u32>(src, 8);
  // Validate the whole input before changing anything.
  let p = src + HEADER_BYTES;
  for (let g: u32 = 0; g < groupCount; g++) {
    if (p + GROUP_RECORD_BYTES > end) return -1;
    if (load<u32>(p) >= groupCount || load<u32>(p, 4) >= ruleCount) return -1;
    p += GROUP_RECORD_BYTES + <usize>load<u32>(p, 24);
  }
  let seriesStart = p;
  if (p + <usize>seriesCount * SERIES_RECORD_BYTES !== end) return -1;
  for (let s: u32 = 0; s < seriesCount; s++) {
    let record = seriesStart + <usize>s * SERIES_RECORD_BYTES;
    if (load<u32>(record) >= groupCount || load<u32>(record, 4) >= ruleCount) return -1;
  }
  let map = slotMap.ensure(max<usize>(<usize>groupCount * 4, 16), 0);
  memory.fill(map, 0xff, <usize>groupCount * 4);
  p = src + HEADER_BYTES;
  for (let g: u32 = 0; g < groupCount; g++) {
    let id = load<u32>(p);
    let rule = load<u32>(p, 4);
    let blobBytes = load<u32>(p, 24);
    let blobs = p + GROUP_RECORD_BYTES;
    // The hash is recomputed, not trusted: it must be what classification would make.
    let slot = groupFor(hash64(<u64>rule + 1, blobs, blobBytes), rule, blobs, blobBytes);
    let group = groupPtr(slot);
    store<f64>(group, load<f64>(group, GROUP_TOTAL) + load<f64>(p, 16), GROUP_TOTAL);
    store<u32>(map + <usize>id * 4, slot);
    p += GROUP_RECORD_BYTES + <usize>blobBytes;
  }
  for (let s: u32 = 0; s < seriesCount; s++) {
    let record = seriesStart + <usize>s * SERIES_RECORD_BYTES;
    let slot = load<u32>(map + <usize>load<u32>(record) * 4);
    if (slot === 0xffffffff) continue;
    let rule = load<u32>(record, 4);
    let lastTs = load<i64>(record, 16);
    let entry = seriesTable.findOrInsert(load<u64>(record, 8));
    if (inserted) {
      store<u32>(entry, slot, SERIES_GROUP);
      store<u32>(entry, rule, SERIES_RULE);
      store<i64>(entry, i64.MIN_VALUE, SERIES_LAST_TS);
      // Counted as seen now: staleness starts over at the new owner.
      store<u32>(entry, load<u32>(rulePtr(rule), RULE_WINDOW), SERIES_WINDOW_SEEN);
      let group = groupPtr(slot);
      store<u32>(group, load<u32>(group, GROUP_LIVE_SERIES) + 1, GROUP_LIVE_SERIES);
    }
    if (lastTs > load<i64>(entry, SERIES_LAST_TS)) {
      store<i64>(entry, lastTs, SERIES_LAST_TS);
      store<f64>(entry, load<f64>(record, 24), SERIES_LAST_VALUE);
    }
  }
  refreshGauges();
  return <i32>groupCount;
}
