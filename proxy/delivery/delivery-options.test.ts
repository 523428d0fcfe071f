import { describe, expect, it } from 'vitest';
import { type ProxyOptionsInput, resolveProxyOptions } from '../server/options.js';
import { upstreamFromUrl } from './upstream.js';

const upstreamUrl = 'http://127.0.0.1:9090/api/v1/write';

describe('resolveProxyOptions: delivery', () => {
  it('applies the documented delivery defaults', () => {
    const options = resolveProxyOptions({ upstreamUrl, dataDir: './data' });
    expect(options.upstreams.map((upstream) => upstream.url.href)).toEqual([upstreamUrl]);
    expect(options.maxQueueBytes).toBe(1024 ** 3);
    expect(options.queueFullPolicy).toBe('refuse');
    expect(options.retryMinBackoffMs).toBe(100);
    expect(options.retryMaxBackoffMs).toBe(30_000);
    expect(options.shardBySeries).toBe(false);
  });

  const twoUpstreams = [
    upstreamFromUrl(upstreamUrl, 1000, 'a'),
    upstreamFromUrl('http://127.0.0.1:9091/api/v1/write', 1000, 'b'),
  ];
  const rejected: Array<[string, Partial<ProxyOptionsInput>, string]> = [
    ['an empty data dir', { dataDir: '' }, 'dataDir must not be empty'],
    [
      'several upstreams without a queue',
      { upstreams: twoUpstreams },
      '2 upstreams need durable delivery',
    ],
    [
      'an unknown policy',
      { dataDir: 'd', queueFullPolicy: 'block' as 'refuse' },
      'queueFullPolicy "block" must be refuse or drop-oldest',
    ],
    ['a tiny queue', { dataDir: 'd', maxQueueBytes: 1000 }, 'maxQueueBytes 1000 must be >= 65536'],
    [
      'a max backoff below the min',
      { dataDir: 'd', retryMinBackoffMs: 500, retryMaxBackoffMs: 100 },
      'retryMaxBackoffMs 100 must be >= 500',
    ],
    ['sharding without a queue', { shardBySeries: true }, 'shardBySeries needs durable delivery'],
    [
      'per-upstream settings on the synchronous path',
      {
        upstreams: [{ ...upstreamFromUrl(upstreamUrl, 30_000), headers: { 'x-scope-orgid': 'a' } }],
      },
      'sets headers, auth, TLS or a timeout of its own, which need durable delivery',
    ],
    [
      'shard labels without sharding',
      { dataDir: 'd', shardLabels: ['pod'] },
      'shardLabels is only used with shardBySeries',
    ],
  ];
  for (const [name, override, message] of rejected) {
    it(`rejects ${name}`, () => {
      expect(() => resolveProxyOptions({ upstreamUrl, ...override })).toThrow(message);
    });
  }
});
