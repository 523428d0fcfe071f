import { compressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { SnappyError, uncompressSnappyBlock } from './snappy-block.js';

/** Inputs that exercise literals of every length form and overlapping copies. */
function samples(): Array<[string, Uint8Array]> {
  const repetitive = Buffer.from('abcabcabcabc'.repeat(500));
  const random = Buffer.alloc(70_000);
  let state = 12345;
  for (let i = 0; i < random.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    random[i] = state >>> 24;
  }
  const mixed = Buffer.concat([random.subarray(0, 300), repetitive, random.subarray(300, 5000)]);
  return [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from('x')],
    ['repetitive', repetitive],
    ['random (long literals)', random],
    ['mixed', mixed],
  ];
}

describe('uncompressSnappyBlock', () => {
  for (const [name, input] of samples()) {
    it(`round-trips ${name} compressed by napi snappy`, () => {
      const compressed = compressSync(input);
      expect(Buffer.from(uncompressSnappyBlock(compressed, 1 << 20)).equals(input)).toBe(true);
    });
  }

  const corrupt: Array<[string, Uint8Array, RegExp]> = [
    ['no length header', new Uint8Array([]), /bad length header/],
    ['a copy before any output', new Uint8Array([4, 0x01, 0x01]), /copy out of range/],
    ['a literal past the end', new Uint8Array([4, 0x0c, 0x61]), /literal runs past the end/],
    ['fewer bytes than announced', new Uint8Array([5, 0x00, 0x61]), /expected 5 bytes, decoded 1/],
  ];
  for (const [name, bytes, message] of corrupt) {
    it(`refuses ${name}`, () => {
      expect(() => uncompressSnappyBlock(bytes, 1024)).toThrow(SnappyError);
      expect(() => uncompressSnappyBlock(bytes, 1024)).toThrow(message);
    });
  }

  it('refuses a length over the limit before allocating', () => {
    expect(() => uncompressSnappyBlock(compressSync(Buffer.alloc(2000)), 1000)).toThrow(
      /decompressed length 2000 exceeds 1000 bytes/,
    );
  });
});
