/**
 * `phoenix analyze`: the live cardinality the control plane merged from every proxy
 * (`AnalysisService`), and recommendations of what to drop and aggregate, checked against
 * the PromQL people depend on (`recommend`, in analyze-recommend.ts).
 */
import { toJson } from '@bufbuild/protobuf';
import {
  CardinalityView,
  ChurnResponseSchema,
  type MetricCardinality,
  type TopLabelsResponse,
  TopLabelsResponseSchema,
  type TopMetricsResponse,
  TopMetricsResponseSchema,
} from '../../proto/gen/phoenix/v1/analysis_pb.js';
import { QuerySourceError } from '../queries/index.js';
import {
  AnalyzeUsageError,
  DEFAULT_EXPERIMENT_DURATION,
  DEFAULT_PRICE_PER_1K_SERIES,
  OutputFileError,
  runRecommend,
} from './analyze-recommend.js';
import {
  CONTROL_CLIENT_FLAGS,
  CONTROL_CLIENT_USAGE,
  type ControlClientContext,
} from './control-client-flags.js';
import { type ControlCommandSpec, runControlCommand } from './control-command.js';
import { EXIT_OK } from './exit-codes.js';
import { FlagValueError, parseCount } from './flag-values.js';
import type { Command } from './main.js';
import { type CommandIo, formatData, formatTable, processIo } from './output-format.js';

const FLAGS = {
  ...CONTROL_CLIENT_FLAGS,
  limit: { type: 'string' },
  view: { type: 'string' },
  rules: { type: 'string', multiple: true },
  dashboards: { type: 'string', multiple: true },
  queries: { type: 'string', multiple: true },
  'query-log': { type: 'string', multiple: true },
  'price-per-1k-series': { type: 'string' },
  'pipeline-out': { type: 'string' },
  'adaptive-out': { type: 'string' },
  'apply-as-experiment': { type: 'string' },
  pipeline: { type: 'string' },
  'shadow-upstream': { type: 'string' },
  duration: { type: 'string' },
} as const;

function usage(): string {
  return [
    'Usage: phoenix analyze <subcommand> [flags]',
    '',
    'Live cardinality merged over every proxy that reports to the control plane, and',
    'recommendations of what to drop and aggregate (docs/cardinality.md).',
    '',
    'Subcommands:',
    '  top [--limit N] [--view input|output]      metrics by active series',
    '  labels [METRIC] [--limit N] [--view ...]   labels by distinct values and the',
    '                                             label=value pairs with most series',
    '                                             (all metrics without METRIC)',
    '  churn [--limit N] [--view ...]             metrics by series new in this window',
    '  recommend [sources] [flags]                drop / aggregate / keep per metric of the',
    '                                             input, so that no query breaks',
    '',
    'Sources of recommend (each may be repeated; at least one):',
    '  --rules FILE               a Prometheus rule file',
    '  --dashboards PATH          a Grafana dashboard JSON file, or a directory of them',
    '  --queries FILE             one PromQL query per line; # starts a comment',
    '  --query-log FILE           a Prometheus query log (JSON lines)',
    '',
    'Flags of recommend:',
    `  --price-per-1k-series N    price of 1000 series per month (default ${DEFAULT_PRICE_PER_1K_SERIES})`,
    '  --limit N                  largest metrics considered (default 50)',
    '  --pipeline-out FILE        write the recommended pipeline (phoenix.yaml)',
    '  --adaptive-out FILE        write it as Grafana Adaptive Metrics rules (JSON)',
    '  --apply-as-experiment NAME create and start a shadow experiment whose candidate is',
    '                             the recommended pipeline, checked against the sources',
    '    --pipeline NAME          baseline pipeline (default "default")',
    '    --shadow-upstream URL    remote-write URL that receives the candidate output',
    `    --duration DURATION      how long it runs (default ${DEFAULT_EXPERIMENT_DURATION})`,
    '',
    'Flags:',
    '  --limit N                  entries to list (default 10)',
    '  --view input|output        series as received, or as forwarded (default output)',
    ...CONTROL_CLIENT_USAGE,
    '',
    'Exit status: 0 ok, 1 the control plane refused or failed, 2 bad usage or input.',
    '',
  ].join('\n');
}

/** `phoenix analyze`. */
export const analyzeCommand: Command = {
  name: 'analyze',
  summary: 'live cardinality (top, labels, churn) and drop/aggregate recommendations',
  run: (args) => runAnalyzeCommand(args, processIo),
};

type Values = Parameters<ControlCommandSpec<typeof FLAGS>['run']>[2];

/** Runs `phoenix analyze …` writing to `io`; resolves to the exit status. */
export function runAnalyzeCommand(args: string[], io: CommandIo): Promise<number> {
  return runControlCommand(
    {
      name: 'analyze',
      flags: FLAGS,
      usage,
      isUsageError: (error): error is Error =>
        error instanceof AnalyzeUsageError ||
        error instanceof FlagValueError ||
        error instanceof QuerySourceError,
      isLocalFailure: (error): error is OutputFileError => error instanceof OutputFileError,
      run: (subcommand, rest, values, context) =>
        runSubcommand(subcommand, rest, values, context, io),
    },
    args,
    io,
  );
}

function viewFlag(text: string | undefined): CardinalityView {
  if (text === 'input') return CardinalityView.INPUT;
  if (text === undefined || text === 'output') return CardinalityView.OUTPUT;
  throw new AnalyzeUsageError(`--view ${JSON.stringify(text)} must be input or output`);
}

function limitFlag(text: string | undefined): number {
  return text === undefined ? 0 : parseCount('--limit', text);
}

/** Flags that only one subcommand takes; any of them elsewhere is a mistake worth naming. */
const RECOMMEND_ONLY = [
  'rules',
  'dashboards',
  'queries',
  'query-log',
  'price-per-1k-series',
  'pipeline-out',
  'adaptive-out',
  'apply-as-experiment',
  'pipeline',
  'shadow-upstream',
  'duration',
] as const;

async function runSubcommand(
  subcommand: string,
  rest: readonly string[],
  values: Values,
  context: ControlClientContext,
  io: CommandIo,
): Promise<number> {
  if (subcommand !== 'recommend') {
    const misplaced = RECOMMEND_ONLY.find((flag) => values[flag] !== undefined);
    if (misplaced !== undefined)
      throw new AnalyzeUsageError(`--${misplaced} is a flag of recommend`);
  }
  const { clients, output } = context;
  const api = clients.analysis;
  switch (subcommand) {
    case 'top': {
      if (rest.length !== 0) throw new AnalyzeUsageError('top takes no arguments');
      const response = await api.topMetrics({
        limit: limitFlag(values.limit),
        view: viewFlag(values.view),
      });
      io.stdout(
        output === 'table'
          ? topText(response, values.view ?? 'output')
          : formatData(output, toJson(TopMetricsResponseSchema, response)),
      );
      return EXIT_OK;
    }
    case 'labels': {
      if (rest.length > 1) throw new AnalyzeUsageError('labels takes at most one METRIC');
      const response = await api.topLabels({
        metric: rest[0] ?? '',
        limit: limitFlag(values.limit),
        view: viewFlag(values.view),
      });
      io.stdout(
        output === 'table'
          ? labelsText(response, values.view ?? 'output')
          : formatData(output, toJson(TopLabelsResponseSchema, response)),
      );
      return EXIT_OK;
    }
    case 'churn': {
      if (rest.length !== 0) throw new AnalyzeUsageError('churn takes no arguments');
      const response = await api.churn({
        limit: limitFlag(values.limit),
        view: viewFlag(values.view),
      });
      io.stdout(
        output === 'table'
          ? `${windowText(response.windowStartMs, response.windowMs, values.view ?? 'output')}\n${metricsTable(response.metrics)}`
          : formatData(output, toJson(ChurnResponseSchema, response)),
      );
      return EXIT_OK;
    }
    case 'recommend':
      if (rest.length !== 0)
        throw new AnalyzeUsageError('recommend takes no arguments; give sources');
      return runRecommend(values, context, io);
    default:
      throw new AnalyzeUsageError(`unknown subcommand ${JSON.stringify(subcommand)}`);
  }
}

function metricName(metric: MetricCardinality): string {
  return metric.other ? '(other)' : metric.name;
}

function windowText(windowStartMs: bigint, windowMs: bigint, view: string): string {
  if (windowStartMs === 0n) return `${view} view: no proxy has reported yet`;
  const start = new Date(Number(windowStartMs)).toISOString();
  const minutes = Number(windowMs) / 60_000;
  return `${view} view, window of ${minutes} min from ${start} (active = this and the previous window)`;
}

function metricsTable(metrics: readonly MetricCardinality[]): string {
  return formatTable(
    ['metric', 'active series', 'new series', 'samples'],
    metrics.map((metric) => [
      metricName(metric),
      String(metric.activeSeries),
      String(metric.newSeries),
      String(metric.samples),
    ]),
  );
}

function topText(response: TopMetricsResponse, view: string): string {
  return [
    `${windowText(response.windowStartMs, response.windowMs, view)}`,
    `${response.totalSeries} active series of all metrics, from ${response.proxies} ${response.proxies === 1 ? 'proxy' : 'proxies'}`,
    metricsTable(response.metrics),
  ].join('\n');
}

function labelsText(response: TopLabelsResponse, view: string): string {
  const what = response.metric === '' ? 'all metrics' : response.metric;
  return [
    `${what}: ${response.activeSeries} active series (${view} view)`,
    formatTable(
      ['label', 'distinct values', 'value bytes', 'series'],
      response.labels.map((label) => [
        label.name,
        String(label.distinctValues),
        String(label.valueBytes),
        String(label.series),
      ]),
    ),
    formatTable(
      ['pair', 'series', 'max overestimate'],
      response.pairs.map((pair) => [
        `${pair.label}=${pair.value}`,
        String(pair.series),
        String(pair.maxOverestimate),
      ]),
    ),
  ].join('\n');
}
