/**
 * `phoenix analyze` against a real control plane that merges the cardinality reports of
 * two real proxies (in this process, each with two worker threads, reporting like
 * `phoenix proxy --control-plane` does): the tables and JSON of top, labels and churn
 * carry the workload's known numbers within the error of docs/cardinality.md, recommend
 * reads rule files, dashboards, query lists and query logs, writes both renderings and
 * starts a shadow experiment, and every mistake gets its exit status and a precise message.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
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
import { runAnalyzeCommand } from './analyze-command.js';
import {
  capturingIo,
  startTestControlPlane,
  TEST_TOKENS,
  type TestControlPlane,
} from './cli-test-support.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.js';

const SERIES_ERROR = 1.04 / 64;
const LABEL_ERROR = 1.04 / 16;
/** `api_requests_total` series; proxy A gets [0, 2000), proxy B [1000, 3000). */
const API_SERIES = 3_000;
const DEBUG_SERIES = 100;
const UP_SERIES = 20;

const scope = new ServerScope();
let controlPlane: TestControlPlane;
let sourcesDir: string;

function workload(from: number, to: number): Buffer[] {
  const labelSets: Record<string, string>[] = [];
  for (let i = from; i < to; i++) {
    labelSets.push({
      __name__: 'api_requests_total',
      instance: `i-${i % 50}`,
      method: ['GET', 'POST', 'PUT'][i % 3] as string,
      path: `/p${i}`,
    });
  }
  for (let shard = 0; shard < DEBUG_SERIES; shard++) {
    labelSets.push({ __name__: 'debug_cache_entries', shard: String(shard) });
  }
  for (let instance = 0; instance < UP_SERIES; instance++) {
    labelSets.push({ __name__: 'up', instance: `i-${instance}`, job: 'node' });
  }
  const bodies: Buffer[] = [];
  for (let start = 0; start < labelSets.length; start += 250) {
    const series = labelSets
      .slice(start, start + 250)
      .map((labels) => seriesWith(sortedLabels(labels)));
    bodies.push(compressSync(Buffer.from(encodeRequest(writeRequest(series)))));
  }
  return bodies;
}

async function send(proxy: RunningProxy, bodies: Buffer[]): Promise<void> {
  const url = `http://127.0.0.1:${proxy.port}/api/v1/write`;
  for (let i = 0; i < bodies.length; i += 4) {
    const statuses = await Promise.all(
      bodies
        .slice(i, i + 4)
        .map(async (body) => (await fetch(url, { method: 'POST', body })).status),
    );
    expect(statuses.every((status) => status === 204)).toBe(true);
  }
}

async function startReportingProxy(proxyId: string): Promise<RunningProxy> {
  const upstream = scope.add(await startRecordingUpstream());
  const proxy = scope.add(
    await startProxy({ upstreamUrl: upstream.url, listenPort: 0, workers: 2 }),
  );
  const sync = new ConfigSync({
    controlPlaneUrl: controlPlane.url,
    token: TEST_TOKENS.proxy,
    proxyId,
    pipeline: 'default',
    dataDir: join(controlPlane.dataDir, proxyId),
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
  scope.add({ close: () => sync.close() });
  return proxy;
}

const RULES = stringify({
  groups: [
    {
      name: 'api',
      rules: [
        {
          record: 'method:api_requests:rate5m',
          expr: 'sum by (method) (rate(api_requests_total[5m]))',
        },
        { alert: 'InstanceDown', expr: 'up == 0' },
      ],
    },
  ],
});
const DASHBOARD = JSON.stringify({
  title: 'API',
  panels: [
    {
      title: 'Requests by instance',
      targets: [
        { refId: 'A', expr: 'sum by (instance) (rate(api_requests_total[$__rate_interval]))' },
      ],
    },
  ],
});

beforeAll(async () => {
  controlPlane = await startTestControlPlane();
  const admin = controlPlaneClients(controlPlane.url, TEST_TOKENS.admin);
  await admin.pipelines.createPipeline({ name: 'default', configYaml: 'relabel_configs: []\n' });
  const first = await startReportingProxy('proxy-a');
  const second = await startReportingProxy('proxy-b');
  await send(first, workload(0, 2_000));
  await send(second, workload(1_000, API_SERIES));

  sourcesDir = join(controlPlane.dataDir, 'sources');
  await mkdir(join(sourcesDir, 'dashboards', 'team'), { recursive: true });
  await writeFile(join(sourcesDir, 'rules.yaml'), RULES);
  await writeFile(join(sourcesDir, 'dashboards', 'team', 'api.json'), DASHBOARD);
  await writeFile(join(sourcesDir, 'queries.txt'), '# on-call queries\nmax(up)\n');
  await writeFile(
    join(sourcesDir, 'query.log'),
    `${JSON.stringify({ params: { query: 'sum(rate(api_requests_total[5m]))' } })}\n`,
  );

  // Both proxies' reports are in once the samples add up: 2000 + 2000 api samples.
  const viewer = controlPlaneClients(controlPlane.url, TEST_TOKENS.viewer);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const top = await viewer.analysis.topMetrics({});
    const api = top.metrics.find((metric) => metric.name === 'api_requests_total');
    if (top.proxies === 2 && api?.samples === 4_000) break;
    if (Date.now() > deadline) throw new Error('the two proxies did not report in 20 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 60_000);

afterAll(async () => {
  await scope.closeAll();
  await controlPlane?.close();
});

async function analyze(args: string[], token: string = TEST_TOKENS.viewer) {
  const io = capturingIo();
  const status = await runAnalyzeCommand(
    [...args, '--control-plane', controlPlane.url, '--token', token],
    io,
  );
  return { status, out: io.out, err: io.err };
}

function expectWithin(actual: number, expected: number, relativeError: number, what: string) {
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
    Math.max(1, 3 * relativeError * expected),
  );
}

/** The cells of the table row whose first cell is `first`. */
function row(table: string, first: string): string[] {
  const line = table.split('\n').find((candidate) => candidate.startsWith(`${first} `));
  expect(line, `row ${first} in\n${table}`).toBeDefined();
  return line!.split(/ {2,}/);
}

describe('phoenix analyze', () => {
  it('lists the top metrics merged over both proxies, as a table and as JSON', async () => {
    const table = await analyze(['top']);
    expect(table.err).toBe('');
    expect(table.status).toBe(EXIT_OK);
    expect(table.out).toMatch(/^output view, window of 60 min from \d{4}-\d\d-\d\dT/);
    expect(table.out).toContain('from 2 proxies');
    const [, active, fresh, samples] = row(table.out, 'api_requests_total');
    expectWithin(Number(active), API_SERIES, SERIES_ERROR, 'api active series');
    // First window since start: every series is new.
    expect(fresh).toBe(active);
    expect(samples).toBe('4000');

    const json = await analyze(['top', '--view', 'input', '--limit', '2', '-o', 'json']);
    const parsed = JSON.parse(json.out);
    expect(parsed.metrics).toHaveLength(2);
    expect(parsed.proxies).toBe(2);
    expect(parsed.metrics.map((metric: { name: string }) => metric.name)).toEqual([
      'api_requests_total',
      'debug_cache_entries',
    ]);
    expectWithin(Number(parsed.metrics[1].activeSeries), DEBUG_SERIES, SERIES_ERROR, 'debug');
  });

  it('lists the labels and pairs of one metric, and churn', async () => {
    const labels = await analyze(['labels', 'api_requests_total', '--view', 'input']);
    expect(labels.status).toBe(EXIT_OK);
    expect(labels.out).toMatch(/^api_requests_total: \d+ active series \(input view\)/);
    expectWithin(Number(row(labels.out, 'path')[1]), API_SERIES, LABEL_ERROR, 'path values');
    expectWithin(Number(row(labels.out, 'instance')[1]), 50, LABEL_ERROR, 'instance values');
    expectWithin(Number(row(labels.out, 'method=GET')[1]), 1_000, SERIES_ERROR, 'GET series');

    const yaml = await analyze(['labels', 'up', '-o', 'yaml']);
    expect(yaml.out).toMatch(/^metric: up\nactiveSeries: "20"/);

    const churn = await analyze(['churn', '--limit', '1']);
    expect(churn.status).toBe(EXIT_OK);
    expect(churn.out.trim().split('\n')).toHaveLength(3);
    expectWithin(Number(row(churn.out, 'api_requests_total')[2]), API_SERIES, SERIES_ERROR, 'new');
  });

  it('recommends from every kind of source, writes both renderings and starts an experiment', async () => {
    const pipelineOut = join(sourcesDir, 'recommended.yaml');
    const adaptiveOut = join(sourcesDir, 'rules.json');
    const sources = [
      '--rules',
      join(sourcesDir, 'rules.yaml'),
      '--dashboards',
      join(sourcesDir, 'dashboards'),
      '--queries',
      join(sourcesDir, 'queries.txt'),
      '--query-log',
      join(sourcesDir, 'query.log'),
    ];
    const table = await analyze([
      'recommend',
      ...sources,
      '--price-per-1k-series',
      '10',
      '--pipeline-out',
      pipelineOut,
      '--adaptive-out',
      adaptiveOut,
    ]);
    expect(table.status).toBe(EXIT_OK);
    expect(table.err).toBe(`wrote ${pipelineOut}\nwrote ${adaptiveOut}\n`);
    const api = row(table.out, 'api_requests_total');
    expect(api.slice(1, 2)).toEqual(['aggregate']);
    const [before, after] = api[2]!.split(' → ').map(Number);
    expectWithin(before!, API_SERIES, SERIES_ERROR, 'series before');
    expectWithin(after!, 150, 2 * LABEL_ERROR, 'series after (instance × method)');
    expect(Number(api[3])).toBeCloseTo(((before! - after!) / 1000) * 10, 1);
    expect(api[4]).toBe('instance, method');
    // Each query that pins a label on a row of its own.
    expect(table.out).toContain('rules.yaml: group "api" / record "method:api_requests:rate5m"');
    expect(table.out).toContain('dashboard "API" / panel "Requests by instance" / target A');
    const debug = row(table.out, 'debug_cache_entries');
    expect(debug[1]).toBe('drop');
    expect(debug[2]).toMatch(/^\d+ → 0$/);
    expect(row(table.out, 'up')[1]).toBe('keep');
    expect(table.out).toContain('debug_cache_entries: no query reads it');
    expect(table.out).toMatch(
      /3 metrics: \d+ → \d+ active series \(estimated\), monthly saving about [\d.]+ at 10 per 1000 series/,
    );

    const written = await readFile(pipelineOut, 'utf8');
    const pipeline = parsePipelineConfig(written, pipelineOut);
    expect(pipeline.aggregations).toHaveLength(1);
    expect(written).toMatch(/without: \[path\]/);
    expect(written).toMatch(/regex: debug_cache_entries\n/);
    expect(JSON.parse(await readFile(adaptiveOut, 'utf8'))).toEqual([
      expect.objectContaining({ metric: 'api_requests_total', drop_labels: ['path'] }),
      { metric: 'debug_cache_entries', match_type: 'exact', drop: true },
    ]);

    const applied = await analyze(
      [
        'recommend',
        ...sources,
        '--apply-as-experiment',
        'recommended',
        '--duration',
        '30m',
        '--price-per-1k-series',
        '10',
        '-o',
        'json',
      ],
      TEST_TOKENS.admin,
    );
    expect(applied.err).toBe('');
    expect(applied.status).toBe(EXIT_OK);
    const document = JSON.parse(applied.out);
    expect(document.pipelineYaml).toBe(written);
    expect(document.experiment).toMatchObject({
      phase: 'EXPERIMENT_PHASE_RUNNING',
      spec: {
        name: 'recommended',
        pipeline: 'default',
        mode: 'EXPERIMENT_MODE_SHADOW',
        durationSeconds: 1800,
        candidateConfigYaml: written,
        queries: { promql: ['max(up)', 'sum(rate(api_requests_total[5m]))'] },
      },
    });
    expect(document.experiment.spec.queries.ruleFiles).toHaveLength(1);
    expect(document.experiment.spec.queries.dashboards).toHaveLength(1);
    // The candidate breaks none of the queries it was made from.
    const checks = document.experiment.results.queries as { verdict: string; query: string }[];
    // Two rules, a dashboard panel, a list entry and a logged query.
    expect(checks.map((check) => check.query).sort()).toEqual([
      'max(up)',
      'sum by (instance) (rate(api_requests_total[$__rate_interval]))',
      'sum by (method) (rate(api_requests_total[5m]))',
      'sum(rate(api_requests_total[5m]))',
      'up == 0',
    ]);
    expect(checks.filter((check) => check.verdict === 'QUERY_VERDICT_BROKEN')).toEqual([]);

    // The table form prints the experiment as `phoenix experiment get` does.
    const admin = controlPlaneClients(controlPlane.url, TEST_TOKENS.admin);
    await admin.experiments.stopExperiment({ name: 'recommended' });
    const again = await analyze(
      ['recommend', '--rules', join(sourcesDir, 'rules.yaml'), '--apply-as-experiment', 'second'],
      TEST_TOKENS.admin,
    );
    expect(again.status).toBe(EXIT_OK);
    expect(again.out).toMatch(
      /\n\nexperiment second on pipeline default \(baseline version 1\): running\n/,
    );
    await admin.experiments.stopExperiment({ name: 'second' });
  });

  it('refuses bad usage with exit status 2 and API refusals with 1', async () => {
    const rules = join(sourcesDir, 'rules.yaml');
    const cases: [string[], number, string][] = [
      [['recommend'], EXIT_USAGE, 'give at least one of --rules'],
      [
        ['recommend', '--rules', rules, '--duration', '1h'],
        EXIT_USAGE,
        '--duration needs --apply-as-experiment NAME',
      ],
      [
        ['recommend', '--rules', rules, '--view', 'input'],
        EXIT_USAGE,
        'recommend always reads the input view',
      ],
      [
        ['recommend', '--rules', rules, '--price-per-1k-series', 'cheap'],
        EXIT_USAGE,
        '--price-per-1k-series "cheap" must be a number >= 0',
      ],
      [
        ['recommend', '--rules', join(sourcesDir, 'missing.yaml')],
        EXIT_USAGE,
        'missing.yaml: cannot read',
      ],
      [['recommend', '--dashboards', rules], EXIT_USAGE, 'rules.yaml: invalid JSON'],
      [
        ['recommend', '--rules', rules, '--apply-as-experiment', 'x', '--duration', 'soon'],
        EXIT_USAGE,
        '--duration "soon" is not a duration',
      ],
      [['top', '--view', 'sideways'], EXIT_USAGE, '--view "sideways" must be input or output'],
      [['top', '--limit', 'ten'], EXIT_USAGE, '--limit "ten" is not a whole number'],
      [['top', '--rules', rules], EXIT_USAGE, '--rules is a flag of recommend'],
      [['churn', 'extra'], EXIT_USAGE, 'churn takes no arguments'],
      [['sideways'], EXIT_USAGE, 'unknown subcommand "sideways"'],
      [['top', '--limit', '20000'], EXIT_FAILURE, 'limit 20000 must be <= 10000'],
      [
        ['labels', 'no_such_metric'],
        EXIT_FAILURE,
        '[not_found] no series of metric "no_such_metric"',
      ],
      // A viewer may read cardinality but not create experiments.
      [
        ['recommend', '--rules', rules, '--apply-as-experiment', 'x'],
        EXIT_FAILURE,
        '[permission_denied]',
      ],
    ];
    for (const [args, status, message] of cases) {
      const result = await analyze(args);
      expect(result.err, args.join(' ')).toContain(message);
      expect(result.status, args.join(' ')).toBe(status);
    }
    const help = await analyze(['--help']);
    expect(help.status).toBe(EXIT_OK);
    expect(help.out).toContain('Usage: phoenix analyze <subcommand> [flags]');
    expect((await analyze([])).status).toBe(EXIT_USAGE);
    const unreachable = capturingIo();
    expect(
      await runAnalyzeCommand(['top', '--control-plane', 'http://127.0.0.1:9'], unreachable),
    ).toBe(EXIT_FAILURE);
    expect(unreachable.err).toMatch(/^phoenix analyze: \[unavailable\]/);
  });
});
