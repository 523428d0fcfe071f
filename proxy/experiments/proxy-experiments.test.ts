/**
 * Experiments inside a real proxy (two pipeline workers, real upstream servers on the
 * loopback): shadow mode keeps the candidate away from the primary upstream, split mode
 * sends each series through exactly one arm, always the same one, and both arms are
 * measured.
 */
import { compressSync, uncompressSync } from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeTracker } from '../cardinality/tracker.js';
import { parsePipelineConfig } from '../pipeline/load.js';
import {
  decodeRequest,
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { startProxy } from '../server/proxy.js';
import {
  type RecordingUpstream,
  ServerScope,
  startRecordingUpstream,
} from '../server/test-support.js';
import type { ProxyExperiment } from './proxy-experiments.js';

const scope = new ServerScope();
afterEach(() => scope.closeAll());

const SERIES = 200;

function request(from: number, to: number): Uint8Array {
  const series = [];
  for (let index = from; index < to; index++) {
    series.push(seriesWith(sortedLabels({ __name__: 'm', pod: `p-${index}`, route: '/a' })));
  }
  return compressSync(Buffer.from(encodeRequest(writeRequest(series))));
}

/** Every series an upstream received, as `pod` → the value of its `arm` label. */
function received(upstream: RecordingUpstream): Map<string, string> {
  const arms = new Map<string, string>();
  for (const recorded of upstream.requests) {
    for (const series of decodeRequest(uncompressSync(recorded.body) as Buffer).timeseries) {
      const labels = Object.fromEntries(series.labels.map((label) => [label.name, label.value]));
      const previous = arms.get(labels['pod']!);
      const arm = labels['arm'] ?? 'baseline';
      expect(previous === undefined || previous === arm, `pod ${labels['pod']} in both arms`).toBe(
        true,
      );
      arms.set(labels['pod']!, arm);
    }
  }
  return arms;
}

const candidate = parsePipelineConfig(
  'relabel_configs:\n  - target_label: arm\n    replacement: candidate\n  - action: labeldrop\n    regex: route\n',
  'candidate.yaml',
);

async function send(url: string): Promise<void> {
  for (let from = 0; from < SERIES; from += 20) {
    const response = await fetch(url, { method: 'POST', body: request(from, from + 20) });
    await response.arrayBuffer();
    expect(response.status).toBe(204);
  }
}

describe('experiments in the proxy', () => {
  it('shadow: the primary gets the baseline only, the shadow upstream the candidate', async () => {
    const primary = scope.add(await startRecordingUpstream());
    const shadow = scope.add(await startRecordingUpstream());
    const proxy = scope.add(
      await startProxy({ upstreamUrl: primary.url, listenPort: 0, workers: 2 }),
    );
    const experiment: ProxyExperiment = {
      name: 'shadow-test',
      mode: 'shadow',
      fraction: 0,
      candidate,
      shadowUpstream: new URL(shadow.url),
    };
    await proxy.applyPipeline(undefined, experiment);
    const url = `http://127.0.0.1:${proxy.port}/api/v1/write`;
    await send(url);
    // Workers send their sketches along with an answer at most once a second.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await send(url);

    const primaryArms = received(primary);
    expect(primaryArms.size).toBe(SERIES);
    expect(new Set(primaryArms.values())).toEqual(new Set(['baseline']));
    await expect.poll(() => received(shadow).size, { timeout: 5_000 }).toBe(SERIES);
    expect(new Set(received(shadow).values())).toEqual(new Set(['candidate']));

    const [baseline, cand] = proxy.experimentCounters();
    expect(baseline?.arm).toBe('baseline');
    expect(cand?.arm).toBe('candidate');
    expect(baseline!.samplesIn).toBe(BigInt(2 * SERIES));
    expect(cand!.samplesIn).toBe(BigInt(2 * SERIES));
    // The candidate's rule 0 (stamp) and rule 1 (labeldrop) changed every series.
    expect(cand!.ruleHits[0]).toBe(BigInt(2 * SERIES));
    expect(cand!.pipelineNs).toBeGreaterThan(0n);
    // Sketches: both arms saw the same SERIES input series.
    const inputSeries = decodeTracker(cand!.inputSketch).total.estimate();
    expect(Math.abs(inputSeries - SERIES)).toBeLessThan(SERIES * 0.05);
    expect(decodeTracker(baseline!.inputSketch).total.estimate()).toBeCloseTo(inputSeries, 5);
    expect([...decodeTracker(cand!.outputSketch).metrics.get('m')!.labels.keys()]).not.toContain(
      'route',
    );

    // Ending the experiment stops the shadow arm.
    await proxy.applyPipeline(undefined, undefined);
    expect(proxy.experimentCounters()).toEqual([]);
    const before = shadow.requests.length;
    await send(url);
    expect(shadow.requests.length).toBe(before);
  });

  it('split: each series goes through one arm, always the same, and both reach the upstream', async () => {
    const primary = scope.add(await startRecordingUpstream());
    const proxy = scope.add(
      await startProxy({ upstreamUrl: primary.url, listenPort: 0, workers: 2 }),
    );
    await proxy.applyPipeline(undefined, {
      name: 'split-test',
      mode: 'split',
      fraction: 0.3,
      candidate,
      shadowUpstream: undefined,
    });
    const url = `http://127.0.0.1:${proxy.port}/api/v1/write`;
    await send(url);
    await send(url);
    await send(url);

    const arms = received(primary);
    expect(arms.size).toBe(SERIES);
    const candidateShare = [...arms.values()].filter((arm) => arm === 'candidate').length / SERIES;
    expect(candidateShare).toBeGreaterThan(0.15);
    expect(candidateShare).toBeLessThan(0.45);
    const [baseline, cand] = proxy.experimentCounters();
    expect(Number(baseline!.samplesIn + cand!.samplesIn)).toBe(3 * SERIES);
    expect(Number(cand!.samplesIn)).toBe(3 * Math.round(candidateShare * SERIES));
  });
});
