import { describe, expect, it } from 'vitest';
import { FlagValueError } from '../cli/flag-values.js';
import { resolveProxyOptions } from '../server/options.js';
import { parseTierFlags, type TierFlagValues } from './tier-flags.js';

const DEFAULTS = {
  'aggregation-members-refresh': '10s',
  'aggregation-handoff-timeout': '15s',
} as const;

describe('parseTierFlags', () => {
  it('is off without a member source', () => {
    expect(parseTierFlags(DEFAULTS)).toBeUndefined();
  });

  it('reads a DNS gateway and an aggregator with a static list', () => {
    expect(
      parseTierFlags({
        ...DEFAULTS,
        'aggregation-members-dns': '_phoenix._tcp.aggregators:0',
        'aggregation-dns-server': ['10.0.0.10'],
        'aggregation-members-refresh': '2s',
      }),
    ).toEqual({
      role: 'gateway',
      members: undefined,
      dnsAddress: '_phoenix._tcp.aggregators:0',
      dnsServers: ['10.0.0.10'],
      kubernetes: undefined,
      refreshIntervalMs: 2000,
      self: undefined,
      handoffTimeoutMs: 15_000,
    });
    const aggregator = parseTierFlags({
      ...DEFAULTS,
      'aggregation-tier': 'aggregator',
      'aggregation-members': 'a=http://10.0.0.1:9091,b=http://10.0.0.2:9091',
      'aggregation-self': 'a',
    });
    expect(aggregator?.role).toBe('aggregator');
    expect(aggregator?.members?.map((member) => member.url)).toEqual([
      'http://10.0.0.1:9091/api/v1/write',
      'http://10.0.0.2:9091/api/v1/write',
    ]);
    expect(
      parseTierFlags({ ...DEFAULTS, 'aggregation-members-k8s': 'metrics/aggregators' })?.kubernetes,
    ).toEqual({ namespace: 'metrics', service: 'aggregators' });
  });

  const refusals: Array<[Partial<TierFlagValues>, string]> = [
    [
      { 'aggregation-tier': 'aggregator' },
      '--aggregation-tier needs --aggregation-members, --aggregation-members-dns or --aggregation-members-k8s',
    ],
    [
      { 'aggregation-members': 'a=http://x', 'aggregation-members-dns': 'x:1' },
      '--aggregation-members, --aggregation-members-dns and --aggregation-members-k8s exclude each other',
    ],
    [
      { 'aggregation-members': 'a=http://x', 'aggregation-tier': 'leader' },
      '--aggregation-tier "leader" must be gateway or aggregator',
    ],
    [
      { 'aggregation-members-k8s': 'aggregators' },
      '--aggregation-members-k8s "aggregators" must be namespace/service',
    ],
    [{ 'aggregation-members': 'a' }, '--aggregation-members: member "a" must be name=url'],
  ];
  for (const [values, message] of refusals) {
    it(`refuses: ${message}`, () => {
      expect(() => parseTierFlags({ ...DEFAULTS, ...values })).toThrow(new FlagValueError(message));
    });
  }
});

describe('resolveProxyOptions with an aggregation tier', () => {
  const tier = parseTierFlags({ ...DEFAULTS, 'aggregation-members': 'a=http://x' })!;
  it('needs durable delivery', () => {
    expect(() =>
      resolveProxyOptions({
        upstreamUrl: 'http://127.0.0.1:1/api/v1/write',
        aggregationTier: tier,
      }),
    ).toThrow('aggregationTier needs durable delivery (a dataDir)');
  });
  it('needs exactly one member source', () => {
    expect(() =>
      resolveProxyOptions({
        upstreamUrl: 'http://127.0.0.1:1/api/v1/write',
        dataDir: '/tmp/unused',
        aggregationTier: { ...tier, dnsAddress: 'x:1' },
      }),
    ).toThrow(
      'aggregation tier needs exactly one member source (static list, DNS or Kubernetes), got 2',
    );
  });
});
