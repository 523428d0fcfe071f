import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  assertRunning,
  ChildExitedError,
  type ManagedProcess,
  startProcess,
} from './managed-process.js';
import { peerBinary } from './peers.js';
import { pollUntil } from './poll.js';
import { freePort, LOOPBACK_HOST } from './ports.js';

/** How to start a real Prometheus. */
export interface PrometheusOptions {
  /** Names the server in error messages ("sender", "receiver"). */
  name: string;
  /** The prometheus.yml content, as the object YAML would parse to. */
  config: Record<string, unknown>;
  /** Accept remote write on `/api/v1/write` (`--web.enable-remote-write-receiver`). */
  remoteWriteReceiver?: boolean;
  /** More flags, e.g. `--enable-feature=native-histograms` to receive native histograms. */
  extraArgs?: readonly string[];
  /** How long to wait for `/-/ready`; default 30 000 ms. */
  readyTimeoutMs?: number;
}

/** One series of an instant vector, as `/api/v1/query` answers. */
export interface InstantSample {
  metric: Record<string, string>;
  /** The sample value as Prometheus prints it ("42", "1.5", "NaN"). */
  value: string;
}

/** A Prometheus server started by a test, on the loopback, with its own temp dir. */
export interface RunningPrometheus {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Where remote write is accepted when started with `remoteWriteReceiver`. */
  readonly remoteWriteUrl: string;
  readonly process: ManagedProcess;
  /** Runs an instant PromQL query; rejects on any API error. */
  query(promql: string): Promise<InstantSample[]>;
  /** Label sets of all series matching `selector` in the whole TSDB. */
  series(selector: string): Promise<Record<string, string>[]>;
  /** Prometheus's own metrics, the text of `GET /metrics`. */
  metrics(): Promise<string>;
  /** Stops the server and deletes its data and config. */
  stop(): Promise<void>;
}

const MAX_PORT_ATTEMPTS = 3;

/**
 * Starts the Prometheus 2.42 unpacked by `scripts/install-peers.sh` and waits until it is
 * ready. Throws (with Prometheus's own output) if it exits, e.g. on a config it rejects.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const binary = peerBinary('prometheus');
  const workDir = await mkdtemp(join(tmpdir(), `phoenix-prometheus-${options.name}-`));
  const configPath = join(workDir, 'prometheus.yml');
  await writeFile(configPath, stringify(options.config));
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const args = [
        `--config.file=${configPath}`,
        `--storage.tsdb.path=${join(workDir, 'data')}`,
        `--web.listen-address=${LOOPBACK_HOST}:${port}`,
      ];
      if (options.remoteWriteReceiver === true) args.push('--web.enable-remote-write-receiver');
      args.push(...(options.extraArgs ?? []));
      const process = startProcess(`prometheus ${options.name}`, binary, args, { cwd: workDir });
      const url = `http://${LOOPBACK_HOST}:${port}`;
      try {
        await pollUntil(
          async () => {
            assertRunning(process);
            const response = await fetch(`${url}/-/ready`);
            return response.ok ? true : undefined;
          },
          {
            description: `prometheus ${options.name} ready`,
            timeoutMs: options.readyTimeoutMs ?? 30_000,
          },
        );
      } catch (error) {
        await process.stop();
        const portTaken =
          error instanceof ChildExitedError && /address already in use/.test(error.message);
        if (portTaken && attempt < MAX_PORT_ATTEMPTS) continue;
        throw error;
      }
      return makeHandle(url, process, workDir);
    }
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

function makeHandle(url: string, process: ManagedProcess, workDir: string): RunningPrometheus {
  return {
    url,
    remoteWriteUrl: `${url}/api/v1/write`,
    process,
    async query(promql) {
      const result = await apiGet(url, `/api/v1/query?query=${encodeURIComponent(promql)}`);
      if (!Array.isArray(result.result)) throw new Error(`unexpected query result for ${promql}`);
      return (result.result as { metric: Record<string, string>; value: [number, string] }[]).map(
        (entry) => ({ metric: entry.metric, value: entry.value[1] }),
      );
    },
    async series(selector) {
      const result = await apiGet(url, `/api/v1/series?match[]=${encodeURIComponent(selector)}`);
      return result as unknown as Record<string, string>[];
    },
    async metrics() {
      const response = await fetch(`${url}/metrics`);
      return response.text();
    },
    async stop() {
      await process.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

async function apiGet(baseUrl: string, pathAndQuery: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${baseUrl}${pathAndQuery}`);
  const body = (await response.json()) as { status: string; data?: unknown; error?: string };
  if (body.status !== 'success') {
    throw new Error(`GET ${pathAndQuery}: ${response.status} ${body.error ?? 'unknown error'}`);
  }
  return body.data as Record<string, unknown>;
}
