import { compressSync, uncompressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { compressPatchable, type ProtectedRange } from './snappy-patchable.js';

/** Repetitive bytes (so copies happen) with some noise. */
function sampleInput(length: number, seed: number): Uint8Array {
  const words = ['cluster', 'namespace', 'pod', 'container', '__name__', 'http_requests_total'];
  const out = new Uint8Array(length);
  let state = seed;
  for (let i = 0; i < length; ) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    const word = words[state % words.length]!;
    for (let j = 0; j < word.length && i < length; j++) out[i++] = word.charCodeAt(j);
    if (state % 5 === 0 && i < length) out[i++] = state & 0xff;
  }
  return out;
}

function rangesEvery(length: number, step: number, size: number): ProtectedRange[] {
  const ranges: ProtectedRange[] = [];
  for (let start = 7; start + size <= length; start += step) ranges.push({ start, length: size });
  return ranges;
}

describe('compressPatchable', () => {
  const cases: Array<[string, number, number, number]> = [
    ['tiny input', 3, 100, 1],
    ['no ranges', 5_000, 10_000, 0],
    ['samples every 40 bytes', 40_000, 40, 15],
    ['large literal runs', 200_000, 300, 120],
  ];
  for (const [name, length, step, size] of cases) {
    it(`round-trips and stays patchable: ${name}`, () => {
      const input = sampleInput(length, length);
      const ranges = size === 0 ? [] : rangesEvery(length, step, size);
      const block = compressPatchable(input, ranges);
      expect(new Uint8Array(uncompressSync(Buffer.from(block.compressed)) as Buffer)).toEqual(
        input,
      );
      // Patch every protected byte in the compressed block and in the original alike.
      const patched = block.compressed.slice();
      const expected = input.slice();
      ranges.forEach((range, index) => {
        for (let i = 0; i < range.length; i++) {
          const value = (index * 31 + i * 7) & 0xff;
          patched[block.compressedOffsets[index]! + i] = value;
          expected[range.start + i] = value;
        }
      });
      expect(new Uint8Array(uncompressSync(Buffer.from(patched)) as Buffer)).toEqual(expected);
    });
  }

  it('compresses repetitive input about as well as snappy itself', () => {
    const input = sampleInput(100_000, 1);
    const ours = compressPatchable(input, []).compressed.length;
    const reference = compressSync(Buffer.from(input)).length;
    expect(ours).toBeLessThan(reference * 1.5);
  });
});
