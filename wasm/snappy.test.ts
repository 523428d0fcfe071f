import { compressSync, uncompressSync } from 'snappy';
import { beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../test/helpers/seeded-random.js';
import { instantiateAssemblyScript } from './test/compile.js';

interface SnappyModule {
  memory: { readonly buffer: ArrayBuffer };
  allocate(byteLength: number): number;
  resetHeap(): void;
  snappyDecodedLength(src: number, srcLen: number): bigint;
  snappyDecompress(src: number, srcLen: number, dst: number, dstLen: number): number;
  snappyMaxCompressedLength(n: number): number;
  snappyCompress(src: number, srcLen: number, dst: number): number;
}

/** Bytes around every output buffer that must still hold CANARY after a call. */
const GUARD_BYTES = 64;
const CANARY = 0xa5;
/** Any n-byte block decodes to at most 32n bytes (a 3-byte copy-2 yields 64), so a header above that is corrupt. */
const MAX_EXPANSION = 32;

let wasm: SnappyModule;

beforeAll(async () => {
  wasm = await instantiateAssemblyScript<SnappyModule>('wasm/test/snappy-entry.ts');
});

/** Fills `length` bytes at `ptr` with the canary. */
function fillGuard(ptr: number, length: number): void {
  new Uint8Array(wasm.memory.buffer, ptr, length).fill(CANARY);
}

function guardIntact(ptr: number, length: number): boolean {
  return new Uint8Array(wasm.memory.buffer, ptr, length).every((byte) => byte === CANARY);
}

/** Compresses with the module, checking that nothing is written past the documented bound. */
function wasmCompress(input: Uint8Array): Uint8Array {
  wasm.resetHeap();
  const capacity = wasm.snappyMaxCompressedLength(input.length) >>> 0;
  const src = wasm.allocate(input.length);
  const region = wasm.allocate(capacity + 2 * GUARD_BYTES);
  const dst = region + GUARD_BYTES;
  new Uint8Array(wasm.memory.buffer, src, input.length).set(input);
  fillGuard(region, capacity + 2 * GUARD_BYTES);
  const compressedLength = wasm.snappyCompress(src, input.length, dst) >>> 0;
  expect(compressedLength).toBeLessThanOrEqual(capacity);
  expect(guardIntact(region, GUARD_BYTES)).toBe(true);
  expect(guardIntact(dst + capacity, GUARD_BYTES)).toBe(true);
  return new Uint8Array(wasm.memory.buffer, dst, compressedLength).slice();
}

/**
 * Decompresses with the module. Returns null for a corrupt block, after checking that the
 * source and the bytes around the destination were left alone either way.
 */
function wasmDecompress(block: Uint8Array): Uint8Array | null {
  wasm.resetHeap();
  // Zeros after the block make an over-read look like a valid length or offset byte, so a
  // read past the end shows up as a result napi does not produce.
  const src = wasm.allocate(block.length + GUARD_BYTES);
  new Uint8Array(wasm.memory.buffer, src, block.length + GUARD_BYTES).fill(0).set(block);
  const decodedLength = wasm.snappyDecodedLength(src, block.length);
  if (decodedLength < 0n) return null;
  if (decodedLength > BigInt(MAX_EXPANSION * block.length)) {
    // Run the body anyway against a short destination: it must refuse, not write.
    const dst = wasm.allocate(GUARD_BYTES);
    expect(wasm.snappyDecompress(src, block.length, dst, 0)).toBe(-1);
    return null;
  }
  const dstLen = Number(decodedLength);
  const region = wasm.allocate(dstLen + 2 * GUARD_BYTES);
  const dst = region + GUARD_BYTES;
  fillGuard(region, dstLen + 2 * GUARD_BYTES);
  const status = wasm.snappyDecompress(src, block.length, dst, dstLen);
  expect(status === 0 || status === -1).toBe(true);
  expect(guardIntact(region, GUARD_BYTES)).toBe(true);
  expect(guardIntact(dst + dstLen, GUARD_BYTES)).toBe(true);
  expect(Buffer.from(wasm.memory.buffer, src, block.length).equals(block)).toBe(true);
  return status === 0 ? new Uint8Array(wasm.memory.buffer, dst, dstLen).slice() : null;
}

function napiDecompress(block: Uint8Array): Buffer | null {
  try {
    return uncompressSync(block, { asBuffer: true }) as Buffer;
  } catch {
    return null;
  }
}

function randomBytes(length: number, random: () => number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

/**
 * Protobuf shaped like a remote-write request: Kubernetes-style label sets (sorted names,
 * repeated values) and one float sample each, the input the proxy compresses all day.
 */
function remoteWriteLike(seriesCount: number, random: () => number): Uint8Array {
  const encoder = new TextEncoder();
  const lengthDelimited = (field: number, payload: number[]): number[] => [
    (field << 3) | 2,
    ...varint(payload.length),
    ...payload,
  ];
  const text = (field: number, value: string): number[] =>
    lengthDelimited(field, [...encoder.encode(value)]);
  const metricNames = Array.from({ length: 40 }, (_, i) => `container_metric_${i}_seconds_total`);
  const namespaces = ['default', 'kube-system', 'monitoring', 'payments', 'checkout'];
  const out: number[] = [];
  for (let series = 0; series < seriesCount; series++) {
    const pod = `api-${Math.floor(random() * 50)}-7f9c${Math.floor(random() * 1e4)}`;
    const labels: [string, string][] = [
      ['__name__', metricNames[series % metricNames.length]!],
      ['container', 'server'],
      ['instance', `10.0.${Math.floor(random() * 8)}.${Math.floor(random() * 250)}:9100`],
      ['job', 'kubernetes-pods'],
      ['namespace', namespaces[Math.floor(random() * namespaces.length)]!],
      ['node', `node-${Math.floor(random() * 20)}.cluster.internal`],
      ['pod', pod],
    ];
    const timeSeries: number[] = [];
    for (const [name, value] of labels) {
      timeSeries.push(...lengthDelimited(1, [...text(1, name), ...text(2, value)]));
    }
    const sample = new DataView(new ArrayBuffer(9));
    sample.setUint8(0, (1 << 3) | 1);
    sample.setFloat64(1, Math.floor(random() * 1e6) / 100, true);
    const timestamp = [(2 << 3) | 0, ...varint(1_700_000_000_000 + series)];
    timeSeries.push(...lengthDelimited(2, [...new Uint8Array(sample.buffer), ...timestamp]));
    out.push(...lengthDelimited(1, timeSeries));
  }
  return Uint8Array.from(out);
}

/** A literal element: the tag (with one extra length byte past 60 bytes) and the bytes. */
function literal(bytes: number[]): number[] {
  const lengthMinusOne = bytes.length - 1;
  return lengthMinusOne < 60
    ? [lengthMinusOne << 2, ...bytes]
    : [60 << 2, lengthMinusOne, ...bytes];
}

/** Bytes whose 4-byte windows rarely repeat, so a copy's source is unambiguous. */
function distinctBytes(length: number): number[] {
  return Array.from({ length }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
}

function repeatPattern(pattern: string, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const patternBytes = new TextEncoder().encode(pattern);
  for (let i = 0; i < length; i++) bytes[i] = patternBytes[i % patternBytes.length]!;
  return bytes;
}

describe('snappy in WebAssembly', () => {
  const random = seededRandom(20240601);
  const roundTripCases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['one byte', Uint8Array.of(42)],
    ['14 bytes, below the match-finder margin', repeatPattern('abcdefg', 14)],
    ['16 bytes', repeatPattern('abcd', 16)],
    ['random 1 KiB', randomBytes(1024, random)],
    ['random 100 KiB', randomBytes(100 * 1024, random)],
    ['zeros 70 KiB', new Uint8Array(70 * 1024)],
    ['short period pattern', repeatPattern('ab', 5000)],
    ['text over 64 KiB', repeatPattern('the quick brown fox jumps over the lazy dog. ', 200_000)],
    ['zeros over 1 MiB', new Uint8Array(1_300_000)],
    ['remote-write-like 2000 series', remoteWriteLike(2000, random)],
    ['remote-write-like over 1 MiB', remoteWriteLike(12_000, random)],
    [
      'random then repeated',
      Uint8Array.from([...randomBytes(3000, random), ...new Uint8Array(3000)]),
    ],
  ];

  it.each(roundTripCases)('round-trips %s, and napi agrees both ways', (_name, input) => {
    const ours = wasmCompress(input);
    expect(Buffer.from(wasmDecompress(ours)!).equals(input)).toBe(true);
    expect(napiDecompress(ours)?.equals(input)).toBe(true);
    const theirs = compressSync(input);
    expect(Buffer.from(wasmDecompress(theirs)!).equals(input)).toBe(true);
  });

  it('compresses remote-write-like data within 1.5x of napi', () => {
    const input = remoteWriteLike(2000, seededRandom(7));
    const ours = wasmCompress(input);
    const theirs = compressSync(input);
    expect(ours.length).toBeLessThanOrEqual(theirs.length * 1.5);
    expect(ours.length).toBeLessThan(input.length / 3);
  });

  it.each([0, 1, 6, 1000, 65536, 1 << 24])('bounds the compressed size of %i bytes', (n) => {
    expect(wasm.snappyMaxCompressedLength(n) >>> 0).toBe(32 + n + Math.floor(n / 6));
  });

  it('reads the varint header', () => {
    const cases: [number[], bigint][] = [
      [[0x00], 0n],
      [[0x7f], 127n],
      [[0x80, 0x01], 128n],
      [[0xff, 0xff, 0xff, 0xff, 0x0f], 4294967295n],
      [[], -1n],
      [[0x80], -1n],
      [[0xff, 0xff, 0xff, 0xff, 0x1f], -1n],
      [[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], -1n],
    ];
    for (const [header, expected] of cases) {
      wasm.resetHeap();
      const src = wasm.allocate(header.length);
      new Uint8Array(wasm.memory.buffer, src, header.length).set(header);
      expect(wasm.snappyDecodedLength(src, header.length), `header ${header}`).toBe(expected);
    }
  });

  // Hand-written blocks for the element forms napi's compressor never emits.
  const abcd = [0x61, 0x62, 0x63, 0x64];
  const handWritten: [string, number[]][] = [
    ['literal with 1 length byte', [61, 60 << 2, 60, ...repeatPattern('x', 61)]],
    ['literal with 2 length bytes', [...varint(300), 61 << 2, 43, 1, ...repeatPattern('y', 300)]],
    ['literal with 3 length bytes', [5, 62 << 2, 4, 0, 0, 1, 2, 3, 4, 5]],
    ['literal with 4 length bytes', [5, 63 << 2, 4, 0, 0, 0, 1, 2, 3, 4, 5]],
    ['copy-4', [12, 3 << 2, ...abcd, 3 | (7 << 2), 4, 0, 0, 0]],
    [
      'copy-1 with high offset bits',
      [
        ...varint(1608),
        61 << 2,
        0x3f,
        0x06,
        ...distinctBytes(1600),
        1 | (4 << 2) | (5 << 5),
        1500 & 0xff,
      ],
    ],
  ];

  it.each(handWritten)('decodes a %s as napi does', (_name, bytes) => {
    const block = Uint8Array.from(bytes);
    const expected = napiDecompress(block);
    expect(expected).not.toBeNull();
    expect(Buffer.from(wasmDecompress(block)!).equals(expected!)).toBe(true);
  });

  it('replicates overlapping copies for every offset and length, with and without room after', () => {
    for (let offset = 1; offset <= 70; offset++) {
      for (let length = 4; length <= 64; length++) {
        for (const tail of [0, 24]) {
          const prefix = Array.from({ length: offset }, (_, i) => (i * 37 + 11) & 0xff);
          const decoded = offset + length + tail;
          const block = [
            ...varint(decoded),
            ...literal(prefix),
            2 | ((length - 1) << 2),
            offset & 0xff,
            offset >> 8,
          ];
          if (tail > 0) block.push(...literal(new Array<number>(tail).fill(7)));
          const bytes = Uint8Array.from(block);
          const ours = wasmDecompress(bytes);
          expect(ours, `offset ${offset} length ${length} tail ${tail}`).not.toBeNull();
          expect(Buffer.from(ours!).equals(napiDecompress(bytes)!)).toBe(true);
        }
      }
    }
  });

  const corrupt: [string, number[]][] = [
    ['an empty block', []],
    ['a truncated header', [0x80]],
    ['a header over 32 bits', [0xff, 0xff, 0xff, 0xff, 0x1f, 0x00]],
    ['offset 0', [8, 3 << 2, ...abcd, 1, 0]],
    ['an offset before the start', [8, 3 << 2, ...abcd, 2 | (3 << 2), 5, 0]],
    ['a literal past the end of the input', [10, 9 << 2, 1, 2, 3]],
    ['a literal past the end of the output', [2, 3 << 2, ...abcd]],
    ['a copy past the end of the output', [6, 1 << 2, 0x61, 0x62, 1 | (4 << 2), 2]],
    ['output shorter than the header', [10, 3 << 2, ...abcd]],
    ['a truncated copy-1', [8, 3 << 2, ...abcd, 1]],
    ['a truncated copy-2', [8, 3 << 2, ...abcd, 2 | (3 << 2), 4]],
    ['a truncated copy-4', [8, 3 << 2, ...abcd, 3 | (3 << 2), 4, 0, 0]],
    ['truncated literal length bytes', [100, 61 << 2, 99]],
    ['a 4-byte literal length of 2^32', [5, 63 << 2, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5]],
  ];

  it.each(corrupt)('rejects %s, as napi does', (_name, bytes) => {
    const block = Uint8Array.from(bytes);
    expect(wasmDecompress(block)).toBeNull();
    expect(napiDecompress(block)).toBeNull();
  });

  it('rejects a destination length that differs from the header', () => {
    const block = wasmCompress(repeatPattern('metric', 500));
    wasm.resetHeap();
    const src = wasm.allocate(block.length);
    const dst = wasm.allocate(600);
    new Uint8Array(wasm.memory.buffer, src, block.length).set(block);
    expect(wasm.snappyDecompress(src, block.length, dst, 499)).toBe(-1);
    expect(wasm.snappyDecompress(src, block.length, dst, 501)).toBe(-1);
    expect(wasm.snappyDecompress(src, block.length, dst, 500)).toBe(0);
  });

  it('rejects every truncation of a valid block', () => {
    const block = compressSync(remoteWriteLike(20, seededRandom(3)));
    for (let cut = 0; cut < block.length; cut++) {
      expect(wasmDecompress(block.subarray(0, cut)), `cut at ${cut}`).toBeNull();
    }
  });

  it('agrees with napi on thousands of garbage and mutated blocks, never writing outside', () => {
    const seed = 99;
    const fuzzRandom = seededRandom(seed);
    const valid = [
      compressSync(remoteWriteLike(30, fuzzRandom)),
      compressSync(repeatPattern('abcabcabd', 3000)),
      wasmCompress(randomBytes(2000, fuzzRandom)),
    ];
    let accepted = 0;
    for (let round = 0; round < 4000; round++) {
      let block: Uint8Array;
      if (round % 2 === 0) {
        // Garbage behind a plausible header, so the element parser is what gets exercised.
        const body = randomBytes(1 + Math.floor(fuzzRandom() * 200), fuzzRandom);
        block = Uint8Array.from([...varint(Math.floor(fuzzRandom() * 400)), ...body]);
      } else {
        block = Uint8Array.from(valid[round % valid.length]!);
        const flips = 1 + Math.floor(fuzzRandom() * 4);
        for (let i = 0; i < flips; i++) {
          block[Math.floor(fuzzRandom() * block.length)] = Math.floor(fuzzRandom() * 256);
        }
      }
      const ours = wasmDecompress(block);
      const theirs = napiDecompress(block);
      const context = `seed ${seed} round ${round}`;
      expect(ours === null, context).toBe(theirs === null);
      if (ours !== null) {
        accepted++;
        expect(Buffer.from(ours).equals(theirs!), context).toBe(true);
      }
    }
    // Mutations that only touch literal bytes stay valid; the comparison must have run on some.
    expect(accepted).toBeGreaterThan(0);
  });
});
