import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { assertRunning, type ManagedProcess, startProcess } from './managed-process.js';
import { phoenixBinary, REPO_DIR } from './peers.js';
import { pollUntil } from './poll.js';
import { LOOPBACK_HOST } from './ports.js';

/** How to start `phoenix proxy` for a test. */
export interface PhoenixOptions {
  /** Remote-write URL Phoenix forwards to. */
  upstreamUrl: string;
  /** phoenix.yaml content, as the object YAML would parse to; omitted means no --config. */
  config?: Record<string, unknown>;
  /** `--workers`; default 1, which is enough for tests on a 2-core machine. */
  workers?: number;
  /** How long to wait for `/readyz`; default 30 000 ms. */
  readyTimeoutMs?: number;
  /**
   * `--data-dir` of the durable queues; default a fresh folder deleted by `stop()`. Pass
   * one to restart a proxy on the queues an earlier one left.
   */
  dataDir?: string;
  /** More flags, appended as given (e.g. `--queue-full-policy`, a second `--upstream`). */
  extraArgs?: readonly string[];
}

/** A `phoenix proxy` child process on the loopback. */
export interface RunningPhoenix {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Where senders write: `${url}/api/v1/write`. */
  readonly remoteWriteUrl: string;
  readonly process: ManagedProcess;
  /** The text of `GET /metrics`. */
  metrics(): Promise<string>;
  /** SIGTERM (graceful shutdown), SIGKILL if it hangs; deletes the temp config. */
  stop(): Promise<void>;
}

/** The startup line `phoenix proxy` logs once it listens: `{"event":"proxy_started","listen":"HOST:PORT",...}`. */
const STARTED_LINE = /"event":"proxy_started".*?"listen":"([^"]+)"/;

/**
 * Starts `bin/phoenix proxy` as a user would (built `dist/` needed) on port 0, reads the
 * port it bound from its startup log line, and waits for `/readyz`. Binding port 0 in the
 * child itself leaves no window in which another process could take the port. Throws with
 * Phoenix's output if it exits first.
 */
export async function startPhoenix(options: PhoenixOptions): Promise<RunningPhoenix> {
  const binary = phoenixBinary();
  const workDir = await mkdtemp(join(tmpdir(), 'phoenix-proxy-'));
  try {
    const configArgs: string[] = [];
    if (options.config !== undefined) {
      const configPath = join(workDir, 'phoenix.yaml');
      await writeFile(configPath, stringify(options.config));
      configArgs.push('--config', configPath);
    }
    const args = [
      'proxy',
      '--listen',
      `${LOOPBACK_HOST}:0`,
      '--upstream',
      options.upstreamUrl,
      '--workers',
      String(options.workers ?? 1),
      ...configArgs,
      '--data-dir',
      options.dataDir ?? join(workDir, 'data'),
      ...(options.extraArgs ?? []),
    ];
    const process = startProcess('phoenix proxy', binary, args, { cwd: REPO_DIR });
    let url = '';
    try {
      await pollUntil(
        async () => {
          assertRunning(process);
          if (url === '') {
            const listen = STARTED_LINE.exec(process.log())?.[1];
            if (listen === undefined) return undefined;
            url = `http://${listen}`;
          }
          const response = await fetch(`${url}/readyz`);
          await response.arrayBuffer();
          return response.ok ? true : undefined;
        },
        { description: 'phoenix proxy /readyz', timeoutMs: options.readyTimeoutMs ?? 30_000 },
      );
    } catch (error) {
      await process.stop();
      throw error;
    }
    return {
      url,
      remoteWriteUrl: `${url}/api/v1/write`,
      process,
      async metrics() {
        const response = await fetch(`${url}/metrics`);
        return response.text();
      },
      async stop() {
        await process.stop();
        await rm(workDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}
