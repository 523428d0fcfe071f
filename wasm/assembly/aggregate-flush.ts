// aggregateFlush: closes the open window of one rule. Computes per-series rates, forgets
// series idle for the staleness interval (their increases stay in the totals, so nothing
// drops), writes one WriteRequest with a sample per group and output stamped with the
// flush time, and opens the next window.

import { ERR_PROGRAM, ERR_TOO_LARGE, FLAG_SNAPPY_OUT, STATUS_OK } from './abi';
import {
  AGG_STAT_SERIES_EXPIRED,
  OUT_AVG,
  OUT_COUNT_SAMPLES,
  OUT_COUNT_SERIES,
  OUT_HISTOGRAM_BUCKET,
  OUT_INCREASE,
  OUT_INCREASE_PROMETHEUS,
  OUT_LAST,
  OUT_MAX,
  OUT_MIN,
  OUT_QUANTILES,
  OUT_RATE_AVG,
  OUT_RATE_SUM,
  OUT_SUM_SAMPLES,
  OUT_TOTAL,
  OUT_TOTAL_PROMETHEUS,
} from './aggregate-abi';
import { acceptPendingOf } from './aggregate-dedup';
import { quantileOf, sortQuantileBuffer } from './aggregate-quantiles';
import {
  arena,
  compactArena,
  GROUP_ARENA_BYTES,
  GROUP_ARENA_OFFSET,
  GROUP_IN_USE,
  GROUP_INCREASE,
  GROUP_LAST,
  GROUP_LIVE_SERIES,
  GROUP_MAX,
  GROUP_MIN,
  GROUP_QUANTILES,
  GROUP_RATE_COUNT,
  GROUP_RATE_SUM,
  GROUP_RULE,
  GROUP_SUM,
  GROUP_TOTAL,
  GROUP_WINDOW_SAMPLES,
  GROUP_WINDOW_SERIES,
  groupPtr,
  groupSlots,
  quantileBufferPtr,
  RULE_LAST_FLUSH_MS,
  RULE_OUTPUTS,
  RULE_PHI_COUNT,
  RULE_STALENESS_WINDOWS,
  RULE_WINDOW,
  refreshGauges,
  removeGroup,
  resetGroupWindow,
  ruleCount,
  rulePhi,
  rulePtr,
  SERIES_FLAG_EXPIRED,
  SERIES_FLAG_WINDOW_RATE,
  SERIES_FLAGS,
  SERIES_GROUP,
  SERIES_LAST_TS,
  SERIES_RULE,
  SERIES_WINDOW_FIRST_TS,
  SERIES_WINDOW_INCREASE,
  SERIES_WINDOW_SEEN,
  seriesTable,
  statAdd,
} from './aggregate-state';
import { newRegion } from './buffers';
import { varintSize, writeVarint } from './proto-wire';
import { snappyCompress, snappyMaxCompressedLength } from './snappy';

const encoded = newRegion();
const compressed = newRegion();
let outputAddress: usize = 0;
let outputLength: u32 = 0;
let encodedLength: usize = 0;

export function flushOutputPtr(): usize {
  return outputAddress;
}

export function flushOutputLen(): u32 {
  return outputLength;
}

function varint64Size(value: u64): u32 {
  let size: u32 = 1;
  while (value >= 0x80) {
    value >>= 7;
    size++;
  }
  return size;
}

function writeVarint64(ptr: usize, value: u64): usize {
  while (value >= 0x80) {
    store<u8>(ptr++, <u8>(value | 0x80));
    value >>= 7;
  }
  store<u8>(ptr++, <u8>value);
  return ptr;
}

/** Appends one TimeSeries with the labels at [labels, +labelBytes) and one sample. */
function writeSeries(labels: usize, labelBytes: u32, value: f64, timestampMs: i64): void {
  let samplePayload = 1 + 8 + 1 + varint64Size(<u64>timestampMs);
  let seriesPayload = labelBytes + 1 + varintSize(samplePayload) + samplePayload;
  let need = encodedLength + 1 + 5 + <usize>seriesPayload;
  let start = encoded.ensure(max<usize>(need, 256), encodedLength);
  let out = start + encodedLength;
  store<u8>(out++, 0x0a);
  out = writeVarint(out, seriesPayload);
  memory.copy(out, labels, labelBytes);
  out += labelBytes;
  store<u8>(out++, 0x12);
  out = writeVarint(out, samplePayload);
  store<u8>(out++, 0x09);
  store<f64>(out, value);
  out += 8;
  store<u8>(out++, 0x10);
  out = writeVarint64(out, <u64>timestampMs);
  encodedLength = out - start;
}

/** Whether `kind` has a value for a group this window, and which. */
let outputValue: f64 = 0;

function groupOutput(group: usize, kind: u32): bool {
  let samples = load<u32>(group, GROUP_WINDOW_SAMPLES);
  if (kind === OUT_TOTAL || kind === OUT_TOTAL_PROMETHEUS || kind === OUT_HISTOGRAM_BUCKET) {
    outputValue = load<f64>(group, GROUP_TOTAL);
    return true;
  }
  if (kind === OUT_RATE_SUM || kind === OUT_RATE_AVG) {
    let rates = load<u32>(group, GROUP_RATE_COUNT);
    if (rates === 0) return false;
    let sum = load<f64>(group, GROUP_RATE_SUM);
    outputValue = kind === OUT_RATE_SUM ? sum : sum / <f64>rates;
    return true;
  }
  if (samples === 0) return false;
  if (kind === OUT_INCREASE || kind === OUT_INCREASE_PROMETHEUS) {
    outputValue = load<f64>(group, GROUP_INCREASE);
  } else if (kind === OUT_SUM_SAMPLES) {
    outputValue = load<f64>(group, GROUP_SUM);
  } else if (kind === OUT_COUNT_SAMPLES) {
    outputValue = <f64>samples;
  } else if (kind === OUT_COUNT_SERIES) {
    outputValue = <f64>load<u32>(group, GROUP_WINDOW_SERIES);
  } else if (kind === OUT_LAST) {
    outputValue = load<f64>(group, GROUP_LAST);
  } else if (kind === OUT_MIN) {
    outputValue = load<f64>(group, GROUP_MIN);
  } else if (kind === OUT_MAX) {
    outputValue = load<f64>(group, GROUP_MAX);
  } else if (kind === OUT_AVG) {
    outputValue = load<f64>(group, GROUP_SUM) / <f64>samples;
  } else {
    return false;
  }
  return true;
}

/**
 * Writes one series per φ (their blobs follow each other) when the group had samples in
 * the window; returns the address after the blobs.
 */
function writeQuantiles(
  group: usize,
  rule: u32,
  phiCount: u32,
  blob: usize,
  blobEnd: usize,
  timestampMs: i64,
): usize {
  let held = load<u32>(group, GROUP_QUANTILES);
  let buffer: usize = held === 0 ? 0 : quantileBufferPtr(held - 1);
  let count = buffer === 0 ? 0 : sortQuantileBuffer(buffer);
  for (let i: u32 = 0; i < phiCount && blob + 4 <= blobEnd; i++) {
    let labelBytes = load<u32>(blob);
    if (count > 0) {
      let value = quantileOf(buffer, count, load<f64>(rulePhi(rule, i)));
      writeSeries(blob + 4, labelBytes, value, timestampMs);
    }
    blob += 4 + <usize>labelBytes;
  }
  return blob;
}

/** Rates of the closing window and staleness marks, then removal of the marked entries. */
function sweepSeries(rule: u32, window: u32, stalenessWindows: u32): void {
  let capacity = seriesTable.capacity;
  for (let i: u32 = 0; i < capacity; i++) {
    let entry = seriesTable.entryAt(i);
    if (load<u64>(entry) === 0 || load<u32>(entry, SERIES_RULE) !== rule) continue;
    let seen = load<u32>(entry, SERIES_WINDOW_SEEN);
    let flags = load<u32>(entry, SERIES_FLAGS);
    if (seen === window && (flags & SERIES_FLAG_WINDOW_RATE) !== 0) {
      let spanMs = load<i64>(entry, SERIES_LAST_TS) - load<i64>(entry, SERIES_WINDOW_FIRST_TS);
      if (spanMs > 0) {
        let group = groupPtr(load<u32>(entry, SERIES_GROUP));
        let rate = load<f64>(entry, SERIES_WINDOW_INCREASE) / (<f64>spanMs / 1000);
        store<f64>(group, load<f64>(group, GROUP_RATE_SUM) + rate, GROUP_RATE_SUM);
        store<u32>(group, load<u32>(group, GROUP_RATE_COUNT) + 1, GROUP_RATE_COUNT);
      }
    }
    if (window - seen >= stalenessWindows) {
      store<u32>(entry, flags | SERIES_FLAG_EXPIRED, SERIES_FLAGS);
    }
  }
  // Backward-shift deletion may move an entry over the wrap-around into a slot already
  // visited; only marked entries are removed, so a second visit changes nothing.
  let i: u32 = 0;
  while (i < seriesTable.capacity) {
    let entry = seriesTable.entryAt(i);
    if (
      load<u64>(entry) !== 0 &&
      load<u32>(entry, SERIES_RULE) === rule &&
      (load<u32>(entry, SERIES_FLAGS) & SERIES_FLAG_EXPIRED) !== 0
    ) {
      let group = groupPtr(load<u32>(entry, SERIES_GROUP));
      store<u32>(group, load<u32>(group, GROUP_LIVE_SERIES) - 1, GROUP_LIVE_SERIES);
      seriesTable.removeAt(i);
      statAdd(AGG_STAT_SERIES_EXPIRED, 1);
      continue;
    }
    i++;
  }
}

/** Closes the open window of `rule` at `nowMs`. Returns a status; the output is in flushOutput*. */
export function flushRule(rule: u32, nowMs: f64, flags: u32): i32 {
  outputAddress = 0;
  outputLength = 0;
  encodedLength = 0;
  if (rule >= ruleCount) return ERR_PROGRAM;
  let r = rulePtr(rule);
  let window = load<u32>(r, RULE_WINDOW);
  let outputs = load<u32>(r, RULE_OUTPUTS);
  let phiCount = load<u32>(r, RULE_PHI_COUNT);
  acceptPendingOf(rule);
  sweepSeries(rule, window, load<u32>(r, RULE_STALENESS_WINDOWS));
  let timestampMs = <i64>nowMs;
  for (let slot: u32 = 0; slot < groupSlots; slot++) {
    let group = groupPtr(slot);
    if (load<u32>(group, GROUP_IN_USE) === 0 || load<u32>(group, GROUP_RULE) !== rule) continue;
    let blob = arena.ptr + load<u32>(group, GROUP_ARENA_OFFSET);
    let blobEnd = blob + load<u32>(group, GROUP_ARENA_BYTES);
    let remaining = outputs;
    while (remaining !== 0 && blob + 4 <= blobEnd) {
      let kind = <u32>ctz(remaining);
      remaining &= remaining - 1;
      if (kind === OUT_QUANTILES) {
        blob = writeQuantiles(group, rule, phiCount, blob, blobEnd, timestampMs);
        continue;
      }
      let labelBytes = load<u32>(blob);
      if (groupOutput(group, kind)) writeSeries(blob + 4, labelBytes, outputValue, timestampMs);
      blob += 4 + <usize>labelBytes;
    }
    resetGroupWindow(group);
    if (load<u32>(group, GROUP_LIVE_SERIES) === 0) removeGroup(slot);
  }
  compactArena();
  store<u32>(r, window + 1, RULE_WINDOW);
  store<f64>(r, nowMs, RULE_LAST_FLUSH_MS);
  refreshGauges();
  if (encodedLength > <usize>u32.MAX_VALUE) return ERR_TOO_LARGE;
  outputAddress = encoded.ptr;
  outputLength = <u32>encodedLength;
  if ((flags & FLAG_SNAPPY_OUT) !== 0 && encodedLength > 0) {
    let target = compressed.ensure(max<usize>(snappyMaxCompressedLength(outputLength), 16), 0);
    if (target === 0) return ERR_TOO_LARGE;
    outputLength = snappyCompress(encoded.ptr, <u32>encodedLength, target);
    outputAddress = target;
  }
  return STATUS_OK;
}
