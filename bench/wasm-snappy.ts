/**
 * The AssemblyScript snappy codec on its own, for the micro benchmarks and the sink:
 * compiles the codec's test entry (`wasm/test/snappy-entry.ts`) with the release options of
 * `asconfig.json`, so the numbers are those of the code inside `phoenix.wasm`.
 */

import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import asc from 'assemblyscript/asc';
import { type WasmModule, wasmApi } from '../proxy/pipeline/wasm-module.js';
import { repoDir } from './peers.js';

/** The codec's exports (see `wasm/test/snappy-entry.ts`). */
interface SnappyExports {
  memory: { readonly buffer: ArrayBuffer };
  allocate(byteLength: number): number;
  resetHeap(): void;
  snappyDecodedLength(src: number, srcLen: number): bigint;
  snappyDecompress(src: number, srcLen: number, dst: number, dstLen: number): number;
  snappyMaxCompressedLength(n: number): number;
  snappyCompress(src: number, srcLen: number, dst: number): number;
}

/** Compress and decompress with one buffer pair placed once in the module's memory. */
export interface WasmSnappy {
  /** Decompresses `compressed` (whose decompressed size is `rawBytes`); returns the size. */
  decompress(): number;
  /** Compresses the raw bytes; returns the compressed size. */
  compress(): number;
}

/** asconfig.json's `options` plus its `release` target, as asc arguments. */
async function releaseArgs(): Promise<string[]> {
  const config = JSON.parse(await readFile(join(repoDir(), 'asconfig.json'), 'utf8')) as {
    options?: Record<string, unknown>;
    targets?: { release?: Record<string, unknown> };
  };
  const skipped = new Set(['entries', 'outFile', 'textFile', 'bindings', 'extends']);
  const args: string[] = [];
  for (const [key, value] of Object.entries({ ...config.options, ...config.targets?.release })) {
    if (skipped.has(key) || value === false || value === undefined) continue;
    if (value === true) args.push(`--${key}`);
    else if (Array.isArray(value)) args.push(`--${key}`, value.join(','));
    else args.push(`--${key}`, String(value));
  }
  return args;
}

let compiledModule: Promise<WasmModule> | undefined;

/** Compiles the codec once per process. */
function compileCodec(): Promise<WasmModule> {
  compiledModule ??= (async () => {
    const entry = resolve(repoDir(), 'wasm', 'test', 'snappy-entry.ts');
    let binary: Uint8Array | undefined;
    const stderr = asc.createMemoryStream();
    const result = await asc.main([entry, '--outFile', 'module.wasm', ...(await releaseArgs())], {
      stdout: asc.createMemoryStream(),
      stderr,
      // Options come from releaseArgs; hiding asconfig.json keeps its entry out of this build.
      readFile: (fileName, baseDir) =>
        basename(fileName) === 'asconfig.json'
          ? null
          : readFile(resolve(baseDir, fileName), 'utf8').catch(() => null),
      writeFile: (fileName, contents) => {
        if (fileName === 'module.wasm' && typeof contents !== 'string') binary = contents;
      },
    });
    if (result.error !== null || binary === undefined) {
      throw new Error(`asc failed on ${entry}: ${result.error?.message}\n${stderr.toString()}`);
    }
    return wasmApi.compile(binary);
  })();
  return compiledModule;
}

async function instantiate(): Promise<SnappyExports> {
  return new wasmApi.Instance(await compileCodec(), {
    env: {
      abort: () => {
        throw new Error('snappy codec aborted');
      },
    },
  }).exports as SnappyExports;
}

/** Decompresses snappy blocks in the module's memory; one instance per user. */
export interface SnappyDecompressor {
  /**
   * The decompressed bytes of `compressed`, as a view into the module's memory that is
   * valid until the next call. Throws on a corrupt block.
   */
  decompress(compressed: Uint8Array): Uint8Array;
}

/** A decompressor for the sink: the module's codec is far cheaper than napi snappy here. */
export async function createSnappyDecompressor(): Promise<SnappyDecompressor> {
  const codec = await instantiate();
  return {
    decompress(compressed) {
      codec.resetHeap();
      const src = codec.allocate(compressed.length);
      new Uint8Array(codec.memory.buffer, src, compressed.length).set(compressed);
      const decodedLength = Number(codec.snappyDecodedLength(src, compressed.length));
      if (!Number.isSafeInteger(decodedLength) || decodedLength < 0 || decodedLength > 1 << 30) {
        throw new Error('corrupt snappy block (bad length)');
      }
      const dst = codec.allocate(decodedLength);
      const status = codec.snappyDecompress(src, compressed.length, dst, decodedLength);
      if (status < 0) throw new Error(`corrupt snappy block (status ${status})`);
      return new Uint8Array(codec.memory.buffer, dst, decodedLength);
    },
  };
}

/** Compiles the codec and prepares it for `compressed` ↔ `raw`. */
export async function loadWasmSnappy(compressed: Uint8Array, raw: Uint8Array): Promise<WasmSnappy> {
  const codec = await instantiate();
  const compressedPtr = codec.allocate(compressed.length);
  const rawPtr = codec.allocate(raw.length);
  const outPtr = codec.allocate(codec.snappyMaxCompressedLength(raw.length));
  new Uint8Array(codec.memory.buffer, compressedPtr, compressed.length).set(compressed);
  new Uint8Array(codec.memory.buffer, rawPtr, raw.length).set(raw);
  return {
    decompress: () => codec.snappyDecompress(compressedPtr, compressed.length, rawPtr, raw.length),
    compress: () => codec.snappyCompress(rawPtr, raw.length, outPtr),
  };
}
