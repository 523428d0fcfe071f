/**
 * The proxy's config sync against a real control plane and a real in-process proxy:
 * start from the control plane's version, follow updates, persist the last good one,
 * reconnect after a control-plane restart, and report (and survive) a config it cannot
 * apply.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressSync, uncompressSync } from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningControlPlane, startControlPlane } from '../../control-plane/index.js';
import {
  decodeRequest,
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { startProxy } from '../server/proxy.js';
import { ServerScope, startRecordingUpstream } from '../server/test-support.js';
import { ConfigSync } from './config-sync.js';
import { controlPlaneClients } from './control-plane-client.js';
import { readLastGoodConfig } from './last-good-config.js';
import { readProxyCounters } from './proxy-counters.js';

const scope = new ServerScope();
const dirs: string[] = [];
afterEach(async () => {
  await scope.closeAll();
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-sync-'));
  dirs.push(dir);
  return dir;
}

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const stamp = (tag: string) => `relabel_configs:\n  - target_label: cfg\n    replacement: ${tag}\n`;

describe('ConfigSync', () => {
  it('follows versions, persists the last good one, resyncs and reports a failed apply', async () => {
    const controlDir = await tempDir();
    const proxyDataDir = await tempDir();
    let controlPlane: RunningControlPlane = await startControlPlane({
      listenPort: 0,
      dataDir: controlDir,
    });
    const port = controlPlane.port;
    const closeControlPlane = { close: () => controlPlane.close() };
    const api = controlPlaneClients(controlPlane.url, undefined);
    await api.pipelines.createPipeline({ name: 'default', configYaml: stamp('one') });

    const sync = new ConfigSync({
      controlPlaneUrl: controlPlane.url,
      token: undefined,
      proxyId: 'sync-test',
      pipeline: 'default',
      dataDir: proxyDataDir,
      phoenixVersion: 'test',
      minBackoffMs: 20,
      maxBackoffMs: 100,
      statusIntervalMs: 100,
    });
    const initial = await sync.initialConfig(5_000);
    expect(initial).toMatchObject({ version: 1, source: 'control-plane' });

    const upstream = scope.add(await startRecordingUpstream());
    const proxy = scope.add(
      await startProxy({
        upstreamUrl: upstream.url,
        listenPort: 0,
        workers: 1,
        pipeline: initial?.pipeline,
      }),
    );
    scope.add(closeControlPlane);
    scope.add({ close: () => sync.close() });
    sync.attach(
      {
        apply: (pipeline) => proxy.applyPipeline(pipeline),
        counters: () => readProxyCounters(proxy.metrics.registry),
        recentRequest: () => proxy.recentRequest(),
        listen: `127.0.0.1:${proxy.port}`,
      },
      initial,
    );
    const lastTag = async () => {
      const body = compressSync(
        Buffer.from(encodeRequest(writeRequest([seriesWith(sortedLabels({ __name__: 'm' }))]))),
      );
      const response = await fetch(`http://127.0.0.1:${proxy.port}/api/v1/write`, {
        method: 'POST',
        body,
      });
      expect(response.status).toBe(204);
      const sent = decodeRequest(uncompressSync(upstream.requests.at(-1)!.body) as Buffer);
      return sent.timeseries[0]?.labels.find((label) => label.name === 'cfg')?.value;
    };
    expect(await lastTag()).toBe('one');
    expect((await readLastGoodConfig(proxyDataDir, 'default'))?.version).toBe(1);

    await api.pipelines.updatePipeline({ name: 'default', configYaml: stamp('two') });
    await until(() => sync.appliedVersion === 2, 'version 2 applied');
    expect(await lastTag()).toBe('two');
    expect((await readLastGoodConfig(proxyDataDir, 'default'))?.configYaml).toBe(stamp('two'));

    // The proxy reports a recent request; Preview runs a candidate over it.
    let preview: Awaited<ReturnType<typeof api.pipelines.previewPipeline>> | undefined;
    await until(async () => {
      preview = await api.pipelines
        .previewPipeline({
          pipeline: { case: 'configYaml', value: stamp('candidate') },
          liveSample: true,
        })
        .catch(() => undefined);
      return preview !== undefined;
    }, 'a live sample');
    expect(preview?.sampleProxyId).toBe('sync-test');
    const plain = (series: { labels: { name: string; value: string }[] } | undefined) =>
      series?.labels.map(({ name, value }) => [name, value]);
    expect(plain(preview?.before[0])).toEqual([['__name__', 'm']]);
    expect(plain(preview?.after[0])).toEqual([
      ['__name__', 'm'],
      ['cfg', 'candidate'],
    ]);

    // A version this proxy cannot load (written past the API's validation, as a newer
    // control plane or a hand-edited database could): reported, and version 2 stays.
    await controlPlane.store.update({
      name: 'default',
      configYaml: 'relabel_configs:\n  - action: explode\n',
      author: 'test',
      message: '',
    });
    await controlPlane.close();
    await until(() => !sync.connected, 'the stream to notice the shutdown');
    controlPlane = await startControlPlane({ listenPort: port, dataDir: controlDir });
    await until(async () => {
      const [status] = (await api.proxies.listProxies({})).proxies;
      return status?.applyError?.version === 3;
    }, 'the apply error to be reported');
    const [status] = (await api.proxies.listProxies({})).proxies;
    expect(status?.appliedVersion).toBe(2);
    expect(status?.applyError?.message).toMatch(/relabel_configs\[0\]\.action/);
    expect(status?.counters?.requests).toBeGreaterThanOrEqual(2n);
    expect(await lastTag()).toBe('two');
    expect((await readLastGoodConfig(proxyDataDir, 'default'))?.version).toBe(2);
  });
});
