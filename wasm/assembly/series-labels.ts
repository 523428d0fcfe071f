// The labels of one series: read from the wire, validated as the remote-write spec asks
// (names non-empty, [a-zA-Z_][a-zA-Z0-9_]*, strictly ascending, at most the configured
// count), and interned for relabeling. A label error fails the whole request and is
// described by the error* globals for the host's message.

import {
  ERR_LABEL_DUPLICATE,
  ERR_LABEL_NAME_EMPTY,
  ERR_LABEL_NAME_INVALID,
  ERR_LABELS_UNSORTED,
  ERR_PROTOBUF,
  ERR_TOO_MANY_LABELS,
  STATUS_OK,
} from './abi';
import { compareBytes } from './hash';
import { intern } from './intern';
import { labelsAddOriginal, labelsBegin } from './labels';
import {
  readFailed,
  readLength,
  readPos,
  readVarint,
  seekRead,
  skipField,
  WIRE_LEN,
} from './proto-wire';

let maxLabelsPerSeries: u32 = 512;

/** Index of the series of the last label error, or -1. */
export let errorSeriesIndex: i32 = -1;
/** The offending label name of the last label error (in the input bytes). */
export let errorLabelAddress: usize = 0;
export let errorLabelLength: u32 = 0;
/** For ERR_LABELS_UNSORTED and ERR_LABEL_DUPLICATE: the label name before the offending one. */
export let errorPreviousLabelAddress: usize = 0;
export let errorPreviousLabelLength: u32 = 0;

export function setMaxLabelsPerSeries(maxLabels: u32): void {
  maxLabelsPerSeries = maxLabels;
}

export function clearLabelError(): void {
  errorSeriesIndex = -1;
  errorLabelAddress = 0;
  errorLabelLength = 0;
  errorPreviousLabelAddress = 0;
  errorPreviousLabelLength = 0;
}

/** True when `len` bytes at `ptr` match `[a-zA-Z_][a-zA-Z0-9_]*` (len > 0). */
function isValidLabelName(ptr: usize, len: u32): bool {
  for (let i: u32 = 0; i < len; i++) {
    let c = <u32>load<u8>(ptr + i);
    let letter = (c | 0x20) - 0x61 < 26 || c === 0x5f;
    if (!letter && (i === 0 || c - 0x30 >= 10)) return false;
  }
  return true;
}

function labelError(
  code: i32,
  series: u32,
  name: usize,
  nameLen: u32,
  previous: usize,
  previousLen: u32,
): i32 {
  errorSeriesIndex = <i32>series;
  errorLabelAddress = name;
  errorLabelLength = nameLen;
  errorPreviousLabelAddress = previous;
  errorPreviousLabelLength = previousLen;
  return code;
}

/**
 * Reads, validates and (with `relabel`) interns the labels of a series whose payload is
 * [start, end); the payload's framing was checked by processSeries. Returns a status.
 */
export function readLabels(index: u32, start: usize, end: usize, relabel: bool): i32 {
  labelsBegin();
  let labels: u32 = 0;
  let previousName: usize = 0;
  let previousNameLen: u32 = 0;
  seekRead(start);
  while (readPos < end) {
    let tag = readVarint(end);
    if (tag >> 3 !== 1) {
      skipField(<u32>(tag & 7), end);
      continue;
    }
    let len = readLength(end);
    let payload = readPos;
    let payloadEnd = payload + len;
    // Label { string name = 1; string value = 2; }: the last occurrence of a field wins.
    let name: usize = 0;
    let nameLen: u32 = 0;
    let value: usize = 0;
    let valueLen: u32 = 0;
    seekRead(payload);
    while (readPos < payloadEnd) {
      let labelTag = readVarint(payloadEnd);
      let labelField = labelTag >> 3;
      let labelWire = <u32>(labelTag & 7);
      if (labelField === 1 || labelField === 2) {
        if (labelWire !== WIRE_LEN) return ERR_PROTOBUF;
        let stringLength = <u32>readLength(payloadEnd);
        if (labelField === 1) {
          name = readPos;
          nameLen = stringLength;
        } else {
          value = readPos;
          valueLen = stringLength;
        }
        seekRead(readPos + stringLength);
      } else if (labelField === 0) {
        return ERR_PROTOBUF;
      } else {
        skipField(labelWire, payloadEnd);
      }
      if (readFailed) return ERR_PROTOBUF;
    }
    labels++;
    if (labels > maxLabelsPerSeries) {
      return labelError(ERR_TOO_MANY_LABELS, index, name, nameLen, 0, 0);
    }
    if (nameLen === 0) {
      return labelError(ERR_LABEL_NAME_EMPTY, index, name, 0, previousName, previousNameLen);
    }
    if (!isValidLabelName(name, nameLen)) {
      return labelError(
        ERR_LABEL_NAME_INVALID,
        index,
        name,
        nameLen,
        previousName,
        previousNameLen,
      );
    }
    if (labels > 1) {
      let order = compareBytes(previousName, previousNameLen, name, nameLen);
      if (order === 0) {
        return labelError(ERR_LABEL_DUPLICATE, index, name, nameLen, previousName, previousNameLen);
      }
      if (order > 0) {
        return labelError(ERR_LABELS_UNSORTED, index, name, nameLen, previousName, previousNameLen);
      }
    }
    previousName = name;
    previousNameLen = nameLen;
    if (relabel) labelsAddOriginal(intern(name, nameLen), intern(value, valueLen));
    seekRead(payloadEnd);
  }
  return STATUS_OK;
}
