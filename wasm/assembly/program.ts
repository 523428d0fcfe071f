// The active rule program (format in wasm/ABI.md), parsed into fixed-size rule records
// whose strings are intern ids. A program is validated completely before anything is
// replaced, so a malformed one leaves the previous program active.

import {
  ACTION_DROP,
  ACTION_DROPEQUAL,
  ACTION_KEEP,
  ACTION_KEEPEQUAL,
  ACTION_UPPERCASE,
  PROGRAM_MAGIC,
  RULE_FLAG_LITERAL,
} from './abi';
import { newRegion } from './buffers';
import { cacheReset } from './eval-cache';
import { intern, internClear, internPinAll, stringLen, stringPtr } from './intern';
import { setEmptyStringId } from './labels';
import { seriesCacheReset } from './series-cache';

/** Bytes per parsed rule: 8 × u32 (see the RULE_* offsets). */
export const RULE_BYTES: usize = 32;
export const RULE_ACTION: usize = 0;
export const RULE_SOURCE_COUNT: usize = 4;
export const RULE_SOURCES: usize = 8;
export const RULE_SEPARATOR: usize = 12;
export const RULE_TARGET: usize = 16;
export const RULE_MODULUS: usize = 20;
/**
 * Set when the replacement is literal and the target has no `$`: every single-line input
 * gets the same answer, so the host is asked once per rule instead of once per value.
 */
export const RULE_INPUT_INDEPENDENT: usize = 24;

const programBytes = newRegion();
const rules = newRegion();
const sourceIds = newRegion();
const stringIds = newRegion();
const ruleHits = newRegion();

/** True once a program was loaded successfully. */
export let programLoaded: bool = false;
export let ruleCount: u32 = 0;
/**
 * False when every rule only keeps or drops series (keep, drop, keepequal, dropequal):
 * then no output series differs from its input, and none can collide with another.
 */
export let programMutates: bool = false;
/**
 * Rules from this index on decide only whether a series is forwarded: a series they drop
 * stays in the main output (what stream aggregation reads) and leaves the forward output.
 * `u32.MAX_VALUE` (no such rules) after every program load.
 */
export let forwardRulesFrom: u32 = u32.MAX_VALUE;

/**
 * Makes the rules from `index` on forward-only (see {@link forwardRulesFrom}); an index at
 * or past the rule count turns that off. Cached outcomes depend on it, so the series cache
 * starts over.
 */
export function setForwardRulesFrom(index: u32): void {
  forwardRulesFrom = index >= ruleCount ? u32.MAX_VALUE : index;
  seriesCacheReset();
}

export function programBufferPtr(len: u32): usize {
  return programBytes.ensure(max<usize>(len, 16), 0);
}

export function rulePtr(rule: u32): usize {
  return rules.ptr + <usize>rule * RULE_BYTES;
}

/** Address of the u32 intern id of source `index` of a rule (RULE_SOURCES is its first). */
export function sourceIdPtr(first: u32, index: u32): usize {
  return sourceIds.ptr + ((<usize>(first + index)) << 2);
}

export function ruleHitsPtr(): usize {
  return ruleHits.ptr;
}

/** Walks the program; with `build` it also records the rules. Returns false when malformed. */
function walk(len: u32, build: bool): bool {
  let p = programBytes.ptr;
  let end = p + len;
  if (len < 12 || load<u32>(p) !== PROGRAM_MAGIC) return false;
  let strings = load<u32>(p, 4);
  p += 8;
  if (<u64>strings * 4 > <u64>(end - p)) return false;
  if (build) stringIds.ensure((<usize>(strings + 1)) << 2, 0);
  for (let i: u32 = 0; i < strings; i++) {
    if (end - p < 4) return false;
    let byteLength = load<u32>(p);
    p += 4;
    if (<usize>byteLength > end - p) return false;
    if (build) store<u32>(stringIds.ptr + ((<usize>i) << 2), intern(p, byteLength));
    p += byteLength;
  }
  if (end - p < 4) return false;
  let count = load<u32>(p);
  p += 4;
  // Each rule takes at least 24 bytes, which bounds count before any allocation.
  if (<u64>count * 24 > <u64>(end - p)) return false;
  let sourcesUsed: u32 = 0;
  if (build) {
    rules.ensure(max<usize>(<usize>count * RULE_BYTES, 8), 0);
    ruleHits.ensure(max<usize>((<usize>count) << 2, 8), 0);
    memory.fill(ruleHits.ptr, 0, (<usize>count) << 2);
  }
  for (let r: u32 = 0; r < count; r++) {
    if (end - p < 8) return false;
    let action = load<u32>(p);
    let sourceCount = load<u32>(p, 4);
    p += 8;
    if (action > ACTION_UPPERCASE) return false;
    if (<u64>sourceCount * 4 + 16 > <u64>(end - p)) return false;
    let rule = rules.ptr + <usize>r * RULE_BYTES;
    if (build) {
      sourceIds.ensure((<usize>(sourcesUsed + sourceCount + 1)) << 2, (<usize>sourcesUsed) << 2);
      store<u32>(rule, action, RULE_ACTION);
      store<u32>(rule, sourceCount, RULE_SOURCE_COUNT);
      store<u32>(rule, sourcesUsed, RULE_SOURCES);
    }
    for (let s: u32 = 0; s < sourceCount; s++) {
      let index = load<u32>(p);
      p += 4;
      if (index >= strings) return false;
      if (build)
        store<u32>(sourceIdPtr(sourcesUsed, s), load<u32>(stringIds.ptr + ((<usize>index) << 2)));
    }
    sourcesUsed += sourceCount;
    let separator = load<u32>(p);
    let target = load<u32>(p, 4);
    let modulus = load<u32>(p, 8);
    let flags = load<u32>(p, 12);
    p += 16;
    if (separator >= strings || target >= strings) return false;
    if (build) {
      let targetId = load<u32>(stringIds.ptr + ((<usize>target) << 2));
      store<u32>(rule, load<u32>(stringIds.ptr + ((<usize>separator) << 2)), RULE_SEPARATOR);
      store<u32>(rule, targetId, RULE_TARGET);
      store<u32>(rule, modulus, RULE_MODULUS);
      let independent = (flags & RULE_FLAG_LITERAL) !== 0 && !containsDollar(targetId);
      store<u32>(rule, independent ? 1 : 0, RULE_INPUT_INDEPENDENT);
    }
  }
  if (p !== end) return false;
  if (build) ruleCount = count;
  return true;
}

function containsDollar(id: u32): bool {
  let p = stringPtr(id);
  let n = stringLen(id);
  for (let i: u32 = 0; i < n; i++) if (load<u8>(p + i) === 0x24) return true;
  return false;
}

/**
 * Validates and activates the program in the program buffer. Resets the intern table and
 * the evaluation cache; the program's strings are interned first and survive later resets.
 */
export function loadProgram(len: u32): bool {
  if (<usize>len > programBytes.capacity || programBytes.ptr === 0) return false;
  if (!walk(len, false)) return false;
  internClear();
  cacheReset();
  seriesCacheReset();
  walk(len, true);
  setEmptyStringId(intern(programBytes.ptr, 0));
  internPinAll();
  programMutates = false;
  forwardRulesFrom = u32.MAX_VALUE;
  for (let i: u32 = 0; i < ruleCount; i++) {
    let action = load<u32>(rulePtr(i), RULE_ACTION);
    if (
      action !== ACTION_KEEP &&
      action !== ACTION_DROP &&
      action !== ACTION_KEEPEQUAL &&
      action !== ACTION_DROPEQUAL
    ) {
      programMutates = true;
    }
  }
  programLoaded = true;
  return true;
}
