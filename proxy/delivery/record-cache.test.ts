import { describe, expect, it } from 'vitest';
import { RecordCache } from './record-cache.js';

const payload = (size: number) => new Uint8Array(size);

describe('RecordCache', () => {
  it('forgets everything before a position, across segments', () => {
    const cache = new RecordCache(1000);
    cache.remember(1, 0, payload(10));
    cache.remember(1, 26, payload(10));
    cache.remember(2, 0, payload(10));
    cache.remember(2, 26, payload(10));
    cache.forgetBefore({ segmentId: 2, offset: 26 });
    expect(cache.get({ segmentId: 1, offset: 26 })).toBeUndefined();
    expect(cache.get({ segmentId: 2, offset: 0 })).toBeUndefined();
    expect(cache.get({ segmentId: 2, offset: 26 })).toHaveLength(10);
    expect(cache.bytes).toBe(10);
  });

  it('keeps nothing past its bound', () => {
    const cache = new RecordCache(15);
    cache.remember(1, 0, payload(10));
    cache.remember(1, 26, payload(10));
    expect(cache.get({ segmentId: 1, offset: 26 })).toBeUndefined();
    cache.forget(1, 0);
    expect(cache.bytes).toBe(0);
    cache.remember(1, 52, payload(10));
    expect(cache.bytes).toBe(10);
  });
});
