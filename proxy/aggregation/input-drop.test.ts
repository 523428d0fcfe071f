import { compressSync, uncompressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { parsePipelineConfig } from '../pipeline/load.js';
import {
  decodeRequest,
  encodeRequest,
  labelRecord,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { InputDropper, quoteRe2, withInputDropped } from './input-drop.js';

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

describe('InputDropper', () => {
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
      const dropper = await InputDropper.create(config(match, false), LIMITS);
      const input = body();
      const { response, transfer } = withInputDropped<Answer>(dropper, {
        unchanged: true,
        payload: input,
      });
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
      const dropper = await InputDropper.create(pipeline, LIMITS);
      const input = body();
      const { response } = withInputDropped<Answer>(dropper, { unchanged: true, payload: input });
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
    const dropper = await InputDropper.create(config('up', true), LIMITS);
    const input = body();
    const { response } = withInputDropped<Answer>(dropper, { unchanged: true, payload: input });
    expect(response.payload).toBe(input);
    expect(response.aggregationInput).toBeUndefined();
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
