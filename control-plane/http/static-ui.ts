/**
 * Serves the built dashboard (`vite build` output in `dist/ui`). Any path that is not a
 * file gets `index.html`, so a reload on `/pipelines/default` opens that page.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Where the built UI is: `dist/ui` of the repo, whether this module runs compiled (from
 * `dist/control-plane/http/`) or from source (`control-plane/http/`, as under vitest).
 */
export function defaultUiDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const compiled = here.split(sep).includes('dist');
  return normalize(join(here, compiled ? '../../ui' : '../../dist/ui'));
}

/** A file answer, or undefined when nothing matches (the caller answers 404). */
export interface StaticFile {
  readonly body: Uint8Array;
  readonly contentType: string;
  /** Hashed asset names never change content, so they may be cached for long. */
  readonly immutable: boolean;
}

/**
 * The file for a request path inside `uiDir`, `index.html` for app routes, or undefined
 * when the UI is not built. Paths that climb out of `uiDir` are refused.
 */
export async function readUiFile(
  uiDir: string,
  requestPath: string,
): Promise<StaticFile | undefined> {
  const relative = normalize(decodeURIComponent(requestPath)).replace(/^([/\\])+/, '');
  const path = join(uiDir, relative);
  if (path !== uiDir && !path.startsWith(uiDir.endsWith(sep) ? uiDir : uiDir + sep)) {
    return undefined;
  }
  const isFile = await stat(path).then(
    (info) => info.isFile(),
    () => false,
  );
  if (isFile) {
    return {
      body: await readFile(path),
      contentType: CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
      immutable: relative.startsWith('assets/'),
    };
  }
  // A missing asset is a real 404; any other path is a page of the single-page app.
  if (relative.startsWith('assets/') || extname(relative) !== '') return undefined;
  const index = join(uiDir, 'index.html');
  try {
    return { body: await readFile(index), contentType: CONTENT_TYPES['.html']!, immutable: false };
  } catch {
    return undefined;
  }
}
