// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${1}` is template syntax here.
import { describe, expect, it } from 'vitest';
import { compilePipeline, compileRegex, goToLower, goToUpper, hashMod } from './compile.js';
import type { PipelineConfig, RelabelRule } from './config.js';
import { parsePipelineConfig } from './load.js';
import {
  ACTION_DROP,
  ACTION_HASHMOD,
  ACTION_LABELDROP,
  ACTION_REPLACE,
  OP_HASHMOD,
  OP_LABELMAP,
  OP_LOWERCASE,
  OP_MATCH,
  OP_REPLACE,
  OP_UPPERCASE,
  PROGRAM_MAGIC,
  RULE_FLAG_LITERAL,
} from './wasm-abi.js';

function pipeline(yaml: string): PipelineConfig {
  return parsePipelineConfig(yaml, 'test.yaml');
}

interface DecodedRule {
  action: number;
  sources: string[];
  separator: string;
  targetLabel: string;
  modulus: number;
  flags: number;
}

/** Reads a program back per `wasm/ABI.md`, independently of the encoder. */
function decodeProgram(program: Uint8Array): { strings: string[]; rules: DecodedRule[] } {
  const view = new DataView(program.buffer, program.byteOffset, program.byteLength);
  const decoder = new TextDecoder();
  let offset = 0;
  const u32 = (): number => {
    const value = view.getUint32(offset, true);
    offset += 4;
    return value;
  };
  expect(u32()).toBe(PROGRAM_MAGIC);
  const strings: string[] = [];
  for (let count = u32(), i = 0; i < count; i++) {
    const length = u32();
    strings.push(decoder.decode(program.subarray(offset, offset + length)));
    offset += length;
  }
  const rules: DecodedRule[] = [];
  for (let count = u32(), i = 0; i < count; i++) {
    const action = u32();
    const sources = Array.from({ length: u32() }, () => strings[u32()]!);
    rules.push({
      action,
      sources,
      separator: strings[u32()]!,
      targetLabel: strings[u32()]!,
      modulus: u32(),
      flags: u32(),
    });
  }
  expect(offset).toBe(program.byteLength);
  return { strings, rules };
}

describe('program bytes', () => {
  it('lays out the string table and rules per the ABI', () => {
    const compiled = compilePipeline(
      pipeline(`
relabel_configs:
  - source_labels: [__name__]
    regex: go_.*
    action: drop
  - source_labels: [job, instance]
    separator: '/'
    target_label: job
  - source_labels: [instance]
    target_label: shard
    modulus: 8
    action: hashmod
  - regex: pod|container
    action: labeldrop
  - target_label: env
    replacement: prod
  - source_labels: [job]
    separator: 'ü'
    target_label: job2
    replacement: x
`),
    );
    expect(compiled.ruleCount).toBe(6);
    const { strings, rules } = decodeProgram(compiled.program);
    // Each distinct string once, in order of first use.
    expect(strings).toEqual([
      '__name__',
      ';',
      '',
      'job',
      'instance',
      '/',
      'shard',
      'env',
      'ü',
      'job2',
    ]);
    expect(rules).toEqual([
      {
        action: ACTION_DROP,
        sources: ['__name__'],
        separator: ';',
        targetLabel: '',
        modulus: 0,
        flags: 0,
      },
      {
        action: ACTION_REPLACE,
        sources: ['job', 'instance'],
        separator: '/',
        targetLabel: 'job',
        modulus: 0,
        flags: 0,
      },
      {
        action: ACTION_HASHMOD,
        sources: ['instance'],
        separator: ';',
        targetLabel: 'shard',
        modulus: 8,
        flags: 0,
      },
      {
        action: ACTION_LABELDROP,
        sources: [],
        separator: ';',
        targetLabel: '',
        modulus: 0,
        flags: 0,
      },
      {
        action: ACTION_REPLACE,
        sources: [],
        separator: ';',
        targetLabel: 'env',
        modulus: 0,
        flags: RULE_FLAG_LITERAL,
      },
      {
        action: ACTION_REPLACE,
        sources: ['job'],
        separator: 'ü',
        targetLabel: 'job2',
        modulus: 0,
        flags: RULE_FLAG_LITERAL,
      },
    ]);
  });

  it('writes an empty program for an empty pipeline', () => {
    const compiled = compilePipeline({ relabelConfigs: [] });
    expect(compiled.ruleCount).toBe(0);
    expect(decodeProgram(compiled.program)).toEqual({ strings: [], rules: [] });
  });

  it('clamps a modulus above the u32 field and keeps the full one for the host', () => {
    const compiled = compilePipeline(
      pipeline(
        'relabel_configs: [{action: hashmod, target_label: s, modulus: 18446744073709551615}]',
      ),
    );
    expect(decodeProgram(compiled.program).rules[0]!.modulus).toBe(0xffffffff);
    // Value computed with Python's hashlib: last 8 bytes of md5("x") mod 2^64-1.
    expect(compiled.evaluate(OP_HASHMOD, 0, 'x')).toBe('17710500428000290726');
  });

  it.each([
    ['default regex and replacement', '{target_label: a}', 0],
    ['literal replacement', '{target_label: a, replacement: v}', RULE_FLAG_LITERAL],
    [
      'explicit default regex',
      "{target_label: a, regex: '(.*)', replacement: v}",
      RULE_FLAG_LITERAL,
    ],
    ['replacement with $', '{target_label: a, replacement: v$1}', 0],
    ['other regex', '{target_label: a, regex: x, replacement: v}', 0],
  ])('literal flag: %s', (_name, rule, flags) => {
    const compiled = compilePipeline(pipeline(`relabel_configs: [${rule}]`));
    expect(decodeProgram(compiled.program).rules[0]!.flags).toBe(flags);
  });
});

describe('evaluate', () => {
  const compiled = compilePipeline(
    pipeline(`
relabel_configs:
  - {source_labels: [a], regex: 'f(.*)', action: keep}
  - {source_labels: [a], regex: 'some-([^-]+)-(.*)', target_label: '\${1}', replacement: 'v=$2'}
  - {regex: '__meta_(.+)', replacement: 'm_$1', action: labelmap}
  - {source_labels: [c], target_label: d, modulus: 1000, action: hashmod}
  - {source_labels: [a], target_label: b, action: lowercase}
  - {source_labels: [a], target_label: b, action: uppercase}
  - {source_labels: [a], regex: '(?P<k>[a-z]+)=(?P<v>.*)', target_label: '$k', replacement: '$v$1x'}
`),
  );

  it.each([
    ['OP_MATCH matches the anchored regex', OP_MATCH, 0, 'foo', ''],
    ['OP_MATCH does not match a substring', OP_MATCH, 0, 'xfoo', null],
    ['OP_REPLACE expands target and value', OP_REPLACE, 1, 'some-name-val', 'name\0v=val'],
    ['OP_REPLACE keeps an empty value', OP_REPLACE, 1, 'some-name-', 'name\0v='],
    ['OP_REPLACE with no match', OP_REPLACE, 1, 'other', null],
    ['OP_REPLACE with an invalid expanded target', OP_REPLACE, 1, 'some-0x-v', '\0'],
    ['OP_REPLACE with named groups and $1x', OP_REPLACE, 6, 'env=prod', 'env\0prod'],
    ['OP_LABELMAP renames a matching name', OP_LABELMAP, 2, '__meta_pod', 'm_pod'],
    ['OP_LABELMAP with no match', OP_LABELMAP, 2, 'pod', null],
    ['OP_HASHMOD (Prometheus test value)', OP_HASHMOD, 3, 'baz', '976'],
    ['OP_HASHMOD of a value with a newline', OP_HASHMOD, 3, 'foo\nbar', '734'],
    ['OP_LOWERCASE', OP_LOWERCASE, 4, 'bAr123Foo', 'bar123foo'],
    ['OP_UPPERCASE', OP_UPPERCASE, 5, 'bAr123Foo', 'BAR123FOO'],
    ['OP_LOWERCASE of non-ASCII', OP_LOWERCASE, 4, 'ÄÖÜ-ΑΣ', 'äöü-ασ'],
  ])('%s', (_name, op, rule, input, expected) => {
    expect(compiled.evaluate(op, rule, input)).toBe(expected);
  });

  it('rejects an unknown op or rule', () => {
    expect(() => compiled.evaluate(99, 0, 'x')).toThrow(RangeError);
    expect(() => compiled.evaluate(OP_MATCH, 7, 'x')).toThrow(RangeError);
  });
});

describe('labelmap replacement follows Go ReplaceAllString', () => {
  const rule = (regex: string, replacement: string): RelabelRule => ({
    action: 'labelmap',
    sourceLabels: [],
    separator: ';',
    regex,
    targetLabel: '',
    replacement,
    modulus: 0n,
  });
  // Expected values from Go 1.19: regexp.MustCompile("^(?:"+re+")$").ReplaceAllString.
  it.each([
    ['(b.*)', 'bar_${1}', 'b1', 'bar_b1'],
    ['foo)|(bar', '<$1>', 'foobar', '<><bar>'],
    ['foo)|(bar', '<$1>', 'xbar', 'x<bar>'],
    ['a*)|(b', 'X', 'aab', 'XX'],
  ])('%j with %j on %j', (regex, replacement, name, expected) => {
    const compiled = compilePipeline({ relabelConfigs: [rule(regex, replacement)] });
    expect(compiled.evaluate(OP_LABELMAP, 0, name)).toBe(expected);
  });
});

describe('helpers', () => {
  it('compiles each regex text once', () => {
    expect(compileRegex('abc(d)')).toBe(compileRegex('abc(d)'));
    expect(compileRegex('abc(d)').captureNames).toEqual(['', '']);
  });

  it.each([
    ['baz', 1000n, 976n],
    ['foo\nbar', 1000n, 734n],
    ['node-1:9100', 4n, 1n],
    ['', 10n, 8n],
  ])('hashMod(%j, %d) = %d', (value, modulus, expected) => {
    expect(hashMod(value, modulus)).toBe(expected);
  });

  // Expected values from Go 1.19's strings.ToLower / strings.ToUpper.
  it.each([
    ['İ', 'i', 'İ'],
    ['ß', 'ß', 'ß'],
    ['ΑΣ', 'ασ', 'ΑΣ'],
    ['ᾳ', 'ᾳ', 'ᾼ'],
    ['ŉ', 'ŉ', 'ŉ'],
    ['K', 'k', 'K'],
    ['ǅ', 'ǆ', 'Ǆ'],
    ['Hello, Wörld', 'hello, wörld', 'HELLO, WÖRLD'],
  ])('Go case mapping of %j', (input, lower, upper) => {
    expect(goToLower(input)).toBe(lower);
    expect(goToUpper(input)).toBe(upper);
  });
});
