/**
 * Live cardinality end to end inside this process, with real servers on the loopback: a
 * proxy with two worker threads answers `GET /api/v1/status/tsdb` from the trackers of
 * both workers, and two proxies report to a real control plane, which merges them, serves
 * the same endpoint and `AnalysisService`, and forgets a proxy that stopped reporting.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code } from '@connectrpc/connect';
import { compressSync } from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import { startControlPlane, TokenSet } from '../../control-plane/index.js';
import { CardinalityView, RecommendationAction } from '../../proto/gen/phoenix/v1/analysis_pb.js';
import { ConfigSync } from '../control/config-sync.js';
import { controlPlaneClients } from '../control/control-plane-client.js';
import { readProxyCounters } from '../control/proxy-counters.js';
import { parsePipelineConfig } from '../pipeline/load.js';
import {
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { type RunningProxy, startProxy } from '../server/proxy.js';
import { ServerScope, startRecordingUpstream } from '../server/test-support.js';
import type { TsdbStatusData } from './tsdb-status.js';

const scope = new ServerScope();
const dirs: string[] = [];
afterEach(async () => {
  await scope.closeAll();
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

const SERIES_ERROR = 1.04 / 64;
const LABEL_ERROR = 1.04 / 16;
const METHODS = ['GET', 'POST', 'PUT'];
const DROP_PATH = parsePipelineConfig(
  'relabel_configs:\n  - action: labeldrop\n    regex: path\n',
  'test pipeline',
);

/** Snappy bodies of 250 `api_requests_total` series each, covering [from, to). */
function bodies(from: number, to: number): Buffer[] {
  const result: Buffer[] = [];
  for (let start = from; start < to; start += 250) {
    const series = [];
    for (let i = start; i < Math.min(to, start + 250); i++) {
      series.push(
        seriesWith(
          sortedLabels({
            __name__: 'api_requests_total',
            instance: `i-${i % 50}`,
            method: METHODS[i % 3] as string,
            path: `/p${i}`,
          }),
        ),
      );
    }
    result.push(compressSync(Buffer.from(encodeRequest(writeRequest(series)))));
  }
  return result;
}

/** Sends the bodies four at a time, so both workers of a proxy get some. */
async function send(proxy: RunningProxy, payloads: Buffer[]): Promise<void> {
  const url = `http://127.0.0.1:${proxy.port}/api/v1/write`;
  for (let i = 0; i < payloads.length; i += 4) {
    const statuses = await Promise.all(
      payloads
        .slice(i, i + 4)
        .map(async (body) => (await fetch(url, { method: 'POST', body })).status),
    );
    expect(statuses.every((status) => status === 204)).toBe(true);
  }
}

async function tsdbStatus(baseUrl: string, query: string): Promise<TsdbStatusData> {
  const response = await fetch(`${baseUrl}/api/v1/status/tsdb${query}`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await response.json()) as { status: string; data: TsdbStatusData };
  expect(body.status).toBe('success');
  return body.data;
}

function countOf(list: { name: string; value: number }[], name: string): number | undefined {
  return list.find((entry) => entry.name === name)?.value;
}

function expectWithin(actual: number | undefined, expected: number, relativeError: number): void {
  expect(actual, `estimate of ${expected}`).toBeDefined();
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(
    Math.max(1, 3 * relativeError * expected),
  );
}

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('proxy cardinality', () => {
  it('serves the TSDB status of both workers, before and after the pipeline', async () => {
    const upstream = scope.add(await startRecordingUpstream());
    const proxy = scope.add(
      await startProxy({
        upstreamUrl: upstream.url,
        listenPort: 0,
        workers: 2,
        pipeline: DROP_PATH,
      }),
    );
    await send(proxy, bodies(0, 6_000));
    const base = `http://127.0.0.1:${proxy.port}`;

    const input = await tsdbStatus(base, '?view=input&limit=20');
    expectWithin(countOf(input.seriesCountByMetricName, 'api_requests_total'), 6_000, SERIES_ERROR);
    expectWithin(countOf(input.labelValueCountByLabelName, 'path'), 6_000, LABEL_ERROR);
    expectWithin(countOf(input.labelValueCountByLabelName, 'instance'), 50, LABEL_ERROR);
    expectWithin(countOf(input.seriesCountByLabelValuePair, 'method=GET'), 2_000, SERIES_ERROR);
    expectWithin(input.headStats.numSeries, 6_000, 1.04 / 128);

    // Default view: output, after `path` was dropped: 150 series.
    const output = await tsdbStatus(base, '');
    expectWithin(countOf(output.seriesCountByMetricName, 'api_requests_total'), 150, SERIES_ERROR);
    expect(countOf(output.labelValueCountByLabelName, 'path')).toBeUndefined();
    expect(output.seriesCountByLabelValuePair.length).toBeLessThanOrEqual(10);

    const limited = await tsdbStatus(base, '?view=input&limit=2');
    expect(limited.labelValueCountByLabelName.map((entry) => entry.name)).toEqual([
      'path',
      'instance',
    ]);

    for (const query of ['?limit=0', '?limit=abc', '?view=sideways']) {
      const response = await fetch(`${base}/api/v1/status/tsdb${query}`);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ status: 'error', errorType: 'bad_data' });
    }
    // The proxy keeps serving writes after bad queries.
    await send(proxy, bodies(0, 250));
  });

  it('answers 404 on the path when tracking is off', async () => {
    const upstream = scope.add(await startRecordingUpstream());
    const proxy = scope.add(
      await startProxy({
        upstreamUrl: upstream.url,
        listenPort: 0,
        workers: 1,
        cardinalityMaxMetrics: 0,
      }),
    );
    const response = await fetch(`http://127.0.0.1:${proxy.port}/api/v1/status/tsdb`);
    expect(response.status).toBe(404);
    expect(await proxy.cardinalityWindows()).toEqual([]);
  });

  it('merges the reports of two proxies in the control plane and ages out a silent one', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'phoenix-cardinality-'));
    dirs.push(dataDir);
    const controlPlane = await startControlPlane({
      listenPort: 0,
      dataDir,
      cardinalityReportMaxAgeMs: 1_500,
    });
    scope.add(controlPlane);
    const api = controlPlaneClients(controlPlane.url, undefined);
    const upstream = scope.add(await startRecordingUpstream());

    const startReporting = async (proxyId: string) => {
      const proxy = await startProxy({
        upstreamUrl: upstream.url,
        listenPort: 0,
        workers: 2,
        pipeline: DROP_PATH,
      });
      const sync = new ConfigSync({
        controlPlaneUrl: controlPlane.url,
        token: undefined,
        proxyId,
        pipeline: 'default',
        dataDir: join(dataDir, proxyId),
        phoenixVersion: 'test',
        statusIntervalMs: 100,
      });
      sync.attach(
        {
          apply: (pipeline) => proxy.applyPipeline(pipeline),
          counters: () => readProxyCounters(proxy.metrics.registry),
          recentRequest: () => proxy.recentRequest(),
          listen: `127.0.0.1:${proxy.port}`,
          cardinality: () => proxy.cardinalityWindows(),
        },
        undefined,
      );
      const both = {
        close: async () => Promise.all([sync.close(), proxy.close()]).then(() => undefined),
      };
      return { proxy, both };
    };
    const first = await startReporting('proxy-a');
    const second = await startReporting('proxy-b');
    scope.add(first.both);
    scope.add(second.both);
    // Overlapping halves: [0, 4000) and [2000, 6000); the union is 6000 series.
    await send(first.proxy, bodies(0, 4_000));
    await send(second.proxy, bodies(2_000, 6_000));

    await until(async () => {
      const top = await api.analysis.topMetrics({ view: CardinalityView.INPUT });
      // Samples add up exactly: 8000 means both reports cover everything that was sent.
      return top.proxies === 2 && top.metrics[0]?.samples === 8_000;
    }, 'both proxies reported everything');
    const top = await api.analysis.topMetrics({ view: CardinalityView.INPUT, limit: 5 });
    expect(top.metrics[0]?.name).toBe('api_requests_total');
    expectWithin(Number(top.metrics[0]?.activeSeries), 6_000, SERIES_ERROR);
    expect(top.metrics[0]?.samples).toBe(8_000);
    expect(top.windowMs).toBe(3_600_000n);

    const labels = await api.analysis.topLabels({
      metric: 'api_requests_total',
      view: CardinalityView.INPUT,
      limit: 5,
    });
    const byName = new Map(
      labels.labels.map((label) => [label.name, Number(label.distinctValues)]),
    );
    expectWithin(byName.get('path'), 6_000, LABEL_ERROR);
    expectWithin(byName.get('method'), 3, LABEL_ERROR);
    const get = labels.pairs.find((pair) => pair.label === 'method' && pair.value === 'GET');
    expectWithin(Number(get?.series), 2_000, SERIES_ERROR);

    // First window since start: every series is new.
    const churn = await api.analysis.churn({ view: CardinalityView.OUTPUT });
    expectWithin(Number(churn.metrics[0]?.newSeries), 150, SERIES_ERROR);

    const status = await tsdbStatus(controlPlane.url, '?view=input');
    expectWithin(
      countOf(status.seriesCountByMetricName, 'api_requests_total'),
      6_000,
      SERIES_ERROR,
    );

    await expect(api.analysis.topLabels({ metric: 'no_such_metric' })).rejects.toMatchObject({
      code: Code.NotFound,
    });
    // Recommend: the live input cardinality against the queries that read it.
    const advice = await api.analysis.recommend({
      queries: ['sum by (method) (rate(api_requests_total[5m]))'],
      pricePerThousandSeries: 8,
    });
    const [api_] = advice.recommendations;
    expect(api_).toMatchObject({
      metric: 'api_requests_total',
      action: RecommendationAction.AGGREGATE,
      seriesAfter: 3n,
      keepLabels: ['method'],
      pinnedQueries: ['queries: line 1'],
    });
    expectWithin(Number(api_?.seriesBefore), 6_000, SERIES_ERROR);
    expect(api_?.monthlySaving).toBeCloseTo(((Number(api_?.seriesBefore) - 3) / 1000) * 8, 2);
    const recommended = parsePipelineConfig(advice.pipelineYaml, 'recommended pipeline');
    expect(recommended.aggregations).toHaveLength(1);
    expect(advice.pipelineYaml).toMatch(
      /match: api_requests_total\n\s+interval: 1m\n\s+without: \[instance, path\]/,
    );
    expect(JSON.parse(advice.adaptiveMetricsJson)).toEqual([
      expect.objectContaining({ metric: 'api_requests_total', drop_labels: ['instance', 'path'] }),
    ]);
    await expect(api.analysis.recommend({ pricePerThousandSeries: -1 })).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });

    // proxy-b stops; once its last report is older than the limit only proxy-a counts.
    await second.both.close();
    await until(async () => (await api.analysis.topMetrics({})).proxies === 1, 'proxy-b aged out');
    const after = await api.analysis.topMetrics({ view: CardinalityView.INPUT });
    expectWithin(Number(after.metrics[0]?.activeSeries), 4_000, SERIES_ERROR);
  });

  it('asks for role viewer on the control plane', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'phoenix-cardinality-'));
    dirs.push(dataDir);
    const tokens = new TokenSet([
      { name: 'ops', token: 'viewer-token-0123456789', role: 'viewer' },
      { name: 'edge', token: 'proxy-token-0123456789', role: 'proxy' },
    ]);
    const controlPlane = scope.add(await startControlPlane({ listenPort: 0, dataDir, tokens }));
    const url = `${controlPlane.url}/api/v1/status/tsdb`;
    const status = async (token?: string) =>
      (
        await fetch(
          url,
          token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
        )
      ).status;
    expect(await status()).toBe(401);
    expect(await status('proxy-token-0123456789')).toBe(403);
    expect(await status('viewer-token-0123456789')).toBe(200);
    const asProxy = controlPlaneClients(controlPlane.url, 'proxy-token-0123456789');
    await expect(asProxy.analysis.topMetrics({})).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
    const asViewer = controlPlaneClients(controlPlane.url, 'viewer-token-0123456789');
    const empty = await asViewer.analysis.topMetrics({});
    expect(empty.metrics).toEqual([]);
    expect(empty.proxies).toBe(0);
  });
});
