import { describe, expect, it } from 'vitest';
import { substituteTemplateVariables } from './grafana-template.js';

describe('substituteTemplateVariables', () => {
  const cases: [string, string][] = [
    ['rate(x[$__rate_interval])', 'rate(x[5m])'],
    ['rate(x[5m:$__interval])', 'rate(x[5m:5m])'],
    ['x offset $__range', 'x offset 5m'],
    ['sum(increase(x[1h])) / $__range_s', 'sum(increase(x[1h])) / 60'],
    [
      'sum by ($group) ($metric{job="$job"})',
      'sum by (__grafana_var_0__) (__grafana_var_1__{job="$job"})',
    ],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
    ['sum by ([[group]], ${other:raw}) (x)', 'sum by (__grafana_var_0__, __grafana_var_1__) (x)'],
    ['x{path="a\\"$b"} + y{v=`$c`}', 'x{path="a\\"$b"} + y{v=`$c`}'],
    [
      'sum by ($g) (a) / sum by ($g) (b)',
      'sum by (__grafana_var_0__) (a) / sum by (__grafana_var_0__) (b)',
    ],
  ];
  for (const [query, expected] of cases) {
    it(query, () => expect(substituteTemplateVariables(query).text).toBe(expected));
  }

  it('lists each variable once, including those in strings, and restores placeholders', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
    const templated = substituteTemplateVariables('sum by ($g) (x{a="$v"}[$__range]) + ${g}');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
    expect(templated.variables).toEqual(['$g', '$v', '$__range', '${g}']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
    expect(templated.restore('__grafana_var_0__ and __grafana_var_1__')).toBe('$g and ${g}');
  });

  it('maps offsets in the substituted text back to the query as written', () => {
    const query = 'rate(x[$__rate_interval]) + $other';
    const templated = substituteTemplateVariables(query);
    expect(templated.text).toBe('rate(x[5m]) + __grafana_var_0__');
    expect(templated.originalOffset(0)).toBe(0);
    expect(templated.originalOffset(7)).toBe(query.indexOf('$__rate'));
    expect(templated.originalOffset(8)).toBe(query.indexOf('$__rate'));
    expect(templated.originalOffset(9)).toBe(query.indexOf(']'));
    expect(templated.originalOffset(10)).toBe(query.indexOf(')'));
    expect(templated.originalOffset(templated.text.length)).toBe(query.length);
  });
});
