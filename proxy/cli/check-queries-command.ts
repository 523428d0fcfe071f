/**
 * `phoenix check-queries`: which PromQL queries (rule files, Grafana dashboards, query
 * lists, Prometheus query logs) a pipeline would break, statically, before it is applied.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../pipeline/config-error.js';
import { loadPipelineConfig } from '../pipeline/load.js';
import {
  checkQueries,
  loadDashboards,
  loadQueryList,
  loadQueryLog,
  loadRuleFile,
  type QuerySafetyResult,
  QuerySourceError,
  type SourcedQuery,
} from '../queries/index.js';
import { EXIT_FAILURE, EXIT_OK, reportUsageError } from './exit-codes.js';
import type { Command } from './main.js';
import { type CommandIo, formatTable, processIo } from './output-format.js';

const FLAGS = {
  pipeline: { type: 'string' },
  rules: { type: 'string', multiple: true },
  dashboards: { type: 'string', multiple: true },
  queries: { type: 'string', multiple: true },
  'query-log': { type: 'string', multiple: true },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function usage(): string {
  return [
    'Usage: phoenix check-queries --pipeline FILE [sources] [--json]',
    '',
    'Checks PromQL queries against a pipeline config and names each query it would break',
    '(a metric or label it reads is dropped, renamed or aggregated away) or change (its',
    'series are merged, or a rule depends on label values the query does not fix).',
    '',
    'Sources (each may be repeated; at least one):',
    '  --rules FILE         a Prometheus rule file (recording and alerting rules)',
    '  --dashboards PATH    a Grafana dashboard JSON file, or a directory of them',
    '  --queries FILE       one PromQL query per line; # starts a comment',
    '  --query-log FILE     a Prometheus query log (JSON lines with params.query)',
    '',
    'Flags:',
    '  --pipeline FILE      the pipeline config (phoenix.yaml, or Adaptive Metrics rules.json)',
    '  --json               print the results as JSON',
    '  -h, --help           show this help',
    '',
    'Exit status: 0 when no query is broken, 1 when some are, 2 on bad usage or input.',
    '',
  ].join('\n');
}

/** `phoenix check-queries`. */
export const checkQueriesCommand: Command = {
  name: 'check-queries',
  summary: 'name the PromQL queries (rules, dashboards, lists) a pipeline would break',
  run: (args) => runCheckQueriesCommand(args, processIo),
};

/** Runs `phoenix check-queries …` writing to `io`; resolves to the exit status. */
export async function runCheckQueriesCommand(args: string[], io: CommandIo): Promise<number> {
  const fail = (message: string): number =>
    reportUsageError('check-queries', message, (text) => io.stderr(text));
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(args).values;
  } catch (error) {
    return fail((error as Error).message);
  }
  if (values.help) {
    io.stdout(usage());
    return EXIT_OK;
  }
  if (values.pipeline === undefined) return fail('--pipeline FILE is required');
  const sources: [readonly string[] | undefined, (path: string) => Promise<SourcedQuery[]>][] = [
    [values.rules, loadRuleFile],
    [values.dashboards, loadDashboards],
    [values.queries, loadQueryList],
    [values['query-log'], loadQueryLog],
  ];
  if (sources.every(([paths]) => paths === undefined || paths.length === 0)) {
    return fail('give at least one of --rules, --dashboards, --queries, --query-log');
  }
  let results: QuerySafetyResult[];
  try {
    const pipeline = await loadPipelineConfig(values.pipeline);
    const queries: SourcedQuery[] = [];
    for (const [paths, load] of sources)
      for (const path of paths ?? []) queries.push(...(await load(path)));
    results = checkQueries(pipeline, queries);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof QuerySourceError)
      return fail(error.message);
    throw error;
  }
  const counts = { safe: 0, changed: 0, broken: 0, invalid: 0 };
  for (const result of results) counts[result.verdict]++;
  if (values.json) {
    io.stdout(
      `${JSON.stringify({ summary: { queries: results.length, ...counts }, results }, null, 2)}\n`,
    );
  } else {
    io.stdout(formatResults(results));
    io.stdout(
      `\n${results.length} queries: ${counts.broken} broken, ${counts.changed} changed, ${counts.safe} safe, ${counts.invalid} invalid\n`,
    );
  }
  return counts.broken > 0 ? EXIT_FAILURE : EXIT_OK;
}

function parse(args: string[]) {
  return parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false });
}

/** One row per finding (one for a safe query): worst verdicts first, then in input order. */
function formatResults(results: readonly QuerySafetyResult[]): string {
  const order = { broken: 0, changed: 1, invalid: 2, safe: 3 };
  const sorted = results
    .map((result, index) => ({ result, index }))
    .sort((a, b) => order[a.result.verdict] - order[b.result.verdict] || a.index - b.index);
  const rows: string[][] = [];
  for (const { result } of sorted) {
    const origin =
      result.origin === undefined
        ? result.query
        : `${result.origin.file}: ${result.origin.location}`;
    if (result.verdict === 'invalid')
      rows.push(['invalid', origin, `does not parse: ${result.error}`]);
    else if (result.findings.length === 0) rows.push(['safe', origin, '-']);
    for (const finding of result.findings) rows.push([finding.verdict, origin, finding.reason]);
  }
  return formatTable(['verdict', 'origin', 'reason'], rows);
}
