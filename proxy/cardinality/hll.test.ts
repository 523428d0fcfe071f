/**
 * The module's HyperLogLog sketches on sets of known size, estimated by the host: every
 * estimate must fall within two standard errors (1.04 / sqrt(m) each) of the truth, and
 * merging sketches must give exactly the sketch of the union.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { instantiateAssemblyScript } from '../../wasm/test/compile.js';
import { ByteReader, ByteWriter, HllSketch } from './hll.js';

interface HllModule {
  memory: { readonly buffer: ArrayBuffer };
  allocate(byteLength: number): number;
  resetHeap(): void;
  hllBytes(precision: number): number;
  hllClear(registers: number, precision: number): void;
  hllMaxEncodedBytes(precision: number): number;
  hllMerge(target: number, source: number, precision: number): void;
  hllWrite(out: number, registers: number, precision: number): number;
  hllAddSequence(registers: number, precision: number, first: number, count: number): number;
}

let wasm: HllModule;

beforeAll(async () => {
  wasm = await instantiateAssemblyScript<HllModule>('wasm/test/hll-entry.ts');
}, 120_000);

/** A sketch in the module's memory holding the elements [first, first + count). */
function moduleSketch(precision: number, first: number, count: number): number {
  const registers = wasm.allocate(wasm.hllBytes(precision));
  wasm.hllClear(registers, precision);
  wasm.hllAddSequence(registers, precision, first, count);
  return registers;
}

/** The sketch at `registers`, serialized by the module and decoded by the host. */
function readSketch(registers: number, precision: number): HllSketch {
  const out = wasm.allocate(wasm.hllMaxEncodedBytes(precision));
  const end = wasm.hllWrite(out, registers, precision);
  return HllSketch.decode(
    new ByteReader(new Uint8Array(wasm.memory.buffer, out, end - out).slice()),
  );
}

const standardError = (precision: number) => 1.04 / Math.sqrt(2 ** precision);

describe('HyperLogLog in the module', () => {
  const cases = [
    { precision: 8, sizes: [10, 1_000, 100_000] },
    { precision: 12, sizes: [10, 1_000, 100_000, 1_000_000] },
    { precision: 14, sizes: [10, 1_000, 100_000, 1_000_000] },
  ];
  for (const { precision, sizes } of cases) {
    for (const size of sizes) {
      it(`estimates ${size} distinct elements at precision ${precision} within 2 standard errors`, () => {
        wasm.resetHeap();
        const estimate = readSketch(moduleSketch(precision, 1, size), precision).estimate();
        const relativeError = Math.abs(estimate - size) / size;
        // For 10 elements at precision 12 and 14 this bound means exact: 2 standard errors
        // of 10 is less than one element.
        expect(relativeError, `estimate ${estimate} of ${size}`).toBeLessThanOrEqual(
          2 * standardError(precision),
        );
      });
    }
  }

  it('adds nothing for an element already in the sketch', () => {
    wasm.resetHeap();
    const registers = moduleSketch(12, 1, 5_000);
    expect(wasm.hllAddSequence(registers, 12, 1, 5_000)).toBe(0);
    expect(readSketch(registers, 12).estimate()).toBe(
      readSketch(moduleSketch(12, 1, 5_000), 12).estimate(),
    );
  });

  it('merges two sketches into exactly the sketch of the union, in the module and on the host', () => {
    wasm.resetHeap();
    // Overlapping halves: A = [1, 60 000), B = [40 000, 100 000).
    const a = moduleSketch(12, 1, 59_999);
    const b = moduleSketch(12, 40_000, 60_000);
    const union = readSketch(moduleSketch(12, 1, 99_999), 12);
    const onHost = readSketch(a, 12);
    onHost.mergeFrom(readSketch(b, 12));
    expect(onHost.registers).toEqual(union.registers);
    wasm.hllMerge(a, b, 12);
    expect(readSketch(a, 12).registers).toEqual(union.registers);
    expect(Math.abs(union.estimate() - 99_999) / 99_999).toBeLessThanOrEqual(2 * standardError(12));
  });

  it('encodes sparse and dense sketches the same way as the module', () => {
    for (const count of [3, 50_000]) {
      wasm.resetHeap();
      const precision = 12;
      const registers = moduleSketch(precision, 7, count);
      const out = wasm.allocate(wasm.hllMaxEncodedBytes(precision));
      const end = wasm.hllWrite(out, registers, precision);
      const moduleBytes = new Uint8Array(wasm.memory.buffer, out, end - out).slice();
      const writer = new ByteWriter();
      HllSketch.decode(new ByteReader(moduleBytes)).encode(writer);
      expect(writer.finish()).toEqual(moduleBytes);
      // Sparse for a handful of elements, dense once most registers are set.
      expect(moduleBytes[1]).toBe(count === 3 ? 1 : 0);
    }
  });
});
