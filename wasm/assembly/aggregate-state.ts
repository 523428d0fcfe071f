// Aggregation rules and state: per rule its window clock, per (input series, rule) the
// counter baseline, per output group the running values of every output. See
// docs/aggregation.md for the semantics and wasm/ABI.md for the layout contract.

import {
  AGG_STAT_GROUPS,
  AGG_STAT_SERIES_TRACKED,
  AGG_STAT_STATE_BYTES,
  AGG_STATS_COUNT,
  MAX_AGGREGATION_RULES,
  MAX_QUANTILES,
  QUANTILE_RESERVOIR,
} from './aggregate-abi';
// biome-ignore lint/style/useImportType: AssemblyScript has no type-only imports
import { HashTable, newHashTable } from './aggregate-tables';
import { newRegion } from './buffers';

// Rule record (RULE_BYTES each).
export const RULE_BYTES: usize = 40;
export const RULE_INTERVAL_MS: usize = 0; // f64
export const RULE_LAST_FLUSH_MS: usize = 8; // f64, start of the open window
export const RULE_WINDOW: usize = 16; // u32, windows flushed so far
export const RULE_STALENESS_WINDOWS: usize = 20; // u32
export const RULE_OUTPUTS: usize = 24; // u32 mask of OUT_* bits
export const RULE_PHI_COUNT: usize = 28; // u32, φ values of the quantiles output
export const RULE_DEDUP_MS: usize = 32; // f64, 0 = no deduplication

// Series state entry (per input series and rule), key = mix64(seriesHash, rule).
export const SERIES_BYTES: usize = 56;
export const SERIES_LAST_TS: usize = 8; // i64 ms
export const SERIES_LAST_VALUE: usize = 16; // f64
export const SERIES_WINDOW_FIRST_TS: usize = 24; // i64 ms: start of this window's increase
export const SERIES_WINDOW_INCREASE: usize = 32; // f64
export const SERIES_GROUP: usize = 40; // u32 slab index
export const SERIES_RULE: usize = 44; // u32
export const SERIES_WINDOW_SEEN: usize = 48; // u32: rule window of the last accepted sample
export const SERIES_FLAGS: usize = 52; // u32
export const SERIES_FLAG_EXPIRED: u32 = 1;
export const SERIES_FLAG_WINDOW_RATE: u32 = 2;

// Classification entry (per input series): key = series hash, value = u64 rule mask.
export const CLASS_BYTES: usize = 16;
export const CLASS_MASK: usize = 8;

// Group hash entry: key = group hash, value = slab index + 1.
export const GROUP_INDEX_BYTES: usize = 16;
export const GROUP_INDEX_SLOT: usize = 8;

// Group record in the slab.
export const GROUP_BYTES: usize = 112;
export const GROUP_HASH: usize = 0; // u64
export const GROUP_RULE: usize = 8; // u32
export const GROUP_ARENA_OFFSET: usize = 12; // u32: blobs in the label arena
export const GROUP_ARENA_BYTES: usize = 16; // u32
export const GROUP_LIVE_SERIES: usize = 20; // u32
export const GROUP_WINDOW_SAMPLES: usize = 24; // u32
export const GROUP_WINDOW_SERIES: usize = 28; // u32
export const GROUP_TOTAL: usize = 32; // f64, never reset
export const GROUP_INCREASE: usize = 40; // f64
export const GROUP_SUM: usize = 48; // f64
export const GROUP_MIN: usize = 56; // f64
export const GROUP_MAX: usize = 64; // f64
export const GROUP_LAST: usize = 72; // f64
export const GROUP_LAST_TS: usize = 80; // i64
export const GROUP_RATE_SUM: usize = 88; // f64
export const GROUP_RATE_COUNT: usize = 96; // u32
export const GROUP_IN_USE: usize = 100; // u32
export const GROUP_NEXT_FREE: usize = 104; // u32 slab index + 1, 0 = none
export const GROUP_QUANTILES: usize = 108; // u32 quantile buffer index + 1, 0 = none

// Quantile buffer (one per group with samples in the open window of a quantiles rule).
export const QBUF_SEEN: usize = 0; // u32 samples offered this window; next free when free
export const QBUF_STORED: usize = 4; // u32 samples held, at most QUANTILE_RESERVOIR
export const QBUF_RANDOM: usize = 8; // u64 reservoir PRNG state
export const QBUF_VALUES: usize = 16; // f64 × QUANTILE_RESERVOIR
export const QBUF_BYTES: usize = QBUF_VALUES + ((<usize>QUANTILE_RESERVOIR) << 3);

// Pending sample of a deduplicated rule, key = the series entry's key.
export const DEDUP_BYTES: usize = 32;
export const DEDUP_TS: usize = 8; // i64 ms
export const DEDUP_VALUE: usize = 16; // f64
export const DEDUP_RULE: usize = 24; // u32

export const rules = newRegion();
export let ruleCount: u32 = 0;
export const seriesTable: HashTable = newHashTable(SERIES_BYTES, 1024);
export const classTable: HashTable = newHashTable(CLASS_BYTES, 1024);
export const groupIndex: HashTable = newHashTable(GROUP_INDEX_BYTES, 256);
export const dedupTable: HashTable = newHashTable(DEDUP_BYTES, 256);
export const groups = newRegion();
/** Slab slots in use or on the free list. */
export let groupSlots: u32 = 0;
export let liveGroups: u32 = 0;
let freeGroup: u32 = 0;
/** Label blobs of the groups: per output `u32 length, bytes`. */
export const arena = newRegion();
export let arenaUsed: u32 = 0;
export let arenaWasted: u32 = 0;

/** φ values per rule: MAX_QUANTILES f64 slots each. */
export const rulePhis = newRegion();
rulePhis.ensure((<usize>MAX_AGGREGATION_RULES * MAX_QUANTILES) << 3, 0);
export const quantileBuffers = newRegion();
/** Quantile buffers in use or on the free list. */
export let quantileSlots: u32 = 0;
let freeQuantiles: u32 = 0;

export const aggStats = newRegion();
aggStats.ensure((<usize>AGG_STATS_COUNT) << 3, 0);

/** Most classification entries kept; the table is a cache and is emptied when full. */
const CLASS_CACHE_LIMIT: u32 = 1 << 22;

export function rulePtr(rule: u32): usize {
  return rules.ptr + <usize>rule * RULE_BYTES;
}

export function groupPtr(slot: u32): usize {
  return groups.ptr + <usize>slot * GROUP_BYTES;
}

export function statAdd(slot: i32, amount: f64): void {
  let at = aggStats.ptr + ((<usize>slot) << 3);
  store<f64>(at, load<f64>(at) + amount);
}

/** Writes the gauges (tracked series, groups, bytes) into their stat slots. */
export function refreshGauges(): void {
  let s = aggStats.ptr;
  store<f64>(s + ((<usize>AGG_STAT_SERIES_TRACKED) << 3), <f64>seriesTable.count);
  store<f64>(s + ((<usize>AGG_STAT_GROUPS) << 3), <f64>liveGroups);
  let bytes =
    seriesTable.bytes() +
    classTable.bytes() +
    groupIndex.bytes() +
    <usize>groupSlots * GROUP_BYTES +
    <usize>arenaUsed +
    dedupTable.bytes() +
    <usize>quantileSlots * QBUF_BYTES;
  store<f64>(s + ((<usize>AGG_STAT_STATE_BYTES) << 3), <f64>bytes);
}

/** Drops every rule and all state; `count` rules follow through {@link setRule}. */
export function configure(count: u32): bool {
  if (count > MAX_AGGREGATION_RULES) return false;
  ruleCount = count;
  rules.ensure(max<usize>(<usize>count * RULE_BYTES, 16), 0);
  memory.fill(rules.ptr, 0, <usize>count * RULE_BYTES);
  seriesTable.clear(1024);
  classTable.clear(1024);
  groupIndex.clear(256);
  dedupTable.clear(256);
  quantileSlots = 0;
  freeQuantiles = 0;
  memory.fill(rulePhis.ptr, 0, (<usize>MAX_AGGREGATION_RULES * MAX_QUANTILES) << 3);
  groupSlots = 0;
  liveGroups = 0;
  freeGroup = 0;
  arenaUsed = 0;
  arenaWasted = 0;
  memory.fill(aggStats.ptr, 0, (<usize>AGG_STATS_COUNT) << 3);
  return true;
}

export function setRule(
  rule: u32,
  intervalMs: f64,
  stalenessWindows: u32,
  outputs: u32,
  windowStartMs: f64,
): bool {
  if (rule >= ruleCount) return false;
  let r = rulePtr(rule);
  store<f64>(r, intervalMs, RULE_INTERVAL_MS);
  store<f64>(r, windowStartMs, RULE_LAST_FLUSH_MS);
  store<u32>(r, 0, RULE_WINDOW);
  store<u32>(r, max<u32>(stalenessWindows, 1), RULE_STALENESS_WINDOWS);
  store<u32>(r, outputs, RULE_OUTPUTS);
  store<u32>(r, 0, RULE_PHI_COUNT);
  store<f64>(r, 0, RULE_DEDUP_MS);
  return true;
}

/** Sets φ number `index` of the rule's quantiles output; φ values come in output order. */
export function setRuleQuantile(rule: u32, index: u32, phi: f64): bool {
  if (rule >= ruleCount || index >= MAX_QUANTILES || !(phi >= 0 && phi <= 1)) return false;
  let r = rulePtr(rule);
  if (index !== load<u32>(r, RULE_PHI_COUNT)) return false;
  store<f64>(rulePhi(rule, index), phi);
  store<u32>(r, index + 1, RULE_PHI_COUNT);
  return true;
}

export function rulePhi(rule: u32, index: u32): usize {
  return rulePhis.ptr + ((<usize>rule * MAX_QUANTILES + index) << 3);
}

/** Sets the rule's dedup interval in ms (0 turns deduplication off). */
export function setRuleDedup(rule: u32, dedupMs: f64): bool {
  if (rule >= ruleCount || !(dedupMs >= 0)) return false;
  store<f64>(rulePtr(rule), dedupMs, RULE_DEDUP_MS);
  return true;
}

export function quantileBufferPtr(index: u32): usize {
  return quantileBuffers.ptr + <usize>index * QBUF_BYTES;
}

/** The group's quantile buffer for the open window, taken from the free list when absent. */
export function quantileBufferOf(group: usize): usize {
  let held = load<u32>(group, GROUP_QUANTILES);
  if (held !== 0) return quantileBufferPtr(held - 1);
  let index: u32;
  if (freeQuantiles !== 0) {
    index = freeQuantiles - 1;
    freeQuantiles = load<u32>(quantileBufferPtr(index), QBUF_SEEN);
  } else {
    index = quantileSlots++;
    quantileBuffers.ensure(<usize>quantileSlots * QBUF_BYTES, <usize>index * QBUF_BYTES);
  }
  let buffer = quantileBufferPtr(index);
  store<u32>(buffer, 0, QBUF_SEEN);
  store<u32>(buffer, 0, QBUF_STORED);
  // Seeded by the group, so a replay of the same samples keeps the same reservoir.
  store<u64>(buffer, load<u64>(group, GROUP_HASH) | 1, QBUF_RANDOM);
  store<u32>(group, index + 1, GROUP_QUANTILES);
  return buffer;
}

function releaseQuantiles(group: usize): void {
  let held = load<u32>(group, GROUP_QUANTILES);
  if (held === 0) return;
  store<u32>(quantileBufferPtr(held - 1), freeQuantiles, QBUF_SEEN);
  freeQuantiles = held;
  store<u32>(group, 0, GROUP_QUANTILES);
}

/** Restores the quantile buffer bookkeeping after a snapshot was copied back. */
export function setQuantileBookkeeping(slots: u32, free: u32): void {
  quantileSlots = slots;
  freeQuantiles = free;
}

export function freeQuantileHead(): u32 {
  return freeQuantiles;
}

/** Empties the classification cache when it reached its bound. */
export function classCacheCheck(): void {
  if (classTable.count >= CLASS_CACHE_LIMIT) classTable.clear(1024);
}

/** Starts the window values of a group (after a flush, or when it is created). */
export function resetGroupWindow(group: usize): void {
  store<u32>(group, 0, GROUP_WINDOW_SAMPLES);
  store<u32>(group, 0, GROUP_WINDOW_SERIES);
  store<f64>(group, 0, GROUP_INCREASE);
  store<f64>(group, 0, GROUP_SUM);
  store<f64>(group, f64.POSITIVE_INFINITY, GROUP_MIN);
  store<f64>(group, f64.NEGATIVE_INFINITY, GROUP_MAX);
  store<f64>(group, 0, GROUP_LAST);
  store<i64>(group, i64.MIN_VALUE, GROUP_LAST_TS);
  store<f64>(group, 0, GROUP_RATE_SUM);
  store<u32>(group, 0, GROUP_RATE_COUNT);
  releaseQuantiles(group);
}

/**
 * The slab slot of the group with `hash` of `rule`, created with the label blobs at
 * [blobs, blobs + blobBytes) when absent.
 */
export function groupFor(hash: u64, rule: u32, blobs: usize, blobBytes: u32): u32 {
  let existing = groupIndex.find(hash);
  if (existing !== 0) return load<u32>(existing, GROUP_INDEX_SLOT) - 1;
  let slot: u32;
  if (freeGroup !== 0) {
    slot = freeGroup - 1;
    freeGroup = load<u32>(groupPtr(slot), GROUP_NEXT_FREE);
  } else {
    slot = groupSlots++;
    groups.ensure(<usize>groupSlots * GROUP_BYTES, <usize>slot * GROUP_BYTES);
  }
  let offset = arenaUsed;
  arena.ensure(<usize>offset + blobBytes + 16, <usize>offset);
  memory.copy(arena.ptr + offset, blobs, blobBytes);
  arenaUsed += blobBytes;
  let group = groupPtr(slot);
  memory.fill(group, 0, GROUP_BYTES);
  store<u64>(group, hash, GROUP_HASH);
  store<u32>(group, rule, GROUP_RULE);
  store<u32>(group, offset, GROUP_ARENA_OFFSET);
  store<u32>(group, blobBytes, GROUP_ARENA_BYTES);
  store<u32>(group, 1, GROUP_IN_USE);
  resetGroupWindow(group);
  let entry = groupIndex.findOrInsert(hash);
  store<u32>(entry, slot + 1, GROUP_INDEX_SLOT);
  liveGroups++;
  return slot;
}

/** Frees a group whose last input series expired. */
export function removeGroup(slot: u32): void {
  let group = groupPtr(slot);
  let hash = load<u64>(group, GROUP_HASH);
  let entry = groupIndex.find(hash);
  if (entry !== 0) {
    groupIndex.removeAt(<u32>((entry - groupIndex.region.ptr) / GROUP_INDEX_BYTES));
  }
  arenaWasted += load<u32>(group, GROUP_ARENA_BYTES);
  releaseQuantiles(group);
  store<u32>(group, 0, GROUP_IN_USE);
  store<u32>(group, freeGroup, GROUP_NEXT_FREE);
  freeGroup = slot + 1;
  liveGroups--;
}

const compactScratch = newRegion();

/** Rewrites the arena without the blobs of removed groups once they are half of it. */
export function compactArena(): void {
  if (arenaWasted * 2 < arenaUsed) return;
  let live = arenaUsed - arenaWasted;
  compactScratch.ensure(max<usize>(<usize>live, 16), 0);
  let cursor: u32 = 0;
  for (let slot: u32 = 0; slot < groupSlots; slot++) {
    let group = groupPtr(slot);
    if (load<u32>(group, GROUP_IN_USE) === 0) continue;
    let bytes = load<u32>(group, GROUP_ARENA_BYTES);
    memory.copy(
      compactScratch.ptr + cursor,
      arena.ptr + load<u32>(group, GROUP_ARENA_OFFSET),
      bytes,
    );
    store<u32>(group, cursor, GROUP_ARENA_OFFSET);
    cursor += bytes;
  }
  memory.copy(arena.ptr, compactScratch.ptr, cursor);
  arenaUsed = cursor;
  arenaWasted = 0;
}

/** Restores the slab bookkeeping after a snapshot was copied back. */
export function setGroupBookkeeping(
  slots: u32,
  live: u32,
  free: u32,
  used: u32,
  wasted: u32,
): void {
  groupSlots = slots;
  liveGroups = live;
  freeGroup = free;
  arenaUsed = used;
  arenaWasted = wasted;
}

export function freeGroupHead(): u32 {
  return freeGroup;
}
