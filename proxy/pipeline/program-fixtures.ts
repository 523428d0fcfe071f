/**
 * Hand-built rule programs for tests of the engine and the module's program parser: a rule
 * is given directly in the program's terms (action, strings) with its host answers as a
 * function, without going through the config compiler.
 */

import type { CompiledPipeline } from './contracts.js';
import { PROGRAM_MAGIC } from './wasm-abi.js';

/** One rule of a hand-built program. */
export interface FixtureRule {
  action: number;
  sources?: string[];
  separator?: string;
  target?: string;
  modulus?: number;
  flags?: number;
  /** The host's answer for this rule (see `host.evaluate` in `wasm/ABI.md`). */
  answer?: (op: number, input: string) => string | null;
}

/** Encodes rules in the program format of `wasm/ABI.md`. */
export function encodeProgram(rules: readonly FixtureRule[]): Uint8Array {
  const strings: string[] = [];
  const indexOf = (value: string): number => {
    const found = strings.indexOf(value);
    if (found >= 0) return found;
    strings.push(value);
    return strings.length - 1;
  };
  const ruleWords: number[] = [];
  for (const rule of rules) {
    const sources = rule.sources ?? [];
    ruleWords.push(
      rule.action,
      sources.length,
      ...sources.map(indexOf),
      indexOf(rule.separator ?? ';'),
      indexOf(rule.target ?? ''),
      rule.modulus ?? 0,
      rule.flags ?? 0,
    );
  }
  const encoder = new TextEncoder();
  const encodedStrings = strings.map((value) => encoder.encode(value));
  const size =
    12 + encodedStrings.reduce((sum, bytes) => sum + 4 + bytes.length, 0) + ruleWords.length * 4;
  const program = new Uint8Array(size);
  const view = new DataView(program.buffer);
  let offset = 0;
  const putU32 = (value: number): void => {
    view.setUint32(offset, value, true);
    offset += 4;
  };
  putU32(PROGRAM_MAGIC);
  putU32(strings.length);
  for (const bytes of encodedStrings) {
    putU32(bytes.length);
    program.set(bytes, offset);
    offset += bytes.length;
  }
  putU32(rules.length);
  for (const word of ruleWords) putU32(word);
  return program;
}

/** A pipeline of hand-built rules whose host answers come from each rule's `answer`. */
export function fixturePipeline(rules: readonly FixtureRule[]): CompiledPipeline {
  return {
    program: encodeProgram(rules),
    ruleCount: rules.length,
    evaluate(op, rule, input) {
      const answer = rules[rule]?.answer;
      if (answer === undefined) throw new Error(`rule ${rule} has no host answer`);
      return answer(op, input);
    },
  };
}

/** Host answer of an anchored regex match (keep, drop, labeldrop, labelkeep). */
export function matches(pattern: string): (op: number, input: string) => string | null {
  const regex = new RegExp(`^(?:${pattern})$`, 'u');
  return (_op, input) => (regex.test(input) ? '' : null);
}
