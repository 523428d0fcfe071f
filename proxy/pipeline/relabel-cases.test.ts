import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { compilePipeline } from './compile.js';
import type { RelabelRule } from './config.js';
import type { CompiledPipeline } from './contracts.js';
import { parsePipelineConfig } from './load.js';
import { relabelCases } from './relabel-cases.js';
import {
  OP_HASHMOD,
  OP_LABELMAP,
  OP_LOWERCASE,
  OP_MATCH,
  OP_REPLACE,
  OP_UPPERCASE,
} from './wasm-abi.js';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

describe('relabel case table is well-formed', () => {
  it('has a useful number of uniquely named cases', () => {
    expect(relabelCases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(relabelCases.map((relabelCase) => relabelCase.name)).size).toBe(
      relabelCases.length,
    );
  });

  it('covers every action', () => {
    const actions = new Set(
      relabelCases.flatMap((relabelCase) =>
        parseRules(relabelCase.rules).map((rule) => rule.action),
      ),
    );
    expect([...actions].sort()).toEqual(
      [
        'drop',
        'dropequal',
        'hashmod',
        'keep',
        'keepequal',
        'labeldrop',
        'labelkeep',
        'labelmap',
        'lowercase',
        'replace',
        'uppercase',
      ].sort(),
    );
  });

  it.each(relabelCases.map((relabelCase) => [relabelCase.name, relabelCase] as const))(
    '%s',
    (_name, relabelCase) => {
      // The rules load through the same YAML path a user's config takes.
      expect(parseRules(relabelCase.rules)).toHaveLength(relabelCase.rules.length);
      expect(relabelCase.input['__name__']).toMatch(METRIC_NAME);
      for (const [name, value] of Object.entries(relabelCase.input)) {
        expect(name).toMatch(LABEL_NAME);
        expect(value).not.toBe('');
      }
      if (relabelCase.output !== null) {
        expect(Object.keys(relabelCase.output).length).toBeGreaterThan(0);
        for (const [name, value] of Object.entries(relabelCase.output)) {
          expect(name).toMatch(LABEL_NAME);
          expect(value).not.toBe('');
        }
      }
    },
  );
});

/**
 * Runs each case through the compiled pipeline's host functions, applying them the way
 * Prometheus 2.42's `relabel.Process` does. This checks the table and `compile.ts` against
 * each other; the WebAssembly engine's own test runs the same table through the module.
 */
describe('relabel case table through compilePipeline', () => {
  it.each(relabelCases.map((relabelCase) => [relabelCase.name, relabelCase] as const))(
    '%s',
    (_name, relabelCase) => {
      const rules = parseRules(relabelCase.rules);
      const compiled = compilePipeline({ relabelConfigs: rules });
      const output = processLikePrometheus(rules, compiled, relabelCase.input);
      expect(output === null ? null : sorted(output)).toEqual(
        relabelCase.output === null ? null : sorted(relabelCase.output),
      );
    },
  );
});

function parseRules(rules: readonly object[]): readonly RelabelRule[] {
  return parsePipelineConfig(stringify({ relabel_configs: rules }), 'relabel-cases.yaml')
    .relabelConfigs;
}

function sorted(labels: Record<string, string>): [string, string][] {
  return Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function processLikePrometheus(
  rules: readonly RelabelRule[],
  compiled: CompiledPipeline,
  input: Record<string, string>,
): Record<string, string> | null {
  const labels = new Map(Object.entries(input));
  // labels.Builder.Set with an empty value deletes.
  const set = (name: string, value: string): void => {
    if (value === '') labels.delete(name);
    else labels.set(name, value);
  };
  for (const [index, rule] of rules.entries()) {
    const value = rule.sourceLabels.map((name) => labels.get(name) ?? '').join(rule.separator);
    const matches = (text: string): boolean => compiled.evaluate(OP_MATCH, index, text) !== null;
    switch (rule.action) {
      case 'drop':
        if (matches(value)) return null;
        break;
      case 'keep':
        if (!matches(value)) return null;
        break;
      case 'keepequal':
        if ((labels.get(rule.targetLabel) ?? '') !== value) return null;
        break;
      case 'dropequal':
        if ((labels.get(rule.targetLabel) ?? '') === value) return null;
        break;
      case 'replace': {
        const answer = compiled.evaluate(OP_REPLACE, index, value);
        if (answer === null) break;
        const [target = '', replacement = ''] = answer.split('\0');
        // 2.42 deletes the literal target_label for an invalid target or an empty value.
        if (target === '' || replacement === '') labels.delete(rule.targetLabel);
        else labels.set(target, replacement);
        break;
      }
      case 'hashmod':
        set(rule.targetLabel, compiled.evaluate(OP_HASHMOD, index, value) ?? '');
        break;
      case 'lowercase':
        set(rule.targetLabel, compiled.evaluate(OP_LOWERCASE, index, value) ?? '');
        break;
      case 'uppercase':
        set(rule.targetLabel, compiled.evaluate(OP_UPPERCASE, index, value) ?? '');
        break;
      case 'labelmap':
        for (const [name, labelValue] of [...labels]) {
          const newName = compiled.evaluate(OP_LABELMAP, index, name);
          if (newName !== null) set(newName, labelValue);
        }
        break;
      case 'labeldrop':
        for (const name of [...labels.keys()]) if (matches(name)) labels.delete(name);
        break;
      case 'labelkeep':
        for (const name of [...labels.keys()]) if (!matches(name)) labels.delete(name);
        break;
    }
  }
  return labels.size === 0 ? null : Object.fromEntries(labels);
}
