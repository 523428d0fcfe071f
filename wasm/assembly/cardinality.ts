// Live cardinality of the traffic, measured in the module while processRemoteWrite runs:
// one tracker for the series as decoded (view 0, before relabeling) and one for the series
// as written (view 1, after it). Nothing is allocated per sample. A series is identified
// by the 32-bit hash of its encoded Label fields that the series cache computes anyway
// (widened to 64 bits for the sketches; two series share a hash with probability n²/2^33,
// 0.01% of a million). The series cache entry of the series (series-cache.ts) remembers
// that it was already counted in this window and under which metric slots, so a series
// seen before costs two sample counters on a cache line that is hot anyway. Otherwise
// (first sighting, or evicted from the cache) its labels are read, the metric found, the
// sketches updated and a Bloom filter probed; only a series the Bloom filter has not seen
// in the window updates the per-label sketches and the label=value heavy hitters.
//
// Memory is fixed per tracker: a metric table of `maxMetrics` slots of METRIC_BYTES each
// (claimed as metrics appear; slot 0 is the "other" bucket that takes every metric past
// the cap), the total sketch and the Bloom filter. The host serializes a tracker
// (`cardinalitySerialize`), merges trackers across workers and proxies, and resets them at
// window boundaries (docs/cardinality.md).

// biome-ignore lint/style/useImportType: AssemblyScript has no type-only imports
import { newRegion, Region } from './buffers';
import { hashBytes } from './hash';
import {
  HASH64_START,
  hash64Bytes,
  hash64Finish,
  hllAdd,
  hllBytes,
  hllClear,
  hllMaxEncodedBytes,
  hllWrite,
} from './hll';
import { stringLen, stringPtr } from './intern';
import {
  lenFieldSize,
  readFailed,
  readLength,
  readPos,
  readVarint,
  seekRead,
  skipField,
  writeVarint,
} from './proto-wire';
import { ENTRY_CARDINALITY } from './series-cache';

export const CARDINALITY_VIEW_INPUT: u32 = 0;
export const CARDINALITY_VIEW_OUTPUT: u32 = 1;
/** "PHC1", little-endian: the first word of a serialized tracker. */
export const CARDINALITY_MAGIC: u32 = 0x31434850;
/** Largest `maxMetrics` accepted by cardinalityConfigure. */
export const CARDINALITY_MAX_METRICS_LIMIT: u32 = 100_000;

const TOTAL_PRECISION: u32 = 14;
const SERIES_PRECISION: u32 = 12;
const LABEL_PRECISION: u32 = 8;
/**
 * Bloom filter of series seen in the window: 2^24 bits (2 MiB) in 512-bit blocks, 4 probes
 * within the block the hash picks, so a lookup touches one cache line.
 */
const BLOOM_BITS_LOG2: u32 = 24;
const BLOOM_PROBES: u32 = 4;

const MAX_NAME_BYTES: u32 = 200;
const MAX_LABEL_NAME_BYTES: u32 = 96;
const MAX_PAIR_VALUE_BYTES: u32 = 64;
export const LABELS_PER_METRIC: u32 = 16;
export const PAIRS_PER_METRIC: u32 = 32;

// Metric slot layout.
const M_NAME_LEN: usize = 0;
const M_LABEL_COUNT: usize = 4;
// Bytes 8..15 are unused: a slot's samples are kept in Tracker.slotSamples.
const M_SERIES_SEEN: usize = 16;
const M_PAIR_COUNT: usize = 24;
const M_FLAGS: usize = 28;
const M_NAME: usize = 32;
const M_SERIES_HLL: usize = 240;
/** Hashes of the label names, one u64 per label slot: scanned for every label of a new series. */
const M_LABEL_HASHES: usize = M_SERIES_HLL + 4096;
const M_LABELS: usize = M_LABEL_HASHES + ((<usize>LABELS_PER_METRIC) << 3);
// Label slot layout.
const L_NAME_LEN: usize = 8;
const L_VALUE_BYTES: usize = 16;
const L_SERIES: usize = 24;
const L_NAME: usize = 32;
const L_HLL: usize = 128;
const LABEL_BYTES: usize = 128 + 256;
// Heavy hitters (Space-Saving): hashes and counts in arrays of their own, scanned on every
// new series, then the entries with what is only read when serializing.
const M_PAIR_HASHES: usize = M_LABELS + <usize>LABELS_PER_METRIC * LABEL_BYTES;
const M_PAIR_COUNTS: usize = M_PAIR_HASHES + ((<usize>PAIRS_PER_METRIC) << 3);
const M_PAIRS: usize = M_PAIR_COUNTS + ((<usize>PAIRS_PER_METRIC) << 3);
const P_ERROR: usize = 0;
const P_LABEL: usize = 8;
const P_VALUE_LEN: usize = 12;
const P_VALUE: usize = 16;
const PAIR_BYTES: usize = P_VALUE + 64;
/** Bytes of one metric slot. */
export const METRIC_BYTES: usize = M_PAIRS + <usize>PAIRS_PER_METRIC * PAIR_BYTES;

const METRIC_FLAG_OTHER: u32 = 1;
// Fields in a series cache entry, from ENTRY_CARDINALITY: the generation they were written
// in (0: never), the input and the output metric slot.
const S_GENERATION: usize = ENTRY_CARDINALITY;
const S_INPUT_SLOT: usize = ENTRY_CARDINALITY + 4;
const S_OUTPUT_SLOT: usize = ENTRY_CARDINALITY + 8;
/** Output slot of a series the pipeline dropped. */
const NO_SLOT: u32 = 0xffffffff;
/** Index entry: u64 name hash, u32 slot + 1 (0 = empty), u32 padding. */
const INDEX_ENTRY_BYTES: usize = 16;

/** One window of one view. */
@unmanaged
class Tracker {
  metrics: Region = changetype<Region>(0);
  index: Region = changetype<Region>(0);
  indexMask: u32 = 0;
  metricCount: u32 = 0;
  total: Region = changetype<Region>(0);
  bloom: Region = changetype<Region>(0);
  /** Samples per metric slot, apart from the slots so that counting them stays in cache. */
  slotSamples: Region = changetype<Region>(0);
  samples: f64 = 0;
  seriesSeen: f64 = 0;
}

let maxMetrics: u32 = 0;
/** True once cardinalityConfigure succeeded: processRemoteWrite then feeds the trackers. */
export let cardinalityEnabled: bool = false;
const trackers = newRegion();
const serialized = newRegion();
/** Series cache entries count as counted only with this generation; bumped to forget all. */
let seenGeneration: u32 = 1;
/** The encoded Label fields of a series whose labels are not contiguous or were rewritten. */
const keyBytes = newRegion();
/** Labels of the series being observed: {u32 name ptr, u32 name len, u32 value ptr, u32 value len}. */
const scratch = newRegion();
let scratchCount: u32 = 0;
let scratchName: usize = 0;
let scratchNameLen: u32 = 0;

function tracker(view: u32): Tracker {
  return changetype<Tracker>(trackers.ptr + <usize>view * offsetof<Tracker>());
}

function metricAt(t: Tracker, slot: u32): usize {
  return t.metrics.ptr + <usize>slot * METRIC_BYTES;
}

function claimSlot(t: Tracker, name: usize, nameLen: u32, flags: u32): u32 {
  let slot = t.metricCount++;
  let metric = metricAt(t, slot);
  memory.fill(metric, 0, METRIC_BYTES);
  store<f64>(t.slotSamples.ptr + ((<usize>slot) << 3), 0);
  let kept = min<u32>(nameLen, MAX_NAME_BYTES);
  store<u32>(metric, kept, M_NAME_LEN);
  store<u32>(metric, flags, M_FLAGS);
  memory.copy(metric + M_NAME, name, kept);
  return slot;
}

function resetTracker(t: Tracker): void {
  t.metricCount = 0;
  t.samples = 0;
  t.seriesSeen = 0;
  memory.fill(t.index.ptr, 0, <usize>(t.indexMask + 1) * INDEX_ENTRY_BYTES);
  hllClear(t.total.ptr, TOTAL_PRECISION);
  memory.fill(t.bloom.ptr, 0, (<usize>1) << (BLOOM_BITS_LOG2 - 3));
  // Slot 0 is the "other" bucket; it only appears in a serialized tracker once used.
  claimSlot(t, 0, 0, METRIC_FLAG_OTHER);
}

/**
 * Sets up both trackers with room for `limit` metrics (plus the "other" bucket) and turns
 * tracking on. Returns false for a limit of 0 or above CARDINALITY_MAX_METRICS_LIMIT, or
 * when the memory cannot be had.
 */
export function configureCardinality(limit: u32): bool {
  if (limit === 0 || limit > CARDINALITY_MAX_METRICS_LIMIT) return false;
  if (trackers.ptr === 0) {
    trackers.ensure(2 * offsetof<Tracker>(), 0);
    for (let view: u32 = 0; view < 2; view++) {
      let t = tracker(view);
      t.metrics = newRegion();
      t.index = newRegion();
      t.total = newRegion();
      t.bloom = newRegion();
      t.slotSamples = newRegion();
    }
  }
  let indexSlots: u32 = 16;
  while (indexSlots < limit * 2 + 2) indexSlots <<= 1;
  for (let view: u32 = 0; view < 2; view++) {
    let t = tracker(view);
    if (t.metrics.ensure(<usize>(limit + 1) * METRIC_BYTES, 0) === 0) return false;
    if (t.index.ensure(<usize>indexSlots * INDEX_ENTRY_BYTES, 0) === 0) return false;
    if (t.slotSamples.ensure((<usize>(limit + 1)) << 3, 0) === 0) return false;
    t.total.ensure(hllBytes(TOTAL_PRECISION), 0);
    t.bloom.ensure((<usize>1) << (BLOOM_BITS_LOG2 - 3), 0);
    t.indexMask = indexSlots - 1;
    resetTracker(t);
  }
  forgetSeenSeries();
  maxMetrics = limit;
  cardinalityEnabled = true;
  return true;
}

/**
 * Forgets which series were counted: after a tracker reset (its slots are gone) and after a
 * new rule program (a series' output may differ).
 */
export function forgetSeenSeries(): void {
  // After 2^32 - 1 bumps a stale entry could look current; by then (one bump per window
  // or program) the series cache has been reset many times over.
  seenGeneration++;
  if (seenGeneration === 0) seenGeneration = 1;
}

/** Empties the tracker of `view` (a new window begins). */
export function resetCardinality(view: u32): void {
  if (!cardinalityEnabled || view > 1) return;
  resetTracker(tracker(view));
  forgetSeenSeries();
}

/** The slot of a metric name, claiming one (or the "other" bucket when full). */
function metricSlot(t: Tracker, name: usize, nameLen: u32): u32 {
  let nameHash = hash64Finish(hash64Bytes(HASH64_START, name, nameLen));
  let i = <u32>nameHash & t.indexMask;
  while (true) {
    let entry = t.index.ptr + <usize>i * INDEX_ENTRY_BYTES;
    let stored = load<u32>(entry, 8);
    if (stored === 0) {
      if (t.metricCount > maxMetrics) return 0;
      let slot = claimSlot(t, name, nameLen, 0);
      store<u64>(entry, nameHash);
      store<u32>(entry, slot + 1, 8);
      return slot;
    }
    if (load<u64>(entry) === nameHash) return stored - 1;
    i = (i + 1) & t.indexMask;
  }
}

/** Sets the Bloom bits of `hash`; true when at least one was clear (a new series). */
function bloomAdd(t: Tracker, hash: u64): bool {
  let blocks = (<u64>1) << (<u64>(BLOOM_BITS_LOG2 - 9));
  let block = t.bloom.ptr + ((<usize>((hash >> 40) & (blocks - 1))) << 6);
  let added = false;
  for (let probe: u64 = 0; probe < <u64>BLOOM_PROBES; probe++) {
    let bit = <usize>((hash >> (probe * 9)) & 511);
    let byte = block + (bit >> 3);
    let flag = <u8>(1 << (<u8>(bit & 7)));
    let current = load<u8>(byte);
    if ((current & flag) === 0) {
      store<u8>(byte, current | flag);
      added = true;
    }
  }
  return added;
}

/** The label slot of a metric for a label name; -1 when the metric's label slots are full. */
function labelSlot(metric: usize, name: usize, nameLen: u32, nameHash: u64): i32 {
  let count = load<u32>(metric, M_LABEL_COUNT);
  for (let i: u32 = 0; i < count; i++) {
    if (load<u64>(metric + M_LABEL_HASHES + ((<usize>i) << 3)) === nameHash) return <i32>i;
  }
  if (count >= LABELS_PER_METRIC) return -1;
  let label = metric + M_LABELS + <usize>count * LABEL_BYTES;
  let kept = min<u32>(nameLen, MAX_LABEL_NAME_BYTES);
  store<u64>(metric + M_LABEL_HASHES + ((<usize>count) << 3), nameHash);
  store<u32>(label, kept, L_NAME_LEN);
  memory.copy(label + L_NAME, name, kept);
  store<u32>(metric, count + 1, M_LABEL_COUNT);
  return <i32>count;
}

/** Space-Saving update of the metric's label=value heavy hitters with one new series. */
function countPair(metric: usize, label: u32, pairHash: u64, value: usize, valueLen: u32): void {
  let count = load<u32>(metric, M_PAIR_COUNT);
  let hashes = metric + M_PAIR_HASHES;
  let counts = metric + M_PAIR_COUNTS;
  for (let i: u32 = 0; i < count; i++) {
    if (load<u64>(hashes + ((<usize>i) << 3)) === pairHash) {
      let at = counts + ((<usize>i) << 3);
      store<f64>(at, load<f64>(at) + 1);
      return;
    }
  }
  let index = count;
  let floor: f64 = 0;
  if (count < PAIRS_PER_METRIC) {
    store<u32>(metric, count + 1, M_PAIR_COUNT);
  } else {
    // Replace the smallest counter; its count becomes the newcomer's error bound.
    index = 0;
    floor = load<f64>(counts);
    for (let i: u32 = 1; i < count; i++) {
      let candidate = load<f64>(counts + ((<usize>i) << 3));
      if (candidate < floor) {
        floor = candidate;
        index = i;
      }
    }
  }
  let entry = metric + M_PAIRS + <usize>index * PAIR_BYTES;
  let kept = min<u32>(valueLen, MAX_PAIR_VALUE_BYTES);
  store<u64>(hashes + ((<usize>index) << 3), pairHash);
  store<f64>(counts + ((<usize>index) << 3), floor + 1);
  store<f64>(entry, floor, P_ERROR);
  store<u32>(entry, label, P_LABEL);
  store<u32>(entry, kept, P_VALUE_LEN);
  memory.copy(entry + P_VALUE, value, kept);
}

function isMetricNameLabel(name: usize, nameLen: u32): bool {
  // "__name__" as one little-endian u64.
  // biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
  return nameLen === 8 && load<u64>(name) === 0x5f5f656d616e5f5f;
}

function scratchPush(name: usize, nameLen: u32, value: usize, valueLen: u32): void {
  let offset = (<usize>scratchCount) << 4;
  let entry = scratch.ensure(offset + 16, offset) + offset;
  store<u32>(entry, <u32>name);
  store<u32>(entry, nameLen, 4);
  store<u32>(entry, <u32>value, 8);
  store<u32>(entry, valueLen, 12);
  scratchCount++;
  if (isMetricNameLabel(name, nameLen)) {
    scratchName = value;
    scratchNameLen = valueLen;
  }
}

function scratchBegin(): void {
  scratchCount = 0;
  scratchName = 0;
  scratchNameLen = 0;
}

/** Reads the Label fields of a TimeSeries payload [start, end) into the scratch list. */
function scratchFromWire(start: usize, end: usize): void {
  scratchBegin();
  let saved = readPos;
  seekRead(start);
  while (readPos < end) {
    let tag = readVarint(end);
    if (readFailed) break;
    if (tag >> 3 !== 1) {
      skipField(<u32>(tag & 7), end);
      if (readFailed) break;
      continue;
    }
    let len = readLength(end);
    let labelEnd = readPos + len;
    let name: usize = 0;
    let nameLen: u32 = 0;
    let value: usize = 0;
    let valueLen: u32 = 0;
    while (readPos < labelEnd) {
      let labelTag = readVarint(labelEnd);
      let field = labelTag >> 3;
      if (field === 1 || field === 2) {
        let stringLength = <u32>readLength(labelEnd);
        if (field === 1) {
          name = readPos;
          nameLen = stringLength;
        } else {
          value = readPos;
          valueLen = stringLength;
        }
        seekRead(readPos + stringLength);
      } else {
        skipField(<u32>(labelTag & 7), labelEnd);
      }
      if (readFailed) break;
    }
    seekRead(labelEnd);
    scratchPush(name, nameLen, value, valueLen);
  }
  seekRead(saved);
}

/** Fills the scratch list from `count` interned (name id, value id) pairs. */
function scratchFromPairs(pairs: usize, count: u32): void {
  scratchBegin();
  for (let i: u32 = 0; i < count; i++) {
    let name = load<u32>(pairs + ((<usize>i) << 3));
    let value = load<u32>(pairs + ((<usize>i) << 3), 4);
    scratchPush(stringPtr(name), stringLen(name), stringPtr(value), stringLen(value));
  }
}

/**
 * Adds the series in the scratch list, identified by `hash`, to the tracker of `view`.
 * Returns its metric slot.
 */
function trackScratch(view: u32, hash: u64, samples: u32): u32 {
  let t = tracker(view);
  t.samples += <f64>samples;
  hllAdd(t.total.ptr, TOTAL_PRECISION, hash);
  let slot = metricSlot(t, scratchName, scratchNameLen);
  let metric = metricAt(t, slot);
  let slotSamples = t.slotSamples.ptr + ((<usize>slot) << 3);
  store<f64>(slotSamples, load<f64>(slotSamples) + <f64>samples);
  hllAdd(metric + M_SERIES_HLL, SERIES_PRECISION, hash);
  if (!bloomAdd(t, hash)) return slot;
  t.seriesSeen += 1;
  store<f64>(metric, load<f64>(metric, M_SERIES_SEEN) + 1, M_SERIES_SEEN);
  for (let i: u32 = 0; i < scratchCount; i++) {
    let entry = scratch.ptr + ((<usize>i) << 4);
    let name = <usize>load<u32>(entry);
    let nameLen = load<u32>(entry, 4);
    let value = <usize>load<u32>(entry, 8);
    let valueLen = load<u32>(entry, 12);
    let nameHash = hash64Finish(hash64Bytes(HASH64_START, name, nameLen));
    let slot = labelSlot(metric, name, nameLen, nameHash);
    if (slot < 0) continue;
    let label = metric + M_LABELS + <usize>slot * LABEL_BYTES;
    let valueHash = hash64Finish(hash64Bytes(nameHash, value, valueLen));
    store<f64>(label, load<f64>(label, L_VALUE_BYTES) + <f64>valueLen, L_VALUE_BYTES);
    store<f64>(label, load<f64>(label, L_SERIES) + 1, L_SERIES);
    hllAdd(label + L_HLL, LABEL_PRECISION, valueHash);
    if (!isMetricNameLabel(name, nameLen)) {
      countPair(metric, <u32>slot, valueHash, value, valueLen);
    }
  }
  return slot;
}

/** Adds the samples of a series counted before in this window. */
function countSamples(view: u32, slot: u32, samples: u32): void {
  let t = tracker(view);
  t.samples += <f64>samples;
  let slotSamples = t.slotSamples.ptr + ((<usize>slot) << 3);
  store<f64>(slotSamples, load<f64>(slotSamples) + <f64>samples);
}

/** The 64-bit identity the sketches use, from the 32-bit series hash. */
function widenHash(hash: u32): u64 {
  return hash64Finish(HASH64_START ^ <u64>hash);
}

/** Hash of the Label fields of a payload [start, end) whose labels are not contiguous. */
function hashScatteredLabels(start: usize, end: usize): u32 {
  let used: usize = 0;
  let saved = readPos;
  seekRead(start);
  while (readPos < end) {
    let fieldStart = readPos;
    let tag = readVarint(end);
    skipField(<u32>(tag & 7), end);
    if (readFailed) break;
    if (tag >> 3 !== 1) continue;
    let fieldLen = readPos - fieldStart;
    let out = keyBytes.ensure(used + fieldLen, used) + used;
    memory.copy(out, fieldStart, fieldLen);
    used += fieldLen;
  }
  seekRead(saved);
  return hashBytes(keyBytes.ptr, used);
}

/**
 * Hash of the scratch labels encoded as Label fields, byte for byte what the encoder
 * writes, so a rewritten series hashes like the same series sent unchanged.
 */
function hashScratchEncoded(): u32 {
  let bound: usize = 0;
  for (let i: u32 = 0; i < scratchCount; i++) {
    let entry = scratch.ptr + ((<usize>i) << 4);
    bound += 12 + <usize>load<u32>(entry, 4) + <usize>load<u32>(entry, 12);
  }
  let start = keyBytes.ensure(max<usize>(bound, 16), 0);
  let out = start;
  for (let i: u32 = 0; i < scratchCount; i++) {
    let entry = scratch.ptr + ((<usize>i) << 4);
    let nameLen = load<u32>(entry, 4);
    let valueLen = load<u32>(entry, 12);
    store<u8>(out++, 0x0a);
    out = writeVarint(out, lenFieldSize(nameLen) + lenFieldSize(valueLen));
    store<u8>(out++, 0x0a);
    out = writeVarint(out, nameLen);
    memory.copy(out, <usize>load<u32>(entry), nameLen);
    out += nameLen;
    store<u8>(out++, 0x12);
    out = writeVarint(out, valueLen);
    memory.copy(out, <usize>load<u32>(entry, 8), valueLen);
    out += valueLen;
  }
  return hashBytes(start, out - start);
}

/**
 * Observes one series of the request being processed: its input labels (the Label fields
 * of the payload [start, end), which are the contiguous `labelsLen` bytes at `labelsStart`
 * unless that is 0) and, unless it was dropped, its output labels — the same when
 * `changed` is false, else the `pairCount` interned pairs at `pairs`. `cacheEntry` is the
 * series' entry in the series cache, or 0 when it has none.
 */
export function cardinalityObserve(
  start: usize,
  end: usize,
  labelsStart: usize,
  labelsLen: u32,
  cacheEntry: usize,
  samples: u32,
  dropped: bool,
  changed: bool,
  pairs: usize,
  pairCount: u32,
): void {
  if (cacheEntry !== 0 && load<u32>(cacheEntry, S_GENERATION) === seenGeneration) {
    countSamples(CARDINALITY_VIEW_INPUT, load<u32>(cacheEntry, S_INPUT_SLOT), samples);
    let counted = load<u32>(cacheEntry, S_OUTPUT_SLOT);
    if (counted !== NO_SLOT) countSamples(CARDINALITY_VIEW_OUTPUT, counted, samples);
    return;
  }
  let key = labelsStart !== 0 ? hashBytes(labelsStart, labelsLen) : hashScatteredLabels(start, end);
  scratchFromWire(start, end);
  let inputSlot = trackScratch(CARDINALITY_VIEW_INPUT, widenHash(key), samples);
  let outputSlot = NO_SLOT;
  if (!dropped) {
    let outputHash = key;
    if (changed) {
      scratchFromPairs(pairs, pairCount);
      outputHash = hashScratchEncoded();
    }
    outputSlot = trackScratch(CARDINALITY_VIEW_OUTPUT, widenHash(outputHash), samples);
  }
  if (cacheEntry !== 0) {
    store<u32>(cacheEntry, seenGeneration, S_GENERATION);
    store<u32>(cacheEntry, inputSlot, S_INPUT_SLOT);
    store<u32>(cacheEntry, outputSlot, S_OUTPUT_SLOT);
  }
}

function writeBytes(out: usize, ptr: usize, len: u32): usize {
  store<u32>(out, len);
  memory.copy(out + 4, ptr, len);
  return out + 4 + len;
}

/** Upper bound of one serialized metric. */
const METRIC_ENCODED_MAX: usize = METRIC_BYTES + 256;

/**
 * Serializes the tracker of `view` (format in docs/cardinality.md) into the buffer that
 * cardinalitySerializedPtr returns. Returns its length; 0 when tracking is off.
 */
export function serializeCardinality(view: u32): u32 {
  if (!cardinalityEnabled || view > 1) return 0;
  let t = tracker(view);
  let bound =
    <usize>64 + hllMaxEncodedBytes(TOTAL_PRECISION) + <usize>t.metricCount * METRIC_ENCODED_MAX;
  let start = serialized.ensure(bound, 0);
  if (start === 0) return 0;
  let out = start;
  store<u32>(out, CARDINALITY_MAGIC);
  store<u32>(out, maxMetrics, 4);
  store<f64>(out, t.samples, 8);
  store<f64>(out, t.seriesSeen, 16);
  out = hllWrite(out + 24, t.total.ptr, TOTAL_PRECISION);
  let countAt = out;
  out += 4;
  let written: u32 = 0;
  for (let slot: u32 = 0; slot < t.metricCount; slot++) {
    let metric = metricAt(t, slot);
    let samples = load<f64>(t.slotSamples.ptr + ((<usize>slot) << 3));
    if (samples === 0 && load<f64>(metric, M_SERIES_SEEN) === 0) continue;
    written++;
    store<u32>(out, load<u32>(metric, M_FLAGS));
    out = writeBytes(out + 4, metric + M_NAME, load<u32>(metric, M_NAME_LEN));
    store<f64>(out, samples);
    store<f64>(out, load<f64>(metric, M_SERIES_SEEN), 8);
    out = hllWrite(out + 16, metric + M_SERIES_HLL, SERIES_PRECISION);
    let labelCount = load<u32>(metric, M_LABEL_COUNT);
    store<u32>(out, labelCount);
    out += 4;
    for (let i: u32 = 0; i < labelCount; i++) {
      let label = metric + M_LABELS + <usize>i * LABEL_BYTES;
      out = writeBytes(out, label + L_NAME, load<u32>(label, L_NAME_LEN));
      store<f64>(out, load<f64>(label, L_VALUE_BYTES));
      store<f64>(out, load<f64>(label, L_SERIES), 8);
      out = hllWrite(out + 16, label + L_HLL, LABEL_PRECISION);
    }
    let pairCount = load<u32>(metric, M_PAIR_COUNT);
    store<u32>(out, pairCount);
    out += 4;
    for (let i: u32 = 0; i < pairCount; i++) {
      let entry = metric + M_PAIRS + <usize>i * PAIR_BYTES;
      store<u32>(out, load<u32>(entry, P_LABEL));
      out = writeBytes(out + 4, entry + P_VALUE, load<u32>(entry, P_VALUE_LEN));
      store<f64>(out, load<f64>(metric + M_PAIR_COUNTS + ((<usize>i) << 3)));
      store<f64>(out, load<f64>(entry, P_ERROR), 8);
      out += 16;
    }
  }
  store<u32>(countAt, written);
  return <u32>(out - start);
}

export function cardinalitySerializedAddress(): usize {
  return serialized.ptr;
}
