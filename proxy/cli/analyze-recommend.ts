/**
 * `phoenix analyze recommend`: reads the query sources (rule files, Grafana dashboards,
 * query lists, query logs) here, sends their texts to `AnalysisService.Recommend`, prints
 * the advice per metric, writes the pipeline and the Adaptive Metrics rules, and can start
 * a shadow experiment of the recommended pipeline against the same queries.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create, toJson } from '@bufbuild/protobuf';
import {
  RecommendationAction,
  type RecommendResponse,
  RecommendResponseSchema,
  type SourceText,
} from '../../proto/gen/phoenix/v1/analysis_pb.js';
import {
  type Experiment,
  ExperimentMode,
  ExperimentSchema,
  ExperimentSpecSchema,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';
import {
  parseDashboard,
  parseQueryList,
  parseQueryLog,
  parseRuleFile,
  QuerySourceError,
} from '../queries/index.js';
import type { ControlClientContext } from './control-client-flags.js';
import { EXIT_OK } from './exit-codes.js';
import { runExperimentCommand } from './experiment-command.js';
import { parseCount, parseDuration } from './flag-values.js';
import { type CommandIo, formatData, formatTable } from './output-format.js';

/** Bad usage of `phoenix analyze`, answered with exit status 2. */
export class AnalyzeUsageError extends Error {}

/** The flags `recommend` reads, as `parseArgs` returns them. */
export interface RecommendFlags {
  readonly 'control-plane'?: string | undefined;
  readonly token?: string | undefined;
  readonly 'token-file'?: string | undefined;
  readonly view?: string | undefined;
  readonly limit?: string | undefined;
  readonly rules?: string[] | undefined;
  readonly dashboards?: string[] | undefined;
  readonly queries?: string[] | undefined;
  readonly 'query-log'?: string[] | undefined;
  readonly 'price-per-1k-series'?: string | undefined;
  readonly 'pipeline-out'?: string | undefined;
  readonly 'adaptive-out'?: string | undefined;
  readonly 'apply-as-experiment'?: string | undefined;
  readonly pipeline?: string | undefined;
  readonly 'shadow-upstream'?: string | undefined;
  readonly duration?: string | undefined;
}

/** Price of 1000 active series per month when `--price-per-1k-series` is not given. */
export const DEFAULT_PRICE_PER_1K_SERIES = 8;
/** Length of an experiment made by `--apply-as-experiment` without `--duration`. */
export const DEFAULT_EXPERIMENT_DURATION = '1h';

/** An output file (`--pipeline-out`, `--adaptive-out`) that could not be written. */
export class OutputFileError extends Error {}

/** The query sources as read from the files, in the API's shapes. */
interface QuerySourceTexts {
  readonly ruleFiles: SourceText[];
  readonly dashboards: SourceText[];
  /** The queries of the query lists, without comments and blank lines. */
  readonly queries: string[];
  /** Every query log, one after another. */
  readonly queryLog: string;
  /** The queries of the query logs, each once. */
  readonly queryLogQueries: string[];
}

async function readSource(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new QuerySourceError(file, `cannot read: ${(error as Error).message}`);
  }
}

/** A dashboard file, or every `*.json` below a directory, as `loadDashboards` reads them. */
async function dashboardFiles(path: string): Promise<string[]> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (error) {
    throw new QuerySourceError(path, `cannot read: ${(error as Error).message}`);
  }
  if (!isDirectory) return [path];
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/**
 * Reads every source and parses it here too, so a malformed file is reported with its
 * name and reason before anything is sent.
 */
async function readQuerySources(values: RecommendFlags): Promise<QuerySourceTexts> {
  const sources: QuerySourceTexts = {
    ruleFiles: [],
    dashboards: [],
    queries: [],
    queryLog: '',
    queryLogQueries: [],
  };
  const logs: string[] = [];
  for (const file of values.rules ?? []) {
    const text = await readSource(file);
    parseRuleFile(text, file);
    sources.ruleFiles.push(sourceText(file, text));
  }
  for (const path of values.dashboards ?? []) {
    for (const file of await dashboardFiles(path)) {
      const text = await readSource(file);
      parseDashboard(text, file);
      sources.dashboards.push(sourceText(file, text));
    }
  }
  for (const file of values.queries ?? []) {
    const text = await readSource(file);
    sources.queries.push(...parseQueryList(text, file).map((entry) => entry.query));
  }
  for (const file of values['query-log'] ?? []) {
    const text = await readSource(file);
    for (const entry of parseQueryLog(text, file)) {
      if (!sources.queryLogQueries.includes(entry.query)) sources.queryLogQueries.push(entry.query);
    }
    logs.push(text.endsWith('\n') ? text : `${text}\n`);
  }
  return { ...sources, queryLog: logs.join('') };
}

function sourceText(name: string, text: string): SourceText {
  return { $typeName: 'phoenix.v1.SourceText', name, text };
}

function priceFlag(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PRICE_PER_1K_SERIES;
  const price = Number(text);
  if (text.trim() === '' || !Number.isFinite(price) || price < 0) {
    throw new AnalyzeUsageError(
      `--price-per-1k-series ${JSON.stringify(text)} must be a number >= 0`,
    );
  }
  return price;
}

/** Checks the experiment flags before anything is sent, so a typo costs no round trip. */
function experimentFlags(
  values: RecommendFlags,
): { name: string; durationSeconds: number } | undefined {
  const name = values['apply-as-experiment'];
  if (name === undefined) {
    const orphan = (['pipeline', 'shadow-upstream', 'duration'] as const).find(
      (flag) => values[flag] !== undefined,
    );
    if (orphan !== undefined) {
      throw new AnalyzeUsageError(`--${orphan} needs --apply-as-experiment NAME`);
    }
    return undefined;
  }
  const durationMs = parseDuration('--duration', values.duration ?? DEFAULT_EXPERIMENT_DURATION);
  if (durationMs < 1000) throw new AnalyzeUsageError('--duration must be at least 1s');
  return { name, durationSeconds: Math.round(durationMs / 1000) };
}

/**
 * `phoenix analyze recommend`: the advice for the proxies' live input against the given
 * sources; resolves to the exit status. Usage mistakes and unreadable sources throw
 * {@link AnalyzeUsageError} or `QuerySourceError` before anything is sent.
 */
export async function runRecommend(
  values: RecommendFlags,
  context: ControlClientContext,
  io: CommandIo,
): Promise<number> {
  if (values.view !== undefined)
    throw new AnalyzeUsageError('recommend always reads the input view');
  const price = priceFlag(values['price-per-1k-series']);
  const limit = values.limit === undefined ? 0 : parseCount('--limit', values.limit);
  const experiment = experimentFlags(values);
  const given = [values.rules, values.dashboards, values.queries, values['query-log']];
  if (given.every((paths) => paths === undefined || paths.length === 0)) {
    // Without any query every metric would look unused and be recommended for dropping.
    throw new AnalyzeUsageError(
      'give at least one of --rules, --dashboards, --queries, --query-log',
    );
  }
  const sources = await readQuerySources(values);
  const { clients, output } = context;
  const advice = await clients.analysis.recommend({
    ruleFiles: sources.ruleFiles,
    dashboards: sources.dashboards,
    queries: sources.queries,
    queryLog: sources.queryLog,
    pricePerThousandSeries: price,
    limit,
  });
  await writeOutputFile(values['pipeline-out'], advice.pipelineYaml, io);
  await writeOutputFile(values['adaptive-out'], advice.adaptiveMetricsJson, io);

  let created: Experiment | undefined;
  if (experiment !== undefined) {
    const response = await clients.experiments.createExperiment({
      start: true,
      spec: create(ExperimentSpecSchema, {
        name: experiment.name,
        pipeline: values.pipeline ?? 'default',
        description: `phoenix analyze recommend: ${advice.recommendations.length} metrics, monthly saving about ${advice.monthlySaving}`,
        candidateConfigYaml: advice.pipelineYaml,
        mode: ExperimentMode.SHADOW,
        durationSeconds: experiment.durationSeconds,
        shadowUpstream: values['shadow-upstream'] ?? '',
        queries: {
          ruleFiles: sources.ruleFiles.map((file) => ({ name: file.name, content: file.text })),
          dashboards: sources.dashboards.map((file) => ({ name: file.name, content: file.text })),
          promql: [...sources.queries, ...sources.queryLogQueries],
        },
        pricing: { perThousandSeries: price },
      }),
    });
    created = response.experiment;
  }

  if (output !== 'table') {
    const document = toJson(RecommendResponseSchema, advice) as Record<string, unknown>;
    if (created !== undefined) document.experiment = toJson(ExperimentSchema, created);
    io.stdout(formatData(output, document));
    return EXIT_OK;
  }
  io.stdout(recommendationsText(advice, price));
  if (created === undefined || experiment === undefined) return EXIT_OK;
  // Printed exactly as `phoenix experiment get` prints it, by the same code.
  io.stdout('\n');
  const passThrough = (['control-plane', 'token', 'token-file'] as const).flatMap((flag) =>
    values[flag] === undefined ? [] : [`--${flag}`, values[flag]],
  );
  return runExperimentCommand(['get', experiment.name, ...passThrough], io);
}

async function writeOutputFile(file: string | undefined, text: string, io: CommandIo) {
  if (file === undefined) return;
  try {
    await writeFile(file, text);
  } catch (error) {
    throw new OutputFileError(`cannot write ${file}: ${(error as Error).message}`);
  }
  // On stderr, so that `-o json` output on stdout stays one document.
  io.stderr(`wrote ${file}\n`);
}

const ACTION_NAMES: Record<RecommendationAction, string> = {
  [RecommendationAction.UNSPECIFIED]: '?',
  [RecommendationAction.DROP]: 'drop',
  [RecommendationAction.AGGREGATE]: 'aggregate',
  [RecommendationAction.KEEP]: 'keep',
};

function money(amount: number): string {
  return amount.toFixed(2);
}

/**
 * One row per metric, and one more row per further query that pins its labels, so long
 * origins stay readable; the reasons follow the table.
 */
function recommendationsText(advice: RecommendResponse, price: number): string {
  if (advice.recommendations.length === 0) {
    return 'no metrics to advise on: no proxy has reported cardinality to this control plane in the last minute\n';
  }
  const rows: string[][] = [];
  for (const metric of advice.recommendations) {
    const [firstPin, ...otherPins] = metric.pinnedQueries;
    rows.push([
      metric.metric,
      ACTION_NAMES[metric.action],
      `${metric.seriesBefore} → ${metric.seriesAfter}`,
      money(metric.monthlySaving),
      metric.action === RecommendationAction.AGGREGATE ? metric.keepLabels.join(', ') : '-',
      firstPin ?? '-',
    ]);
    for (const pin of otherPins) rows.push(['', '', '', '', '', pin]);
  }
  const before = advice.recommendations.reduce((sum, metric) => sum + metric.seriesBefore, 0n);
  const after = advice.recommendations.reduce((sum, metric) => sum + metric.seriesAfter, 0n);
  const reasons = advice.recommendations.map((metric) => `  ${metric.metric}: ${metric.reason}`);
  return [
    formatTable(
      ['metric', 'action', 'series', 'saving/month', 'labels kept', 'pinned by'],
      rows,
    ).trimEnd(),
    '',
    'why:',
    ...reasons,
    '',
    `${advice.recommendations.length} metrics: ${before} → ${after} active series (estimated), monthly saving about ${money(advice.monthlySaving)} at ${price} per 1000 series`,
    '',
  ].join('\n');
}
