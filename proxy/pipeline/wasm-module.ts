/**
 * Loading the compiled module (`dist/wasm/phoenix.wasm`): the one place that knows where it
 * lives and which slice of the WebAssembly JS API the hosts use.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A compiled module. The project compiles against the ES and Node.js libs only (no DOM lib),
 * which do not declare the `WebAssembly` global, so the slice used is declared here.
 */
export interface WasmModule {
  readonly __brand: 'WebAssembly.Module';
}

/** The slice of the WebAssembly JS API the hosts use. */
export interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Instance: new (module: WasmModule, imports: object) => { readonly exports: object };
}

/** The runtime's `WebAssembly` global, typed as {@link WasmApi}. */
export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/**
 * The default module path: `<repo>/dist/wasm/phoenix.wasm`, found from this file's location
 * both in the sources (`proxy/pipeline`) and in the build (`dist/proxy/pipeline`).
 */
export function defaultWasmPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const twoUp = path.resolve(here, '..', '..');
  const distDir = path.basename(twoUp) === 'dist' ? twoUp : path.join(twoUp, 'dist');
  return path.join(distDir, 'wasm', 'phoenix.wasm');
}
