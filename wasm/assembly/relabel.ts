// Prometheus relabel.Process over the current label set (labels.ts), rule by rule.
// Regexes and string functions run in the host, once per distinct (rule, string): answers
// are cached in eval-cache.ts against interned ids.

import {
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
  ERR_HOST,
  OP_HASHMOD,
  OP_LABELMAP,
  OP_LOWERCASE,
  OP_MATCH,
  OP_REPLACE,
  OP_UPPERCASE,
  STATUS_OK,
} from './abi';
import { newRegion } from './buffers';
import { cachedResult1, cachedResult2, cacheLookup, cacheStore } from './eval-cache';
import { evaluate as hostEvaluate } from './host';
import { intern, stringLen, stringPtr } from './intern';
import {
  clearMutated,
  emptyStringId,
  labelCount,
  labelDel,
  labelGet,
  labelSet,
  labelsMutated,
  labelsSnapshot,
} from './labels';
import {
  forwardRulesFrom,
  RULE_ACTION,
  RULE_INPUT_INDEPENDENT,
  RULE_SEPARATOR,
  RULE_SOURCE_COUNT,
  RULE_SOURCES,
  RULE_TARGET,
  ruleCount,
  rulePtr,
  sourceIdPtr,
} from './program';

/** Capacity of the buffer the host writes its answers into. */
export const HOST_OUT_CAPACITY: u32 = 1 << 20;
const hostOut = newRegion();
hostOut.ensure(HOST_OUT_CAPACITY, 0);

export function hostOutPtr(): usize {
  return hostOut.ptr;
}

const joinScratch = newRegion();

/** Result markers stored in the cache. */
const NO_MATCH: i32 = -1;
const INVALID_TARGET: i32 = -2;
/** Cache key for answers of rules whose answer does not depend on the input. */
const ANY_INPUT: u32 = u32.MAX_VALUE;

/** Set by {@link applyRules} when any rule changed the label set of the series. */
export let seriesMutated: bool = false;

/** Rules that changed or dropped the last series given to applyRules, as u32 indexes. */
const hitList = newRegion();
hitList.ensure(64, 0);
export let seriesHitCount: u32 = 0;
/**
 * Set with DROP_SERIES: a forward-only rule (program.ts, `forwardRulesFrom`) dropped the
 * series, so it stays in the main output with the labels the main rules gave it.
 */
export let droppedByForwardRule: bool = false;

export function seriesHitsPtr(): usize {
  return hitList.ptr;
}

/** Calls to host.evaluate in the current request. */
export let hostEvaluations: u32 = 0;

export function resetHostEvaluations(): void {
  hostEvaluations = 0;
}

/** Answer of the last {@link evaluate}: an intern id, NO_MATCH or INVALID_TARGET. */
let answer1: i32 = 0;
/** Second answer (the replacement value of OP_REPLACE). */
let answer2: i32 = 0;

function internHostOut(offset: u32, len: u32): i32 {
  let id = intern(hostOut.ptr + offset, len);
  return id === u32.MAX_VALUE ? INVALID_TARGET : <i32>id;
}

/** Evaluates `op` of `rule` on string `input`, through the cache. Returns a status. */
function evaluate(op: i32, rule: u32, input: u32, cacheKey: u32): i32 {
  if (cacheLookup(rule, op, cacheKey)) {
    answer1 = cachedResult1;
    answer2 = cachedResult2;
    return STATUS_OK;
  }
  hostEvaluations++;
  let written = hostEvaluate(op, <i32>rule, stringPtr(input), stringLen(input));
  if (written === NO_MATCH) {
    answer1 = NO_MATCH;
    answer2 = NO_MATCH;
  } else if (written < 0 || <u32>written > HOST_OUT_CAPACITY) {
    return ERR_HOST;
  } else if (op === OP_MATCH) {
    answer1 = 1;
    answer2 = 0;
  } else if (op === OP_REPLACE) {
    let length = <u32>written;
    let separatorAt: u32 = 0;
    while (separatorAt < length && load<u8>(hostOut.ptr + separatorAt) !== 0) separatorAt++;
    if (separatorAt === length) return ERR_HOST;
    answer2 = internHostOut(separatorAt + 1, length - separatorAt - 1);
    if (answer2 === INVALID_TARGET) return ERR_HOST;
    answer1 = separatorAt === 0 ? INVALID_TARGET : internHostOut(0, separatorAt);
  } else {
    answer1 = internHostOut(0, <u32>written);
    answer2 = 0;
    if (answer1 === INVALID_TARGET) return ERR_HOST;
  }
  cacheStore(rule, op, cacheKey, answer1, answer2);
  return STATUS_OK;
}

function containsNewline(id: u32): bool {
  let p = stringPtr(id);
  let end = p + stringLen(id);
  while (p < end) {
    if (load<u8>(p) === 0x0a) return true;
    p++;
  }
  return false;
}

/** Id of the source values of `rule` joined with its separator. */
function joinedSources(rule: usize): u32 {
  let count = load<u32>(rule, RULE_SOURCE_COUNT);
  let first = load<u32>(rule, RULE_SOURCES);
  if (count === 0) return emptyStringId;
  if (count === 1) return labelGet(load<u32>(sourceIdPtr(first, 0)));
  let separator = load<u32>(rule, RULE_SEPARATOR);
  let separatorLen = stringLen(separator);
  let used: usize = 0;
  for (let i: u32 = 0; i < count; i++) {
    if (i > 0) {
      joinScratch.ensure(used + separatorLen, used);
      memory.copy(joinScratch.ptr + used, stringPtr(separator), separatorLen);
      used += separatorLen;
    }
    let value = labelGet(load<u32>(sourceIdPtr(first, i)));
    let valueLen = stringLen(value);
    joinScratch.ensure(used + valueLen + 1, used);
    memory.copy(joinScratch.ptr + used, stringPtr(value), valueLen);
    used += valueLen;
  }
  joinScratch.ensure(used + 1, used);
  return intern(joinScratch.ptr, <u32>used);
}

/** Outcome of {@link applyRules}: keep the series. */
export const KEEP_SERIES: i32 = 1;
/** Outcome of {@link applyRules}: drop the series. */
export const DROP_SERIES: i32 = 0;

/** Applies a rule that visits every label name (labelmap, labeldrop, labelkeep). */
function applyToNames(action: u32, index: u32): i32 {
  let count = labelCount;
  let pairs = labelsSnapshot();
  let op = action === ACTION_LABELMAP ? OP_LABELMAP : OP_MATCH;
  for (let i: u32 = 0; i < count; i++) {
    let name = load<u32>(pairs + ((<usize>i) << 3));
    let status = evaluate(op, index, name, name);
    if (status !== STATUS_OK) return status;
    let matched = answer1 !== NO_MATCH;
    if (action === ACTION_LABELMAP) {
      if (matched) labelSet(<u32>answer1, load<u32>(pairs + ((<usize>i) << 3), 4));
    } else if (action === ACTION_LABELDROP) {
      if (matched) labelDel(name);
    } else if (!matched) {
      labelDel(name);
    }
  }
  return STATUS_OK;
}

/**
 * Runs every rule over the current label set. Returns KEEP_SERIES, DROP_SERIES or an error
 * status. Lists the rules that changed the set or dropped the series (see seriesHitsPtr).
 */
export function applyRules(): i32 {
  seriesMutated = false;
  seriesHitCount = 0;
  droppedByForwardRule = false;
  for (let index: u32 = 0; index < ruleCount; index++) {
    // The main rules end here: a series they left without labels is dropped from both
    // outputs, before a forward-only rule could count it as merely not forwarded.
    if (index === forwardRulesFrom && labelCount === 0) return DROP_SERIES;
    let rule = rulePtr(index);
    let action = load<u32>(rule, RULE_ACTION);
    clearMutated();
    let keep = true;
    let status = STATUS_OK;
    if (action === ACTION_LABELMAP || action === ACTION_LABELDROP || action === ACTION_LABELKEEP) {
      status = applyToNames(action, index);
    } else {
      let value = joinedSources(rule);
      if (value === u32.MAX_VALUE) return ERR_HOST;
      let target = load<u32>(rule, RULE_TARGET);
      if (action === ACTION_KEEPEQUAL) {
        keep = labelGet(target) === value;
      } else if (action === ACTION_DROPEQUAL) {
        keep = labelGet(target) !== value;
      } else if (action === ACTION_KEEP || action === ACTION_DROP) {
        status = evaluate(OP_MATCH, index, value, value);
        keep = (answer1 !== NO_MATCH) === (action === ACTION_KEEP);
      } else if (action === ACTION_REPLACE) {
        // `(.*)` does not match across a newline (RE2 without the s flag), so only
        // single-line values share the answer of a literal rule.
        let key =
          load<u32>(rule, RULE_INPUT_INDEPENDENT) !== 0 && !containsNewline(value)
            ? ANY_INPUT
            : value;
        status = evaluate(OP_REPLACE, index, value, key);
        if (status === STATUS_OK && answer1 !== NO_MATCH) {
          if (answer1 === INVALID_TARGET || <u32>answer2 === emptyStringId) labelDel(target);
          else labelSet(<u32>answer1, <u32>answer2);
        }
      } else {
        let op =
          action === ACTION_HASHMOD
            ? OP_HASHMOD
            : action === ACTION_LOWERCASE
              ? OP_LOWERCASE
              : OP_UPPERCASE;
        status = evaluate(op, index, value, value);
        if (status === STATUS_OK) {
          if (answer1 < 0) return ERR_HOST;
          labelSet(target, <u32>answer1);
        }
      }
    }
    if (status !== STATUS_OK) return status;
    if (labelsMutated) seriesMutated = true;
    if (!keep || labelsMutated) {
      let offset = (<usize>seriesHitCount) << 2;
      store<u32>(hitList.ensure(offset + 4, offset) + offset, index);
      seriesHitCount++;
    }
    if (!keep) {
      droppedByForwardRule = index >= forwardRulesFrom;
      return DROP_SERIES;
    }
  }
  return labelCount === 0 ? DROP_SERIES : KEEP_SERIES;
}
