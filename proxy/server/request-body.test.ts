import { describe, expect, it } from 'vitest';
import { RequestBody } from './request-body.js';

function chunk(...bytes: number[]): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

describe('RequestBody', () => {
  it('fills a buffer of the declared length exactly', () => {
    const body = new RequestBody(5, 100);
    expect(body.append(chunk(1, 2))).toBe(true);
    expect(body.append(chunk(3, 4, 5))).toBe(true);
    const bytes = body.bytes();
    expect([...bytes]).toEqual([1, 2, 3, 4, 5]);
    expect(bytes.buffer.byteLength).toBe(5);
    expect(bytes.byteOffset).toBe(0);
  });

  it('grows for a chunked body and keeps every byte', () => {
    const body = new RequestBody(undefined, 1 << 20);
    const expected: number[] = [];
    for (let i = 0; i < 300; i++) {
      const piece = Array.from({ length: 1000 }, (_, j) => (i + j) % 256);
      expected.push(...piece);
      expect(body.append(chunk(...piece))).toBe(true);
    }
    expect(body.length).toBe(300_000);
    expect(Buffer.from(body.bytes()).equals(Buffer.from(expected))).toBe(true);
  });

  it('refuses the chunk that would pass the limit', () => {
    const body = new RequestBody(undefined, 4);
    expect(body.append(chunk(1, 2, 3))).toBe(true);
    expect(body.append(chunk(4, 5))).toBe(false);
    expect(body.length).toBe(3);
  });

  it('copies, so neutered source chunks do not matter', () => {
    const body = new RequestBody(2, 10);
    const source = new Uint8Array([7, 8]);
    body.append(source.buffer);
    source.fill(0);
    expect([...body.bytes()]).toEqual([7, 8]);
  });
});
