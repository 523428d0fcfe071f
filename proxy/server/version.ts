import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedVersion: string | undefined;

/**
 * The version in the project's `package.json`, for `User-Agent` and `--version`. Found by
 * walking up from this file, which sits at a different depth in the sources than in
 * `dist/`.
 */
export function phoenixVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (manifest.name === 'phoenix' && typeof manifest.version === 'string') {
        cachedVersion = manifest.version;
        return cachedVersion;
      }
    } catch {
      // No manifest at this level: keep walking up.
    }
    const parent = dirname(directory);
    if (parent === directory) {
      cachedVersion = '0.0.0';
      return cachedVersion;
    }
    directory = parent;
  }
}
