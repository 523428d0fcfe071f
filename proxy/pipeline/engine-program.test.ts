import { beforeAll, describe, expect, test } from 'vitest';
import { PipelineEngine, PipelineError } from './engine.js';
import { encodeProgram, type FixtureRule, fixturePipeline, matches } from './program-fixtures.js';
import { decodeRequest, encodeRequest, seriesWith, writeRequest } from './remote-write-fixtures.js';
import * as abi from './wasm-abi.js';

/** The module's program parser: every malformed program is refused, never half-loaded. */
describe('rule programs', () => {
  const rules: FixtureRule[] = [
    { action: abi.ACTION_LABELDROP, answer: matches('pod') },
    { action: abi.ACTION_KEEPEQUAL, sources: ['a', 'b'], separator: '-', target: 'c' },
    {
      action: abi.ACTION_HASHMOD,
      sources: ['job'],
      target: 'shard',
      modulus: 7,
      answer: () => '3',
    },
  ];
  const valid = encodeProgram(rules);
  const body = encodeRequest(
    writeRequest([
      seriesWith([
        ['a', 'x'],
        ['b', 'y'],
        ['c', 'x-y'],
        ['job', 'j'],
        ['pod', 'p'],
      ]),
    ]),
  );
  let engine: PipelineEngine;

  beforeAll(async () => {
    engine = await PipelineEngine.load();
    engine.use(fixturePipeline(rules));
  });

  function expectRefused(program: Uint8Array): void {
    let caught: unknown;
    try {
      engine.use({ program, ruleCount: 1, evaluate: () => null });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PipelineError);
    expect((caught as PipelineError).code).toBe('program');
  }

  function expectOriginalProgramActive(): void {
    const result = engine.processRemoteWrite(body, { snappyIn: false, snappyOut: false });
    const labels = decodeRequest(result.output).timeseries[0]!.labels.map((l) => l.name);
    expect(labels).toEqual(['a', 'b', 'c', 'job', 'shard']);
  }

  test('the valid program works', () => {
    expectOriginalProgramActive();
  });

  test('every truncation of the program is refused', () => {
    for (let cut = 0; cut < valid.length; cut++) expectRefused(valid.subarray(0, cut));
    expectOriginalProgramActive();
  });

  test('trailing bytes are refused', () => {
    expectRefused(Uint8Array.from([...valid, 0]));
  });

  function patched(offset: number, value: number): Uint8Array {
    const program = Uint8Array.from(valid);
    new DataView(program.buffer).setUint32(offset, value, true);
    return program;
  }

  // Layout of `valid`: magic, string count, strings, rule count, then the first rule
  // (action, source count, separator, target, modulus, flags).
  const stringCount = new DataView(valid.buffer).getUint32(4, true);
  let firstRuleOffset = 8;
  for (let i = 0; i < stringCount; i++) {
    firstRuleOffset += 4 + new DataView(valid.buffer).getUint32(firstRuleOffset, true);
  }
  firstRuleOffset += 4;

  test.each([
    { name: 'wrong magic', offset: 0, value: 0x12345678 },
    { name: 'string count past the end', offset: 4, value: 0xffff_ffff },
    { name: 'rule count past the end', offset: firstRuleOffset - 4, value: 1000 },
    { name: 'unknown action', offset: firstRuleOffset, value: abi.ACTION_UPPERCASE + 1 },
    { name: 'source count past the end', offset: firstRuleOffset + 4, value: 0x4000_0000 },
    { name: 'separator index out of range', offset: firstRuleOffset + 8, value: stringCount },
    { name: 'target index out of range', offset: firstRuleOffset + 12, value: 0xffff_ffff },
  ])('$name is refused', ({ offset, value }) => {
    expectRefused(patched(offset, value));
    expectOriginalProgramActive();
  });
});
