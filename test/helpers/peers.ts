import { accessSync, constants } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the repository, found from this file's place in it. */
export const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The real programs the end-to-end tests run against. */
export type PeerName = 'prometheus' | 'promtool' | 'vmagent';

/**
 * Where `scripts/install-peers.sh` unpacks the Debian packages of the peers; the
 * `PHOENIX_PEERS_DIR` environment variable points both the script and the tests elsewhere.
 */
export function peersDir(): string {
  return process.env['PHOENIX_PEERS_DIR'] ?? join(REPO_DIR, '.peers');
}

/**
 * Absolute path of a peer's executable. Throws, with the command that installs it, when
 * the peer is missing: a test that needs a real Prometheus fails rather than silently
 * testing less.
 */
export function peerBinary(name: PeerName): string {
  const path = join(peersDir(), 'usr', 'bin', name);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(
      `${name} not found at ${path}: run \`bash scripts/install-peers.sh\` ` +
        '(npm test runs it as pretest; it needs apt-get and the Debian registry)',
    );
  }
  return path;
}

/** Absolute path of the `phoenix` CLI, which needs `npm run build` to have made `dist/`. */
export function phoenixBinary(): string {
  const path = join(REPO_DIR, 'bin', 'phoenix');
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`phoenix CLI not found or not executable at ${path}`);
  }
  return path;
}
