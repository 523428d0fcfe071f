import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import * as abi from './wasm-abi.js';

const wasmPath = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../dist/wasm/phoenix.wasm',
);

interface GlobalValue {
  readonly value: number;
}

async function moduleGlobals(): Promise<Map<string, number>> {
  const wasm = (
    globalThis as unknown as {
      WebAssembly: {
        instantiate(
          bytes: Uint8Array,
          imports: object,
        ): Promise<{ instance: { exports: Record<string, unknown> } }>;
      };
    }
  ).WebAssembly;
  const { instance } = await wasm.instantiate(await readFile(wasmPath), {
    env: { abort: () => {} },
    host: { evaluate: () => -1 },
  });
  const globals = new Map<string, number>();
  for (const [name, value] of Object.entries(instance.exports)) {
    if (typeof value === 'object' && value !== null && 'value' in value) {
      globals.set(name, (value as GlobalValue).value);
    }
  }
  return globals;
}

describe('wasm-abi.ts mirrors the module', async () => {
  const globals = await moduleGlobals();
  const constants = Object.entries(abi);

  test('the module exports every constant', () => {
    expect(constants.length).toBeGreaterThan(40);
    const missing = constants.map(([name]) => name).filter((name) => !globals.has(name));
    expect(missing).toEqual([]);
  });

  test.each(constants)('%s', (name, value) => {
    // u32 constants above 2^31 come back from an i32 global as negative numbers.
    expect((globals.get(name) ?? Number.NaN) >>> 0).toBe((value as number) >>> 0);
  });

  test('the module exports no constant the host lacks', () => {
    const extra = [...globals.keys()].filter((name) => !(name in abi));
    expect(extra).toEqual([]);
  });
});
