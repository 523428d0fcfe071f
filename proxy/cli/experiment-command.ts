import { toJson } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import {
  type ArmResults,
  type Experiment,
  type ExperimentEvent,
  ExperimentEventSchema,
  ExperimentMode,
  ExperimentPhase,
  ExperimentSchema,
  LiveVerdict,
  QueryVerdict,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';
import {
  CONTROL_CLIENT_FLAGS,
  CONTROL_CLIENT_USAGE,
  type ControlClientContext,
} from './control-client-flags.js';
import { onePositional, runControlCommand, UsageError } from './control-command.js';
import { EXIT_OK } from './exit-codes.js';
import { ExperimentFileError, loadExperimentFile } from './experiment-file.js';
import type { Command } from './main.js';
import { type CommandIo, formatData, formatTable, processIo } from './output-format.js';

const FLAGS = {
  ...CONTROL_CLIENT_FLAGS,
  file: { type: 'string', short: 'f' },
  draft: { type: 'boolean', default: false },
  reason: { type: 'string', short: 'm', default: '' },
} as const;

function usage(): string {
  return [
    'Usage: phoenix experiment <subcommand> [flags]',
    '',
    'Runs a candidate pipeline beside the active one on live traffic, measures both arms,',
    'checks the queries people depend on, then promotes or rolls back (docs/experiments.md).',
    '',
    'Subcommands:',
    '  create -f FILE [--draft]        create from an experiment file and start it',
    '                                  (--draft: create only; start it later)',
    '  start NAME                      start a draft',
    '  list                            every experiment, newest first',
    '  get NAME                        phase, both arms, queries and guardrails',
    '  watch NAME                      stream its events until it ends',
    '  promote NAME [-m REASON]        make the candidate the active pipeline',
    '  rollback NAME [-m REASON]       end it and keep the baseline',
    '  stop NAME [-m REASON]           end it without a decision',
    '',
    'Flags:',
    ...CONTROL_CLIENT_USAGE,
    '',
  ].join('\n');
}

/** `phoenix experiment`: the experiment API from the command line. */
export const experimentCommand: Command = {
  name: 'experiment',
  summary: 'create, watch, promote and roll back A/B experiments of pipelines',
  run: (args) => runExperimentCommand(args, processIo),
};

/** Runs `phoenix experiment …` writing to `io`; resolves to the exit status. */
export function runExperimentCommand(args: string[], io: CommandIo): Promise<number> {
  return runControlCommand(
    {
      name: 'experiment',
      flags: FLAGS,
      usage,
      isLocalFailure: (error): error is ExperimentFileError => error instanceof ExperimentFileError,
      configLine: (line) => `candidate line ${line}`,
      run: (subcommand, rest, values, context) =>
        runSubcommand(subcommand, rest, values, context, io),
    },
    args,
    io,
  );
}

async function runSubcommand(
  subcommand: string,
  rest: readonly string[],
  values: { readonly file?: string | undefined; readonly draft: boolean; readonly reason: string },
  { clients, output }: ControlClientContext,
  io: CommandIo,
): Promise<number> {
  const api = clients.experiments;
  const print = (experiment: Experiment | undefined, detail: boolean) => {
    if (experiment === undefined) return;
    if (output !== 'table') io.stdout(formatData(output, toJson(ExperimentSchema, experiment)));
    else io.stdout(detail ? experimentText(experiment) : experimentTable([experiment]));
  };
  const reason = values.reason;
  switch (subcommand) {
    case 'create': {
      if (rest.length !== 0) throw new UsageError('create takes no arguments; give -f FILE');
      if (values.file === undefined) throw new UsageError('-f FILE is required');
      const spec = await loadExperimentFile(values.file);
      const { experiment } = await api.createExperiment({ spec, start: !values.draft });
      print(experiment, true);
      return EXIT_OK;
    }
    case 'start':
      print(
        (await api.startExperiment({ name: onePositional(rest, 'start NAME') })).experiment,
        true,
      );
      return EXIT_OK;
    case 'list': {
      const { experiments } = await api.listExperiments({});
      if (output !== 'table') {
        io.stdout(
          formatData(
            output,
            experiments.map((item) => toJson(ExperimentSchema, item)),
          ),
        );
      } else {
        io.stdout(experimentTable(experiments));
      }
      return EXIT_OK;
    }
    case 'get':
      print((await api.getExperiment({ name: onePositional(rest, 'get NAME') })).experiment, true);
      return EXIT_OK;
    case 'watch': {
      const name = onePositional(rest, 'watch NAME');
      for await (const { event } of api.watchExperiment({ name })) {
        if (event === undefined) continue;
        if (output !== 'table') {
          io.stdout(`${JSON.stringify(toJson(ExperimentEventSchema, event))}\n`);
        } else {
          io.stdout(`${eventLine(event)}\n`);
        }
      }
      return EXIT_OK;
    }
    case 'promote':
      print(
        (await api.promoteExperiment({ name: onePositional(rest, 'promote NAME'), reason }))
          .experiment,
        true,
      );
      return EXIT_OK;
    case 'rollback':
      print(
        (await api.rollbackExperiment({ name: onePositional(rest, 'rollback NAME'), reason }))
          .experiment,
        true,
      );
      return EXIT_OK;
    case 'stop':
      print(
        (await api.stopExperiment({ name: onePositional(rest, 'stop NAME'), reason })).experiment,
        true,
      );
      return EXIT_OK;
    default:
      throw new UsageError(`unknown subcommand ${JSON.stringify(subcommand)}`);
  }
}

const PHASE_NAMES: Record<ExperimentPhase, string> = {
  [ExperimentPhase.UNSPECIFIED]: 'unknown',
  [ExperimentPhase.DRAFT]: 'draft',
  [ExperimentPhase.RUNNING]: 'running',
  [ExperimentPhase.PROMOTED]: 'promoted',
  [ExperimentPhase.ROLLED_BACK]: 'rolled_back',
  [ExperimentPhase.STOPPED]: 'stopped',
};

const VERDICT_NAMES: Record<QueryVerdict, string> = {
  [QueryVerdict.UNSPECIFIED]: '',
  [QueryVerdict.SAFE]: 'safe',
  [QueryVerdict.BROKEN]: 'broken',
  [QueryVerdict.CHANGED]: 'changed',
  [QueryVerdict.INVALID]: 'invalid',
};

const LIVE_NAMES: Record<LiveVerdict, string> = {
  [LiveVerdict.UNSPECIFIED]: '-',
  [LiveVerdict.MATCH]: 'match',
  [LiveVerdict.DIVERGED]: 'diverged',
  [LiveVerdict.ERROR]: 'error',
  [LiveVerdict.NO_DATA]: 'no data',
};

export function phaseName(phase: ExperimentPhase): string {
  return PHASE_NAMES[phase];
}

function experimentTable(experiments: readonly Experiment[]): string {
  return formatTable(
    ['name', 'pipeline', 'mode', 'phase', 'reduction', 'broken', 'created by'],
    experiments.map((experiment) => [
      experiment.spec?.name ?? '',
      experiment.spec?.pipeline ?? '',
      experiment.spec?.mode === ExperimentMode.SPLIT
        ? `split ${experiment.spec.fraction}`
        : 'shadow',
      phaseName(experiment.phase),
      experiment.results === undefined ? '-' : `${experiment.results.reductionPercent.toFixed(1)}%`,
      experiment.results === undefined ? '-' : String(experiment.results.brokenQueries),
      experiment.createdBy,
    ]),
  );
}

function armRow(name: string, arm: ArmResults | undefined): string[] {
  if (arm === undefined) return [name, '-', '-', '-', '-', '-', '-'];
  return [
    name,
    String(arm.seriesIn),
    String(arm.seriesOut),
    arm.samplesPerSecond.toFixed(1),
    arm.bytesPerSecond.toFixed(0),
    arm.cpuNsPerSample.toFixed(0),
    `$${arm.monthlyCost.toFixed(2)}`,
  ];
}

function experimentText(experiment: Experiment): string {
  const spec = experiment.spec;
  const results = experiment.results;
  const lines = [
    `experiment ${spec?.name} on pipeline ${spec?.pipeline} (baseline version ${experiment.baselineVersion}): ${phaseName(experiment.phase)}`,
  ];
  if (experiment.decisionReason !== '') lines.push(`decision: ${experiment.decisionReason}`);
  if (experiment.promotedVersion > 0)
    lines.push(`promoted as version ${experiment.promotedVersion}`);
  if (results !== undefined) {
    lines.push(
      `series reduction ${results.reductionPercent.toFixed(1)}%, monthly saving $${results.monthlySaving.toFixed(2)}; ${results.confidence}`,
      '',
      formatTable(
        ['arm', 'series in', 'series out', 'samples/s', 'bytes/s', 'ns/sample', 'cost/month'],
        [armRow('baseline', results.baseline), armRow('candidate', results.candidate)],
      ).trimEnd(),
    );
    if (results.removed.length > 0) {
      lines.push(
        '',
        'removed by the candidate:',
        formatTable(
          ['metric', 'series before', 'series after', 'labels no longer sent'],
          results.removed.map((group) => [
            group.metric,
            String(group.baselineSeries),
            String(group.candidateSeries),
            group.droppedLabels.join(', '),
          ]),
        ).trimEnd(),
      );
    }
    if (results.queries.length > 0) {
      lines.push(
        '',
        formatTable(
          ['verdict', 'live', 'query', 'origin', 'reason'],
          results.queries.map((query) => [
            VERDICT_NAMES[query.verdict],
            query.live === LiveVerdict.DIVERGED
              ? `diverged ${(query.divergence * 100).toFixed(1)}%`
              : LIVE_NAMES[query.live],
            query.query,
            query.origin,
            query.reason,
          ]),
        ).trimEnd(),
      );
    }
    if (results.guardrails.length > 0) {
      lines.push(
        '',
        formatTable(
          ['guardrail', 'state', 'detail'],
          results.guardrails.map((check) => [
            check.name,
            check.pending ? 'pending' : check.passed ? 'passed' : 'failed',
            check.detail,
          ]),
        ).trimEnd(),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function eventLine(event: ExperimentEvent): string {
  const at = event.at === undefined ? '' : timestampDate(event.at).toISOString();
  if (event.type === 'results' && event.results !== undefined) {
    const results = event.results;
    return `${at} results: reduction ${results.reductionPercent.toFixed(1)}%, series out ${results.baseline?.seriesOut ?? 0} → ${results.candidate?.seriesOut ?? 0}, broken queries ${results.brokenQueries}`;
  }
  return `${at} ${event.type} (${phaseName(event.phase)}) by ${event.actor}${event.reason === '' ? '' : `: ${event.reason}`}`;
}
