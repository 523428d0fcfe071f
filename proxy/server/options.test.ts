import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { PROXY_DEFAULTS, type ProxyOptionsInput, resolveProxyOptions } from './options.js';

const upstreamUrl = 'http://127.0.0.1:9090/api/v1/write';

describe('resolveProxyOptions', () => {
  it('applies the documented defaults', () => {
    const options = resolveProxyOptions({ upstreamUrl });
    expect(options.listenHost).toBe('127.0.0.1');
    expect(options.listenPort).toBe(9091);
    expect(options.maxRequestBytes).toBe(32 * 1024 * 1024);
    expect(options.upstreamTimeoutMs).toBe(PROXY_DEFAULTS.upstreamTimeoutMs);
    // One worker per core but one, the ingest thread's; at least one.
    expect(options.workers).toBe(Math.max(1, availableParallelism() - 1));
    expect(options.pipeline).toBeUndefined();
    expect(options.upstreamUrl.href).toBe(upstreamUrl);
    expect(options.cardinalityMaxMetrics).toBe(2000);
    expect(options.cardinalityWindowMs).toBe(3_600_000);
  });

  it('keeps the values it is given', () => {
    const options = resolveProxyOptions({ upstreamUrl, listenPort: 0, workers: 3 });
    expect(options.listenPort).toBe(0);
    expect(options.workers).toBe(3);
  });

  const rejected: Array<[string, Partial<ProxyOptionsInput>, string]> = [
    ['request limit zero', { maxRequestBytes: 0 }, 'maxRequestBytes 0 must be >= 1'],
    ['fractional workers', { workers: 1.5 }, 'workers 1.5 must be an integer'],
    ['no workers', { workers: 0 }, 'workers 0 must be >= 1'],
    ['port too high', { listenPort: 70000 }, 'listenPort 70000 must be <= 65535'],
    ['negative port', { listenPort: -1 }, 'listenPort -1 must be >= 0'],
    ['decompressed limit', { maxDecompressedBytes: 0 }, 'maxDecompressedBytes 0 must be >= 1'],
    ['labels limit', { maxLabelsPerSeries: 0 }, 'maxLabelsPerSeries 0 must be >= 1'],
    ['timeout zero', { upstreamTimeoutMs: 0 }, 'upstreamTimeoutMs 0 must be >= 1'],
    ['no connections', { upstreamConnections: 0 }, 'upstreamConnections 0 must be >= 1'],
    ['negative drain', { shutdownTimeoutMs: -5 }, 'shutdownTimeoutMs -5 must be >= 0'],
    ['empty host', { listenHost: '' }, 'listenHost must not be empty'],
    [
      'too many tracked metrics',
      { cardinalityMaxMetrics: 100_001 },
      'cardinalityMaxMetrics 100001 must be <= 100000',
    ],
    ['short window', { cardinalityWindowMs: 10 }, 'cardinalityWindowMs 10 must be >= 1000'],
    ['bad url', { upstreamUrl: 'not a url' }, 'upstreamUrl "not a url" is not a valid URL'],
    [
      'ftp url',
      { upstreamUrl: 'ftp://host/x' },
      'upstreamUrl ftp://host/x must use http: or https:',
    ],
  ];
  for (const [name, override, message] of rejected) {
    it(`rejects ${name}`, () => {
      expect(() => resolveProxyOptions({ upstreamUrl, ...override })).toThrow(message);
    });
  }
});
