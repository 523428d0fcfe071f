/**
 * Compiles a validated {@link PipelineConfig} into what the WebAssembly module consumes: the
 * rule program bytes (layout in `wasm/ABI.md`) and the host side of `host.evaluate`, which
 * runs the regexes and string functions the module does not run itself.
 */
import { createHash } from 'node:crypto';
import type { PipelineConfig, RelabelAction, RelabelRule } from './config.js';
import { DEFAULT_RELABEL_RULE } from './config.js';
import type { CompiledPipeline } from './contracts.js';
import { expandTemplate, templateHasReference } from './expand.js';
import { translateRe2 } from './re2.js';
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
  ACTION_UPPERCASE,
  OP_HASHMOD,
  OP_LABELMAP,
  OP_LOWERCASE,
  OP_MATCH,
  OP_REPLACE,
  OP_UPPERCASE,
  PROGRAM_MAGIC,
  RULE_FLAG_LITERAL,
} from './wasm-abi.js';

/**
 * How Prometheus 2.42 anchors a relabel regex (`relabel.NewRegexp`). Later releases use
 * `^(?s:` so that `.` also matches a newline; 2.42 does not.
 */
export const PROMETHEUS_REGEX_PREFIX = '^(?:';
export const PROMETHEUS_REGEX_SUFFIX = ')$';

/** A relabel regex ready to run: the anchored JavaScript `RegExp` and its group names. */
export interface CompiledRegex {
  /** The expression as written in the config. */
  readonly expression: string;
  /** Anchored like Prometheus anchors it; flag `u`, not global, so it keeps no state. */
  readonly regex: RegExp;
  /** `captureNames[i]` is the name of group i ('' for unnamed), for `$name` references. */
  readonly captureNames: readonly string[];
}

const regexCache = new Map<string, CompiledRegex>();

/**
 * Compiles a relabel regex as Prometheus does (anchored, RE2 syntax), once per distinct
 * expression for the life of the process. Throws `Re2SyntaxError` for an invalid one.
 */
export function compileRegex(expression: string): CompiledRegex {
  const cached = regexCache.get(expression);
  if (cached !== undefined) return cached;
  const translated = translateRe2(PROMETHEUS_REGEX_PREFIX + expression + PROMETHEUS_REGEX_SUFFIX);
  const compiled: CompiledRegex = {
    expression,
    regex: new RegExp(translated.source, 'u'),
    captureNames: translated.captureNames,
  };
  regexCache.set(expression, compiled);
  return compiled;
}

const ACTION_CODES: Readonly<Record<RelabelAction, number>> = {
  replace: ACTION_REPLACE,
  keep: ACTION_KEEP,
  drop: ACTION_DROP,
  hashmod: ACTION_HASHMOD,
  labelmap: ACTION_LABELMAP,
  labeldrop: ACTION_LABELDROP,
  labelkeep: ACTION_LABELKEEP,
  keepequal: ACTION_KEEPEQUAL,
  dropequal: ACTION_DROPEQUAL,
  lowercase: ACTION_LOWERCASE,
  uppercase: ACTION_UPPERCASE,
};

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const UINT32_MAX = 0xffffffff;

/** True for a valid Prometheus label name (`model.LabelName.IsValid`). */
export function isValidLabelName(name: string): boolean {
  return LABEL_NAME.test(name);
}

/**
 * Compiles `config`; every regex in it must be valid (the loader has checked that).
 * `forwardRules` run after its rules and only decide what is forwarded: the engine keeps
 * the series they drop in its main output (see {@link CompiledPipeline.forwardRuleCount}).
 */
export function compilePipeline(
  config: PipelineConfig,
  forwardRules: readonly RelabelRule[] = [],
): CompiledPipeline {
  const rules = [...config.relabelConfigs, ...forwardRules];
  const regexes = rules.map((rule) => compileRegex(rule.regex));
  return {
    program: encodeProgram(rules),
    ruleCount: config.relabelConfigs.length,
    forwardRuleCount: forwardRules.length,
    evaluate(op: number, ruleIndex: number, input: string): string | null {
      const rule = rules[ruleIndex];
      const compiled = regexes[ruleIndex];
      if (rule === undefined || compiled === undefined) {
        throw new RangeError(`host.evaluate: no rule ${ruleIndex} (${rules.length} rules)`);
      }
      return evaluateRule(op, rule, compiled, input);
    },
  };
}

/** One answer of `host.evaluate` (see the op table in `wasm/ABI.md`). */
function evaluateRule(
  op: number,
  rule: RelabelRule,
  compiled: CompiledRegex,
  input: string,
): string | null {
  switch (op) {
    case OP_MATCH:
      return compiled.regex.test(input) ? '' : null;
    case OP_REPLACE: {
      // Prometheus expands both templates against the first match's submatches.
      const match = compiled.regex.exec(input);
      if (match === null) return null;
      const target = expandTemplate(rule.targetLabel, match, compiled.captureNames);
      if (!isValidLabelName(target)) return '\0';
      return `${target}\0${expandTemplate(rule.replacement, match, compiled.captureNames)}`;
    }
    case OP_LABELMAP:
      if (!compiled.regex.test(input)) return null;
      return replaceAll(compiled, input, rule.replacement);
    case OP_HASHMOD:
      return hashMod(input, rule.modulus).toString();
    case OP_LOWERCASE:
      return goToLower(input);
    case OP_UPPERCASE:
      return goToUpper(input);
    default:
      throw new RangeError(`host.evaluate: unknown op ${op}`);
  }
}

/**
 * Go's `Regexp.ReplaceAllString`: every non-overlapping match replaced by the expanded
 * template. With Prometheus' anchoring that is one match over the whole name, but an
 * expression like `a)|(b` escapes the anchors, and Go's loop is followed for those too.
 */
function replaceAll(compiled: CompiledRegex, input: string, template: string): string {
  const regex = new RegExp(compiled.regex.source, 'gu');
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= input.length) {
    regex.lastIndex = searchPos;
    const match = regex.exec(input);
    if (match === null) break;
    const start = match.index;
    const end = start + match[0].length;
    out += input.slice(lastMatchEnd, start);
    // Go skips an empty match right after the previous match.
    if (end > lastMatchEnd || start === 0) {
      out += expandTemplate(template, match, compiled.captureNames);
    }
    lastMatchEnd = end;
    const codePoint = input.codePointAt(searchPos);
    const width = codePoint === undefined ? 1 : codePoint > 0xffff ? 2 : 1;
    searchPos = Math.max(searchPos + width, end);
  }
  return out + input.slice(lastMatchEnd);
}

/** Prometheus' hashmod: the last 8 bytes of MD5 as a big-endian uint64, modulo `modulus`. */
export function hashMod(value: string, modulus: bigint): bigint {
  const digest = createHash('md5').update(value, 'utf8').digest();
  return digest.readBigUInt64BE(8) % modulus;
}

/** Go's `strings.ToLower`: each code point through its simple lower-case mapping. */
export function goToLower(value: string): string {
  return mapCodePoints(value, (s) => s.toLowerCase(), LOWER_EXCEPTIONS);
}

/** Go's `strings.ToUpper`: each code point through its simple upper-case mapping. */
export function goToUpper(value: string): string {
  return mapCodePoints(value, (s) => s.toUpperCase(), UPPER_EXCEPTIONS);
}

/** Simple mappings where JavaScript's full mapping gives several code points. */
const LOWER_EXCEPTIONS: ReadonlyMap<number, number> = new Map([[0x130, 0x69]]);
const UPPER_EXCEPTIONS: ReadonlyMap<number, number> = new Map([
  ...[0x1f80, 0x1f90, 0x1fa0].flatMap((base) =>
    Array.from({ length: 8 }, (_, i): [number, number] => [base + i, base + i + 8]),
  ),
  [0x1fb3, 0x1fbc],
  [0x1fc3, 0x1fcc],
  [0x1ff3, 0x1ffc],
]);

function mapCodePoints(
  value: string,
  fullMapping: (s: string) => string,
  exceptions: ReadonlyMap<number, number>,
): string {
  // ASCII-only strings map the same either way, and that is nearly every label value.
  if (isAscii(value)) return fullMapping(value);
  let out = '';
  for (const char of value) {
    const codePoint = char.codePointAt(0)!;
    const exception = exceptions.get(codePoint);
    if (exception !== undefined) {
      out += String.fromCodePoint(exception);
      continue;
    }
    const mapped = fullMapping(char);
    // A mapping to several code points has no simple counterpart: Go keeps the original.
    out += [...mapped].length === 1 ? mapped : char;
  }
  return out;
}

function isAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The rule program of `wasm/ABI.md`: little-endian, strings by index into a table. */
export function encodeProgram(rules: readonly RelabelRule[]): Uint8Array {
  const encoder = new TextEncoder();
  const stringIndex = new Map<string, number>();
  const strings: Uint8Array[] = [];
  const indexOf = (text: string): number => {
    let index = stringIndex.get(text);
    if (index === undefined) {
      index = strings.length;
      stringIndex.set(text, index);
      strings.push(encoder.encode(text));
    }
    return index;
  };
  const words: number[] = [];
  for (const rule of rules) {
    words.push(ACTION_CODES[rule.action], rule.sourceLabels.length);
    for (const source of rule.sourceLabels) words.push(indexOf(source));
    words.push(indexOf(rule.separator), indexOf(rule.targetLabel));
    // The module never divides by it (the host does hashmod); a u32 field cannot hold every
    // uint64, so larger values are clamped.
    words.push(rule.modulus > BigInt(UINT32_MAX) ? UINT32_MAX : Number(rule.modulus));
    words.push(isLiteralReplacement(rule) ? RULE_FLAG_LITERAL : 0);
  }
  const stringBytes = strings.reduce((total, bytes) => total + 4 + bytes.length, 0);
  const program = new Uint8Array(4 + 4 + stringBytes + 4 + words.length * 4);
  const view = new DataView(program.buffer);
  let offset = 0;
  const writeU32 = (value: number): void => {
    view.setUint32(offset, value, true);
    offset += 4;
  };
  writeU32(PROGRAM_MAGIC);
  writeU32(strings.length);
  for (const bytes of strings) {
    writeU32(bytes.length);
    program.set(bytes, offset);
    offset += bytes.length;
  }
  writeU32(rules.length);
  for (const word of words) writeU32(word);
  return program;
}

/** The default regex with a replacement that has no `$`: the answer never depends on input. */
function isLiteralReplacement(rule: RelabelRule): boolean {
  return rule.regex === DEFAULT_RELABEL_RULE.regex && !templateHasReference(rule.replacement);
}
