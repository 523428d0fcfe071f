import { beforeAll, describe, expect, it } from 'vitest';
import { instantiateAssemblyScript } from './test/compile.js';

interface FingerprintModule {
  readonly memory: WebAssembly.Memory;
  allocate(byteLength: number): number;
  resetHeap(): void;
  fingerprintLow(ptr: number, len: number): bigint;
  lastFingerprintHigh(): bigint;
}

let wasm: FingerprintModule;

beforeAll(async () => {
  wasm = await instantiateAssemblyScript<FingerprintModule>('wasm/test/fingerprint-entry.ts');
});

function fingerprint(bytes: Uint8Array): { low: bigint; high: bigint } {
  wasm.resetHeap();
  const ptr = wasm.allocate(Math.max(bytes.length, 1));
  new Uint8Array(wasm.memory.buffer, ptr, bytes.length).set(bytes);
  const low = BigInt.asUintN(64, wasm.fingerprintLow(ptr, bytes.length));
  return { low, high: BigInt.asUintN(64, wasm.lastFingerprintHigh()) };
}

/** Fingerprints every input and checks that no two share either 64-bit half. */
function expectDistinct(inputs: readonly Uint8Array[]): void {
  const lows = new Set<bigint>();
  const highs = new Set<bigint>();
  for (const input of inputs) {
    const { low, high } = fingerprint(input);
    lows.add(low);
    highs.add(high);
  }
  expect(lows.size).toBe(inputs.length);
  expect(highs.size).toBe(inputs.length);
}

describe('the series fingerprint', () => {
  it('is the same for the same bytes wherever they are', () => {
    const bytes = new TextEncoder().encode('\n\x0f\n\x08__name__\x12\x03up');
    const first = fingerprint(bytes);
    wasm.resetHeap();
    wasm.allocate(13);
    const ptr = wasm.allocate(bytes.length);
    new Uint8Array(wasm.memory.buffer, ptr, bytes.length).set(bytes);
    expect(BigInt.asUintN(64, wasm.fingerprintLow(ptr, bytes.length))).toBe(first.low);
    expect(BigInt.asUintN(64, wasm.lastFingerprintHigh())).toBe(first.high);
  });

  it('tells apart every single-bit change of a label block, in both halves', () => {
    const base = new Uint8Array(311).map((_, index) => (index * 31 + 7) & 0xff);
    const inputs = [base];
    for (let bit = 0; bit < base.length * 8; bit++) {
      const flipped = base.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      inputs.push(flipped);
    }
    expectDistinct(inputs);
  });

  it('tells apart runs of zeros of every length, the empty one included', () => {
    expectDistinct(Array.from({ length: 80 }, (_, length) => new Uint8Array(length)));
  });

  it('tells apart 100k label sets that differ in one value', () => {
    const encoder = new TextEncoder();
    const inputs = Array.from({ length: 100_000 }, (_, index) =>
      encoder.encode(`cluster=prod-eu-1,namespace=team-${index % 24},pod=svc-${index}-6f8d9c`),
    );
    expectDistinct(inputs);
  });
});
