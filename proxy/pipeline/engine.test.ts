import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, toBinary } from '@bufbuild/protobuf';
import binaryen from 'binaryen';
import snappy from 'snappy';
import { beforeAll, describe, expect, test } from 'vitest';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import {
  LabelSchema,
  MetricMetadataSchema,
  SampleSchema,
  type TimeSeries,
  TimeSeriesSchema,
} from '../../proto/gen/prometheus/types_pb.js';
import { seededRandom } from '../../test/helpers/seeded-random.js';
import { compilePipeline } from './compile.js';
import type { CompiledPipeline, PipelineErrorCode } from './contracts.js';
import { type EngineOptions, PipelineEngine, PipelineError } from './engine.js';
import { parsePipelineConfig } from './load.js';
import { type FixtureRule, fixturePipeline, matches } from './program-fixtures.js';
import {
  decodeRequest,
  encodeRequest,
  type LabelPairs,
  labelRecord,
  richSeries,
  seriesWith,
  sortedLabels,
  writeRequest,
} from './remote-write-fixtures.js';
import * as abi from './wasm-abi.js';

const defaultWasmPath = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../dist/wasm/phoenix.wasm',
);

function compress(bytes: Uint8Array): Uint8Array {
  return snappy.compressSync(Buffer.from(bytes));
}

function uncompress(bytes: Uint8Array): Uint8Array {
  return snappy.uncompressSync(Buffer.from(bytes)) as Buffer;
}

async function engineWith(
  rules: readonly FixtureRule[] | CompiledPipeline,
  options?: EngineOptions,
): Promise<PipelineEngine> {
  const engine = await PipelineEngine.load(options);
  engine.use(Array.isArray(rules) ? fixturePipeline(rules) : (rules as CompiledPipeline));
  return engine;
}

function seriesBytes(series: TimeSeries): Uint8Array {
  return toBinary(TimeSeriesSchema, series);
}

/** Rich series over several metric names, so rules can drop some of them. */
function richRequestSeries(count: number): TimeSeries[] {
  return Array.from({ length: count }, (_, i) =>
    richSeries(
      sortedLabels({
        __name__: `metric_${i % 10}`,
        instance: `host-${i}:9100`,
        job: i % 2 === 0 ? 'node' : 'api',
        pod: `pod-${i}`,
      }),
      i,
    ),
  );
}

const dropMetric3And7: FixtureRule = {
  action: abi.ACTION_DROP,
  sources: ['__name__'],
  answer: matches('metric_3|metric_7'),
};
const dropPod: FixtureRule = { action: abi.ACTION_LABELDROP, answer: matches('pod') };

function expectPipelineError(run: () => unknown, code: PipelineErrorCode, message?: RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(PipelineError);
  expect((caught as PipelineError).code).toBe(code);
  if (message !== undefined) expect((caught as PipelineError).message).toMatch(message);
}

describe('pass-through of everything but the dropped series', () => {
  const input = writeRequest(richRequestSeries(60), 3);
  const kept = input.timeseries.filter((s) => !/^metric_[37]$/.test(labelRecord(s)['__name__']!));
  let engine: PipelineEngine;
  beforeAll(async () => {
    engine = await engineWith([dropMetric3And7]);
  });

  test.each([
    { snappyIn: true, snappyOut: true },
    { snappyIn: true, snappyOut: false },
    { snappyIn: false, snappyOut: true },
    { snappyIn: false, snappyOut: false },
  ])('snappy in/out %o', (flags) => {
    const body = encodeRequest(input);
    const result = engine.processRemoteWrite(flags.snappyIn ? compress(body) : body, flags);
    expect(result.unchanged).toBe(false);
    const plain = flags.snappyOut ? uncompress(result.output) : result.output;
    // Unchanged series and metadata are copied as raw bytes, so the output is exactly what
    // an encoder produces for the input minus the dropped series.
    const expected = encodeRequest(writeRequest(kept, 0));
    const expectedWithMetadata = toBinary(WriteRequestSchema, { ...input, timeseries: kept });
    expect(expected.length).toBeLessThan(expectedWithMetadata.length);
    expect(Buffer.from(plain).equals(Buffer.from(expectedWithMetadata))).toBe(true);

    const decoded = decodeRequest(plain);
    expect(decoded.timeseries.map(seriesBytes)).toEqual(kept.map(seriesBytes));
    expect(decoded.metadata.map((m) => toBinary(MetricMetadataSchema, m))).toEqual(
      input.metadata.map((m) => toBinary(MetricMetadataSchema, m)),
    );
    const count = (list: TimeSeries[], field: 'samples' | 'exemplars' | 'histograms'): number =>
      list.reduce((sum, s) => sum + s[field].length, 0);
    expect(result.stats).toEqual({
      seriesIn: 60,
      seriesOut: kept.length,
      samplesIn: count(input.timeseries, 'samples'),
      samplesOut: count(kept, 'samples'),
      exemplarsIn: 60,
      exemplarsOut: kept.length,
      histogramsIn: 60,
      histogramsOut: kept.length,
      metadataIn: 3,
      metadataOut: 3,
      seriesDropped: 60 - kept.length,
      seriesCollisions: 0,
      bytesDecoded: body.length,
      bytesEncoded: plain.length,
      hostEvals: expect.any(Number),
      internResets: 0,
    });
    expect(Array.from(result.ruleHits)).toEqual([60 - kept.length]);
  });

  test('the output and rule hits are copies the caller owns', () => {
    const result = engine.processRemoteWrite(encodeRequest(input), { snappyIn: false });
    expect(result.output.byteOffset).toBe(0);
    expect(result.output.buffer.byteLength).toBe(result.output.length);
    expect(result.ruleHits.buffer.byteLength).toBe(4);
  });

  test('each distinct string is evaluated once per rule', () => {
    const fresh = encodeRequest(input);
    const first = engine.processRemoteWrite(fresh, { snappyIn: false });
    const second = engine.processRemoteWrite(fresh, { snappyIn: false });
    expect(first.stats.hostEvals).toBeLessThanOrEqual(10);
    expect(second.stats.hostEvals).toBe(0);
  });
});

describe('re-encoded series', () => {
  test('labeldrop rewrites the labels and keeps samples, exemplars and histograms', async () => {
    const engine = await engineWith([dropPod]);
    const input = writeRequest(richRequestSeries(20), 2);
    const result = engine.processRemoteWrite(compress(encodeRequest(input)));
    const output = decodeRequest(uncompress(result.output));
    expect(output.timeseries).toHaveLength(20);
    output.timeseries.forEach((series, i) => {
      const original = input.timeseries[i]!;
      const { pod, ...rest } = labelRecord(original);
      expect(pod).toBeDefined();
      expect(series.labels.map((l) => [l.name, l.value])).toEqual(sortedLabels(rest));
      expect(seriesBytes({ ...series, labels: [] })).toEqual(
        seriesBytes({ ...original, labels: [] }),
      );
    });
    expect(result.stats.seriesCollisions).toBe(0);
    expect(Array.from(result.ruleHits)).toEqual([20]);
  });

  test('labels set by rules come out sorted by name bytes', async () => {
    const engine = await engineWith([
      {
        action: abi.ACTION_REPLACE,
        sources: ['job'],
        target: 'A_upper',
        answer: (_op, input) => `A_upper\0${input}!`,
      },
      {
        action: abi.ACTION_REPLACE,
        sources: ['job'],
        target: 'zz',
        answer: (_op, input) => `zz\0${input}?`,
      },
    ]);
    const input = writeRequest([seriesWith(sortedLabels({ __name__: 'up', job: 'node' }))]);
    const result = engine.processRemoteWrite(encodeRequest(input), { snappyIn: false });
    const [series] = decodeRequest(uncompress(result.output)).timeseries;
    expect(series!.labels.map((l) => [l.name, l.value])).toEqual([
      ['A_upper', 'node!'],
      ['__name__', 'up'],
      ['job', 'node'],
      ['zz', 'node?'],
    ]);
  });

  test('a series whose labels all go is dropped', async () => {
    const engine = await engineWith([{ action: abi.ACTION_LABELDROP, answer: matches('.*') }]);
    const input = writeRequest([seriesWith([['job', 'x']])], 1);
    const result = engine.processRemoteWrite(encodeRequest(input), { snappyIn: false });
    const output = decodeRequest(uncompress(result.output));
    expect(output.timeseries).toHaveLength(0);
    expect(output.metadata).toHaveLength(1);
    expect(result.stats.seriesDropped).toBe(1);
  });

  test('collisions: series made equal by labeldrop are counted and forwarded', async () => {
    const engine = await engineWith([dropPod]);
    const series = ['a', 'b', 'c'].map((pod) =>
      seriesWith(sortedLabels({ __name__: 'up', job: 'x', pod })),
    );
    series.push(seriesWith(sortedLabels({ __name__: 'up', job: 'y', pod: 'a' })));
    const result = engine.processRemoteWrite(encodeRequest(writeRequest(series)), {
      snappyIn: false,
    });
    expect(result.stats.seriesCollisions).toBe(2);
    expect(decodeRequest(uncompress(result.output)).timeseries).toHaveLength(4);
    // The per-request set starts empty each time.
    const again = engine.processRemoteWrite(encodeRequest(writeRequest(series.slice(0, 1))), {
      snappyIn: false,
    });
    expect(again.stats.seriesCollisions).toBe(0);
  });
});

describe('unchanged requests', () => {
  const input = encodeRequest(writeRequest(richRequestSeries(10), 1));

  test('no rule matches: STATUS_UNCHANGED and no output', async () => {
    const engine = await engineWith([
      { action: abi.ACTION_DROP, sources: ['__name__'], answer: matches('nothing') },
      { action: abi.ACTION_LABELDROP, answer: matches('nothing') },
    ]);
    const result = engine.processRemoteWrite(compress(input));
    expect(result.unchanged).toBe(true);
    expect(result.output).toHaveLength(0);
    expect(result.stats.seriesOut).toBe(10);
    expect(result.stats.samplesOut).toBe(result.stats.samplesIn);
    expect(Array.from(result.ruleHits)).toEqual([0, 0]);
  });

  test('a replace that writes the value a label already has changes nothing', async () => {
    const engine = await engineWith([
      {
        action: abi.ACTION_REPLACE,
        sources: ['job'],
        target: 'job',
        answer: (_op, value) => `job\0${value}`,
      },
    ]);
    expect(engine.processRemoteWrite(compress(input)).unchanged).toBe(true);
  });

  test('an empty program validates and returns unchanged without host calls', async () => {
    const engine = await engineWith([]);
    const result = engine.processRemoteWrite(compress(input));
    expect(result.unchanged).toBe(true);
    expect(result.stats.hostEvals).toBe(0);
    expect(result.ruleHits).toHaveLength(0);
  });
});

/** Encodes a WriteRequest by hand so tests can build what a correct encoder never would. */
function rawRequest(seriesLabels: LabelPairs[]): Uint8Array {
  const series = seriesLabels.map((labels) => seriesWith(labels));
  return encodeRequest(writeRequest(series));
}

function labelsOfSize(count: number): LabelPairs {
  return Array.from({ length: count }, (_, i) => [`l${String(i).padStart(4, '0')}`, 'v'] as const);
}

const good: LabelPairs = [
  ['__name__', 'up'],
  ['job', 'a'],
];

describe('bad input', () => {
  let engine: PipelineEngine;
  const validBody = compress(rawRequest([good, good]));
  beforeAll(async () => {
    engine = await engineWith([dropPod], { maxLabelsPerSeries: 8, maxDecompressedBytes: 4096 });
  });

  const cases: {
    name: string;
    body: () => Uint8Array;
    snappyIn?: boolean;
    code: PipelineErrorCode;
    message: RegExp;
  }[] = [
    {
      name: 'corrupt snappy block',
      body: () => {
        const body = compress(rawRequest([good, good, good]));
        return body.subarray(0, body.length - 3);
      },
      code: 'snappy',
      message: /snappy/,
    },
    {
      name: 'snappy header that is not a varint',
      body: () => Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      code: 'snappy',
      message: /snappy/,
    },
    {
      name: 'decompressed size over the limit',
      body: () => compress(rawRequest(Array.from({ length: 200 }, () => good))),
      code: 'too_large',
      message: /exceeds 4096 bytes/,
    },
    {
      name: 'uncompressed body over the limit',
      body: () => rawRequest(Array.from({ length: 200 }, () => good)),
      snappyIn: false,
      code: 'too_large',
      message: /exceeds 4096 bytes/,
    },
    {
      name: 'truncated protobuf',
      body: () => {
        const body = rawRequest([good]);
        return compress(body.subarray(0, body.length - 1));
      },
      code: 'protobuf',
      message: /malformed protobuf/,
    },
    {
      name: 'timeseries field with the varint wire type',
      body: () => compress(Uint8Array.of(0x08, 0x01)),
      code: 'protobuf',
      message: /malformed/,
    },
    {
      name: 'group wire type',
      body: () => compress(Uint8Array.of(0x13, 0x14)),
      code: 'protobuf',
      message: /malformed/,
    },
    {
      name: 'field number 0',
      body: () => compress(Uint8Array.of(0x02, 0x00)),
      code: 'protobuf',
      message: /malformed/,
    },
    {
      name: 'varint longer than 10 bytes',
      body: () => compress(Uint8Array.of(0x20, ...new Array(11).fill(0x80), 0x01)),
      code: 'protobuf',
      message: /malformed/,
    },
    {
      name: 'label names out of order',
      body: () =>
        compress(
          rawRequest([
            good,
            good,
            good,
            [
              ['pod', 'a'],
              ['job', 'b'],
            ],
          ]),
        ),
      code: 'invalid_labels',
      message: /^series 3: label names not in ascending order \("job" after "pod"\)$/,
    },
    {
      name: 'duplicate label name',
      body: () =>
        compress(
          rawRequest([
            [
              ['job', 'a'],
              ['job', 'b'],
            ],
          ]),
        ),
      code: 'invalid_labels',
      message: /^series 0: duplicate label name "job"$/,
    },
    {
      name: 'empty label name',
      body: () =>
        compress(
          rawRequest([
            good,
            [
              ['', 'a'],
              ['job', 'b'],
            ],
          ]),
        ),
      code: 'invalid_labels',
      message: /^series 1: empty label name$/,
    },
    {
      name: 'label name starting with a digit',
      body: () => compress(rawRequest([[['1abc', 'a']]])),
      code: 'invalid_labels',
      message: /^series 0: invalid label name "1abc"$/,
    },
    {
      name: 'label name with a dash',
      body: () => compress(rawRequest([[['a-b', 'a']]])),
      code: 'invalid_labels',
      message: /^series 0: invalid label name "a-b"$/,
    },
    {
      name: 'label name with a non-ASCII letter',
      body: () => compress(rawRequest([[['é', 'a']]])),
      code: 'invalid_labels',
      message: /invalid label name "é"/,
    },
    {
      name: 'too many labels',
      body: () => compress(rawRequest([good, labelsOfSize(9)])),
      code: 'invalid_labels',
      message: /^series 1: more than 8 labels$/,
    },
  ];

  test.each(cases)('$name', ({ body, snappyIn, code, message }) => {
    const bytes = body();
    expectPipelineError(
      () => engine.processRemoteWrite(bytes, { snappyIn: snappyIn ?? true }),
      code,
      message,
    );
    const after = engine.processRemoteWrite(validBody);
    expect(after.stats.seriesOut).toBe(2);
  });

  test('the largest allowed label count passes', () => {
    const result = engine.processRemoteWrite(compress(rawRequest([labelsOfSize(8)])));
    expect(result.stats.seriesIn).toBe(1);
  });

  test('every cut of a request fails exactly where a protobuf decoder fails', async () => {
    const cutEngine = await engineWith([dropPod]);
    const body = encodeRequest(writeRequest(richRequestSeries(3), 2));
    let rejected = 0;
    for (let cut = 0; cut < body.length; cut++) {
      const piece = body.subarray(0, cut);
      let referenceAccepts = true;
      try {
        decodeRequest(piece);
      } catch {
        referenceAccepts = false;
      }
      if (referenceAccepts) {
        expect(cutEngine.processRemoteWrite(piece, { snappyIn: false })).toBeDefined();
      } else {
        rejected++;
        expectPipelineError(
          () => cutEngine.processRemoteWrite(piece, { snappyIn: false }),
          'protobuf',
        );
      }
    }
    expect(rejected).toBeGreaterThan(body.length - 10);
    expect(cutEngine.processRemoteWrite(body, { snappyIn: false }).stats.seriesIn).toBe(3);
  });

  test('random byte corruption never breaks the instance', async () => {
    const fuzzEngine = await engineWith([dropPod]);
    const body = encodeRequest(writeRequest(richRequestSeries(4), 1));
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const codes = new Set<string>();
    for (let round = 0; round < 400; round++) {
      const corrupted = Uint8Array.from(body);
      const flips = 1 + Math.floor(random() * 3);
      for (let f = 0; f < flips; f++) {
        corrupted[Math.floor(random() * corrupted.length)] = Math.floor(random() * 256);
      }
      try {
        fuzzEngine.processRemoteWrite(corrupted, { snappyIn: false });
        codes.add('ok');
      } catch (error) {
        expect(error).toBeInstanceOf(PipelineError);
        expect(['protobuf', 'invalid_labels']).toContain((error as PipelineError).code);
        codes.add((error as PipelineError).code);
      }
    }
    expect(codes.has('protobuf')).toBe(true);
    expect(fuzzEngine.processRemoteWrite(body, { snappyIn: false }).stats.seriesIn).toBe(4);
  });
});

describe('host and program failures', () => {
  const body = compress(rawRequest([good]));

  test('a host answer larger than the host-out buffer fails with host', async () => {
    let huge = false;
    const engine = await engineWith([
      {
        action: abi.ACTION_REPLACE,
        sources: ['job'],
        target: 'x',
        answer: (_op, input) => (huge ? `x\0${'v'.repeat(2 * 1024 * 1024)}` : `x\0${input}`),
      },
    ]);
    huge = true;
    expectPipelineError(() => engine.processRemoteWrite(body), 'host', /longer than/);
    huge = false;
    expect(engine.processRemoteWrite(body).unchanged).toBe(false);
  });

  test('an exception in the host function fails with host and leaves the engine working', async () => {
    let fail = true;
    const engine = await engineWith([
      {
        action: abi.ACTION_DROP,
        sources: ['job'],
        answer: () => {
          if (fail) throw new Error('regex engine exploded');
          return null;
        },
      },
    ]);
    expectPipelineError(() => engine.processRemoteWrite(body), 'host', /regex engine exploded/);
    fail = false;
    expect(engine.processRemoteWrite(body).unchanged).toBe(true);
  });

  test('a replace answer without the NUL separator fails with host', async () => {
    const engine = await engineWith([
      { action: abi.ACTION_REPLACE, sources: ['job'], target: 'x', answer: () => 'no-separator' },
    ]);
    expectPipelineError(() => engine.processRemoteWrite(body), 'host', /malformed answer/);
  });

  test('processing before any pipeline is loaded fails with program', async () => {
    const engine = await PipelineEngine.load();
    expectPipelineError(() => engine.processRemoteWrite(body), 'program', /no pipeline loaded/);
  });

  test('a malformed program is refused and the previous one stays active', async () => {
    const engine = await engineWith([dropPod]);
    const broken = fixturePipeline([dropPod]);
    const truncated = { ...broken, program: broken.program.subarray(0, broken.program.length - 1) };
    expectPipelineError(() => engine.use(truncated), 'program');
    const badMagic = { ...broken, program: Uint8Array.from(broken.program) };
    badMagic.program[0] = 0;
    expectPipelineError(() => engine.use(badMagic), 'program');
    const input = rawRequest([
      [
        ['job', 'a'],
        ['pod', 'b'],
      ],
    ]);
    const result = engine.processRemoteWrite(input, { snappyIn: false, snappyOut: false });
    expect(decodeRequest(result.output).timeseries[0]!.labels.map((l) => l.name)).toEqual(['job']);
  });

  test('options are checked', async () => {
    await expect(PipelineEngine.load({ maxLabelsPerSeries: 0 })).rejects.toThrow(
      'maxLabelsPerSeries 0 must be an integer >= 1',
    );
    await expect(PipelineEngine.load({ maxDecompressedBytes: 2 ** 31 })).rejects.toThrow(
      /maxDecompressedBytes 2147483648 must be <= 1073741824/,
    );
  });
});

describe('intern table bound', () => {
  test('resets under churn keep every result right', async () => {
    const engine = await engineWith([
      dropPod,
      { action: abi.ACTION_KEEP, sources: ['job'], answer: matches('keep') },
    ]);
    // 5000 series with two unique 1000-byte values each: about 10 MB of new strings per
    // request, so the 64 MiB arena bound is passed after a handful of requests.
    const resetsSeen: number[] = [];
    for (let request = 0; request < 9; request++) {
      const series = Array.from({ length: 5000 }, (_, i) =>
        seriesWith(
          sortedLabels({
            __name__: 'churn',
            job: i % 2 === 0 ? 'keep' : 'other',
            pod: `${request}-${i}-`.padEnd(1000, 'p'),
            uid: `${request}-${i}-`.padEnd(1000, 'u'),
          }),
        ),
      );
      const result = engine.processRemoteWrite(encodeRequest(writeRequest(series)), {
        snappyIn: false,
        snappyOut: false,
      });
      resetsSeen.push(result.stats.internResets);
      const output = decodeRequest(result.output).timeseries;
      expect(output).toHaveLength(2500);
      output.forEach((s, k) => {
        expect(labelRecord(s)).toEqual({
          __name__: 'churn',
          job: 'keep',
          uid: `${request}-${k * 2}-`.padEnd(1000, 'u'),
        });
      });
      if (result.stats.internResets === 1) {
        // Answers cached before the reset are gone: names and values are evaluated again.
        expect(result.stats.hostEvals).toBeGreaterThan(0);
      }
    }
    expect(resetsSeen.filter((r) => r === 1).length).toBeGreaterThanOrEqual(1);
    expect(resetsSeen[0]).toBe(0);
  });
});

describe('series cache', () => {
  const input = encodeRequest(writeRequest(richRequestSeries(10)));

  test('past its byte bound the cache keeps every result right, pass after pass', async () => {
    const engine = await engineWith([dropPod]);
    // 30 labels sharing one 40-byte value: about 1.6 KB of label bytes per series, so
    // 60 000 series pass the cache's 64 MiB bound while the intern table stays small. The
    // cache then holds the first series and serves them while the rest are relabeled anew.
    const shared = 'v'.repeat(40);
    const padding = Object.fromEntries(
      Array.from({ length: 30 }, (_, k) => [`a${String(k).padStart(2, '0')}`, shared]),
    );
    const requests = Array.from({ length: 6 }, (_, request) =>
      encodeRequest(
        writeRequest(
          Array.from({ length: 10_000 }, (_, i) =>
            seriesWith(
              sortedLabels({ __name__: 'full', id: `${request}-${i}`, pod: `p${i}`, ...padding }),
            ),
          ),
        ),
      ),
    );
    for (let pass = 0; pass < 3; pass++) {
      requests.forEach((body, request) => {
        const result = engine.processRemoteWrite(body, { snappyIn: false, snappyOut: false });
        expect(result.stats.internResets).toBe(0);
        const output = decodeRequest(result.output).timeseries;
        expect(output).toHaveLength(10_000);
        output.forEach((series, i) => {
          const labels = labelRecord(series);
          expect(labels['pod']).toBeUndefined();
          expect(labels['id']).toBe(`${request}-${i}`);
          expect(labels['a29']).toBe(shared);
        });
      });
    }
  }, 60_000);

  test('series in any order, old and new mixed, get the answers a fresh engine gives', async () => {
    // The cache first checks the entry stored after the last one it found (senders repeat
    // their order); every other order must fall back to the table and answer the same.
    const engine = await engineWith([dropPod]);
    const random = seededRandom(7);
    const labelSet = (i: number) =>
      sortedLabels({
        __name__: i % 3 === 0 ? 'up' : 'http_requests_total',
        job: `job-${i % 5}`,
        ...(i % 2 === 0 ? { pod: `pod-${i}` } : { instance: `10.0.0.${i}:80` }),
      });
    const orders = [
      Array.from({ length: 40 }, (_, i) => i),
      Array.from({ length: 40 }, (_, i) => i),
      Array.from({ length: 40 }, (_, i) => 39 - i),
      Array.from({ length: 60 }, () => Math.floor(random() * 80)),
      [0, 1, 2, 50, 3, 4, 51, 5, 1, 1, 2],
    ];
    for (const order of orders) {
      const body = encodeRequest(writeRequest(order.map((i) => seriesWith(labelSet(i)))));
      const fresh = await engineWith([dropPod]);
      const expected = fresh.processRemoteWrite(body, { snappyIn: false, snappyOut: false });
      const result = engine.processRemoteWrite(body, { snappyIn: false, snappyOut: false });
      expect(decodeRequest(result.output).timeseries.map(labelRecord)).toEqual(
        decodeRequest(expected.output).timeseries.map(labelRecord),
      );
      expect(result.ruleHits).toEqual(expected.ruleHits);
      expect(result.stats).toEqual({ ...expected.stats, hostEvals: result.stats.hostEvals });
    }
  });

  test('a new program does not reuse outcomes cached under the previous one', async () => {
    const engine = await engineWith([dropPod]);
    const first = decodeRequest(
      engine.processRemoteWrite(input, { snappyIn: false, snappyOut: false }).output,
    );
    expect(first.timeseries.every((s) => labelRecord(s)['pod'] === undefined)).toBe(true);
    engine.use(fixturePipeline([{ action: abi.ACTION_LABELDROP, answer: matches('instance') }]));
    const second = decodeRequest(
      engine.processRemoteWrite(input, { snappyIn: false, snappyOut: false }).output,
    );
    for (const series of second.timeseries) {
      expect(labelRecord(series)['pod']).toBeDefined();
      expect(labelRecord(series)['instance']).toBeUndefined();
    }
  });

  test('labels interleaved with other fields are read, relabeled and re-encoded', async () => {
    const engine = await engineWith([dropPod]);
    const field = (number: number, payload: Uint8Array): Uint8Array =>
      Uint8Array.from([(number << 3) | 2, payload.length, ...payload]);
    const label = (name: string, value: string): Uint8Array =>
      toBinary(LabelSchema, create(LabelSchema, { name, value }));
    const sample = toBinary(SampleSchema, create(SampleSchema, { value: 2.5, timestamp: 7n }));
    const seriesPayload = Buffer.concat([
      field(1, label('__name__', 'up')),
      field(2, sample),
      field(1, label('job', 'a')),
      field(9, Uint8Array.of(1, 2, 3)),
      field(1, label('pod', 'p')),
    ]);
    const body = Buffer.concat([field(1, seriesPayload), field(1, seriesPayload)]);
    for (let round = 0; round < 2; round++) {
      const result = engine.processRemoteWrite(body, { snappyIn: false, snappyOut: false });
      expect(result.stats.seriesCollisions).toBe(1);
      const output = decodeRequest(result.output);
      expect(output.timeseries).toHaveLength(2);
      for (const series of output.timeseries) {
        expect(labelRecord(series)).toEqual({ __name__: 'up', job: 'a' });
        expect(series.samples.map((s) => [s.value, s.timestamp])).toEqual([[2.5, 7n]]);
      }
    }
  });

  test('a literal replace asks the host once per rule, and not for multi-line values', async () => {
    const config = parsePipelineConfig(
      JSON.stringify({
        relabel_configs: [{ source_labels: ['job'], target_label: 'env', replacement: 'prod' }],
      }),
      'literal.yaml',
    );
    const engine = await engineWith(compilePipeline(config));
    const series = Array.from({ length: 30 }, (_, i) =>
      seriesWith(sortedLabels({ __name__: 'up', job: `job-${i}` })),
    );
    series.push(seriesWith(sortedLabels({ __name__: 'up', job: 'two\nlines' })));
    const result = engine.processRemoteWrite(encodeRequest(writeRequest(series)), {
      snappyIn: false,
      snappyOut: false,
    });
    const output = decodeRequest(result.output).timeseries.map(labelRecord);
    expect(output.slice(0, 30).every((labels) => labels['env'] === 'prod')).toBe(true);
    expect(output[30]).toEqual({ __name__: 'up', job: 'two\nlines' });
    expect(result.stats.hostEvals).toBe(2);
  });
});

describe('a trapping instance', () => {
  /** Body length at which the instrumented module traps. */
  const TRAP_LENGTH = 57_005;

  /**
   * The real module with one instruction added at the start of processRemoteWrite: trap
   * (`unreachable`) when the body is TRAP_LENGTH bytes long. Nothing in the real module
   * traps on purpose, so this is how the engine's recovery is exercised.
   */
  async function trappingModulePath(): Promise<string> {
    const bytes = await readFile(defaultWasmPath);
    const module = binaryen.readBinaryWithFeatures(bytes, binaryen.Features.All);
    const exported = binaryen.getExportInfo(module.getExport('processRemoteWrite'));
    const func = module.getFunction(exported.value);
    const info = binaryen.getFunctionInfo(func);
    const trap = module.if(
      module.i32.eq(module.local.get(0, binaryen.i32), module.i32.const(TRAP_LENGTH)),
      module.unreachable(),
    );
    (
      binaryen as unknown as { Function: { setBody(f: number, body: number): void } }
    ).Function.setBody(func, module.block(null, [trap, info.body], info.results));
    const directory = await mkdtemp(path.join(tmpdir(), 'phoenix-trap-'));
    const wasmPath = path.join(directory, 'trapping.wasm');
    await writeFile(wasmPath, module.emitBinary());
    module.dispose();
    return wasmPath;
  }

  test('is replaced by a fresh one with the same pipeline', async () => {
    const engine = await engineWith([dropPod], { wasmPath: await trappingModulePath() });
    const body = encodeRequest(writeRequest(richRequestSeries(5)));
    const before = engine.processRemoteWrite(body, { snappyIn: false, snappyOut: false });
    expectPipelineError(
      () => engine.processRemoteWrite(new Uint8Array(TRAP_LENGTH), { snappyIn: false }),
      'program',
      /failed during processRemoteWrite: unreachable/,
    );
    const after = engine.processRemoteWrite(body, { snappyIn: false, snappyOut: false });
    expect(Buffer.from(after.output).equals(Buffer.from(before.output))).toBe(true);
    expect(Array.from(after.ruleHits)).toEqual([5]);
  });
});
