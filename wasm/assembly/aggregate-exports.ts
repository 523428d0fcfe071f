// The stream-aggregation exports of the module (wasm/ABI.md, "Stream aggregation").

import { ERR_PROGRAM, STATUS_OK } from './abi';
import { flushOutputLen, flushOutputPtr, flushRule } from './aggregate-flush';
import { exportGroups, handoffExportPtr, mergeGroups, removeGroups } from './aggregate-handoff';
import { aggregateRemoteWrite as aggregateBody, markConfigured } from './aggregate-ingest';
import { readSnapshot, snapshotPtr, writeSnapshot } from './aggregate-snapshot';
import {
  aggStats,
  configure,
  RULE_LAST_FLUSH_MS,
  refreshGauges,
  ruleCount,
  rulePtr,
  setRule,
  setRuleDedup,
  setRuleQuantile,
} from './aggregate-state';
import { inputBufferPtr } from './remote-write';

/** Drops all aggregation state and declares `count` rules. STATUS_OK or ERR_PROGRAM. */
export function aggregateConfigure(count: u32): i32 {
  if (!configure(count)) return ERR_PROGRAM;
  markConfigured();
  return STATUS_OK;
}

/** Sets rule `rule`: its interval, staleness in windows, output mask and window start. */
export function aggregateSetRule(
  rule: u32,
  intervalMs: f64,
  stalenessWindows: u32,
  outputs: u32,
  windowStartMs: f64,
): i32 {
  return setRule(rule, intervalMs, stalenessWindows, outputs, windowStartMs)
    ? STATUS_OK
    : ERR_PROGRAM;
}

/** Sets φ number `index` (0, 1, … in order, at most 16) of the rule's quantiles output. */
export function aggregateSetRuleQuantile(rule: u32, index: u32, phi: f64): i32 {
  return setRuleQuantile(rule, index, phi) ? STATUS_OK : ERR_PROGRAM;
}

/** Sets the rule's dedup interval in ms; 0 (the default) aggregates every sample. */
export function aggregateSetRuleDedup(rule: u32, dedupMs: f64): i32 {
  return setRuleDedup(rule, dedupMs) ? STATUS_OK : ERR_PROGRAM;
}

/** Feeds the request of `len` bytes in the input buffer to the aggregation state. */
export function aggregateRemoteWrite(len: u32, flags: u32, maxDecompressedBytes: u32): i32 {
  return aggregateBody(len, flags, maxDecompressedBytes);
}

/** Closes the open window of `rule` at `nowMs`; the WriteRequest is at aggregateOutput*. */
export function aggregateFlush(rule: u32, nowMs: f64, flags: u32): i32 {
  return flushRule(rule, nowMs, flags);
}

export function aggregateOutputPtr(): usize {
  return flushOutputPtr();
}

export function aggregateOutputLen(): u32 {
  return flushOutputLen();
}

/** AGG_STATS_COUNT f64 counters (see aggregate-abi.ts). */
export function aggregateStatsPtr(): usize {
  refreshGauges();
  return aggStats.ptr;
}

/** Start of the open window of `rule` (the last flush), in ms since the epoch. */
export function aggregateWindowStart(rule: u32): f64 {
  return rule < ruleCount ? load<f64>(rulePtr(rule), RULE_LAST_FLUSH_MS) : 0;
}

/** Writes a snapshot of the state; returns its length. The bytes are at aggregateSnapshotPtr. */
export function aggregateSnapshot(): u32 {
  return writeSnapshot();
}

export function aggregateSnapshotPtr(): usize {
  return snapshotPtr();
}

/** Restores the snapshot of `len` bytes in the input buffer. STATUS_OK or ERR_PROGRAM. */
export function aggregateRestore(len: u32): i32 {
  return readSnapshot(inputBufferPtr(len), len) ? STATUS_OK : ERR_PROGRAM;
}

/** Writes every group with its input series in the hand-off format; returns the length. */
export function aggregateHandoffExport(): u32 {
  return exportGroups();
}

export function aggregateHandoffPtr(): usize {
  return handoffExportPtr();
}

/** Removes the groups whose u64 hashes fill the `len` bytes of the input buffer. */
export function aggregateHandoffRemove(len: u32): u32 {
  return removeGroups(inputBufferPtr(len), len);
}

/** Merges the hand-off bytes (`len`) in the input buffer; groups merged, or ERR_PROGRAM. */
export function aggregateHandoffMerge(len: u32): i32 {
  let merged = mergeGroups(inputBufferPtr(len), len);
  return merged < 0 ? ERR_PROGRAM : merged;
}
