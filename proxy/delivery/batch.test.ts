import { compressSync, uncompressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import {
  decodeRequest,
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { joinSnappyBlocks, snappyHeader } from './batch.js';

function compressed(bytes: Uint8Array): Uint8Array {
  return compressSync(Buffer.from(bytes)) as Uint8Array;
}

describe('joinSnappyBlocks', () => {
  it('decodes to the concatenation of the inputs, copies included', () => {
    // Repetitive inputs make the compressor emit back-references (copies).
    const parts = [
      Buffer.from('abcabcabcabcabcabc-first-'.repeat(40)),
      Buffer.from('xyzxyzxyz-second-'.repeat(300)),
      Buffer.from('tail'),
    ];
    const joined = joinSnappyBlocks(parts.map((part) => compressed(part)));
    expect(Buffer.from(uncompressSync(Buffer.from(joined)) as Buffer)).toEqual(
      Buffer.concat(parts),
    );
    expect(snappyHeader(joined).uncompressedBytes).toBe(Buffer.concat(parts).byteLength);
  });

  it('joins WriteRequests into one holding every series in order', () => {
    const first = writeRequest([
      seriesWith(sortedLabels({ __name__: 'up', job: 'a' })),
      seriesWith(sortedLabels({ __name__: 'up', job: 'b' })),
    ]);
    const second = writeRequest([seriesWith(sortedLabels({ __name__: 'up', job: 'c' }))]);
    const joined = joinSnappyBlocks([
      compressed(encodeRequest(first)),
      compressed(encodeRequest(second)),
    ]);
    const decoded = decodeRequest(uncompressSync(Buffer.from(joined)) as Uint8Array);
    expect(
      decoded.timeseries.map((series) => series.labels.find((l) => l.name === 'job')?.value),
    ).toEqual(['a', 'b', 'c']);
  });

  it('returns a single block unchanged', () => {
    const block = compressed(Buffer.from('only'));
    expect(joinSnappyBlocks([block])).toBe(block);
  });

  it('rejects a block without a length header', () => {
    expect(() => snappyHeader(new Uint8Array([0x80, 0x80]))).toThrow(/length header/);
  });
});
