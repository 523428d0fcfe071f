// One TimeSeries of a WriteRequest: framing, payload counts, labels (through the series
// cache when this exact label encoding was seen before), relabeling, and its record for
// the encoder, which copies it raw, re-encodes its labels, or leaves it out.

import { ERR_PROTOBUF, STATUS_OK } from './abi';
import { cardinalityEnabled, cardinalityObserve } from './cardinality';
import { copyBytes } from './hash';
import { stringLen, stringPtr } from './intern';
import {
  currentPairs,
  labelCount,
  labelsEqualOriginal,
  labelsSort,
  labelsStartFromOriginal,
  originalCount,
  originalPairs,
} from './labels';
import { programMutates, ruleHitsPtr } from './program';
import {
  lenFieldSize,
  readFailed,
  readLength,
  readPos,
  readVarint,
  seekRead,
  skipField,
  WIRE_LEN,
  writeVarint,
} from './proto-wire';
import {
  applyRules,
  DROP_SERIES,
  droppedByForwardRule,
  seriesHitCount,
  seriesHitsPtr,
  seriesMutated,
} from './relabel';
import {
  cachedHitCount,
  cachedHitsPtr,
  cachedOutcome,
  cachedPairCount,
  cachedPairsPtr,
  seriesCacheEntry,
  seriesCacheLookup,
  seriesCacheStore,
  seriesKeyHash,
} from './series-cache';
import { readLabels } from './series-labels';
import { lastWasCollision, seriesSetAdd, storedPair } from './series-set';
import { SPLIT_OFF, splitAddLabelField, splitBegin, splitKeeps, splitMode } from './series-split';

/** What became of a series, stored in its record. */
export const OUTCOME_UNCHANGED: u32 = 0;
export const OUTCOME_CHANGED: u32 = 1;
export const OUTCOME_DROPPED: u32 = 2;
/** The bits of an outcome that say which of the three above it is. */
export const OUTCOME_KIND: u32 = 3;
/**
 * Added to UNCHANGED or CHANGED: a forward-only rule dropped the series, so it is in the
 * main output but not in the forward output.
 */
export const OUTCOME_NOT_FORWARDED: u32 = 4;

/** Bytes per series record (u32 fields, offsets relative to the decoded data). */
export const RECORD_BYTES: usize = 32;
export const REC_ELEMENT_START: usize = 0;
export const REC_ELEMENT_END: usize = 4;
export const REC_PAYLOAD_START: usize = 8;
export const REC_OUTCOME: usize = 12;
const REC_FIRST_PAIR: usize = 16;
const REC_PAIR_COUNT: usize = 20;
/** Payload length of the re-encoded series. */
export const REC_NEW_PAYLOAD: usize = 24;

// Per-request counters, written to the stats slots by remote-write.ts.
export let seriesIn: u32 = 0;
export let seriesOut: u32 = 0;
export let samplesIn: u64 = 0;
export let samplesOut: u64 = 0;
export let exemplarsIn: u64 = 0;
export let exemplarsOut: u64 = 0;
export let histogramsIn: u64 = 0;
export let histogramsOut: u64 = 0;
export let seriesDropped: u32 = 0;
export let seriesCollisions: u32 = 0;
/** Series whose output differs from their input bytes. */
export let changedOrDropped: u32 = 0;
/** Series of the main output that forward-only rules keep out of the forward output. */
export let seriesNotForwarded: u32 = 0;

export function resetSeriesCounters(): void {
  seriesIn = 0;
  seriesOut = 0;
  samplesIn = 0;
  samplesOut = 0;
  exemplarsIn = 0;
  exemplarsOut = 0;
  histogramsIn = 0;
  histogramsOut = 0;
  seriesDropped = 0;
  seriesCollisions = 0;
  changedOrDropped = 0;
  seriesNotForwarded = 0;
}

/** Bytes of the label fields of the current (sorted) label set. */
function encodedLabelsSize(pairs: usize, count: u32): u32 {
  let total: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    let message =
      lenFieldSize(stringLen(load<u32>(pairs + ((<usize>i) << 3)))) +
      lenFieldSize(stringLen(load<u32>(pairs + ((<usize>i) << 3), 4)));
    total += lenFieldSize(message);
  }
  return total;
}

/** Adds the hits of one series (a list of rule indexes) to the per-rule counters. */
function countRuleHits(list: usize, count: u32): void {
  let hits = ruleHitsPtr();
  for (let i: u32 = 0; i < count; i++) {
    let slot = hits + ((<usize>load<u32>(list + ((<usize>i) << 2))) << 2);
    store<u32>(slot, load<u32>(slot) + 1);
  }
}

/**
 * Decodes, validates and relabels one TimeSeries whose payload is [start, end). Fills the
 * series record at `record`. Returns STATUS_OK or an error.
 */
export function processSeries(
  index: u32,
  start: usize,
  end: usize,
  record: usize,
  relabel: bool,
): i32 {
  // Pass 1: framing of every field, payload counts and where the label fields are.
  let labelFieldBytes: usize = 0;
  let labelsStart: usize = 0;
  let labelsEnd: usize = 0;
  let labelsContiguous = true;
  let samples: u32 = 0;
  let exemplars: u32 = 0;
  let histograms: u32 = 0;
  let split = splitMode !== SPLIT_OFF;
  if (split) splitBegin();
  seekRead(start);
  while (readPos < end) {
    let fieldStart = readPos;
    // Fast path: a label (tag 0x0a) or sample (0x12) field shorter than 128 bytes, which
    // is nearly every field of real traffic: tag and length are one byte each.
    if (fieldStart + 2 <= end) {
      let fastTag = load<u8>(fieldStart);
      let fastLen = <usize>load<u8>(fieldStart, 1);
      let fastEnd = fieldStart + 2 + fastLen;
      if (fastLen < 0x80 && fastEnd <= end) {
        if (fastTag === 0x0a) {
          if (labelsStart === 0) labelsStart = fieldStart;
          else if (fieldStart !== labelsEnd) labelsContiguous = false;
          labelsEnd = fastEnd;
          labelFieldBytes += fastEnd - fieldStart;
          if (split) splitAddLabelField(fieldStart, fastEnd - fieldStart);
          seekRead(fastEnd);
          continue;
        }
        if (fastTag === 0x12) {
          samples++;
          seekRead(fastEnd);
          continue;
        }
      }
    }
    let tag = readVarint(end);
    let field = tag >> 3;
    let wireType = <u32>(tag & 7);
    if (field >= 1 && field <= 4) {
      if (wireType !== WIRE_LEN) return ERR_PROTOBUF;
      let len = readLength(end);
      if (readFailed) return ERR_PROTOBUF;
      let payloadEnd = readPos + len;
      if (field === 1) {
        if (labelsStart === 0) labelsStart = fieldStart;
        else if (fieldStart !== labelsEnd) labelsContiguous = false;
        labelsEnd = payloadEnd;
        labelFieldBytes += payloadEnd - fieldStart;
        if (split) splitAddLabelField(fieldStart, payloadEnd - fieldStart);
      } else if (field === 2) {
        samples++;
      } else if (field === 3) {
        exemplars++;
      } else {
        histograms++;
      }
      seekRead(payloadEnd);
    } else if (field === 0) {
      return ERR_PROTOBUF;
    } else {
      skipField(wireType, end);
    }
    if (readFailed) return ERR_PROTOBUF;
  }

  // A series of the other arm of a split experiment is not this arm's input at all.
  if (split && !splitKeeps()) {
    store<u32>(record, OUTCOME_DROPPED, REC_OUTCOME);
    changedOrDropped++;
    return STATUS_OK;
  }

  // Pass 2: the labels, unless this exact label encoding was seen (and validated) before.
  // Without rules the cache only remembers that the labels are valid.
  let outcome = OUTCOME_UNCHANGED;
  let pairs: usize = 0;
  let pairCount: u32 = 0;
  let cacheable = labelsContiguous && labelsStart !== 0;
  let keyLen = <u32>(labelsEnd - labelsStart);
  let keyHash: u32 = 0;
  let cached = false;
  if (cacheable) {
    keyHash = seriesKeyHash(labelsStart, keyLen);
    cached = seriesCacheLookup(keyLen, keyHash);
  }
  if (cached) {
    outcome = cachedOutcome;
    pairs = cachedPairsPtr();
    pairCount = cachedPairCount;
    countRuleHits(cachedHitsPtr(), cachedHitCount);
  } else {
    let status = readLabels(index, start, end, relabel);
    if (status !== STATUS_OK) return status;
    pairs = originalPairs();
    pairCount = originalCount;
    if (relabel) {
      labelsStartFromOriginal();
      let result = applyRules();
      if (result < 0) return result;
      if (result === DROP_SERIES && !droppedByForwardRule) {
        outcome = OUTCOME_DROPPED;
        pairCount = 0;
      } else if (seriesMutated) {
        labelsSort();
        if (!labelsEqualOriginal()) {
          pairs = currentPairs();
          pairCount = labelCount;
          outcome = OUTCOME_CHANGED;
        }
      }
      if (result === DROP_SERIES && droppedByForwardRule) outcome |= OUTCOME_NOT_FORWARDED;
      countRuleHits(seriesHitsPtr(), seriesHitCount);
    }
    if (cacheable) {
      let hitCount = relabel ? seriesHitCount : 0;
      seriesCacheStore(keyLen, keyHash, outcome, pairs, pairCount, seriesHitsPtr(), hitCount);
    }
  }
  seriesIn++;
  samplesIn += samples;
  exemplarsIn += exemplars;
  histogramsIn += histograms;

  store<u32>(record, outcome, REC_OUTCOME);
  if ((outcome & OUTCOME_NOT_FORWARDED) !== 0) seriesNotForwarded++;
  // Everything below describes the main output, where a series not forwarded still is.
  outcome &= OUTCOME_KIND;
  if (cardinalityEnabled) {
    cardinalityObserve(
      start,
      end,
      cacheable ? labelsStart : 0,
      keyLen,
      cacheable ? seriesCacheEntry : 0,
      samples + histograms,
      outcome === OUTCOME_DROPPED,
      outcome === OUTCOME_CHANGED,
      pairs,
      pairCount,
    );
  }
  if (outcome === OUTCOME_DROPPED) {
    seriesDropped++;
    changedOrDropped++;
    return STATUS_OK;
  }
  seriesOut++;
  samplesOut += samples;
  exemplarsOut += exemplars;
  histogramsOut += histograms;
  // Only a rule that changes labels can make two output series one; keep and drop cannot.
  if (relabel && programMutates) {
    let first = seriesSetAdd(pairs, pairCount);
    if (lastWasCollision) seriesCollisions++;
    store<u32>(record, first, REC_FIRST_PAIR);
    store<u32>(record, pairCount, REC_PAIR_COUNT);
    if (outcome === OUTCOME_CHANGED) {
      let newPayload =
        encodedLabelsSize(storedPair(first), pairCount) + <u32>(end - start - labelFieldBytes);
      store<u32>(record, newPayload, REC_NEW_PAYLOAD);
      changedOrDropped++;
    }
  }
  return STATUS_OK;
}

/** Writes the re-encoded series of `record` at `out`; returns the address after it. */
export function writeChangedSeries(out: usize, record: usize, data: usize): usize {
  out = writeVarint(out, 0x0a);
  out = writeVarint(out, load<u32>(record, REC_NEW_PAYLOAD));
  let first = load<u32>(record, REC_FIRST_PAIR);
  let count = load<u32>(record, REC_PAIR_COUNT);
  for (let i: u32 = 0; i < count; i++) {
    let pair = storedPair(first + i);
    let name = load<u32>(pair);
    let value = load<u32>(pair, 4);
    let nameLen = stringLen(name);
    let valueLen = stringLen(value);
    store<u8>(out++, 0x0a);
    out = writeVarint(out, lenFieldSize(nameLen) + lenFieldSize(valueLen));
    store<u8>(out++, 0x0a);
    out = writeVarint(out, nameLen);
    copyBytes(out, stringPtr(name), nameLen);
    out += nameLen;
    store<u8>(out++, 0x12);
    out = writeVarint(out, valueLen);
    copyBytes(out, stringPtr(value), valueLen);
    out += valueLen;
  }
  // Everything but the labels, in input order; the payload was validated by processSeries.
  let end = data + load<u32>(record, REC_ELEMENT_END);
  seekRead(data + load<u32>(record, REC_PAYLOAD_START));
  while (readPos < end) {
    let fieldStart = readPos;
    let tag = readVarint(end);
    skipField(<u32>(tag & 7), end);
    if (tag >> 3 !== 1) {
      let fieldLen = readPos - fieldStart;
      copyBytes(out, fieldStart, fieldLen);
      out += fieldLen;
    }
  }
  return out;
}
