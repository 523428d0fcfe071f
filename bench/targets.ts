/**
 * The processes under test, started fresh for every run so their CPU time and peak memory
 * belong to that run alone: `bin/phoenix proxy` and vmagent, both forwarding to the sink
 * with the same relabel rules. The harness drives them only through their command lines
 * and HTTP endpoints.
 */

import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type LoggedChild, spawnLogged } from './logged-child.js';
import { peerBinary, phoenixBinary, repoDir } from './peers.js';

export const TARGET_KINDS = ['phoenix', 'vmagent'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** A running target. */
export interface TargetProcess {
  readonly kind: TargetKind;
  readonly pid: number;
  /** Where to send remote write. */
  readonly remoteWriteUrl: string;
  /** The last part of its stdout and stderr, for error messages. */
  log(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

/** How to start a target. */
export interface TargetOptions {
  readonly kind: TargetKind;
  /** Remote-write URL the target forwards to. */
  readonly upstreamUrl: string;
  readonly relabelConfigs: ReadonlyArray<Record<string, unknown>>;
  /** Phoenix `aggregations:` rules (YAML field names); vmagent 1.79 has none. */
  readonly aggregations?: ReadonlyArray<Record<string, unknown>> | undefined;
  /** A directory of this run for config files and vmagent's buffer. */
  readonly workDir: string;
  /** Phoenix `--workers`. */
  readonly phoenixWorkers: number;
  /** More arguments for `phoenix proxy`, after the harness' own. */
  readonly phoenixArgs?: readonly string[] | undefined;
  /** Write V8 CPU profiles of Phoenix (main thread and workers) to this directory. */
  readonly cpuProfileDir?: string | undefined;
  /** vmagent binary; default the one `scripts/install-peers.sh` unpacked. */
  readonly vmagentBinary?: string | undefined;
  /** How long to wait for the target to become ready, in ms. Default 30 000. */
  readonly readyTimeoutMs?: number;
}

const MAX_LOG_CHARS = 32 * 1024;
const PHOENIX_STARTED = /"event":"proxy_started".*?"listen":"([^"]+)"/;

/** Starts the target and waits until it answers its readiness endpoint. */
export async function startTarget(options: TargetOptions): Promise<TargetProcess> {
  return options.kind === 'phoenix' ? startPhoenix(options) : startVmagent(options);
}

async function startPhoenix(options: TargetOptions): Promise<TargetProcess> {
  const args: string[] = [];
  if (options.cpuProfileDir !== undefined) {
    args.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  }
  args.push(
    phoenixBinary(),
    'proxy',
    '--listen',
    '127.0.0.1:0',
    '--upstream',
    options.upstreamUrl,
    '--workers',
    String(options.phoenixWorkers),
  );
  if (phoenixProxyFlags().includes('--data-dir')) {
    // Durable delivery keeps its queues here: each run starts empty and leaves nothing.
    args.push('--data-dir', join(options.workDir, 'phoenix-data'));
  }
  const aggregations = options.aggregations ?? [];
  if (options.relabelConfigs.length > 0 || aggregations.length > 0) {
    const configPath = join(options.workDir, 'phoenix.yaml');
    const config = {
      ...(options.relabelConfigs.length > 0 ? { relabel_configs: options.relabelConfigs } : {}),
      ...(aggregations.length > 0 ? { aggregations } : {}),
    };
    await writeFile(configPath, stringify(config));
    args.push('--config', configPath);
  }
  args.push(...(options.phoenixArgs ?? []));
  const child = spawnLogged(process.execPath, args, { cwd: repoDir(), maxLogChars: MAX_LOG_CHARS });
  let baseUrl = '';
  await waitReady(child, options.readyTimeoutMs, async () => {
    if (baseUrl === '') {
      const listen = PHOENIX_STARTED.exec(child.log())?.[1];
      if (listen === undefined) return false;
      baseUrl = `http://${listen}`;
    }
    return httpOk(`${baseUrl}/readyz`);
  });
  return target('phoenix', child, `${baseUrl}/api/v1/write`);
}

async function startVmagent(options: TargetOptions): Promise<TargetProcess> {
  const port = await freePort();
  const args = [
    `-httpListenAddr=127.0.0.1:${port}`,
    `-remoteWrite.url=${options.upstreamUrl}`,
    `-remoteWrite.tmpDataPath=${join(options.workDir, 'vmagent-data')}`,
    '-loggerLevel=WARN',
  ];
  if (options.relabelConfigs.length > 0) {
    const configPath = join(options.workDir, 'relabel.yaml');
    await writeFile(configPath, stringify(options.relabelConfigs));
    args.push(`-remoteWrite.urlRelabelConfig=${configPath}`);
  }
  const child = spawnLogged(options.vmagentBinary ?? peerBinary('vmagent'), args, {
    cwd: repoDir(),
    maxLogChars: MAX_LOG_CHARS,
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitReady(child, options.readyTimeoutMs, () => httpOk(`${baseUrl}/health`));
  return target('vmagent', child, `${baseUrl}/api/v1/write`);
}

let proxyHelp: string | undefined;

/** `phoenix proxy --help`, to pass only the flags this build of Phoenix has. */
function phoenixProxyFlags(): string {
  proxyHelp ??= execFileSync(process.execPath, [phoenixBinary(), 'proxy', '--help'], {
    encoding: 'utf8',
  });
  return proxyHelp;
}

async function waitReady(
  child: LoggedChild,
  timeoutMs = 30_000,
  isReady: () => Promise<boolean>,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const status = child.exitStatus();
    if (status !== undefined) {
      throw new Error(`target exited (${status}) before it was ready; output:\n${child.log()}`);
    }
    if (await isReady()) return;
    if (performance.now() > deadline) {
      child.child.kill('SIGKILL');
      throw new Error(`target not ready within ${timeoutMs} ms; output:\n${child.log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function target(kind: TargetKind, logged: LoggedChild, remoteWriteUrl: string): TargetProcess {
  const pid = logged.child.pid;
  if (pid === undefined) throw new Error(`${kind} has no pid`);
  return {
    kind,
    pid,
    remoteWriteUrl,
    log: logged.log,
    stop: (graceMs = 10_000) => logged.stop(graceMs),
  };
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url);
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** A loopback port that was free a moment ago, for vmagent, which cannot report port 0. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port === 0 ? reject(new Error('no free port')) : resolve(port)));
    });
  });
}
