/**
 * Compiles an AssemblyScript entry file to a `WebAssembly.Module` for tests, with the
 * compiler options of `asconfig.json` (its `options` plus the `release` target), so tests
 * exercise the same code generation as `npm run build:wasm` (optimizeLevel 3, noAssert, the
 * same features) without touching `dist/`.
 *
 * Compiling at -O3 takes seconds, and vitest runs every test file in its own process, so
 * binaries are cached twice: in memory per process, and on disk under
 * `node_modules/.cache/phoenix-wasm/`, keyed by a hash of the options, the entry path and
 * every AssemblyScript source under `wasm/`. Any edit to a source changes the key.
 */

import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';
import { type WasmModule, wasmApi } from '../../proxy/pipeline/wasm-module.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const wasmSourceRoot = path.join(repoRoot, 'wasm');
const cacheDir = path.join(repoRoot, 'node_modules', '.cache', 'phoenix-wasm');

/** asconfig keys that name inputs or outputs rather than code generation. */
const nonCodegenKeys = new Set(['entries', 'outFile', 'textFile', 'bindings', 'extends']);

/** A compiled module, as the hosts in `proxy/` declare it. */
export type CompiledWasmModule = WasmModule;

/** Imports every module built with the stub runtime needs: `abort` on a failed allocation. */
const runtimeImports = {
  env: {
    abort: (_message: number, _file: number, line: number, column: number): never => {
      throw new Error(`AssemblyScript abort at ${line}:${column}`);
    },
  },
};

const modulesByEntry = new Map<string, Promise<CompiledWasmModule>>();

/**
 * Compiles `entryPath` (see compileAssemblyScript) and instantiates it with the runtime
 * imports. Returns the exports; `T` is the caller's description of them.
 */
export async function instantiateAssemblyScript<T extends object>(entryPath: string): Promise<T> {
  const module = await compileAssemblyScript(entryPath);
  return new wasmApi.Instance(module, runtimeImports).exports as T;
}

/**
 * Returns the compiled module of `entryPath` (absolute, or relative to the repository root).
 * Concurrent and repeated calls for the same entry share one compilation.
 */
export function compileAssemblyScript(entryPath: string): Promise<CompiledWasmModule> {
  const absoluteEntry = path.resolve(repoRoot, entryPath);
  let pending = modulesByEntry.get(absoluteEntry);
  if (pending === undefined) {
    pending = compileCached(absoluteEntry);
    modulesByEntry.set(absoluteEntry, pending);
    // A failed compilation is not cached, so a fixed source compiles on the next call.
    pending.catch(() => modulesByEntry.delete(absoluteEntry));
  }
  return pending;
}

async function compileCached(absoluteEntry: string): Promise<CompiledWasmModule> {
  const compilerArgs = await releaseCompilerArgs();
  const cacheKey = await sourceHash(absoluteEntry, compilerArgs);
  const cachePath = path.join(cacheDir, `${cacheKey}.wasm`);
  const cached = await readFile(cachePath).catch(() => null);
  if (cached !== null) return wasmApi.compile(cached);

  const binary = await compileWithAsc(absoluteEntry, compilerArgs);
  // Written under a unique name and renamed, so a parallel test process never reads half a file.
  await mkdir(cacheDir, { recursive: true });
  const partialPath = `${cachePath}.${process.pid}.partial`;
  await writeFile(partialPath, binary);
  await rename(partialPath, cachePath);
  return wasmApi.compile(binary);
}

/** asconfig.json's `options` with the `release` target on top, as command-line arguments. */
async function releaseCompilerArgs(): Promise<string[]> {
  const config = JSON.parse(await readFile(path.join(repoRoot, 'asconfig.json'), 'utf8')) as {
    options?: Record<string, unknown>;
    targets?: { release?: Record<string, unknown> };
  };
  const merged: Record<string, unknown> = { ...config.options, ...config.targets?.release };
  const args: string[] = [];
  for (const [key, value] of Object.entries(merged)) {
    if (nonCodegenKeys.has(key) || value === false || value === undefined) continue;
    if (value === true) args.push(`--${key}`);
    else if (Array.isArray(value)) args.push(`--${key}`, value.join(','));
    else args.push(`--${key}`, String(value));
  }
  return args;
}

async function sourceHash(absoluteEntry: string, compilerArgs: string[]): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`asc ${asc.version}\0${compilerArgs.join(' ')}\0${absoluteEntry}\0`);
  const sources = await listAssemblyScriptSources(wasmSourceRoot);
  sources.sort();
  for (const sourcePath of sources) {
    hash.update(`${sourcePath}\0`);
    hash.update(await readFile(sourcePath));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 32);
}

async function listAssemblyScriptSources(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const entryPath = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await listAssemblyScriptSources(entryPath)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) found.push(entryPath);
  }
  return found;
}

async function compileWithAsc(absoluteEntry: string, compilerArgs: string[]): Promise<Uint8Array> {
  const outputName = 'module.wasm';
  let binary: Uint8Array | null = null;
  const stdout = asc.createMemoryStream();
  const stderr = asc.createMemoryStream();
  const result = await asc.main([absoluteEntry, '--outFile', outputName, ...compilerArgs], {
    stdout,
    stderr,
    // asconfig.json is applied through compilerArgs; hiding it keeps asc from also adding
    // the production entry to this compilation.
    readFile: (fileName, baseDir) =>
      path.basename(fileName) === 'asconfig.json'
        ? null
        : readFile(path.resolve(baseDir, fileName), 'utf8').catch(() => null),
    writeFile: (fileName, contents) => {
      if (fileName === outputName && typeof contents !== 'string') binary = contents;
    },
  });
  if (result.error !== null || binary === null) {
    throw new Error(
      `asc failed to compile ${absoluteEntry}: ${result.error?.message ?? 'no binary'}\n${stderr.toString()}`,
    );
  }
  return binary;
}
