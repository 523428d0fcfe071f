// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${1}` is template syntax here.
import { describe, expect, it } from 'vitest';
import { expandTemplate } from './expand.js';

/**
 * The match used by every case: groups 0..3 of `(?P<first>a)(b)(?P<x>c)?` style input;
 * group 3 (named `x`) did not take part. Expected values follow Go's `Regexp.Expand`
 * (checked against Go 1.19).
 */
const groups = ['ab', 'a', 'b', undefined];
const names = ['', 'first', '', 'x'];

const cases: [string, string][] = [
  ['', ''],
  ['plain', 'plain'],
  ['$1', 'a'],
  ['${1}', 'a'],
  ['$0', 'ab'],
  ['$2$1', 'ba'],
  ['$1x', ''],
  ['${1}x', 'ax'],
  ['$first', 'a'],
  ['${first}-', 'a-'],
  ['$first_', ''],
  ['$x', ''],
  ['$3', ''],
  ['$9', ''],
  ['$01', ''],
  ['${01}', ''],
  ['$$', '$'],
  ['$$1', '$1'],
  ['$$$1', '$a'],
  ['$', '$'],
  ['a$', 'a$'],
  ['$-', '$-'],
  ['${', '${'],
  ['${}', '${}'],
  ['${1', '${1'],
  ['${1 }', '${1 }'],
  ['$é', ''],
  ['$1é', ''],
  ['$1-$2', 'a-b'],
  ['$100000000', ''],
  ['ch${1}-ch${1}', 'cha-cha'],
];

describe('expandTemplate', () => {
  it.each(cases)('%j expands to %j', (template, expected) => {
    expect(expandTemplate(template, groups, names)).toBe(expected);
  });

  it('takes the first group of a repeated name that took part in the match', () => {
    expect(expandTemplate('$n', ['xy', undefined, 'y'], ['', 'n', 'n'])).toBe('y');
    expect(expandTemplate('$n', ['xy', 'x', 'y'], ['', 'n', 'n'])).toBe('x');
  });
});
