import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { ProxyCountersSchema } from '../../proto/gen/phoenix/v1/proxy_pb.js';
import { ProxyRegistry } from '../services/proxy-registry.js';
import { OverviewRates } from './overview-rates.js';

/** A registry on a clock the test moves, and a way to report counters at a time. */
function harness() {
  let nowMs = 1_000_000;
  const registry = new ProxyRegistry(() => nowMs);
  return {
    registry,
    at(ms: number) {
      nowMs = ms;
    },
    report(proxyId: string, samplesIn: number, samplesOut: number, seriesIn = 0, seriesOut = 0) {
      registry.report({
        proxyId,
        pipeline: 'default',
        appliedVersion: 3,
        healthy: true,
        counters: create(ProxyCountersSchema, {
          samplesIn: BigInt(samplesIn),
          samplesOut: BigInt(samplesOut),
          seriesIn: BigInt(seriesIn),
          seriesOut: BigInt(seriesOut),
        }),
        applyError: undefined,
        listen: '127.0.0.1:9091',
        recentRequest: new Uint8Array(),
      });
    },
  };
}

describe('OverviewRates', () => {
  it('divides the counters between two reports by the time between them', () => {
    const { registry, at, report } = harness();
    const rates = new OverviewRates();
    at(1_000_000);
    report('a', 1_000, 500, 100, 50);
    const first = rates.observe(registry.list(), 1_000_000, null);
    expect(first.samplesInPerSecond).toBe(0);
    expect(first.measuring).toBe(true);
    at(1_002_000);
    report('a', 1_400, 600, 180, 90);
    const point = rates.observe(registry.list(), 1_002_100, null);
    expect(point.samplesInPerSecond).toBe(200);
    expect(point.samplesOutPerSecond).toBe(50);
    expect(point.seriesInPerSecond).toBe(40);
    expect(point.seriesOutPerSecond).toBe(20);
    expect(point.measuring).toBe(false);
    expect(point.proxies).toMatchObject([
      {
        proxyId: 'a',
        appliedVersion: 3,
        healthy: true,
        samplesInPerSecond: 200,
        lastSeenMs: 1_002_000,
      },
    ]);
  });

  it('keeps the last rate between reports instead of dropping to zero or counting twice', () => {
    const { registry, at, report } = harness();
    const rates = new OverviewRates();
    at(0);
    report('a', 0, 0);
    rates.observe(registry.list(), 0, null);
    at(1_000);
    report('a', 300, 300);
    for (const nowMs of [1_000, 1_500, 1_900]) {
      expect(rates.observe(registry.list(), nowMs, null).samplesInPerSecond).toBe(300);
    }
  });

  it('sums proxies, and counts a silent proxy as sending nothing', () => {
    const { registry, at, report } = harness();
    const rates = new OverviewRates(10_000);
    at(0);
    report('a', 0, 0);
    report('b', 0, 0);
    rates.observe(registry.list(), 0, null);
    at(1_000);
    report('a', 100, 10);
    report('b', 50, 5);
    expect(rates.observe(registry.list(), 1_000, null).samplesInPerSecond).toBe(150);
    at(12_000);
    report('b', 1_150, 105);
    const point = rates.observe(registry.list(), 12_000, null);
    // a last reported at 1 s, more than 10 s ago.
    expect(point.proxies.find((proxy) => proxy.proxyId === 'a')?.samplesInPerSecond).toBe(0);
    expect(point.samplesInPerSecond).toBe(100);
  });

  it('starts over when a counter goes down', () => {
    const { registry, at, report } = harness();
    const rates = new OverviewRates();
    at(0);
    report('a', 1_000, 1_000);
    rates.observe(registry.list(), 0, null);
    at(1_000);
    report('a', 10, 10);
    expect(rates.observe(registry.list(), 1_000, null).samplesInPerSecond).toBe(0);
    at(2_000);
    report('a', 110, 60);
    expect(rates.observe(registry.list(), 2_000, null).samplesInPerSecond).toBe(100);
  });

  it('passes active series through and names an apply error', () => {
    const { registry, at } = harness();
    at(0);
    registry.report({
      proxyId: 'a',
      pipeline: 'default',
      appliedVersion: 2,
      healthy: false,
      counters: undefined,
      applyError: { $typeName: 'phoenix.v1.ApplyError', version: 3, message: 'bad regex' },
      listen: '',
      recentRequest: new Uint8Array(),
    });
    const point = new OverviewRates().observe(registry.list(), 0, { input: 900, output: 100 });
    expect(point.activeSeries).toEqual({ input: 900, output: 100 });
    expect(point.proxies[0]?.applyError).toBe('version 3: bad regex');
    expect(point.proxies[0]?.healthy).toBe(false);
  });
});
