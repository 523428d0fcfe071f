// processRemoteWrite: snappy → decode prometheus.WriteRequest → validate labels → relabel →
// encode → snappy. One pass decodes, validates and relabels each series (series.ts) and
// records what became of it; a second pass writes the output only when something changed,
// copying unchanged series, metadata and unknown fields as raw byte runs.

import {
  ERR_PROGRAM,
  ERR_PROTOBUF,
  ERR_SNAPPY,
  ERR_TOO_LARGE,
  FLAG_SNAPPY_IN,
  FLAG_SNAPPY_OUT,
  STAT_BYTES_DECODED,
  STAT_BYTES_ENCODED,
  STAT_EXEMPLARS_IN,
  STAT_EXEMPLARS_OUT,
  STAT_HISTOGRAMS_IN,
  STAT_HISTOGRAMS_OUT,
  STAT_HOST_EVALS,
  STAT_INTERN_RESETS,
  STAT_METADATA_IN,
  STAT_METADATA_OUT,
  STAT_SAMPLES_IN,
  STAT_SAMPLES_OUT,
  STAT_SERIES_COLLISIONS,
  STAT_SERIES_DROPPED,
  STAT_SERIES_IN,
  STAT_SERIES_OUT,
  STATS_COUNT,
  STATUS_OK,
  STATUS_UNCHANGED,
} from './abi';
import { newRegion } from './buffers';
import { cacheOverBound, cacheReset } from './eval-cache';
import { internOverBound, internResetToPinned } from './intern';
import { programLoaded, ruleCount, ruleHitsPtr } from './program';
import {
  beginRead,
  lenFieldSize,
  readFailed,
  readLength,
  readPos,
  readVarint,
  seekRead,
  skipField,
  WIRE_LEN,
} from './proto-wire';
import { hostEvaluations, resetHostEvaluations } from './relabel';
import {
  changedOrDropped,
  exemplarsIn,
  exemplarsOut,
  histogramsIn,
  histogramsOut,
  OUTCOME_CHANGED,
  OUTCOME_DROPPED,
  OUTCOME_KIND,
  OUTCOME_NOT_FORWARDED,
  OUTCOME_UNCHANGED,
  processSeries,
  REC_ELEMENT_END,
  REC_ELEMENT_START,
  REC_NEW_PAYLOAD,
  REC_OUTCOME,
  REC_PAYLOAD_START,
  RECORD_BYTES,
  resetSeriesCounters,
  samplesIn,
  samplesOut,
  seriesCollisions,
  seriesDropped,
  seriesIn,
  seriesNotForwarded,
  seriesOut,
  writeChangedSeries,
} from './series';
import { seriesCacheOverBound, seriesCacheReset } from './series-cache';
import { clearLabelError, setMaxLabelsPerSeries } from './series-labels';
import { seriesSetBegin } from './series-set';
import {
  snappyCompress,
  snappyDecodedLength,
  snappyDecompress,
  snappyMaxCompressedLength,
} from './snappy';

const input = newRegion();
const decoded = newRegion();
const encoded = newRegion();
const compressed = newRegion();
const forwardEncoded = newRegion();
const forwardCompressed = newRegion();
const records = newRegion();
const stats = newRegion();
stats.ensure((<usize>STATS_COUNT) << 3, 0);

let maxDecompressedBytes: u32 = 256 << 20;

let outputAddress: usize = 0;
let outputLength: u32 = 0;
/** The forward output, when forward-only rules left series out of it (else 0, 0). */
let forwardAddress: usize = 0;
let forwardLength: u32 = 0;
let metadataIn: u32 = 0;
let internResets: u32 = 0;

export function inputBufferPtr(len: u32): usize {
  return input.ensure(max<usize>(len, 16), 0);
}

export function setLimits(maxDecompressed: u32, maxLabels: u32): void {
  maxDecompressedBytes = maxDecompressed;
  setMaxLabelsPerSeries(maxLabels);
  // Cached series were validated against the previous label limit.
  seriesCacheReset();
}

export function outputPtr(): usize {
  return outputAddress;
}

export function outputLen(): u32 {
  return outputLength;
}

/**
 * Whether the last successful call wrote a forward output apart from the main one:
 * forward-only rules left some of its series out.
 */
export function forwardSeparate(): bool {
  return forwardAddress !== 0;
}

export function forwardOutputPtr(): usize {
  return forwardAddress;
}

export function forwardOutputLen(): u32 {
  return forwardLength;
}

export function statsPtr(): usize {
  return stats.ptr;
}

function writeStats(bytesDecoded: u32, bytesEncoded: u32): void {
  let s = stats.ptr;
  store<f64>(s + ((<usize>STAT_SERIES_IN) << 3), <f64>seriesIn);
  store<f64>(s + ((<usize>STAT_SERIES_OUT) << 3), <f64>seriesOut);
  store<f64>(s + ((<usize>STAT_SAMPLES_IN) << 3), <f64>samplesIn);
  store<f64>(s + ((<usize>STAT_SAMPLES_OUT) << 3), <f64>samplesOut);
  store<f64>(s + ((<usize>STAT_EXEMPLARS_IN) << 3), <f64>exemplarsIn);
  store<f64>(s + ((<usize>STAT_EXEMPLARS_OUT) << 3), <f64>exemplarsOut);
  store<f64>(s + ((<usize>STAT_HISTOGRAMS_IN) << 3), <f64>histogramsIn);
  store<f64>(s + ((<usize>STAT_HISTOGRAMS_OUT) << 3), <f64>histogramsOut);
  store<f64>(s + ((<usize>STAT_METADATA_IN) << 3), <f64>metadataIn);
  store<f64>(s + ((<usize>STAT_METADATA_OUT) << 3), <f64>metadataIn);
  store<f64>(s + ((<usize>STAT_SERIES_DROPPED) << 3), <f64>seriesDropped);
  store<f64>(s + ((<usize>STAT_SERIES_COLLISIONS) << 3), <f64>seriesCollisions);
  store<f64>(s + ((<usize>STAT_BYTES_DECODED) << 3), <f64>bytesDecoded);
  store<f64>(s + ((<usize>STAT_BYTES_ENCODED) << 3), <f64>bytesEncoded);
  store<f64>(s + ((<usize>STAT_HOST_EVALS) << 3), <f64>hostEvaluations);
  store<f64>(s + ((<usize>STAT_INTERN_RESETS) << 3), <f64>internResets);
}

function resetCounters(): void {
  resetSeriesCounters();
  resetHostEvaluations();
  clearLabelError();
  metadataIn = 0;
  internResets = 0;
  outputAddress = 0;
  outputLength = 0;
  forwardAddress = 0;
  forwardLength = 0;
}

/** Runs the pipeline over `len` bytes in the input buffer. See wasm/ABI.md. */
export function processRemoteWrite(len: u32, flags: u32): i32 {
  resetCounters();
  let hits = ruleHitsPtr();
  if (hits !== 0) memory.fill(hits, 0, (<usize>ruleCount) << 2);
  writeStats(0, 0);
  if (!programLoaded) return ERR_PROGRAM;
  if (<usize>len > input.capacity) return ERR_PROTOBUF;
  if (internOverBound() || cacheOverBound()) {
    internResetToPinned();
    cacheReset();
    seriesCacheReset();
    internResets = 1;
  } else if (seriesCacheOverBound()) {
    seriesCacheReset();
  }

  let data = input.ptr;
  let dataLen = len;
  if ((flags & FLAG_SNAPPY_IN) !== 0) {
    let decodedLength = snappyDecodedLength(input.ptr, len);
    if (decodedLength < 0) return ERR_SNAPPY;
    if (decodedLength > <i64>maxDecompressedBytes) return ERR_TOO_LARGE;
    dataLen = <u32>decodedLength;
    data = decoded.ensure(max<usize>(dataLen, 16), 0);
    if (data === 0) return ERR_TOO_LARGE;
    if (snappyDecompress(input.ptr, len, data, dataLen) !== 0) return ERR_SNAPPY;
  } else if (len > maxDecompressedBytes) {
    return ERR_TOO_LARGE;
  }

  let relabel = ruleCount > 0;
  if (relabel) seriesSetBegin();
  let end = data + dataLen;
  let seriesCount: u32 = 0;
  let outputSize: i64 = <i64>dataLen;
  let forwardSize: i64 = <i64>dataLen;
  beginRead(data);
  while (readPos < end) {
    let elementStart = readPos;
    let tag = readVarint(end);
    let field = tag >> 3;
    let wireType = <u32>(tag & 7);
    if (field === 1 || field === 3) {
      if (wireType !== WIRE_LEN) return ERR_PROTOBUF;
      let payloadLen = readLength(end);
      if (readFailed) return ERR_PROTOBUF;
      let payload = readPos;
      let payloadEnd = payload + payloadLen;
      if (field === 3) {
        metadataIn++;
      } else {
        let recordOffset = <usize>seriesCount * RECORD_BYTES;
        let record = records.ensure(recordOffset + RECORD_BYTES, recordOffset) + recordOffset;
        store<u32>(record, <u32>(elementStart - data), REC_ELEMENT_START);
        store<u32>(record, <u32>(payloadEnd - data), REC_ELEMENT_END);
        store<u32>(record, <u32>(payload - data), REC_PAYLOAD_START);
        let status = processSeries(seriesCount, payload, payloadEnd, record, relabel);
        if (status !== STATUS_OK) {
          writeStats(dataLen, 0);
          return status;
        }
        let outcome = load<u32>(record, REC_OUTCOME);
        let kind = outcome & OUTCOME_KIND;
        let change: i64 = 0;
        if (kind !== OUTCOME_UNCHANGED) {
          change = -(<i64>(payloadEnd - elementStart));
          if (kind === OUTCOME_CHANGED) {
            change += <i64>lenFieldSize(load<u32>(record, REC_NEW_PAYLOAD));
          }
        }
        outputSize += change;
        if ((outcome & OUTCOME_NOT_FORWARDED) !== 0) {
          forwardSize -= <i64>(payloadEnd - elementStart);
        } else {
          forwardSize += change;
        }
        seriesCount++;
      }
      seekRead(payloadEnd);
    } else if (field === 0) {
      return ERR_PROTOBUF;
    } else {
      skipField(wireType, end);
    }
    if (readFailed) return ERR_PROTOBUF;
  }

  if (seriesNotForwarded !== 0) {
    let forwardOut = writeOutput(data, dataLen, seriesCount, forwardSize, true, flags);
    if (forwardOut < 0) return forwardOut;
  }
  if (changedOrDropped === 0) {
    writeStats(dataLen, dataLen);
    return STATUS_UNCHANGED;
  }
  let written = writeOutput(data, dataLen, seriesCount, outputSize, false, flags);
  if (written < 0) return written;
  writeStats(dataLen, written);
  return STATUS_OK;
}

/**
 * Encodes the output of the series records, `size` bytes long, and compresses it when
 * `flags` ask for it: the main output, or with `forward` the forward output, which leaves
 * out the series forward-only rules dropped. Sets `outputAddress`/`outputLength`, or with
 * `forward` `forwardAddress`/`forwardLength`; returns the encoded (uncompressed) length or
 * an error.
 */
function writeOutput(
  data: usize,
  dataLen: u32,
  seriesCount: u32,
  size: i64,
  forward: bool,
  flags: u32,
): i32 {
  if (size > <i64>i32.MAX_VALUE) return ERR_TOO_LARGE;
  let region = forward ? forwardEncoded : encoded;
  let start = region.ensure(max<usize>(<usize>size, 16), 0);
  if (start === 0) return ERR_TOO_LARGE;
  let out = start;
  let cursor: u32 = 0;
  for (let i: u32 = 0; i < seriesCount; i++) {
    let record = records.ptr + <usize>i * RECORD_BYTES;
    let outcome = load<u32>(record, REC_OUTCOME);
    let kind = outcome & OUTCOME_KIND;
    if (forward && (outcome & OUTCOME_NOT_FORWARDED) !== 0) kind = OUTCOME_DROPPED;
    if (kind === OUTCOME_UNCHANGED) continue;
    let elementStart = load<u32>(record, REC_ELEMENT_START);
    memory.copy(out, data + cursor, elementStart - cursor);
    out += elementStart - cursor;
    if (kind === OUTCOME_CHANGED) out = writeChangedSeries(out, record, data);
    cursor = load<u32>(record, REC_ELEMENT_END);
  }
  memory.copy(out, data + cursor, dataLen - cursor);
  out += dataLen - cursor;
  let encodedLength = <u32>(out - start);

  let address = start;
  let length = encodedLength;
  if ((flags & FLAG_SNAPPY_OUT) !== 0) {
    let target = (forward ? forwardCompressed : compressed).ensure(
      max<usize>(snappyMaxCompressedLength(encodedLength), 16),
      0,
    );
    if (target === 0) return ERR_TOO_LARGE;
    address = target;
    length = snappyCompress(start, encodedLength, target);
  }
  if (forward) {
    forwardAddress = address;
    forwardLength = length;
  } else {
    outputAddress = address;
    outputLength = length;
  }
  return <i32>encodedLength;
}
