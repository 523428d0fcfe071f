import { readFile } from 'node:fs/promises';
import { toJson } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  type Pipeline,
  PipelineSchema,
  type PreviewPipelineResponse,
  PreviewPipelineResponseSchema,
} from '../../proto/gen/phoenix/v1/pipeline_pb.js';
import {
  CONTROL_CLIENT_FLAGS,
  CONTROL_CLIENT_USAGE,
  type ControlClientContext,
} from './control-client-flags.js';
import {
  type ControlCommandSpec,
  onePositional,
  runControlCommand,
  UsageError,
} from './control-command.js';
import { EXIT_OK } from './exit-codes.js';
import type { Command } from './main.js';
import { type CommandIo, formatData, formatTable, processIo } from './output-format.js';

const FLAGS = {
  ...CONTROL_CLIENT_FLAGS,
  file: { type: 'string', short: 'f' },
  name: { type: 'string', default: 'default' },
  message: { type: 'string', short: 'm', default: '' },
  to: { type: 'string' },
  from: { type: 'string' },
  version: { type: 'string' },
  body: { type: 'string' },
  uncompressed: { type: 'boolean', default: false },
  live: { type: 'boolean', default: false },
} as const;

function usage(): string {
  return [
    'Usage: phoenix pipeline <subcommand> [flags]',
    '',
    'Manages the versioned pipelines of a control plane. Every change is a new version;',
    'proxies following the pipeline (`phoenix proxy --pipeline NAME`) apply it within a second.',
    '',
    'Subcommands:',
    '  apply -f FILE [--name NAME] [-m MESSAGE]   create or update NAME (default "default")',
    '  validate -f FILE                           check a config without storing it',
    '  get NAME [--version N]                     a pipeline, latest version unless --version',
    '  list                                       every pipeline, latest versions',
    '  history NAME                               every version, who made it and when',
    '  diff NAME --from N [--to M]                unified diff between versions (M: latest)',
    '  rollback NAME --to N                       make version N the content of a new version',
    '  delete NAME                                delete NAME (its history stays)',
    '  preview (-f FILE | NAME) (--body FILE | --live)',
    '                                             run a config over a remote-write body',
    '                                             (snappy; --uncompressed for raw protobuf) or',
    '                                             over a recent request of live traffic',
    '',
    'Flags:',
    ...CONTROL_CLIENT_USAGE,
    '',
  ].join('\n');
}

/** `phoenix pipeline`: the pipeline API from the command line. */
export const pipelineCommand: Command = {
  name: 'pipeline',
  summary: 'apply, get, list, diff and roll back control-plane pipelines',
  run: (args) => runPipelineCommand(args, processIo),
};

type Values = Parameters<ControlCommandSpec<typeof FLAGS>['run']>[2];

/** Runs `phoenix pipeline …` writing to `io`; resolves to the exit status. */
export function runPipelineCommand(args: string[], io: CommandIo): Promise<number> {
  return runControlCommand(
    {
      name: 'pipeline',
      flags: FLAGS,
      usage,
      run: (subcommand, rest, values, context) =>
        runSubcommand(subcommand, rest, values, context, io),
    },
    args,
    io,
  );
}

const one = onePositional;

function versionFlag(flag: string, text: string | undefined): number {
  if (text === undefined) throw new UsageError(`--${flag} N is required`);
  const version = Number(text);
  if (!Number.isInteger(version) || version < 1) {
    throw new UsageError(`--${flag} ${JSON.stringify(text)} must be a version number >= 1`);
  }
  return version;
}

async function readConfigFile(path: string | undefined): Promise<string> {
  if (path === undefined) throw new UsageError('-f FILE is required');
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

async function runSubcommand(
  subcommand: string,
  rest: readonly string[],
  values: Values,
  { clients, output }: ControlClientContext,
  io: CommandIo,
): Promise<number> {
  const api = clients.pipelines;
  const printPipelines = (pipelines: readonly Pipeline[], single: boolean) => {
    if (output !== 'table') {
      const json = pipelines.map((pipeline) => toJson(PipelineSchema, pipeline));
      io.stdout(formatData(output, single ? json[0] : json));
      return;
    }
    io.stdout(pipelineTable(pipelines));
    if (single && pipelines[0] !== undefined) io.stdout(`\n${pipelines[0].configYaml}`);
  };
  switch (subcommand) {
    case 'apply': {
      if (rest.length !== 0) throw new UsageError('apply takes no arguments; name it with --name');
      const configYaml = await readConfigFile(values.file);
      const name = values.name;
      const current = await api.getPipeline({ name }).then(
        (response) => response.pipeline,
        (error: unknown) => {
          if (ConnectError.from(error).code === Code.NotFound) return undefined;
          throw error;
        },
      );
      if (current?.configYaml === configYaml) {
        if (output === 'table')
          io.stdout(`pipeline ${name} unchanged at version ${current.version}\n`);
        else printPipelines([current], true);
        return EXIT_OK;
      }
      const { pipeline } =
        current === undefined
          ? await api.createPipeline({ name, configYaml, message: values.message })
          : await api.updatePipeline({
              name,
              configYaml,
              message: values.message,
              expectedVersion: current.version,
            });
      if (output === 'table') {
        io.stdout(
          `pipeline ${name} ${current === undefined ? 'created' : 'updated'}: version ${pipeline!.version}\n`,
        );
      } else {
        printPipelines([pipeline!], true);
      }
      return EXIT_OK;
    }
    case 'validate': {
      const { ruleCount } = await api.validatePipeline({
        configYaml: await readConfigFile(values.file),
      });
      if (output === 'table') io.stdout(`valid: ${ruleCount} rules\n`);
      else io.stdout(formatData(output, { valid: true, ruleCount }));
      return EXIT_OK;
    }
    case 'get': {
      const name = one(rest, 'get NAME');
      const version = values.version === undefined ? 0 : versionFlag('version', values.version);
      printPipelines([(await api.getPipeline({ name, version })).pipeline!], true);
      return EXIT_OK;
    }
    case 'list':
      printPipelines((await api.listPipelines({})).pipelines, false);
      return EXIT_OK;
    case 'history':
      printPipelines(
        (await api.getPipelineHistory({ name: one(rest, 'history NAME') })).versions,
        false,
      );
      return EXIT_OK;
    case 'diff': {
      const name = one(rest, 'diff NAME');
      const { diff } = await api.diffPipelineVersions({
        name,
        fromVersion: versionFlag('from', values.from),
        toVersion: values.to === undefined ? 0 : versionFlag('to', values.to),
      });
      if (output === 'table') io.stdout(diff === '' ? 'no differences\n' : diff);
      else io.stdout(formatData(output, { diff }));
      return EXIT_OK;
    }
    case 'rollback': {
      const name = one(rest, 'rollback NAME');
      const { pipeline } = await api.rollbackPipeline({
        name,
        toVersion: versionFlag('to', values.to),
      });
      if (output === 'table') {
        io.stdout(
          `pipeline ${name} rolled back to version ${values.to}: now version ${pipeline!.version}\n`,
        );
      } else {
        printPipelines([pipeline!], true);
      }
      return EXIT_OK;
    }
    case 'delete': {
      const name = one(rest, 'delete NAME');
      await api.deletePipeline({ name });
      if (output === 'table') io.stdout(`pipeline ${name} deleted\n`);
      else io.stdout(formatData(output, { deleted: name }));
      return EXIT_OK;
    }
    case 'preview': {
      const source =
        values.file !== undefined
          ? { case: 'configYaml' as const, value: await readConfigFile(values.file) }
          : { case: 'name' as const, value: one(rest, 'preview NAME or -f FILE') };
      if (values.live === (values.body !== undefined)) {
        throw new UsageError('give exactly one of --body FILE and --live');
      }
      let body = new Uint8Array(0);
      if (values.body !== undefined) {
        try {
          body = await readFile(values.body);
        } catch (error) {
          throw new UsageError(`cannot read ${values.body}: ${(error as Error).message}`);
        }
      }
      const preview = await api.previewPipeline({
        pipeline: source,
        remoteWriteBody: body,
        snappy: !values.uncompressed,
        liveSample: values.live,
      });
      if (output !== 'table') {
        io.stdout(formatData(output, toJson(PreviewPipelineResponseSchema, preview)));
        return EXIT_OK;
      }
      io.stdout(previewText(preview));
      return EXIT_OK;
    }
    default:
      throw new UsageError(`unknown subcommand ${JSON.stringify(subcommand)}`);
  }
}

function pipelineTable(pipelines: readonly Pipeline[]): string {
  return formatTable(
    ['name', 'version', 'rules', 'author', 'created', 'message'],
    pipelines.map((pipeline) => [
      pipeline.name,
      String(pipeline.version),
      String(pipeline.ruleCount),
      pipeline.author,
      pipeline.createdAt === undefined ? '' : timestampDate(pipeline.createdAt).toISOString(),
      pipeline.message,
    ]),
  );
}

function seriesText(series: PreviewPipelineResponse['before']): string[] {
  return series.map(
    (entry) =>
      `  {${entry.labels.map((label) => `${label.name}=${JSON.stringify(label.value)}`).join(', ')}}`,
  );
}

function previewText(preview: PreviewPipelineResponse): string {
  const source =
    preview.sampleProxyId === ''
      ? ''
      : `live request from ${preview.sampleProxyId}${preview.sampleTime === undefined ? '' : ` at ${timestampDate(preview.sampleTime).toISOString()}`}\n`;
  return [
    `${source}series ${preview.seriesIn} in, ${preview.seriesOut} out (${preview.seriesDropped} dropped); samples ${preview.samplesIn} in, ${preview.samplesOut} out`,
    '',
    formatTable(
      ['rule', 'action', 'series'],
      preview.ruleHits.map((hit) => [String(hit.rule), hit.action, String(hit.series)]),
    ).trimEnd(),
    '',
    'before:',
    ...seriesText(preview.before),
    'after:',
    ...seriesText(preview.after),
    ...(preview.truncated ? ['(lists cut at 1000 series)'] : []),
    '',
  ].join('\n');
}
