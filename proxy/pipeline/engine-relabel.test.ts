import { beforeAll, describe, expect, test } from 'vitest';
import { compilePipeline } from './compile.js';
import { PipelineEngine } from './engine.js';
import { parsePipelineConfig } from './load.js';
import { relabelCases } from './relabel-cases.js';
import {
  decodeRequest,
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from './remote-write-fixtures.js';

/**
 * Every shared relabel case through the WebAssembly module, via the real config loader and
 * compiler. Each request carries the case's series twice so the second copy takes the
 * module's series cache; the request is then sent again to check answers cached across
 * requests.
 */
describe('relabel cases through the engine', () => {
  let engine: PipelineEngine;
  beforeAll(async () => {
    engine = await PipelineEngine.load();
  });

  const FILTER_ACTIONS = new Set(['keep', 'drop', 'keepequal', 'dropequal']);

  test('the table is not empty', () => {
    expect(relabelCases.length).toBeGreaterThan(20);
  });

  test.each(relabelCases)('$name', ({ rules, input, output }) => {
    const config = parsePipelineConfig(JSON.stringify({ relabel_configs: rules }), 'case.yaml');
    engine.use(compilePipeline(config));
    const series = seriesWith(sortedLabels(input));
    const body = encodeRequest(writeRequest([series, series]));
    for (let round = 0; round < 2; round++) {
      const result = engine.processRemoteWrite(body, { snappyIn: false, snappyOut: false });
      const outputSeries = result.unchanged
        ? decodeRequest(body).timeseries
        : decodeRequest(result.output).timeseries;
      if (output === null) {
        expect(outputSeries).toHaveLength(0);
        expect(result.stats.seriesDropped).toBe(2);
        continue;
      }
      expect(outputSeries).toHaveLength(2);
      for (const out of outputSeries) {
        expect(out.labels.map((l) => [l.name, l.value])).toEqual(sortedLabels(output));
        expect(out.samples).toHaveLength(1);
      }
      const changed = JSON.stringify(sortedLabels(output)) !== JSON.stringify(sortedLabels(input));
      expect(result.unchanged).toBe(!changed);
      // The request holds the series twice. Only a program that can change labels counts
      // the second as a collision: keep and drop rules cannot make two series one.
      const mutating = rules.some(
        (rule) => !FILTER_ACTIONS.has(String((rule as { action?: string }).action ?? 'replace')),
      );
      expect(result.stats.seriesCollisions).toBe(mutating ? 1 : 0);
    }
  });
});
