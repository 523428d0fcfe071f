/**
 * A shared table of relabel cases: rules in `relabel_config` YAML shape, an input series and
 * what Prometheus 2.42 makes of it (`null` when it drops the series). The WebAssembly engine
 * test runs each case through the module; the end-to-end test runs each through a real
 * Prometheus 2.42 `write_relabel_configs` and through `phoenix proxy`.
 *
 * Every input is a valid Prometheus series (a valid `__name__`, valid label names, no empty
 * values), so a scrape can carry it. Expected values come from Prometheus' documentation and
 * its `model/relabel/relabel_test.go`; hashmod values were computed independently (MD5 with
 * Python's hashlib) and agree with the two values in Prometheus' own test table.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${1}` is relabel template syntax.
import type { RelabelConfig } from './config.js';

export interface RelabelCase {
  readonly name: string;
  readonly rules: RelabelConfig[];
  readonly input: Record<string, string>;
  /** The labels after relabelling, or `null` when the series is dropped. */
  readonly output: Record<string, string> | null;
}

const api = { __name__: 'http_requests_total', job: 'api', instance: 'host-1:8080' };

export const relabelCases: RelabelCase[] = [
  // keep / drop
  {
    name: 'drop: metric name matches',
    rules: [{ source_labels: ['__name__'], regex: 'go_.*', action: 'drop' }],
    input: { __name__: 'go_goroutines', job: 'node' },
    output: null,
  },
  {
    name: 'drop: metric name does not match',
    rules: [{ source_labels: ['__name__'], regex: 'go_.*', action: 'drop' }],
    input: api,
    output: api,
  },
  {
    name: 'drop: action name is case-insensitive',
    rules: [{ source_labels: ['job'], regex: 'api', action: 'Drop' }],
    input: api,
    output: null,
  },
  {
    name: 'keep: value matches an alternative',
    rules: [{ source_labels: ['job'], regex: 'api|web', action: 'keep' }],
    input: api,
    output: api,
  },
  {
    name: 'keep: value does not match',
    rules: [{ source_labels: ['job'], regex: 'api|web', action: 'keep' }],
    input: { ...api, job: 'db' },
    output: null,
  },
  {
    name: 'keep: regex is anchored at both ends',
    rules: [{ source_labels: ['job'], regex: 'api', action: 'keep' }],
    input: { ...api, job: 'api-gateway' },
    output: null,
  },
  {
    name: 'keep: alternation is anchored as a whole',
    rules: [{ source_labels: ['job'], regex: 'a|b', action: 'keep' }],
    input: { ...api, job: 'ab' },
    output: null,
  },
  {
    name: 'keep: a missing source label is the empty string',
    rules: [{ source_labels: ['team'], regex: '', action: 'keep' }],
    input: api,
    output: api,
  },
  {
    name: 'keep: a missing source label does not match .+',
    rules: [{ source_labels: ['team'], regex: '.+', action: 'keep' }],
    input: api,
    output: null,
  },
  {
    name: 'keep: several source labels joined with ;',
    rules: [{ source_labels: ['job', 'instance'], regex: 'api;host-1:.*', action: 'keep' }],
    input: api,
    output: api,
  },
  {
    name: 'keep: dot does not match a newline in 2.42',
    rules: [{ source_labels: ['msg'], regex: 'foo.*', action: 'keep' }],
    input: { __name__: 'events_total', msg: 'foo\nbar' },
    output: null,
  },
  {
    name: 'drop: case-insensitive regex with (?i)',
    rules: [{ source_labels: ['level'], regex: '(?i)debug', action: 'drop' }],
    input: { __name__: 'log_lines_total', level: 'DEBUG' },
    output: null,
  },
  {
    name: 'keep: case-insensitive group (?i:...) matches',
    rules: [{ source_labels: ['region'], regex: 'prod-(?i:EU)-.*', action: 'keep' }],
    input: { __name__: 'up', region: 'prod-eu-1' },
    output: { __name__: 'up', region: 'prod-eu-1' },
  },
  {
    name: 'keep: case-insensitive group leaves the rest case-sensitive',
    rules: [{ source_labels: ['region'], regex: 'prod-(?i:EU)-.*', action: 'keep' }],
    input: { __name__: 'up', region: 'PROD-eu-1' },
    output: null,
  },
  {
    name: 'keep: Unicode script class',
    rules: [{ source_labels: ['word'], regex: '\\p{Greek}+', action: 'keep' }],
    input: { __name__: 'words_total', word: 'αβγ' },
    output: { __name__: 'words_total', word: 'αβγ' },
  },
  {
    name: 'drop: rules after a drop do not run',
    rules: [
      { source_labels: ['a'], regex: '.*o.*', action: 'drop' },
      { source_labels: ['a'], regex: 'f(.*)', target_label: 'd', replacement: 'ch$1-ch$1' },
    ],
    input: { __name__: 'm', a: 'foo' },
    output: null,
  },
  // replace
  {
    name: 'replace: defaults copy a label',
    rules: [{ source_labels: ['instance'], target_label: 'host' }],
    input: api,
    output: { ...api, host: 'host-1:8080' },
  },
  {
    name: 'replace: custom separator',
    rules: [{ source_labels: ['job', 'env'], separator: '/', target_label: 'path' }],
    input: { ...api, env: 'prod' },
    output: { ...api, env: 'prod', path: 'api/prod' },
  },
  {
    name: 'replace: missing labels join as empty strings',
    rules: [{ source_labels: ['job', 'zone', 'env'], target_label: 'joined' }],
    input: { ...api, env: 'prod' },
    output: { ...api, env: 'prod', joined: 'api;;prod' },
  },
  {
    name: 'replace: capture group used twice',
    rules: [
      { source_labels: ['a'], regex: 'f(.*)', target_label: 'd', replacement: 'ch${1}-ch${1}' },
    ],
    input: { __name__: 'm', a: 'foo', b: 'bar', c: 'baz' },
    output: { __name__: 'm', a: 'foo', b: 'bar', c: 'baz', d: 'choo-choo' },
  },
  {
    name: 'replace: a later rule reads what an earlier one set',
    rules: [
      {
        source_labels: ['a', 'b'],
        regex: 'f(.*);(.*)r',
        target_label: 'a',
        replacement: 'b${1}${2}m',
      },
      {
        source_labels: ['c', 'a'],
        regex: '(b).*b(.*)ba(.*)',
        target_label: 'd',
        replacement: '$1$2$2$3',
      },
    ],
    input: { __name__: 'm', a: 'foo', b: 'bar', c: 'baz' },
    output: { __name__: 'm', a: 'boobam', b: 'bar', c: 'baz', d: 'boooom' },
  },
  {
    name: 'replace: no match leaves the series alone',
    rules: [{ source_labels: ['a'], regex: 'f', target_label: 'b', replacement: 'bar' }],
    input: { __name__: 'm', a: 'boo' },
    output: { __name__: 'm', a: 'boo' },
  },
  {
    name: 'replace: regex must match the whole value',
    rules: [{ source_labels: ['a'], regex: 'foo', target_label: 'x', replacement: 'y' }],
    input: { __name__: 'm', a: 'foobar' },
    output: { __name__: 'm', a: 'foobar' },
  },
  {
    name: 'replace: strip the port from instance',
    rules: [
      {
        source_labels: ['instance'],
        regex: '([^:]+):.+',
        target_label: 'instance',
        replacement: '$1',
      },
    ],
    input: api,
    output: { ...api, instance: 'host-1' },
  },
  {
    name: 'replace: static label without source labels',
    rules: [{ target_label: 'env', replacement: 'prod' }],
    input: api,
    output: { ...api, env: 'prod' },
  },
  {
    name: 'replace: static label overwrites an existing one',
    rules: [{ target_label: 'env', replacement: 'prod' }],
    input: { ...api, env: 'staging' },
    output: { ...api, env: 'prod' },
  },
  {
    name: 'replace: empty replacement deletes the target label',
    rules: [{ source_labels: ['pod'], regex: '.*', target_label: 'pod', replacement: '' }],
    input: { ...api, pod: 'web-1' },
    output: api,
  },
  {
    name: 'replace: named groups by $name and ${name}',
    rules: [
      {
        source_labels: ['instance'],
        regex: '(?P<host>[^:]+):(?P<port>\\d+)',
        target_label: 'endpoint',
        replacement: '${port}@$host',
      },
    ],
    input: api,
    output: { ...api, endpoint: '8080@host-1' },
  },
  {
    name: 'replace: $1x names group "1x", which is empty, so the target is deleted',
    rules: [{ source_labels: ['a'], target_label: 'b', replacement: '$1x' }],
    input: { __name__: 'm', a: 'val', b: 'old' },
    output: { __name__: 'm', a: 'val' },
  },
  {
    name: 'replace: ${1}x is group 1 followed by x',
    rules: [{ source_labels: ['a'], target_label: 'b', replacement: '${1}x' }],
    input: { __name__: 'm', a: 'val' },
    output: { __name__: 'm', a: 'val', b: 'valx' },
  },
  {
    name: 'replace: $$ is a literal dollar',
    rules: [{ source_labels: ['a'], target_label: 'price', replacement: '$$$1' }],
    input: { __name__: 'm', a: '5' },
    output: { __name__: 'm', a: '5', price: '$5' },
  },
  {
    name: 'replace: a group that does not exist expands to nothing',
    rules: [{ source_labels: ['a'], target_label: 'b', replacement: 'v$2' }],
    input: { __name__: 'm', a: 'x' },
    output: { __name__: 'm', a: 'x', b: 'v' },
  },
  {
    name: 'replace: $0 is the whole match',
    rules: [{ source_labels: ['a'], regex: 'a(b)c', target_label: 'b', replacement: '$0-$1' }],
    input: { __name__: 'm', a: 'abc' },
    output: { __name__: 'm', a: 'abc', b: 'abc-b' },
  },
  {
    name: 'replace: non-greedy group',
    rules: [{ source_labels: ['a'], regex: '(.*?)-(.*)', target_label: 'b', replacement: '$1|$2' }],
    input: { __name__: 'm', a: 'x-y-z' },
    output: { __name__: 'm', a: 'x-y-z', b: 'x|y-z' },
  },
  {
    name: 'replace: POSIX classes in brackets',
    rules: [
      {
        source_labels: ['a'],
        regex: '([[:alpha:]]+)[[:digit:]]+',
        target_label: 'b',
        replacement: '$1',
      },
    ],
    input: { __name__: 'm', a: 'abc123' },
    output: { __name__: 'm', a: 'abc123', b: 'abc' },
  },
  {
    name: 'replace: rename the metric',
    rules: [
      {
        source_labels: ['__name__'],
        regex: '(.+)_total',
        target_label: '__name__',
        replacement: '${1}_count',
      },
    ],
    input: api,
    output: { ...api, __name__: 'http_requests_count' },
  },
  {
    name: 'replace: target_label with $ references',
    rules: [
      {
        source_labels: ['a'],
        regex: 'some-([^-]+)-([^,]+)',
        target_label: '${1}',
        replacement: '${2}',
      },
    ],
    input: { __name__: 'm', a: 'some-name-value' },
    output: { __name__: 'm', a: 'some-name-value', name: 'value' },
  },
  {
    name: 'replace: target_label expanding to an invalid name changes nothing',
    rules: [
      { source_labels: ['a'], regex: '([^-]+)-(.*)', target_label: '${1}', replacement: '$2' },
    ],
    input: { __name__: 'm', a: '0bad-x' },
    output: { __name__: 'm', a: '0bad-x' },
  },
  {
    name: 'replace: 2.42 deletes the literal target_label when the value is empty',
    rules: [
      {
        source_labels: ['a'],
        regex: 'some-([^-]+)-(.*)',
        target_label: '${1}',
        replacement: '${2}',
      },
    ],
    input: { __name__: 'm', a: 'some-env-', env: 'prod' },
    output: { __name__: 'm', a: 'some-env-', env: 'prod' },
  },
  // labelmap / labeldrop / labelkeep
  {
    name: 'labelmap: copy with a prefix',
    rules: [{ regex: '(b.*)', replacement: 'bar_${1}', action: 'labelmap' }],
    input: { __name__: 'm', a: 'foo', b1: 'bar', b2: 'baz' },
    output: { __name__: 'm', a: 'foo', b1: 'bar', b2: 'baz', bar_b1: 'bar', bar_b2: 'baz' },
  },
  {
    name: 'labelmap: strip a prefix with the default replacement',
    rules: [{ regex: 'k8s_label_(.+)', action: 'labelmap' }],
    input: { __name__: 'up', k8s_label_app: 'web', k8s_label_tier: 'front', job: 'k8s' },
    output: {
      __name__: 'up',
      k8s_label_app: 'web',
      k8s_label_tier: 'front',
      job: 'k8s',
      app: 'web',
      tier: 'front',
    },
  },
  {
    name: 'labelmap: overwrites an existing label',
    rules: [{ regex: 'new_(.+)', action: 'labelmap' }],
    input: { __name__: 'm', env: 'a', new_env: 'b' },
    output: { __name__: 'm', env: 'b', new_env: 'b' },
  },
  {
    name: 'labelmap then labeldrop renames labels',
    rules: [
      { regex: 'old_(.+)', replacement: 'new_$1', action: 'labelmap' },
      { regex: 'old_.+', action: 'labeldrop' },
    ],
    input: { __name__: 'm', old_a: '1', old_b: '2', c: '3' },
    output: { __name__: 'm', new_a: '1', new_b: '2', c: '3' },
  },
  {
    name: 'labeldrop: drops every matching label',
    rules: [{ regex: 'pod|container', action: 'labeldrop' }],
    input: { ...api, pod: 'web-1', container: 'app' },
    output: api,
  },
  {
    name: 'labeldrop: regex is anchored',
    rules: [{ regex: 'pod', action: 'labeldrop' }],
    input: { ...api, pod_name: 'web-1' },
    output: { ...api, pod_name: 'web-1' },
  },
  {
    name: 'labeldrop: dropping every label drops the series',
    rules: [{ regex: '.*', action: 'labeldrop' }],
    input: api,
    output: null,
  },
  {
    name: 'labelkeep: keeps only matching labels',
    rules: [{ regex: '__name__|job', action: 'labelkeep' }],
    input: { ...api, pod: 'web-1' },
    output: { __name__: 'http_requests_total', job: 'api' },
  },
  {
    name: 'labelkeep: may remove the metric name',
    rules: [{ regex: '(b.*)', action: 'labelkeep' }],
    input: { __name__: 'm', a: 'foo', b1: 'bar', b2: 'baz' },
    output: { b1: 'bar', b2: 'baz' },
  },
  // hashmod
  {
    name: 'hashmod: value from Prometheus test table (baz % 1000)',
    rules: [{ source_labels: ['c'], target_label: 'd', modulus: 1000, action: 'hashmod' }],
    input: { __name__: 'm', a: 'foo', b: 'bar', c: 'baz' },
    output: { __name__: 'm', a: 'foo', b: 'bar', c: 'baz', d: '976' },
  },
  {
    name: 'hashmod: value with a newline (Prometheus test table)',
    rules: [{ source_labels: ['a'], target_label: 'b', modulus: 1000, action: 'hashmod' }],
    input: { __name__: 'm', a: 'foo\nbar' },
    output: { __name__: 'm', a: 'foo\nbar', b: '734' },
  },
  {
    name: 'hashmod: several source labels are joined first',
    rules: [
      { source_labels: ['job', 'env'], target_label: 'shard', modulus: 16, action: 'hashmod' },
    ],
    input: { __name__: 'm', job: 'api', env: 'prod' },
    output: { __name__: 'm', job: 'api', env: 'prod', shard: '1' },
  },
  {
    name: 'hashmod then keep: series in the shard is kept',
    rules: [
      { source_labels: ['instance'], target_label: 'shard', modulus: 4, action: 'hashmod' },
      { source_labels: ['shard'], regex: '2', action: 'keep' },
    ],
    input: { __name__: 'up', instance: 'node-2:9100' },
    output: { __name__: 'up', instance: 'node-2:9100', shard: '2' },
  },
  {
    name: 'hashmod then keep: series in another shard is dropped',
    rules: [
      { source_labels: ['instance'], target_label: 'shard', modulus: 4, action: 'hashmod' },
      { source_labels: ['shard'], regex: '2', action: 'keep' },
    ],
    input: { __name__: 'up', instance: 'node-1:9100' },
    output: null,
  },
  // keepequal / dropequal
  {
    name: 'keepequal: equal values keep the series',
    rules: [{ source_labels: ['tmp_port'], target_label: 'port1', action: 'keepequal' }],
    input: { __name__: 'm', tmp_port: '1234', port1: '1234', port2: '5678' },
    output: { __name__: 'm', tmp_port: '1234', port1: '1234', port2: '5678' },
  },
  {
    name: 'keepequal: different values drop the series',
    rules: [{ source_labels: ['tmp_port'], target_label: 'port2', action: 'keepequal' }],
    input: { __name__: 'm', tmp_port: '1234', port1: '1234', port2: '5678' },
    output: null,
  },
  {
    name: 'keepequal: two missing labels are equal',
    rules: [{ source_labels: ['x'], target_label: 'y', action: 'keepequal' }],
    input: api,
    output: api,
  },
  {
    name: 'dropequal: equal values drop the series',
    rules: [{ source_labels: ['tmp_port'], target_label: 'port1', action: 'dropequal' }],
    input: { __name__: 'm', tmp_port: '1234', port1: '1234', port2: '5678' },
    output: null,
  },
  {
    name: 'dropequal: different values keep the series',
    rules: [{ source_labels: ['tmp_port'], target_label: 'port2', action: 'dropequal' }],
    input: { __name__: 'm', tmp_port: '1234', port1: '1234', port2: '5678' },
    output: { __name__: 'm', tmp_port: '1234', port1: '1234', port2: '5678' },
  },
  // lowercase / uppercase
  {
    name: 'lowercase and uppercase into new labels',
    rules: [
      { source_labels: ['foo'], target_label: 'foo_uppercase', action: 'uppercase' },
      { source_labels: ['foo'], target_label: 'foo_lowercase', action: 'lowercase' },
    ],
    input: { __name__: 'm', foo: 'bAr123Foo' },
    output: {
      __name__: 'm',
      foo: 'bAr123Foo',
      foo_lowercase: 'bar123foo',
      foo_uppercase: 'BAR123FOO',
    },
  },
  {
    name: 'lowercase: in place, non-ASCII letters too',
    rules: [{ source_labels: ['env'], target_label: 'env', action: 'lowercase' }],
    input: { __name__: 'm', env: 'PROD-ÄÖÜ' },
    output: { __name__: 'm', env: 'prod-äöü' },
  },
  {
    name: 'lowercase: a missing source deletes the target',
    rules: [{ source_labels: ['missing'], target_label: 'env', action: 'lowercase' }],
    input: { __name__: 'm', env: 'prod' },
    output: { __name__: 'm' },
  },
  // chains
  {
    name: 'chain: set a temporary label, keep on it, then drop it',
    rules: [
      { source_labels: ['instance'], regex: '([^:]+):.*', target_label: 'tmp_host' },
      { source_labels: ['tmp_host'], regex: 'host-1', action: 'keep' },
      { regex: 'tmp_.*', action: 'labeldrop' },
    ],
    input: api,
    output: api,
  },
  {
    name: 'chain: drop series, then labels, of what remains',
    rules: [
      { source_labels: ['__name__'], regex: 'go_.*|process_.*', action: 'drop' },
      { regex: 'pod|instance', action: 'labeldrop' },
      { source_labels: ['job'], target_label: 'service', replacement: 'svc-$1' },
    ],
    input: { ...api, pod: 'web-1' },
    output: { __name__: 'http_requests_total', job: 'api', service: 'svc-api' },
  },
];
