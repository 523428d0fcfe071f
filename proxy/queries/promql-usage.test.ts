import { describe, expect, it } from 'vitest';
import { describeNeed } from './label-need.js';
import { analyzeQuery, type QueryUsage } from './promql-usage.js';

function parsed(query: string): QueryUsage {
  const usage = analyzeQuery(query);
  if (!usage.ok) throw new Error(`${query}: ${usage.error}`);
  return usage;
}

/** One selector's summary: name, matchers, needs, reducer and what is applied before it. */
function summary(query: string): string[] {
  return parsed(query).selectors.map((selector) => {
    const matchers = selector.labelMatchers
      .map(
        (matcher) =>
          `${matcher.name}${matcher.op}${matcher.value}${matcher.templated ? '(var)' : ''}`,
      )
      .join(',');
    const reducer = selector.reducer?.op ?? '-';
    return `${selector.metricName ?? '?'}{${matchers}} needs=${describeNeed(selector.needs)} reducer=${reducer} applied=${selector.applied.join('>') || '-'}`;
  });
}

describe('analyzeQuery: what each selector needs', () => {
  const cases: [string, string[]][] = [
    ['up', ['up{} needs=all labels reducer=- applied=-']],
    [
      'sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))',
      ['http_requests_total{code=~5..} needs=job reducer=sum applied=rate'],
    ],
    [
      'sum(x) without (pod, instance)',
      ['x{} needs=all labels except instance, pod reducer=sum applied=-'],
    ],
    ['count(x)', ['x{} needs=no labels reducer=count applied=-']],
    ['topk(3, x) by (job)', ['x{} needs=all labels reducer=topk applied=-']],
    [
      'count_values("version", build_info)',
      ['build_info{} needs=no labels reducer=count_values applied=-'],
    ],
    ['quantile(0.9, x) by (job)', ['x{} needs=job reducer=quantile applied=-']],
    [
      'histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))',
      ['h_bucket{} needs=le reducer=sum applied=rate'],
    ],
    [
      'histogram_quantile(0.99, rate(h_bucket[5m]))',
      ['h_bucket{} needs=all labels reducer=- applied=rate>histogram_quantile'],
    ],
    ['absent(up{job="api"})', ['up{job=api} needs=no labels reducer=absent applied=-']],
    [
      'scalar(a) * b',
      ['a{} needs=no labels reducer=scalar applied=-', 'b{} needs=all labels reducer=- applied=*'],
    ],
    [
      'a / on(job) group_left(team) b',
      ['a{} needs=all labels reducer=- applied=/', 'b{} needs=job, team reducer=- applied=/'],
    ],
    ['a * on(job) b', ['a{} needs=job reducer=- applied=*', 'b{} needs=job reducer=- applied=*']],
    [
      'a + ignoring(pod) b',
      [
        'a{} needs=all labels except pod reducer=- applied=+',
        'b{} needs=all labels except pod reducer=- applied=+',
      ],
    ],
    [
      'sum by (job) (a and on(instance) b)',
      [
        'a{} needs=instance, job reducer=sum applied=and',
        'b{} needs=instance reducer=sum applied=and',
      ],
    ],
    ['count(up == 1) by (ns)', ['up{} needs=ns reducer=count applied=filter ==']],
    ['count(up == bool 1) by (ns)', ['up{} needs=ns reducer=count applied===']],
    [
      'sum by (team) (label_replace(x, "team", "$1", "namespace", "team-(.*)"))',
      ['x{} needs=namespace, team reducer=sum applied=label_replace'],
    ],
    ['label_join(x, "dst", "-", "a", "b")', ['x{} needs=all labels reducer=- applied=label_join']],
    [
      '{__name__="m", "dotted.label"="v"}',
      ['m{dotted.label=v} needs=all labels reducer=- applied=-'],
    ],
    ['{"utf8.metric"}', ['utf8.metric{} needs=all labels reducer=- applied=-']],
    [
      'max_over_time(x[10m:1m] offset 5m) @ end()',
      ['x{} needs=all labels reducer=- applied=max_over_time'],
    ],
    [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      'sum by (pod) (rate(x{pod=~"$pod", ns="${ns}"}[$__rate_interval]))',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      ['x{pod=~$pod(var),ns=${ns}(var)} needs=pod reducer=sum applied=rate'],
    ],
    ['sum by ([[group]]) (x)', ['x{} needs=[[group]] reducer=sum applied=-']],
  ];
  for (const [query, expected] of cases) {
    it(query, () => {
      expect(summary(query)).toEqual(expected);
    });
  }
});

describe('analyzeQuery: aggregations, vector matching and label functions', () => {
  it('records which selectors feed which aggregation', () => {
    const usage = parsed('sum by (job) (rate(a[5m])) / count without (pod) (b) + max(c)');
    expect(usage.aggregations).toEqual([
      { op: 'sum', by: ['job'], without: undefined, selectors: [0] },
      { op: 'count', by: undefined, without: ['pod'], selectors: [1] },
      { op: 'max', by: undefined, without: undefined, selectors: [2] },
    ]);
    expect(usage.selectors.map((selector) => selector.range)).toEqual([true, false, false]);
    expect(usage.selectors[0]!.text).toBe('a[5m]');
  });

  it('nests aggregations: every enclosing one lists the selector', () => {
    const usage = parsed('max(sum by (job) (x))');
    expect(usage.aggregations.map((aggregation) => aggregation.selectors)).toEqual([[0], [0]]);
    expect(usage.selectors[0]!.reducer?.op).toBe('sum');
  });

  it('records count_values output label, matching clauses and label_replace', () => {
    const usage = parsed(
      'count_values("v", label_replace(a, "d", "$1", "s", "(.*)")) + on(x) group_right(y, z) b',
    );
    expect(usage.aggregations[0]).toMatchObject({ op: 'count_values', outputLabel: 'v' });
    expect(usage.vectorMatching).toEqual([
      { op: '+', on: ['x'], ignoring: undefined, group: 'right', include: ['y', 'z'] },
    ]);
    expect(usage.labelFunctions).toEqual([
      { function: 'label_replace', destination: 'd', sources: ['s'] },
    ]);
  });

  it('substitutes Grafana variables and keeps the selector text as written', () => {
    const usage = parsed(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      'sum(increase(x{job="$job"}[$__range])) / $__range_s + rate(y[${__interval}] offset $__interval)',
    );
    expect(usage.templateVariables).toEqual([
      '$job',
      '$__range',
      '$__range_s',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      '${__interval}',
      '$__interval',
    ]);
    expect(usage.selectors.map((selector) => selector.text)).toEqual([
      'x{job="$job"}[$__range]',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      'y[${__interval}]',
    ]);
  });

  it('marks a templated metric name', () => {
    const usage = parsed('rate($metric{job="a"}[5m])');
    expect(usage.selectors[0]).toMatchObject({ metricName: undefined, templatedName: true });
    expect(usage.selectors[0]!.nameMatchers[0]!.value).toBe('$metric');
  });

  it('unquotes string escapes in matcher values', () => {
    const usage = parsed(`${String.raw`x{path="/a\"b\\c", raw=`}\`a\\d\`}`);
    expect(usage.selectors[0]!.labelMatchers.map((matcher) => matcher.value)).toEqual([
      '/a"b\\c',
      'a\\d',
    ]);
  });
});

describe('analyzeQuery: queries that do not parse', () => {
  const cases: [string, string][] = [
    ['foo(bar)', 'unexpected "(" at line 1, column 4'],
    ['sum(rate(x[5m])', 'unexpected end of query at line 1, column 16'],
    ['sum by (job) (\n  rate(x[5m]) +\n)', 'unexpected ")" at line 3, column 1'],
    ['rate(x[$__rate_interval]) +* 2', 'unexpected "*" at line 1, column 28'],
    ['', 'unexpected end of query at line 1, column 1'],
  ];
  for (const [query, error] of cases) {
    it(JSON.stringify(query), () => {
      const result = analyzeQuery(query);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toBe(error);
    });
  }
});
