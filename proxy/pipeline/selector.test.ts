import { describe, expect, it } from 'vitest';
import { parseSeriesSelector, SelectorSyntaxError, selectorMatches } from './selector.js';

const labels = (record: Record<string, string>) => new Map(Object.entries(record));

describe('parseSeriesSelector', () => {
  const cases: { selector: string; series: Record<string, string>; selected: boolean }[] = [
    {
      selector: 'http_requests_total',
      series: { __name__: 'http_requests_total' },
      selected: true,
    },
    { selector: 'http_requests_total', series: { __name__: 'http_requests' }, selected: false },
    {
      selector: '{__name__=~"http_.*",job="api"}',
      series: { __name__: 'http_x', job: 'api' },
      selected: true,
    },
    {
      selector: '{__name__=~"http_.*",job="api"}',
      series: { __name__: 'http_x', job: 'web' },
      selected: false,
    },
    // Regexes are anchored, as in PromQL.
    { selector: '{__name__=~"http"}', series: { __name__: 'http_x' }, selected: false },
    { selector: 'up{job!="api"}', series: { __name__: 'up' }, selected: true },
    { selector: 'up{job!~"a.*"}', series: { __name__: 'up', job: 'web' }, selected: true },
    { selector: "up{job='api'}", series: { __name__: 'up', job: 'api' }, selected: true },
    { selector: 'up{path="a\\"b"}', series: { __name__: 'up', path: 'a"b' }, selected: true },
    { selector: ' up { job = "api" , } ', series: { __name__: 'up', job: 'api' }, selected: true },
  ];
  for (const { selector, series, selected } of cases) {
    it(`${selector} ${selected ? 'selects' : 'does not select'} ${JSON.stringify(series)}`, () => {
      expect(selectorMatches(parseSeriesSelector(selector), labels(series))).toBe(selected);
    });
  }

  const invalid: { selector: string; reason: RegExp }[] = [
    { selector: '', reason: /empty selector/ },
    { selector: '{}', reason: /empty selector/ },
    { selector: '{job=~".*"}', reason: /does not match the empty string/ },
    { selector: '{job="api"', reason: /expected "," or "}"/ },
    { selector: '{job=api}', reason: /expected a quoted string/ },
    { selector: '{job=~"("}', reason: /invalid regex/ },
    { selector: 'up[5m]', reason: /unexpected text/ },
    { selector: '{1job="x"}', reason: /expected a label name/ },
  ];
  for (const { selector, reason } of invalid) {
    it(`refuses ${JSON.stringify(selector)}`, () => {
      expect(() => parseSeriesSelector(selector)).toThrow(SelectorSyntaxError);
      expect(() => parseSeriesSelector(selector)).toThrow(reason);
    });
  }
});
