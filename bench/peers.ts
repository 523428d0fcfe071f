/**
 * Where the peer binaries are: `scripts/install-peers.sh` unpacks the Debian packages into
 * `.peers/` of the repository, or into `$PHOENIX_PEERS_DIR` when that is set.
 */

import { accessSync, constants } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from this file in `bench/` or in the `dist/bench/` build. */
export function repoDir(): string {
  const parent = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  return basename(parent) === 'dist' ? dirname(parent) : parent;
}

/** Absolute path of a peer's executable; throws with the install command when missing. */
export function peerBinary(name: 'vmagent' | 'prometheus'): string {
  const peersDir = process.env['PHOENIX_PEERS_DIR'] ?? join(repoDir(), '.peers');
  const path = join(peersDir, 'usr', 'bin', name);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`${name} not found at ${path}: run \`bash scripts/install-peers.sh\``);
  }
  return path;
}

/** The `bin/phoenix` of this checkout (it runs `dist/`, so `npm run build` must have run). */
export function phoenixBinary(): string {
  return join(repoDir(), 'bin', 'phoenix');
}
