// The module's exports (see wasm/ABI.md). Implementation lives in the files imported here.

import { ERR_PROGRAM, STATUS_OK } from './abi';
import {
  cardinalitySerializedAddress,
  configureCardinality,
  forgetSeenSeries,
  resetCardinality,
  serializeCardinality,
} from './cardinality';
import {
  loadProgram as activateProgram,
  ruleHitsPtr as hitsPtr,
  programBufferPtr,
  setForwardRulesFrom as setForwardRules,
} from './program';
import { HOST_OUT_CAPACITY, hostOutPtr as hostOutAddress } from './relabel';
import { inputBufferPtr } from './remote-write';
import {
  errorLabelAddress,
  errorLabelLength,
  errorPreviousLabelAddress,
  errorPreviousLabelLength,
  errorSeriesIndex,
} from './series-labels';

export {
  ACTION_DROP,
  ACTION_DROPEQUAL,
  ACTION_HASHMOD,
  ACTION_KEEP,
  ACTION_KEEPEQUAL,
  ACTION_LABELDROP,
  ACTION_LABELKEEP,
  ACTION_LABELMAP,
  ACTION_LOWERCASE,
  ACTION_REPLACE,
  ACTION_UPPERCASE,
  ERR_HOST,
  ERR_LABEL_DUPLICATE,
  ERR_LABEL_NAME_EMPTY,
  ERR_LABEL_NAME_INVALID,
  ERR_LABELS_UNSORTED,
  ERR_PROGRAM,
  ERR_PROTOBUF,
  ERR_SNAPPY,
  ERR_TOO_LARGE,
  ERR_TOO_MANY_LABELS,
  FLAG_SNAPPY_IN,
  FLAG_SNAPPY_OUT,
  OP_HASHMOD,
  OP_LABELMAP,
  OP_LOWERCASE,
  OP_MATCH,
  OP_REPLACE,
  OP_UPPERCASE,
  PROGRAM_MAGIC,
  RULE_FLAG_LITERAL,
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
export {
  AGG_STAT_CLASSIFY_CALLS,
  AGG_STAT_DUPLICATE,
  AGG_STAT_GROUPS,
  AGG_STAT_LATE,
  AGG_STAT_NAN,
  AGG_STAT_SAMPLES,
  AGG_STAT_SERIES_EXPIRED,
  AGG_STAT_SERIES_TRACKED,
  AGG_STAT_STALE_MARKERS,
  AGG_STAT_STATE_BYTES,
  AGG_STATS_COUNT,
  OP_CLASSIFY,
} from './aggregate-abi';
export {
  aggregateConfigure,
  aggregateFlush,
  aggregateHandoffExport,
  aggregateHandoffMerge,
  aggregateHandoffPtr,
  aggregateHandoffRemove,
  aggregateOutputLen,
  aggregateOutputPtr,
  aggregateRemoteWrite,
  aggregateRestore,
  aggregateSetRule,
  aggregateSetRuleDedup,
  aggregateSetRuleQuantile,
  aggregateSnapshot,
  aggregateSnapshotPtr,
  aggregateStatsPtr,
  aggregateWindowStart,
} from './aggregate-exports';
export {
  forwardOutputLen,
  forwardOutputPtr,
  forwardSeparate,
  outputLen,
  outputPtr,
  processRemoteWrite,
  setLimits,
  statsPtr,
} from './remote-write';
export { setSeriesSplit } from './series-split';

/** Grows the input buffer to at least `len` bytes; the host copies the request body there. */
export function inputBuffer(len: u32): usize {
  return inputBufferPtr(len);
}

/** Grows the program buffer to at least `len` bytes. */
export function programBuffer(len: u32): usize {
  return programBufferPtr(len);
}

/** Activates the program in the program buffer: STATUS_OK or ERR_PROGRAM. */
export function loadProgram(len: u32): i32 {
  // Cardinality remembers each series' output; a new program may change it.
  forgetSeenSeries();
  return activateProgram(len) ? STATUS_OK : ERR_PROGRAM;
}

/**
 * Makes the active program's rules from `index` on forward-only: the series they drop
 * stay in the main output and leave the forward output. Call after `loadProgram`, which
 * turns it off; an index at or past the rule count turns it off too.
 */
export function setForwardRulesFrom(index: u32): void {
  setForwardRules(index);
}

/** One u32 per rule: series the rule changed or dropped in the last call. */
export function ruleHitsPtr(): usize {
  return hitsPtr();
}

/** Series index of the last label error, or -1. */
export function errorSeries(): i32 {
  return errorSeriesIndex;
}

export function errorLabelPtr(): usize {
  return errorLabelAddress;
}

export function errorLabelLen(): u32 {
  return errorLabelLength;
}

/** For unsorted or duplicate labels: the name before the offending one. */
export function errorPreviousLabelPtr(): usize {
  return errorPreviousLabelAddress;
}

export function errorPreviousLabelLen(): u32 {
  return errorPreviousLabelLength;
}

export function hostOutPtr(): usize {
  return hostOutAddress();
}

export function hostOutCapacity(): u32 {
  return HOST_OUT_CAPACITY;
}

/** Turns cardinality tracking on with room for `maxMetrics` metrics per view: STATUS_OK or ERR_PROGRAM. */
export function cardinalityConfigure(maxMetrics: u32): i32 {
  return configureCardinality(maxMetrics) ? STATUS_OK : ERR_PROGRAM;
}

/** Empties the cardinality tracker of `view` (0 input, 1 output). */
export function cardinalityReset(view: u32): void {
  resetCardinality(view);
}

/** Serializes the tracker of `view`; returns its length (0 when tracking is off). */
export function cardinalitySerialize(view: u32): u32 {
  return serializeCardinality(view);
}

/** Address of the bytes the last cardinalitySerialize wrote. */
export function cardinalitySerializedPtr(): usize {
  return cardinalitySerializedAddress();
}
