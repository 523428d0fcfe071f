import { compressSync, uncompressSync } from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../pipeline/config-error.js';
import { parsePipelineConfig } from '../pipeline/load.js';
import {
  decodeRequest,
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { sameAggregations } from './pipeline-broadcast.js';
import { startProxy } from './proxy.js';
import { ServerScope, startRecordingUpstream } from './test-support.js';

const scope = new ServerScope();
afterEach(() => scope.closeAll());

function body(requestIndex: number): Uint8Array {
  const labels = sortedLabels({ __name__: 'm', pod: 'p-1', request: String(requestIndex) });
  return compressSync(Buffer.from(encodeRequest(writeRequest([seriesWith(labels)]))));
}

const dropPod = (generation: number) =>
  parsePipelineConfig(
    `relabel_configs:\n  - action: labeldrop\n    regex: pod\n  - target_label: generation\n    replacement: "${generation}"\n`,
    'test.yaml',
  );

describe('hot reload across every worker', () => {
  it('switches all workers between requests with a load running, failing none', async () => {
    const upstream = scope.add(await startRecordingUpstream());
    const proxy = scope.add(
      await startProxy({ upstreamUrl: upstream.url, listenPort: 0, workers: 2 }),
    );
    const url = `http://127.0.0.1:${proxy.port}/api/v1/write`;
    const statuses: number[] = [];
    // Which generation each request was sent after (-1: before any apply finished).
    const sentAfter = new Map<string, number>();
    let appliedGeneration = -1;
    let stop = false;
    let sent = 0;
    const sender = async () => {
      while (!stop) {
        const index = sent++;
        sentAfter.set(String(index), appliedGeneration);
        const response = await fetch(url, { method: 'POST', body: body(index) });
        await response.arrayBuffer();
        statuses.push(response.status);
      }
    };
    const senders = [sender(), sender(), sender()];
    for (let generation = 1; generation <= 5; generation++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await proxy.applyPipeline(dropPod(generation));
      appliedGeneration = generation;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    stop = true;
    await Promise.all(senders);

    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((status) => status !== 204)).toEqual([]);
    let checked = 0;
    for (const recorded of upstream.requests) {
      const decoded = decodeRequest(uncompressSync(recorded.body) as Buffer);
      const labels = Object.fromEntries(
        decoded.timeseries[0]!.labels.map((label) => [label.name, label.value]),
      );
      const after = sentAfter.get(labels['request']!)!;
      if (after < 1) continue;
      // Sent once generation `after` was applied everywhere: it ran that one or a newer one.
      expect(labels['pod']).toBeUndefined();
      expect(Number(labels['generation'])).toBeGreaterThanOrEqual(after);
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('applies a version that changes aggregation rules: a new aggregation takes over', async () => {
    const upstream = scope.add(await startRecordingUpstream());
    const proxy = scope.add(
      await startProxy({ upstreamUrl: upstream.url, listenPort: 0, workers: 1 }),
    );
    const rule = (match: string) =>
      `aggregations:\n  - match: ${match}\n    interval: 1s\n    without: [pod, request]\n    outputs: [count_samples]\n`;
    const withAggregation = parsePipelineConfig(rule('m'), 'test.yaml');
    expect(sameAggregations(undefined, withAggregation)).toBe(false);
    expect(sameAggregations(withAggregation, parsePipelineConfig(rule('m'), 'again.yaml'))).toBe(
      true,
    );
    await proxy.applyPipeline(withAggregation);
    const aggregatedNames = () =>
      upstream.requests.flatMap((recorded) =>
        decodeRequest(uncompressSync(recorded.body) as Buffer)
          .timeseries.map(
            (series) => series.labels.find((label) => label.name === '__name__')?.value ?? '',
          )
          .filter((name) => name.startsWith('m:')),
      );
    const url = `http://127.0.0.1:${proxy.port}/api/v1/write`;
    // Aggregation takes samples of now (the fixture's fixed timestamps would be late).
    const fresh = (index: number) => {
      const series = seriesWith(sortedLabels({ __name__: 'm', pod: 'p', request: String(index) }));
      series.samples[0]!.timestamp = BigInt(Date.now());
      return compressSync(Buffer.from(encodeRequest(writeRequest([series]))));
    };
    for (let index = 0; aggregatedNames().length === 0 && index < 100; index++) {
      const response = await fetch(url, { method: 'POST', body: fresh(index) });
      await response.arrayBuffer();
      expect(response.status).toBe(204);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(aggregatedNames()).toContain('m:1s_without_pod_request_count_samples');
    // Back to relabeling only: the aggregation ends and requests keep flowing.
    await proxy.applyPipeline(dropPod(1));
    const response = await fetch(url, { method: 'POST', body: body(1000) });
    expect(response.status).toBe(204);
  });

  it('refuses a pipeline that does not compile and keeps the running one', async () => {
    const upstream = scope.add(await startRecordingUpstream());
    const proxy = scope.add(
      await startProxy({ upstreamUrl: upstream.url, listenPort: 0, workers: 2 }),
    );
    await proxy.applyPipeline(dropPod(1));
    const invalid = {
      relabelConfigs: [
        {
          action: 'replace' as const,
          sourceLabels: [],
          separator: ';',
          regex: '(',
          targetLabel: 'x',
          replacement: '$1',
          modulus: 0n,
        },
      ],
    };
    await expect(proxy.applyPipeline(invalid)).rejects.toThrow();
    const response = await fetch(`http://127.0.0.1:${proxy.port}/api/v1/write`, {
      method: 'POST',
      body: body(0),
    });
    expect(response.status).toBe(204);
    const decoded = decodeRequest(uncompressSync(upstream.requests.at(-1)!.body) as Buffer);
    const names = decoded.timeseries[0]!.labels.map((label) => label.name);
    expect(names).toContain('generation');
    expect(names).not.toContain('pod');
    // And the refusal is the pipeline model's own error with the rule's path.
    expect(() => parsePipelineConfig('relabel_configs: [{regex: "("}]', 'x.yaml')).toThrow(
      ConfigError,
    );
  });
});
