// aggregateRemoteWrite: decodes a (relabeled) WriteRequest and feeds every float sample of
// every matched series into the state of its rules. A series is classified once (the host
// answers which rules match and the label blobs of its output group); afterwards a sample
// costs one hash of the label bytes and two table lookups.

import {
  ERR_HOST,
  ERR_PROGRAM,
  ERR_PROTOBUF,
  ERR_SNAPPY,
  ERR_TOO_LARGE,
  FLAG_SNAPPY_IN,
  STATUS_OK,
} from './abi';
import {
  AGG_STAT_CLASSIFY_CALLS,
  AGG_STAT_DUPLICATE,
  AGG_STAT_LATE,
  AGG_STAT_NAN,
  AGG_STAT_STALE_MARKERS,
  MAX_AGGREGATION_RULES,
  OP_CLASSIFY,
} from './aggregate-abi';
import { acceptSample } from './aggregate-accept';
import { offerDeduplicated } from './aggregate-dedup';
import {
  CLASS_BYTES,
  CLASS_MASK,
  classCacheCheck,
  classTable,
  GROUP_LIVE_SERIES,
  groupFor,
  groupPtr,
  RULE_DEDUP_MS,
  RULE_INTERVAL_MS,
  RULE_LAST_FLUSH_MS,
  RULE_WINDOW,
  ruleCount,
  rulePtr,
  SERIES_GROUP,
  SERIES_LAST_TS,
  SERIES_RULE,
  SERIES_WINDOW_SEEN,
  seriesTable,
  statAdd,
} from './aggregate-state';
import { hash64, inserted, mix64 } from './aggregate-tables';
import { newRegion } from './buffers';
import { evaluate as hostEvaluate } from './host';
import {
  beginRead,
  readFailed,
  readLength,
  readPos,
  readVarint,
  seekRead,
  skipField,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
} from './proto-wire';
import { HOST_OUT_CAPACITY, hostOutPtr } from './relabel';
import { inputBufferPtr } from './remote-write';
import { snappyDecodedLength, snappyDecompress } from './snappy';

const decoded = newRegion();
/** Copy of a classification answer: the host-out buffer is reused by the next call. */
const answer = newRegion();

/** Prometheus' stale marker: a NaN with this exact bit pattern. */
// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const STALE_NAN_BITS: u64 = 0x7ff0000000000002;

export let aggregationConfigured: bool = false;

export function markConfigured(): void {
  aggregationConfigured = true;
}

/** Aggregates the request of `len` bytes in the input buffer. Returns a status. */
export function aggregateRemoteWrite(len: u32, flags: u32, maxDecompressedBytes: u32): i32 {
  if (!aggregationConfigured) return ERR_PROGRAM;
  if (ruleCount === 0) return STATUS_OK;
  let input = inputBufferPtr(len);
  let data = input;
  let dataLen = len;
  if ((flags & FLAG_SNAPPY_IN) !== 0) {
    let decodedLength = snappyDecodedLength(input, len);
    if (decodedLength < 0) return ERR_SNAPPY;
    if (decodedLength > <i64>maxDecompressedBytes) return ERR_TOO_LARGE;
    dataLen = <u32>decodedLength;
    data = decoded.ensure(max<usize>(dataLen, 16), 0);
    if (data === 0) return ERR_TOO_LARGE;
    if (snappyDecompress(input, len, data, dataLen) !== 0) return ERR_SNAPPY;
  }
  classCacheCheck();
  let end = data + dataLen;
  beginRead(data);
  while (readPos < end) {
    let tag = readVarint(end);
    let field = tag >> 3;
    let wireType = <u32>(tag & 7);
    if (field === 1 && wireType === WIRE_LEN) {
      let payloadLen = readLength(end);
      if (readFailed) return ERR_PROTOBUF;
      let payload = readPos;
      let status = aggregateSeries(payload, payload + payloadLen);
      if (status !== STATUS_OK) return status;
      seekRead(payload + payloadLen);
    } else if (field === 0) {
      return ERR_PROTOBUF;
    } else {
      skipField(wireType, end);
    }
    if (readFailed) return ERR_PROTOBUF;
  }
  return STATUS_OK;
}

/** Hash of the label fields of a TimeSeries payload (in wire order). */
function seriesHash(start: usize, end: usize): u64 {
  let h: u64 = 0;
  seekRead(start);
  while (readPos < end) {
    let fieldStart = readPos;
    let tag = readVarint(end);
    skipField(<u32>(tag & 7), end);
    if (readFailed) return 0;
    if (tag >> 3 === 1) h = hash64(h, fieldStart, readPos - fieldStart);
  }
  return h === 0 ? 1 : h;
}

/** The rule mask of a series: from the cache, or from the host (creating its groups). */
function classify(hash: u64, start: usize, end: usize): i64 {
  let cached = classTable.find(hash);
  if (cached !== 0) return <i64>load<u64>(cached, CLASS_MASK);
  statAdd(AGG_STAT_CLASSIFY_CALLS, 1);
  let written = hostEvaluate(OP_CLASSIFY, -1, start, <u32>(end - start));
  if (written < 4 || <u32>written > HOST_OUT_CAPACITY) return -1;
  let copy = answer.ensure(<usize>written, 0);
  memory.copy(copy, hostOutPtr(), <usize>written);
  // u32 matchCount, then per match: u32 rule, u32 blobBytes, blobs.
  let cursor = copy;
  let answerEnd = copy + <usize>written;
  let matches = load<u32>(cursor);
  cursor += 4;
  let mask: u64 = 0;
  for (let i: u32 = 0; i < matches; i++) {
    if (cursor + 8 > answerEnd) return -1;
    let rule = load<u32>(cursor);
    let blobBytes = load<u32>(cursor, 4);
    cursor += 8;
    if (rule >= ruleCount || cursor + blobBytes > answerEnd) return -1;
    let groupHash = hash64(<u64>rule + 1, cursor, blobBytes);
    let slot = groupFor(groupHash, rule, cursor, blobBytes);
    cursor += blobBytes;
    mask |= (<u64>1) << rule;
    // Remember the group in the (series, rule) entry now; samples fill it in.
    let entry = seriesTable.findOrInsert(mix64(hash, <u64>rule));
    if (inserted) {
      store<u32>(entry, slot, SERIES_GROUP);
      store<u32>(entry, rule, SERIES_RULE);
      store<i64>(entry, i64.MIN_VALUE, SERIES_LAST_TS);
      // "Seen" one window ago: an entry whose samples all turn out late or duplicate
      // still expires after the staleness interval.
      store<u32>(entry, load<u32>(rulePtr(rule), RULE_WINDOW) - 1, SERIES_WINDOW_SEEN);
      let group = groupPtr(slot);
      store<u32>(group, load<u32>(group, GROUP_LIVE_SERIES) + 1, GROUP_LIVE_SERIES);
    }
  }
  let entry = classTable.findOrInsert(hash);
  store<u64>(entry, mask, CLASS_MASK);
  return <i64>mask;
}

function aggregateSeries(start: usize, end: usize): i32 {
  let hash = seriesHash(start, end);
  if (readFailed) return ERR_PROTOBUF;
  let mask = classify(hash, start, end);
  if (mask < 0) return ERR_HOST;
  if (mask === 0) return STATUS_OK;
  if (!findEntries(hash, <u64>mask)) {
    // A (series, rule) entry expired while the classification stayed cached: ask again,
    // which recreates the entries (and the group, when it expired too).
    let cached = classTable.find(hash);
    if (cached !== 0) classTable.removeAt(<u32>((cached - classTable.region.ptr) / CLASS_BYTES));
    mask = classify(hash, start, end);
    if (mask < 0) return ERR_HOST;
    if (mask === 0) return STATUS_OK;
    if (!findEntries(hash, <u64>mask)) return ERR_HOST;
  }
  seekRead(start);
  while (readPos < end) {
    let tag = readVarint(end);
    if (tag >> 3 !== 2 || <u32>(tag & 7) !== WIRE_LEN) {
      skipField(<u32>(tag & 7), end);
      if (readFailed) return ERR_PROTOBUF;
      continue;
    }
    let sampleLen = readLength(end);
    if (readFailed) return ERR_PROTOBUF;
    let sampleEnd = readPos + sampleLen;
    // Sample { double value = 1; int64 timestamp = 2; }
    let valueBits: u64 = 0;
    let timestamp: i64 = 0;
    while (readPos < sampleEnd) {
      let sampleTag = readVarint(sampleEnd);
      let sampleField = sampleTag >> 3;
      let sampleWire = <u32>(sampleTag & 7);
      if (sampleField === 1 && sampleWire === WIRE_FIXED64) {
        if (sampleEnd - readPos < 8) return ERR_PROTOBUF;
        valueBits = load<u64>(readPos);
        seekRead(readPos + 8);
      } else if (sampleField === 2 && sampleWire === WIRE_VARINT) {
        timestamp = <i64>readVarint(sampleEnd);
      } else {
        skipField(sampleWire, sampleEnd);
      }
      if (readFailed) return ERR_PROTOBUF;
    }
    let resume = sampleEnd;
    addSample(<u64>mask, valueBits, timestamp);
    seekRead(resume);
  }
  return STATUS_OK;
}

/** Entry addresses of the current series, one per matched rule (in mask bit order). */
const entries = newRegion();
entries.ensure((<usize>MAX_AGGREGATION_RULES) << 3, 0);

function findEntries(hash: u64, mask: u64): bool {
  let i: usize = 0;
  while (mask !== 0) {
    let rule = <u32>ctz(mask);
    mask &= mask - 1;
    let entry = seriesTable.find(mix64(hash, <u64>rule));
    if (entry === 0) return false;
    store<usize>(entries.ptr + (i << 3), entry);
    i++;
  }
  return true;
}

function addSample(mask: u64, valueBits: u64, timestamp: i64): void {
  if (valueBits === STALE_NAN_BITS) {
    statAdd(AGG_STAT_STALE_MARKERS, 1);
    return;
  }
  let value = reinterpret<f64>(valueBits);
  // biome-ignore lint/suspicious/noGlobalIsNan: the AssemblyScript builtin, no coercion
  if (isNaN(value)) {
    statAdd(AGG_STAT_NAN, 1);
    return;
  }
  let index: usize = 0;
  while (mask !== 0) {
    let rule = <u32>ctz(mask);
    mask &= mask - 1;
    let entry = load<usize>(entries.ptr + (index << 3));
    index++;
    let r = rulePtr(rule);
    // The open window, and the one flushed just before it, accept samples: remote write
    // delivers a sample seconds after it was taken, so one at the end of a window often
    // arrives after that window's flush.
    let lateBeforeMs = load<f64>(r, RULE_LAST_FLUSH_MS) - load<f64>(r, RULE_INTERVAL_MS);
    if (<f64>timestamp < lateBeforeMs) {
      statAdd(AGG_STAT_LATE, 1);
      continue;
    }
    let dedupMs = load<f64>(r, RULE_DEDUP_MS);
    if (dedupMs > 0) {
      offerDeduplicated(entry, rule, value, timestamp, dedupMs);
      continue;
    }
    if (timestamp <= load<i64>(entry, SERIES_LAST_TS)) {
      statAdd(AGG_STAT_DUPLICATE, 1);
      continue;
    }
    acceptSample(entry, rule, value, timestamp);
  }
}
