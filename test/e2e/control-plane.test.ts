/**
 * A real control plane and two real proxies (`bin/phoenix` children) on the loopback, with
 * a remote-write load running throughout:
 * - ten pipeline updates, each applied by every worker of both proxies; the time from the
 *   update call until both proxies report the new version is measured (p50 and max, < 1 s);
 * - a bad config is refused by Validate and Update and never reaches a proxy;
 * - the control plane is killed: the proxies keep serving with their last config; a proxy
 *   restarted meanwhile comes back with its persisted last-good config;
 * - the control plane restarts: both proxies resync and apply the next version.
 * Not one write request may fail in all of this.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError } from '@connectrpc/connect';
import { compressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigIssueSchema } from '../../proto/gen/phoenix/v1/pipeline_pb.js';
import {
  type ControlPlaneClients,
  controlPlaneClients,
} from '../../proxy/control/control-plane-client.js';
import {
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../../proxy/pipeline/remote-write-fixtures.js';
import { assertRunning, type ManagedProcess, startProcess } from '../helpers/managed-process.js';
import { phoenixBinary, REPO_DIR } from '../helpers/peers.js';
import { pollUntil } from '../helpers/poll.js';
import { freePort, LOOPBACK_HOST } from '../helpers/ports.js';
import {
  type RemoteWriteReceiver,
  startRemoteWriteReceiver,
} from '../helpers/remote-write-receiver.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const PROXY_TOKEN = 'proxy-token-0123456789abcdef';

let workDir: string;
let receiver: RemoteWriteReceiver;
let controlPlanePort: number;
let controlPlane: ManagedProcess | undefined;
let clients: ControlPlaneClients;
const proxies: Array<{ process: ManagedProcess; url: string; name: string }> = [];

/** A pipeline that drops `pod` and stamps each series with the version's tag. */
function pipelineYaml(tag: string): string {
  return [
    'relabel_configs:',
    '  - action: labeldrop',
    '    regex: pod',
    '  - target_label: cfg',
    `    replacement: ${tag}`,
    '',
  ].join('\n');
}

async function startControlPlaneChild(): Promise<ManagedProcess> {
  const child = startProcess(
    'phoenix control-plane',
    phoenixBinary(),
    [
      'control-plane',
      '--listen',
      `${LOOPBACK_HOST}:${controlPlanePort}`,
      '--data-dir',
      join(workDir, 'control-plane'),
      '--token-file',
      join(workDir, 'tokens.yaml'),
    ],
    { cwd: REPO_DIR },
  );
  await pollUntil(
    async () => {
      assertRunning(child);
      return child.log().includes('"event":"control_plane_started"') ? true : undefined;
    },
    { description: 'control plane start', timeoutMs: 20_000, intervalMs: 50 },
  );
  return child;
}

const STARTED_LINE = /"event":"proxy_started".*?"listen":"([^"]+)"/;

async function startProxyChild(
  name: string,
): Promise<{ process: ManagedProcess; url: string; name: string }> {
  const child = startProcess(
    `phoenix proxy ${name}`,
    phoenixBinary(),
    [
      'proxy',
      '--listen',
      `${LOOPBACK_HOST}:0`,
      '--upstream',
      `${receiver.url}/${name}`,
      '--delivery',
      'sync',
      '--workers',
      '2',
      '--control-plane',
      `http://${LOOPBACK_HOST}:${controlPlanePort}`,
      '--proxy-token-file',
      join(workDir, 'proxy.token'),
      '--pipeline',
      'default',
      '--data-dir',
      join(workDir, name),
    ],
    { cwd: REPO_DIR },
  );
  const url = await pollUntil(
    async () => {
      assertRunning(child);
      const listen = STARTED_LINE.exec(child.log())?.[1];
      if (listen === undefined) return undefined;
      const response = await fetch(`http://${listen}/readyz`);
      await response.arrayBuffer();
      return response.ok ? `http://${listen}` : undefined;
    },
    { description: `proxy ${name} ready`, timeoutMs: 30_000, intervalMs: 50 },
  );
  return { process: child, url, name };
}

let requestCounter = 0;
function body(): Uint8Array {
  const labels = sortedLabels({ __name__: 'm', pod: 'p', request: String(requestCounter++) });
  return compressSync(Buffer.from(encodeRequest(writeRequest([seriesWith(labels)]))));
}

/** The `cfg` label of the last series a proxy's upstream path received. */
function lastTag(path: string): string | undefined {
  const series = receiver.series(`/${path}`);
  let newest: { request: number; cfg: string | undefined } | undefined;
  for (const entry of series) {
    const request = Number(entry.labels['request']);
    if (newest === undefined || request > newest.request) {
      newest = { request, cfg: entry.labels['cfg'] };
    }
    expect(entry.labels['pod']).toBeUndefined();
  }
  return newest?.cfg;
}

async function writeOnce(url: string): Promise<number> {
  const response = await fetch(`${url}/api/v1/write`, { method: 'POST', body: body() });
  await response.arrayBuffer();
  return response.status;
}

/** Both proxies report `version` as applied (every worker runs it). */
async function waitForApplied(version: number, timeoutMs: number): Promise<void> {
  await pollUntil(
    async () => {
      const { proxies: statuses } = await clients.proxies.listProxies({});
      const live = statuses.filter((status) => status.connected);
      return live.length >= 2 && live.every((status) => status.appliedVersion === version)
        ? true
        : undefined;
    },
    { description: `both proxies on version ${version}`, timeoutMs, intervalMs: 5 },
  );
}

/** Sends writes to every proxy until stopped; records every status. */
function startLoad(): { stop: () => Promise<void>; statuses: number[]; failures: string[] } {
  const statuses: number[] = [];
  const failures: string[] = [];
  let running = true;
  const loops = [0, 1, 2, 3].map(async (index) => {
    while (running) {
      const proxy = proxies[index % proxies.length]!;
      try {
        const status = await writeOnce(proxy.url);
        statuses.push(status);
        // A proxy the test shuts down on purpose answers 503 (retryable) while it drains,
        // then refuses connections: a sender retries those. Nothing else is excused.
        const draining = status === 503 && retired.has(proxy.process);
        if (status !== 204 && !draining) failures.push(`${proxy.name}: HTTP ${status}`);
      } catch (error) {
        if (!retired.has(proxy.process)) {
          failures.push(`${proxy.name}: ${(error as Error).message}`);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  });
  return {
    statuses,
    failures,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}
/** Proxy processes the test shut down on purpose. */
const retired = new Set<ManagedProcess>();

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'phoenix-control-e2e-'));
  await writeFile(
    join(workDir, 'tokens.yaml'),
    [
      'tokens:',
      `  - { name: ops, token: ${ADMIN_TOKEN}, role: admin }`,
      `  - { name: fleet, token: ${PROXY_TOKEN}, role: proxy }`,
      '',
    ].join('\n'),
  );
  await writeFile(join(workDir, 'proxy.token'), `${PROXY_TOKEN}\n`);
  receiver = await startRemoteWriteReceiver();
  controlPlanePort = await freePort();
  controlPlane = await startControlPlaneChild();
  clients = controlPlaneClients(`http://${LOOPBACK_HOST}:${controlPlanePort}`, ADMIN_TOKEN);
  await clients.pipelines.createPipeline({ name: 'default', configYaml: pipelineYaml('v1') });
  proxies.push(...(await Promise.all([startProxyChild('p1'), startProxyChild('p2')])));
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(proxies.map((proxy) => proxy.process.stop()));
  await controlPlane?.stop();
  await receiver?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('control plane with two proxies', () => {
  it('hot-reloads, refuses bad configs, survives the control plane going away', async () => {
    await waitForApplied(1, 10_000);
    for (const proxy of proxies) {
      expect(await writeOnce(proxy.url)).toBe(204);
      expect(lastTag(proxy.name)).toBe('v1');
    }

    const load = startLoad();
    // Ten updates under load; each must reach every worker of both proxies.
    const latenciesMs: number[] = [];
    let version = 1;
    for (let update = 0; update < 10; update++) {
      const tag = `v${version + 1}`;
      const startedMs = performance.now();
      const { pipeline } = await clients.pipelines.updatePipeline({
        name: 'default',
        configYaml: pipelineYaml(tag),
        expectedVersion: version,
      });
      version = pipeline!.version;
      await waitForApplied(version, 5_000);
      latenciesMs.push(performance.now() - startedMs);
      // Applied means every worker runs it: the next write through each proxy shows it.
      for (const proxy of proxies) {
        expect(await writeOnce(proxy.url)).toBe(204);
        expect(lastTag(proxy.name)).toBe(tag);
      }
    }
    const sorted = [...latenciesMs].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)]!;
    const max = sorted.at(-1)!;
    console.log(
      `pipeline update -> applied by both proxies: p50 ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms, all ${latenciesMs.map((ms) => ms.toFixed(1)).join(', ')}`,
    );
    expect(max).toBeLessThan(1_000);

    // A bad config: refused with its path, nothing stored, nothing streamed.
    const bad = 'relabel_configs:\n  - source_labels: [a]\n    regex: "a(b"\n    target_label: x\n';
    for (const call of [
      () => clients.pipelines.validatePipeline({ configYaml: bad }),
      () => clients.pipelines.updatePipeline({ name: 'default', configYaml: bad }),
    ]) {
      const error = await call().then(
        () => undefined,
        (caught: unknown) => ConnectError.from(caught),
      );
      expect(error?.code).toBe(Code.InvalidArgument);
      expect(error?.message).toContain('relabel_configs[0].regex');
      expect(error?.findDetails(ConfigIssueSchema)[0]?.path).toBe('relabel_configs[0].regex');
    }
    expect((await clients.pipelines.getPipeline({ name: 'default' })).pipeline?.version).toBe(
      version,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const statuses = (await clients.proxies.listProxies({})).proxies.filter((s) => s.connected);
    expect(statuses.map((status) => [status.appliedVersion, status.applyError])).toEqual([
      [version, undefined],
      [version, undefined],
    ]);
    const lastGoodTag = `v${version}`;

    // The control plane dies: the proxies keep serving with what they run.
    controlPlane!.child.kill('SIGKILL');
    await controlPlane!.stop();
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const proxy of proxies) {
      expect(await writeOnce(proxy.url)).toBe(204);
      expect(lastTag(proxy.name)).toBe(lastGoodTag);
    }

    // A proxy restarted meanwhile starts from its persisted last-good config.
    const second = proxies[1]!;
    retired.add(second.process);
    await second.process.stop();
    const restarted = await startProxyChild(second.name);
    proxies[1] = restarted;
    expect(restarted.process.log()).toContain('"source":"last-good"');
    expect(await writeOnce(restarted.url)).toBe(204);
    expect(lastTag(restarted.name)).toBe(lastGoodTag);

    // The control plane comes back (same data): both proxies resync and follow updates.
    controlPlane = await startControlPlaneChild();
    const resynced = await clients.pipelines.updatePipeline({
      name: 'default',
      configYaml: pipelineYaml('after-restart'),
      expectedVersion: version,
    });
    await waitForApplied(resynced.pipeline!.version, 10_000);
    for (const proxy of proxies) {
      expect(await writeOnce(proxy.url)).toBe(204);
      expect(lastTag(proxy.name)).toBe('after-restart');
    }

    await load.stop();
    expect(load.statuses.length).toBeGreaterThan(100);
    expect(load.failures).toEqual([]);
    expect(receiver.decodeErrors).toEqual([]);
  }, 60_000);
});
