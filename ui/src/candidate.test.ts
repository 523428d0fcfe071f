import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { withLabelDrop } from './candidate.js';

describe('withLabelDrop', () => {
  it('appends a labeldrop to the existing rules and keeps comments', () => {
    const active = [
      '# owned by the platform team',
      'relabel_configs:',
      '  - source_labels: [__name__]',
      '    regex: go_gc_.*',
      '    action: drop',
      '',
    ].join('\n');
    const candidate = withLabelDrop(active, 'pod');
    expect(candidate).toContain('# owned by the platform team');
    expect(candidate).toContain('source_labels: [__name__]');
    expect(parse(candidate)).toEqual({
      relabel_configs: [
        { source_labels: ['__name__'], regex: 'go_gc_.*', action: 'drop' },
        { action: 'labeldrop', regex: 'pod' },
      ],
    });
  });

  it('adds relabel_configs to a config that has none, keeping its aggregations', () => {
    const candidate = withLabelDrop(
      'aggregations:\n  - match: up\n    interval: 1m\n    outputs: [count_series]\n',
      'instance',
    );
    expect(parse(candidate)).toMatchObject({
      aggregations: [{ match: 'up' }],
      relabel_configs: [{ action: 'labeldrop', regex: 'instance' }],
    });
  });

  it('starts a config from nothing, and from an empty rule list', () => {
    expect(parse(withLabelDrop('', 'pod'))).toEqual({
      relabel_configs: [{ action: 'labeldrop', regex: 'pod' }],
    });
    expect(parse(withLabelDrop('relabel_configs: []\n', 'pod'))).toEqual({
      relabel_configs: [{ action: 'labeldrop', regex: 'pod' }],
    });
  });

  it('refuses YAML that does not parse', () => {
    expect(() => withLabelDrop('relabel_configs: [', 'pod')).toThrow(/does not parse/);
  });
});
