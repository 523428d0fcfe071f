// The samples behind a group's `quantiles(φ…)` output: per group and window a buffer of at
// most QUANTILE_RESERVOIR values. Up to that many samples the quantiles are exact; beyond,
// the buffer is a uniform sample of the window (Vitter's algorithm R, as vmagent's
// quantiles output does with 1000 samples), so the rank of a reported quantile is off by
// a standard deviation of sqrt(φ(1 − φ) / QUANTILE_RESERVOIR) of the window's samples.

import { QUANTILE_RESERVOIR } from './aggregate-abi';
import {
  QBUF_RANDOM,
  QBUF_SEEN,
  QBUF_STORED,
  QBUF_VALUES,
  quantileBufferOf,
} from './aggregate-state';

// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const GOLDEN_GAMMA: u64 = 0x9e3779b97f4a7c15;
// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const MIX_A: u64 = 0xbf58476d1ce4e5b9;
// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const MIX_B: u64 = 0x94d049bb133111eb;

/** splitmix64: the next pseudo-random u64 of the buffer's own generator. */
function nextRandom(buffer: usize): u64 {
  let state = load<u64>(buffer, QBUF_RANDOM) + GOLDEN_GAMMA;
  store<u64>(buffer, state, QBUF_RANDOM);
  let z = (state ^ (state >> 30)) * MIX_A;
  z = (z ^ (z >> 27)) * MIX_B;
  return z ^ (z >> 31);
}

/** Offers an accepted sample of the open window to the group's quantile buffer. */
export function addQuantileSample(group: usize, value: f64): void {
  let buffer = quantileBufferOf(group);
  let seen = load<u32>(buffer, QBUF_SEEN) + 1;
  store<u32>(buffer, seen, QBUF_SEEN);
  let stored = load<u32>(buffer, QBUF_STORED);
  let slot: u32;
  if (stored < QUANTILE_RESERVOIR) {
    slot = stored;
    store<u32>(buffer, stored + 1, QBUF_STORED);
  } else {
    // The seen-th sample replaces a random one with probability RESERVOIR / seen.
    let pick = nextRandom(buffer) % <u64>seen;
    if (pick >= <u64>QUANTILE_RESERVOIR) return;
    slot = <u32>pick;
  }
  store<f64>(buffer + QBUF_VALUES + ((<usize>slot) << 3), value);
}

/** Sorts the buffer's values in place (heapsort: no allocation); returns how many. */
export function sortQuantileBuffer(buffer: usize): u32 {
  let count = load<u32>(buffer, QBUF_STORED);
  let values = buffer + QBUF_VALUES;
  for (let start = <i32>(count >> 1) - 1; start >= 0; start--) siftDown(values, <u32>start, count);
  for (let end = count; end > 1; end--) {
    let last = end - 1;
    let top = load<f64>(values);
    store<f64>(values, load<f64>(values + ((<usize>last) << 3)));
    store<f64>(values + ((<usize>last) << 3), top);
    siftDown(values, 0, last);
  }
  return count;
}

function siftDown(values: usize, root: u32, count: u32): void {
  while (true) {
    let child = root * 2 + 1;
    if (child >= count) return;
    if (child + 1 < count && at(values, child + 1) > at(values, child)) child++;
    if (at(values, root) >= at(values, child)) return;
    let held = at(values, root);
    store<f64>(values + ((<usize>root) << 3), at(values, child));
    store<f64>(values + ((<usize>child) << 3), held);
    root = child;
  }
}

function at(values: usize, index: u32): f64 {
  return load<f64>(values + ((<usize>index) << 3));
}

/** The φ-quantile of `count` sorted values: the one of rank round(φ · (count − 1)). */
export function quantileOf(buffer: usize, count: u32, phi: f64): f64 {
  let rank = <u32>Math.floor(phi * <f64>(count - 1) + 0.5);
  if (rank >= count) rank = count - 1;
  return at(buffer + QBUF_VALUES, rank);
}
