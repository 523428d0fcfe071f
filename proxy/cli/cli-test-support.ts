/**
 * For tests of the control-plane commands: a real control plane on loopback, and an
 * {@link CommandIo} that keeps what a command printed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseTokenFile,
  type RunningControlPlane,
  startControlPlane,
} from '../../control-plane/index.js';
import type { CommandIo } from './output-format.js';

export const TEST_TOKENS = {
  admin: 'cli-admin-token-000000000000',
  viewer: 'cli-viewer-token-00000000000',
  proxy: 'cli-proxy-token-000000000000',
} as const;

export interface TestControlPlane {
  readonly url: string;
  readonly dataDir: string;
  readonly server: RunningControlPlane;
  close(): Promise<void>;
}

/** A control plane with one token per role (names `admin-user`, …) on a free port. */
export async function startTestControlPlane(): Promise<TestControlPlane> {
  const dataDir = await mkdtemp(join(tmpdir(), 'phoenix-cli-'));
  const tokens = parseTokenFile(
    JSON.stringify(
      Object.entries(TEST_TOKENS).map(([role, token]) => ({ name: `${role}-user`, token, role })),
    ),
    'tokens.json',
  );
  const server = await startControlPlane({ listenPort: 0, dataDir, tokens });
  return {
    url: server.url,
    dataDir,
    server,
    close: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Collects stdout and stderr of a command run. */
export function capturingIo(): CommandIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout(text: string) {
      io.out += text;
    },
    stderr(text: string) {
      io.err += text;
    },
  };
  return io;
}
