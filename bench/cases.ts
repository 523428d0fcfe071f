/**
 * The micro benchmarks, as data: each case names one piece of the hot path and says how
 * many samples one run of it handles, so the runner can print ns per sample. Every case
 * works on a 2000-series request of the end-to-end workload.
 */

import { compressSync, uncompressSync } from 'snappy';
import { stringify } from 'yaml';
import { compilePipeline } from '../proxy/pipeline/compile.js';
import type { CompiledPipeline } from '../proxy/pipeline/contracts.js';
import { PipelineEngine } from '../proxy/pipeline/engine.js';
import { parsePipelineConfig } from '../proxy/pipeline/load.js';
import { countWriteRequest, SeriesHashSet } from './remote-write-count.js';
import { SCENARIO_NAMES, scenarioFor } from './scenarios.js';
import { createSnappyDecompressor, loadWasmSnappy } from './wasm-snappy.js';
import { Workload } from './workload.js';

/** One micro benchmark. */
export interface BenchCase {
  /** Samples one call of `run` handles (each series of the workload has one sample). */
  readonly ops: number;
  readonly run: () => void;
}

/** Series per request, as Prometheus' default `max_samples_per_send` (2000). */
export const MICRO_SERIES_PER_REQUEST = 2000;

/** One rule of each relabel action, written against the workload's labels. */
const RULES_BY_ACTION: Readonly<Record<string, Record<string, unknown>>> = {
  keep: { action: 'keep', source_labels: ['namespace'], regex: 'team-(1|2|3|4|5).*' },
  drop: { action: 'drop', source_labels: ['__name__'], regex: 'http_requests_total' },
  replace: {
    action: 'replace',
    source_labels: ['pod'],
    regex: '(.*)-[^-]+-[^-]+',
    target_label: 'workload',
    replacement: '$1',
  },
  labeldrop: { action: 'labeldrop', regex: 'id|image|name' },
  labelkeep: {
    action: 'labelkeep',
    regex:
      '__name__|namespace|pod|container|job|instance|le|method|route|status|cpu|device|interface|condition|uid',
  },
  labelmap: { action: 'labelmap', regex: '(name|id)', replacement: 'container_$1' },
  hashmod: { action: 'hashmod', source_labels: ['instance'], modulus: 8, target_label: 'shard' },
  lowercase: { action: 'lowercase', source_labels: ['route'], target_label: 'route_lower' },
};

function pipelineOf(rules: ReadonlyArray<Record<string, unknown>>): CompiledPipeline {
  return compilePipeline(parsePipelineConfig(stringify({ relabel_configs: rules }), 'bench'));
}

/**
 * Builds every case. `seriesCount` sizes the workload the request is taken from; the
 * request itself always has {@link MICRO_SERIES_PER_REQUEST} series.
 */
export async function loadCases(seriesCount = 100_000): Promise<Map<string, BenchCase>> {
  const workload = new Workload({ seriesCount, seriesPerRequest: MICRO_SERIES_PER_REQUEST });
  const compressed = workload.body(0);
  const raw = new Uint8Array(uncompressSync(Buffer.from(compressed)) as Buffer);
  const samples = workload.requests[0]!.sampleOffsets.length;
  const rawBuffer = Buffer.from(raw);
  const compressedBuffer = Buffer.from(compressed);
  const wasmSnappy = await loadWasmSnappy(compressed, raw);
  const engine = await PipelineEngine.load();
  const cases = new Map<string, BenchCase>();
  const add = (name: string, run: () => void): void => {
    cases.set(name, { ops: samples, run });
  };

  add('snappy/decompress/napi', () => {
    uncompressSync(compressedBuffer);
  });
  add('snappy/decompress/wasm', () => {
    wasmSnappy.decompress();
  });
  add('snappy/compress/napi', () => {
    compressSync(rawBuffer);
  });
  add('snappy/compress/wasm', () => {
    wasmSnappy.compress();
  });

  // The engine with no rules: snappy, decode and label validation, then "unchanged".
  const empty = pipelineOf([]);
  add('wasm/decode-only', () => {
    engine.use(empty);
    engine.processRemoteWrite(compressed);
  });
  add('wasm/decode-only/uncompressed', () => {
    engine.use(empty);
    engine.processRemoteWrite(raw, { snappyIn: false });
  });

  // One rule of each action on series the module has not seen (use() empties its caches).
  for (const [action, rule] of Object.entries(RULES_BY_ACTION)) {
    const pipeline = pipelineOf([rule]);
    add(`relabel/${action}`, () => {
      engine.use(pipeline);
      engine.processRemoteWrite(compressed);
    });
  }

  // Re-encoding without compressing: labeldrop rewrites every series.
  const labeldrop = pipelineOf(scenarioFor('labeldrop', workload).relabelConfigs);
  add('encode/labeldrop/uncompressed-out', () => {
    engine.use(labeldrop);
    engine.processRemoteWrite(compressed, { snappyOut: false });
  });

  // The whole engine per request, as a worker runs it: cold (new series) and warm (cached).
  for (const name of SCENARIO_NAMES) {
    const pipeline = pipelineOf(scenarioFor(name, workload).relabelConfigs);
    add(`engine/${name}/cold`, () => {
      engine.use(pipeline);
      engine.processRemoteWrite(compressed);
    });
    let loaded = false;
    add(`engine/${name}/warm`, () => {
      if (!loaded) {
        engine.use(pipeline);
        loaded = true;
      }
      engine.processRemoteWrite(compressed);
    });
    // Every request of the workload in turn, as a worker sees them: the series cache is
    // warm but holds every series, so memory caches miss as in production.
    const bodies = workload.requests.map((_request, index) => workload.body(index));
    let next = 0;
    let rotatingLoaded = false;
    add(`engine/${name}/warm-all-series`, () => {
      if (!rotatingLoaded) {
        engine.use(pipeline);
        rotatingLoaded = true;
      }
      engine.processRemoteWrite(bodies[next++ % bodies.length]!);
    });
  }

  // What the harness itself spends per request, next to the process it measures.
  let sequence = 0;
  add('harness/workload-body', () => {
    workload.body(sequence++);
  });
  const sinkSnappy = await createSnappyDecompressor();
  const sinkHashes = new SeriesHashSet();
  add('harness/sink-count', () => {
    countWriteRequest(sinkSnappy.decompress(compressed), { series: 0, samples: 0 }, sinkHashes);
  });
  add('harness/sink-count/no-distinct', () => {
    countWriteRequest(sinkSnappy.decompress(compressed), { series: 0, samples: 0 });
  });
  return cases;
}
