// Outcomes of relabeling keyed by the raw bytes of a series' label fields. Senders repeat
// the same series every scrape interval, so most series of a request were seen before: a
// hit skips validation (the bytes were validated when they were stored), interning and
// every rule, and costs one pass over the label bytes and, unless the series comes right
// after the one found before it as it did when both were stored, one table probe.
// An entry is identified by the length and a 128-bit fingerprint of the label bytes
// (hash.ts), not a copy of them: that keeps an entry at about a third of the size, so the
// cache of each worker holds 100k series in about 14 MiB instead of 43 MiB. Two different
// label sets of one cache meet with a probability of about n²/2^129 for n series (about
// 10^-27 at a million), far below the 64-bit identity the aggregation state relies on.
// Entries hold intern ids, so the cache is reset whenever the intern table is, and when a
// program or the limits change. Past its own byte bound it stops storing and keeps what it
// has; it empties itself (alone) only once misses outnumber hits, so a working set somewhat
// larger than the bound still hits on the part that fits instead of being refilled and
// emptied over and over (senders repeat their series in the same order every interval).

import { newRegion } from './buffers';
import { fingerprintBytes, fingerprintHigh } from './hash';

/** Arena bytes kept before the cache empties itself at the next request. */
const MAX_ARENA_BYTES: usize = 64 << 20;
const INITIAL_SLOTS: u32 = 1 << 12;
/** Bytes per slot: generation, hash, entry offset in the arena (u32 each). */
const SLOT_BYTES: usize = 12;

// Entry layout in the arena (u32 fields, the key's fingerprint, then pairs, then the
// indexes of the rules that hit).
const ENTRY_KEY_LEN: usize = 0;
const ENTRY_OUTCOME: usize = 4;
const ENTRY_PAIR_COUNT: usize = 8;
const ENTRY_HIT_COUNT: usize = 12;
/** Three u32 fields that cardinality.ts keeps per series (generation and metric slots). */
export const ENTRY_CARDINALITY: usize = 16;
/** Low and high 64 bits of the fingerprint of the key bytes. */
const ENTRY_FINGERPRINT: usize = 28;
const ENTRY_HEADER_BYTES: usize = 44;

const arena = newRegion();
// Reserved at the bound up front (entries never grow it past the bound); untouched pages of
// linear memory cost nothing.
arena.ensure(MAX_ARENA_BYTES, 0);
let table = newRegion();
let spare = newRegion();
let arenaUsed: usize = 0;
let mask: u32 = 0;
let generation: u32 = 1;
let members: u32 = 0;
/** Set when an entry did not fit: from then on nothing is stored until the next reset. */
let full = false;
/** Lookups since the cache filled up (or since the last window of them), hit and missed. */
let fullHits: u32 = 0;
let fullMisses: u32 = 0;

/**
 * Arena offset where the entry after the last one found or stored begins. Senders send
 * their series in the same order every interval and entries are stored in the order they
 * were first seen, so the next series of a request is most often that entry: checking it
 * first saves the probe into the slot table, a cache miss per series once the table
 * outgrows the CPU caches. `arenaUsed` or past it: no guess.
 */
let nextEntry: usize = 0;

/** Fingerprint of the key given to the last {@link seriesKeyHash}. */
let keyLow: u64 = 0;
let keyHigh: u64 = 0;

/** Fields of the entry found by the last successful {@link seriesCacheLookup}. */
export let cachedOutcome: u32 = 0;
export let cachedPairCount: u32 = 0;
export let cachedHitCount: u32 = 0;
let cachedEntry: usize = 0;
/**
 * Address of the entry of the last successful lookup or store, 0 after a miss or a store
 * that did not fit; valid until the cache is reset.
 */
export let seriesCacheEntry: usize = 0;

/** Address of the cached pairs (valid until the next store). */
export function cachedPairsPtr(): usize {
  return arena.ptr + cachedEntry + ENTRY_HEADER_BYTES;
}

/** Address of the cached rule indexes (valid until the next store). */
export function cachedHitsPtr(): usize {
  return cachedPairsPtr() + ((<usize>cachedPairCount) << 3);
}

/** Empties the cache. */
export function seriesCacheReset(): void {
  if (mask === 0) {
    let bytes = <usize>INITIAL_SLOTS * SLOT_BYTES;
    memory.fill(table.ensure(bytes, 0), 0, bytes);
    mask = INITIAL_SLOTS - 1;
  }
  generation++;
  if (generation === 0) {
    memory.fill(table.ptr, 0, <usize>(mask + 1) * SLOT_BYTES);
    generation = 1;
  }
  members = 0;
  arenaUsed = 0;
  nextEntry = 0;
  full = false;
  fullHits = 0;
  fullMisses = 0;
}

/**
 * True when the cache is full and no longer pays: over the last window of lookups (as many
 * as it holds entries) it missed more often than it hit, e.g. because the series it holds
 * went away. A window in which it hit more starts the next window.
 */
export function seriesCacheOverBound(): bool {
  if (!full) return false;
  if (fullHits + fullMisses < members) return false;
  if (fullMisses > fullHits) return true;
  fullHits = 0;
  fullMisses = 0;
  return false;
}

/**
 * Looks up the label bytes last given to {@link seriesKeyHash} (`keyLen` bytes, whose
 * hash that returned); on a hit sets the cached* fields.
 */
export function seriesCacheLookup(keyLen: u32, hash: u32): bool {
  seriesCacheEntry = 0;
  if (nextEntry < arenaUsed && entryMatches(nextEntry, keyLen)) {
    found(nextEntry);
    return true;
  }
  let i = hash & mask;
  while (true) {
    let slot = table.ptr + <usize>i * SLOT_BYTES;
    if (load<u32>(slot) !== generation) {
      if (full) fullMisses++;
      return false;
    }
    if (load<u32>(slot, 4) === hash) {
      let entry = <usize>load<u32>(slot, 8);
      if (entryMatches(entry, keyLen)) {
        found(entry);
        return true;
      }
    }
    i = (i + 1) & mask;
  }
}

/** Whether the entry at arena offset `entry` is that of the last key fingerprinted. */
function entryMatches(entry: usize, keyLen: u32): bool {
  let base = arena.ptr + entry;
  return (
    load<u64>(base, ENTRY_FINGERPRINT) === keyLow &&
    load<u64>(base, ENTRY_FINGERPRINT + 8) === keyHigh &&
    load<u32>(base, ENTRY_KEY_LEN) === keyLen
  );
}

/** Sets the cached* fields from the entry at arena offset `entry`, a hit. */
function found(entry: usize): void {
  let base = arena.ptr + entry;
  cachedEntry = entry;
  seriesCacheEntry = base;
  cachedOutcome = load<u32>(base, ENTRY_OUTCOME);
  cachedPairCount = load<u32>(base, ENTRY_PAIR_COUNT);
  cachedHitCount = load<u32>(base, ENTRY_HIT_COUNT);
  nextEntry = entry + entryBytes(cachedPairCount, cachedHitCount);
  if (full) fullHits++;
}

function entryBytes(pairCount: u32, hitCount: u32): usize {
  return ENTRY_HEADER_BYTES + ((<usize>pairCount) << 3) + ((<usize>hitCount) << 2);
}

/**
 * Fingerprints the label bytes [key, key + keyLen) for the next {@link seriesCacheLookup}
 * and {@link seriesCacheStore}; returns the hash that places them in the table.
 */
export function seriesKeyHash(key: usize, keyLen: u32): u32 {
  keyLow = fingerprintBytes(key, keyLen);
  keyHigh = fingerprintHigh;
  return <u32>(keyLow ^ (keyLow >> 32));
}

function place(base: usize, hash: u32, entry: u32): void {
  let i = hash & mask;
  while (load<u32>(base + <usize>i * SLOT_BYTES) === generation) i = (i + 1) & mask;
  let slot = base + <usize>i * SLOT_BYTES;
  store<u32>(slot, generation);
  store<u32>(slot, hash, 4);
  store<u32>(slot, entry, 8);
}

function grow(): void {
  let oldMask = mask;
  let oldBase = table.ptr;
  let newCount = (oldMask + 1) << 1;
  let bytes = <usize>newCount * SLOT_BYTES;
  let newBase = spare.ensure(bytes, 0);
  memory.fill(newBase, 0, bytes);
  mask = newCount - 1;
  for (let i: u32 = 0; i <= oldMask; i++) {
    let slot = oldBase + <usize>i * SLOT_BYTES;
    if (load<u32>(slot) === generation) place(newBase, load<u32>(slot, 4), load<u32>(slot, 8));
  }
  let swap = table;
  table = spare;
  spare = swap;
}

/**
 * Stores the outcome of the series whose labels were last given to {@link seriesKeyHash}
 * (the caller checked it is not cached yet).
 */
export function seriesCacheStore(
  keyLen: u32,
  hash: u32,
  outcome: u32,
  pairs: usize,
  pairCount: u32,
  hits: usize,
  hitCount: u32,
): void {
  let pairBytes = (<usize>pairCount) << 3;
  let hitBytes = (<usize>hitCount) << 2;
  let size = entryBytes(pairCount, hitCount);
  if (arenaUsed + size > MAX_ARENA_BYTES) {
    full = true;
    seriesCacheEntry = 0;
    return;
  }
  let entry = arenaUsed;
  let base = arena.ensure(entry + size, entry) + entry;
  store<u32>(base, keyLen, ENTRY_KEY_LEN);
  store<u32>(base, outcome, ENTRY_OUTCOME);
  store<u32>(base, pairCount, ENTRY_PAIR_COUNT);
  store<u32>(base, hitCount, ENTRY_HIT_COUNT);
  memory.fill(base + ENTRY_CARDINALITY, 0, 12);
  store<u64>(base, keyLow, ENTRY_FINGERPRINT);
  store<u64>(base, keyHigh, ENTRY_FINGERPRINT + 8);
  seriesCacheEntry = base;
  let p = base + ENTRY_HEADER_BYTES;
  memory.copy(p, pairs, pairBytes);
  memory.copy(p + pairBytes, hits, hitBytes);
  arenaUsed = entry + size;
  nextEntry = arenaUsed;
  if ((members + 1) * 2 > mask + 1) grow();
  place(table.ptr, hash, <u32>entry);
  members++;
}
