// The label set of the series being relabeled: (nameId, valueId) pairs of interned strings.
// It mirrors Prometheus' labels.Builder, including the order in which Range visits labels
// (untouched original labels first, then labels set by rules in the order they were set),
// because labelmap results depend on it when two names map to the same target.

import { newRegion } from './buffers';
import { compareBytes } from './hash';
import { stringLen, stringPtr } from './intern';

const current = newRegion();
const original = newRegion();
const snapshot = newRegion();

/** Pairs in the current set. */
export let labelCount: u32 = 0;
/** The first `baseCount` pairs are original labels no rule has set or deleted. */
let baseCount: u32 = 0;
/** Pairs read from the input, in input (ascending) order. */
export let originalCount: u32 = 0;
/** Set when a Set or Del changed the set since the last {@link clearMutated}. */
export let labelsMutated: bool = false;
/** Id of the empty string: a missing label reads as it, and setting it deletes. */
export let emptyStringId: u32 = 0;

export function setEmptyStringId(id: u32): void {
  emptyStringId = id;
}

export function currentPairs(): usize {
  return current.ptr;
}

export function originalPairs(): usize {
  return original.ptr;
}

/** Starts a new series. */
export function labelsBegin(): void {
  labelCount = 0;
  baseCount = 0;
  originalCount = 0;
  labelsMutated = false;
}

/** Adds a label read from the input (the input is validated to be in ascending order). */
export function labelsAddOriginal(nameId: u32, valueId: u32): void {
  let offset = (<usize>originalCount) << 3;
  original.ensure(offset + 8, offset);
  store<u32>(original.ptr + offset, nameId);
  store<u32>(original.ptr + offset, valueId, 4);
  originalCount++;
}

/** Makes the current set a copy of the original labels. */
export function labelsStartFromOriginal(): void {
  let bytes = (<usize>originalCount) << 3;
  current.ensure(bytes + 8, 0);
  memory.copy(current.ptr, original.ptr, bytes);
  labelCount = originalCount;
  baseCount = originalCount;
  labelsMutated = false;
}

export function clearMutated(): void {
  labelsMutated = false;
}

function indexOf(nameId: u32): i32 {
  let p = current.ptr;
  for (let i: u32 = 0; i < labelCount; i++) {
    if (load<u32>(p + ((<usize>i) << 3)) === nameId) return <i32>i;
  }
  return -1;
}

/** Value id of label `nameId`, or the empty string when absent. */
export function labelGet(nameId: u32): u32 {
  let i = indexOf(nameId);
  return i < 0 ? emptyStringId : load<u32>(current.ptr + ((<usize>i) << 3), 4);
}

function removeAt(index: u32): void {
  let p = current.ptr + ((<usize>index) << 3);
  memory.copy(p, p + 8, (<usize>(labelCount - index - 1)) << 3);
  labelCount--;
  if (index < baseCount) baseCount--;
}

/** Deletes label `nameId` if present. */
export function labelDel(nameId: u32): void {
  let i = indexOf(nameId);
  if (i < 0) return;
  removeAt(<u32>i);
  labelsMutated = true;
}

/** Sets label `nameId` to `valueId`; the empty value deletes the label. */
export function labelSet(nameId: u32, valueId: u32): void {
  if (valueId === emptyStringId) {
    labelDel(nameId);
    return;
  }
  let i = indexOf(nameId);
  if (i >= 0 && <u32>i >= baseCount) {
    let p = current.ptr + ((<usize>i) << 3);
    if (load<u32>(p, 4) !== valueId) {
      store<u32>(p, valueId, 4);
      labelsMutated = true;
    }
    return;
  }
  if (i >= 0) {
    if (load<u32>(current.ptr + ((<usize>i) << 3), 4) !== valueId) labelsMutated = true;
    removeAt(<u32>i);
  } else {
    labelsMutated = true;
  }
  let offset = (<usize>labelCount) << 3;
  current.ensure(offset + 8, offset);
  store<u32>(current.ptr + offset, nameId);
  store<u32>(current.ptr + offset, valueId, 4);
  labelCount++;
}

/** Copies the current pairs aside so a rule can visit them while it changes the set. */
export function labelsSnapshot(): usize {
  let bytes = (<usize>labelCount) << 3;
  snapshot.ensure(bytes + 8, 0);
  memory.copy(snapshot.ptr, current.ptr, bytes);
  return snapshot.ptr;
}

function compareNames(a: u32, b: u32): i32 {
  return compareBytes(stringPtr(a), stringLen(a), stringPtr(b), stringLen(b));
}

/** Sorts the current pairs by name bytes (insertion sort: sets are small). */
export function labelsSort(): void {
  let p = current.ptr;
  for (let i: u32 = 1; i < labelCount; i++) {
    let pair = load<u64>(p + ((<usize>i) << 3));
    let name = <u32>pair;
    let j = i;
    while (j > 0 && compareNames(load<u32>(p + ((<usize>(j - 1)) << 3)), name) > 0) {
      store<u64>(p + ((<usize>j) << 3), load<u64>(p + ((<usize>(j - 1)) << 3)));
      j--;
    }
    store<u64>(p + ((<usize>j) << 3), pair);
  }
  baseCount = 0;
}

/** True when the (sorted) current set equals the original labels. */
export function labelsEqualOriginal(): bool {
  if (labelCount !== originalCount) return false;
  let a = current.ptr;
  let b = original.ptr;
  for (let i: u32 = 0; i < labelCount; i++) {
    if (load<u64>(a + ((<usize>i) << 3)) !== load<u64>(b + ((<usize>i) << 3))) return false;
  }
  return true;
}
