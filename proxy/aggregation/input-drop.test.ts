import { compressSync, uncompressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../pipeline/config.js';
import { PipelineEngine } from '../pipeline/engine.js';
import { parsePipelineConfig } from '../pipeline/load.js';
import {
  decodeRequest,
  encodeRequest,
  labelRecord,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { compileWithInputDrop, quoteRe2, withForwardOutput } from './input-drop.js';

interface Answer {
  unchanged: boolean;
  payload: Uint8Array;
  aggregationInput?: Uint8Array;
}

const LIMITS = { maxDecompressedBytes: 1 << 20, maxLabelsPerSeries: 64 };

function config(match: string, keepInput: boolean) {
  return parsePipelineConfig(
    JSON.stringify({
      aggregations: [{ match, interval: '1m', outputs: ['total'], keep_input: keepInput }],
    }),
    'phoenix.yaml',
  );
}

const SERIES = [
  { __name__: 'http_requests_total', job: 'api', pod: 'a' },
  { __name__: 'http_requests_total', job: 'web', pod: 'b' },
  { __name__: 'http_errors_total', job: 'api', pod: 'c' },
  { __name__: 'up', job: 'api' },
  { __name__: 'a.b', job: 'api' },
];

function body(): Uint8Array {
  const request = writeRequest(SERIES.map((labels) => seriesWith(sortedLabels(labels))));
  return new Uint8Array(compressSync(Buffer.from(encodeRequest(request))));
}

function names(payload: Uint8Array): string[] {
  return decodeRequest(
    new Uint8Array(uncompressSync(Buffer.from(payload)) as Buffer),
  ).timeseries.map((series) => `${labelRecord(series).__name__}/${labelRecord(series).job}`);
}

/** One pass of a worker's engine over `input`, answered as the worker answers. */
async function runWorkerEngine(pipeline: PipelineConfig, input: Uint8Array) {
  const engine = await PipelineEngine.load(LIMITS);
  engine.use(compileWithInputDrop(pipeline));
  const result = engine.processRemoteWrite(input);
  const answer = withForwardOutput<Answer>(
    { unchanged: result.unchanged, payload: result.unchanged ? input : result.output },
    result.forward,
  );
  return { ...answer, result, engine };
}

describe('aggregated input left out of the forward output', () => {
  const cases: { match: string; forwarded: string[] }[] = [
    {
      match: '{__name__=~"http_.*",job="api"}',
      forwarded: ['http_requests_total/web', 'up/api', 'a.b/api'],
    },
    { match: 'http_requests_total', forwarded: ['http_errors_total/api', 'up/api', 'a.b/api'] },
    // `=` is literal: the dot in a.b is not a wildcard.
    {
      match: '{__name__="a.b"}',
      forwarded: SERIES.slice(0, 4).map((s) => `${s.__name__}/${s.job}`),
    },
    { match: '{job=~"a.*|w.*"}', forwarded: [] },
  ];
  for (const { match, forwarded } of cases) {
    it(`keep_input: false with ${match} forwards ${forwarded.join(', ') || 'nothing'}`, async () => {
      const input = body();
      const { response, transfer } = await runWorkerEngine(config(match, false), input);
      expect(names(response.payload)).toEqual(forwarded);
      expect(response.aggregationInput).toBe(input);
      expect(response.unchanged).toBe(false);
      expect(transfer).toHaveLength(2);
    });
  }

  const dropInputCases: { rules: object[]; forwarded: string[] }[] = [
    // Nothing keeps its input: only the aggregated outputs would be forwarded.
    { rules: [{ match: 'up' }], forwarded: [] },
    {
      rules: [
        { match: 'up', keep_input: true },
        { match: '{__name__="http_requests_total",job="web"}', keep_input: true },
        { match: 'http_errors_total' },
      ],
      forwarded: ['http_requests_total/web', 'up/api'],
    },
  ];
  for (const { rules, forwarded } of dropInputCases) {
    it(`drop_input: true with ${JSON.stringify(rules)} forwards ${forwarded.join(', ') || 'nothing'}`, async () => {
      const pipeline = parsePipelineConfig(
        JSON.stringify({
          aggregations: rules.map((rule, index) => ({
            interval: '1m',
            outputs: ['total'],
            ...rule,
            ...(index === 0 ? { drop_input: true } : {}),
          })),
        }),
        'phoenix.yaml',
      );
      const input = body();
      const { response } = await runWorkerEngine(pipeline, input);
      expect(names(response.payload)).toEqual(forwarded);
      // The mark used to select the kept series is not forwarded.
      const decoded = decodeRequest(
        new Uint8Array(uncompressSync(Buffer.from(response.payload)) as Buffer),
      );
      for (const series of decoded.timeseries) {
        expect(Object.keys(labelRecord(series))).not.toContain('__phoenix_keep_input');
      }
      expect(response.aggregationInput).toBe(input);
    });
  }

  it('refuses a negative matcher in a keep_input rule when drop_input is set', () => {
    expect(() =>
      parsePipelineConfig(
        JSON.stringify({
          aggregations: [
            { match: 'up', interval: '1m', outputs: ['total'], drop_input: true },
            {
              match: '{__name__="up",job!="api"}',
              interval: '1m',
              outputs: ['total'],
              keep_input: true,
            },
          ],
        }),
        'phoenix.yaml',
      ),
    ).toThrow(
      'phoenix.yaml: aggregations[1].match: selector {__name__="up",job!="api"}: a != matcher cannot select',
    );
  });

  it('leaves the payload alone with keep_input: true', async () => {
    const input = body();
    const { response, result } = await runWorkerEngine(config('up', true), input);
    expect(response.payload).toBe(input);
    expect(result.forward).toBeUndefined();
    expect(response.aggregationInput).toBeUndefined();
  });

  it('aggregates what the relabel rules give and forwards that without the selected series', async () => {
    const pipeline = parsePipelineConfig(
      JSON.stringify({
        relabel_configs: [
          { action: 'labeldrop', regex: 'pod' },
          { action: 'drop', source_labels: ['__name__'], regex: 'a\\.b' },
        ],
        aggregations: [{ match: 'http_requests_total', interval: '1m', outputs: ['total'] }],
      }),
      'phoenix.yaml',
    );
    const input = body();
    const { response, result, engine } = await runWorkerEngine(pipeline, input);
    const decode = (payload: Uint8Array) =>
      decodeRequest(new Uint8Array(uncompressSync(Buffer.from(payload)) as Buffer)).timeseries.map(
        (series) => labelRecord(series),
      );
    // The rule that drops a.b drops it from both outputs; the labeldrop applies to both.
    expect(decode(response.aggregationInput!)).toEqual([
      { __name__: 'http_requests_total', job: 'api' },
      { __name__: 'http_requests_total', job: 'web' },
      { __name__: 'http_errors_total', job: 'api' },
      { __name__: 'up', job: 'api' },
    ]);
    expect(decode(response.payload)).toEqual([
      { __name__: 'http_errors_total', job: 'api' },
      { __name__: 'up', job: 'api' },
    ]);
    // Stats and rule hits describe the pipeline's own rules and output.
    expect(result.ruleHits).toEqual(Uint32Array.from([3, 1]));
    expect(result.stats.seriesOut).toBe(4);
    expect(result.stats.seriesDropped).toBe(1);
    // The same answer from cached outcomes.
    const again = engine.processRemoteWrite(input);
    expect(decode(again.forward!)).toEqual(decode(response.payload));
    expect(decode(again.output)).toEqual(decode(response.aggregationInput!));
  });

  it('refuses a negative matcher when input is dropped', () => {
    expect(() => config('{__name__="up",job!="api"}', false)).toThrow(
      'phoenix.yaml: aggregations[0].match: selector {__name__="up",job!="api"}: a != matcher needs keep_input: true',
    );
    expect(config('{__name__="up",job!="api"}', true).aggregations).toHaveLength(1);
  });

  it('quotes RE2 metacharacters', () => {
    expect(quoteRe2('a.b*c(d)|e')).toBe('a\\.b\\*c\\(d\\)\\|e');
  });
});
