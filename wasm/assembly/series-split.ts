// Experiment split: a stable hash of a series' label fields sends it to one of two arms.
// Each arm's module instance keeps only its share, before any relabeling, so the decision
// depends on the series as the sender wrote it and is the same on every proxy.

import { hashBytes } from './hash';

export const SPLIT_OFF: u32 = 0;
/** Keep series whose hash is below the threshold (the candidate's share). */
export const SPLIT_KEEP_BELOW: u32 = 1;
/** Keep series whose hash is at or above the threshold (the baseline's share). */
export const SPLIT_KEEP_ABOVE: u32 = 2;

export let splitMode: u32 = SPLIT_OFF;
let splitThreshold: u32 = 0;
let splitHash: u32 = 0;

/** Sets the split; `threshold` is the share times 2^32 (saturated). False for a bad mode. */
export function setSeriesSplit(mode: u32, threshold: u32): bool {
  if (mode > SPLIT_KEEP_ABOVE) return false;
  splitMode = mode;
  splitThreshold = threshold;
  return true;
}

/** Starts the hash of one series. */
export function splitBegin(): void {
  splitHash = 0x2545f491;
}

/** Adds one label field (tag, length and payload bytes) to the series' hash. */
export function splitAddLabelField(ptr: usize, len: usize): void {
  splitHash = (splitHash ^ hashBytes(ptr, len)) * 0x01000193;
}

/** Whether the series hashed since {@link splitBegin} belongs to this arm. */
export function splitKeeps(): bool {
  let below = splitHash < splitThreshold;
  return below === (splitMode === SPLIT_KEEP_BELOW);
}
