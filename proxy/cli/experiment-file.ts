/**
 * The experiment file of `phoenix experiment create -f exp.yaml`: YAML in snake_case like a
 * pipeline file. The candidate pipeline and the query sources may be inline or name files,
 * which are read relative to the experiment file. Every mistake is reported with its path.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { parseDocument } from 'yaml';
import {
  ExperimentMode,
  type ExperimentSpec,
  ExperimentSpecSchema,
  type NamedText,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';
import { parseDurationMs } from '../pipeline/aggregation-config.js';

export class ExperimentFileError extends Error {
  override readonly name = 'ExperimentFileError';
  constructor(
    readonly file: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${file}: ${path === '' ? '' : `${path}: `}${reason}`);
  }
}

const KEYS = new Set([
  'name',
  'pipeline',
  'description',
  'mode',
  'fraction',
  'duration',
  'candidate',
  'candidate_file',
  'shadow_upstream',
  'baseline_query_url',
  'candidate_query_url',
  'guardrails',
  'queries',
  'auto',
  'pricing',
]);
const GUARDRAIL_KEYS = new Set([
  'min_duration',
  'min_reduction_percent',
  'max_broken_queries',
  'max_divergence',
]);
const QUERY_KEYS = new Set(['rule_files', 'dashboards', 'promql']);
const PRICING_KEYS = new Set(['per_thousand_series', 'per_million_samples']);

type Mapping = Record<string, unknown>;

class Reader {
  constructor(readonly file: string) {}

  fail(path: string, reason: string): never {
    throw new ExperimentFileError(this.file, path, reason);
  }

  mapping(value: unknown, path: string, keys: ReadonlySet<string>): Mapping {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(path, 'expected a mapping');
    }
    for (const key of Object.keys(value)) {
      if (!keys.has(key)) {
        this.fail(
          path === '' ? key : `${path}.${key}`,
          `unknown key (known: ${[...keys].join(', ')})`,
        );
      }
    }
    return value as Mapping;
  }

  string(value: unknown, path: string): string {
    if (typeof value !== 'string') this.fail(path, 'expected a string');
    return value;
  }

  number(value: unknown, path: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(path, 'expected a number');
    return value;
  }

  /** `mapping[key]` as a number, 0 when absent. */
  optionalNumber(mapping: Mapping, key: string, path: string): number {
    const where = path === '' ? key : `${path}.${key}`;
    return mapping[key] === undefined ? 0 : this.number(mapping[key], where);
  }

  seconds(value: unknown, path: string): number {
    const ms = parseDurationMs(this.string(value, path));
    if (!Number.isFinite(ms) || ms < 1000) {
      this.fail(
        path,
        `expected a duration of at least 1s such as 30m or 1h, got ${JSON.stringify(value)}`,
      );
    }
    return Math.round(ms / 1000);
  }

  strings(value: unknown, path: string): string[] {
    if (!Array.isArray(value)) this.fail(path, 'expected a list of strings');
    return value.map((item, index) => this.string(item, `${path}[${index}]`));
  }
}

async function readText(reader: Reader, path: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    return reader.fail(path, `cannot read ${file}: ${(error as Error).message}`);
  }
}

/** Dashboards: each entry is a JSON file or a folder of them. */
async function readDashboards(
  reader: Reader,
  base: string,
  entries: string[],
): Promise<NamedText[]> {
  const texts: NamedText[] = [];
  for (const [index, entry] of entries.entries()) {
    const path = `queries.dashboards[${index}]`;
    const full = resolve(base, entry);
    let isFolder: boolean;
    try {
      isFolder = (await stat(full)).isDirectory();
    } catch (error) {
      return reader.fail(path, `cannot read ${entry}: ${(error as Error).message}`);
    }
    const files = isFolder
      ? (await readdir(full))
          .filter((name) => name.endsWith('.json'))
          .sort()
          .map((name) => join(full, name))
      : [full];
    for (const file of files) {
      texts.push({
        $typeName: 'phoenix.v1.NamedText',
        name: file,
        content: await readText(reader, path, file),
      });
    }
  }
  return texts;
}

/** Reads and checks an experiment file into the API's spec. */
export async function loadExperimentFile(file: string): Promise<ExperimentSpec> {
  const reader = new Reader(file);
  const text = await readText(reader, '', file);
  const document = parseDocument(text);
  if (document.errors.length > 0) reader.fail('', document.errors[0]!.message);
  const top = reader.mapping(document.toJS(), '', KEYS);
  const base = dirname(resolve(file));

  const name = reader.string(top['name'], 'name');
  const pipeline =
    top['pipeline'] === undefined ? 'default' : reader.string(top['pipeline'], 'pipeline');
  const modeText = top['mode'] === undefined ? 'shadow' : reader.string(top['mode'], 'mode');
  if (modeText !== 'shadow' && modeText !== 'split')
    reader.fail('mode', 'expected shadow or split');
  const mode = modeText === 'split' ? ExperimentMode.SPLIT : ExperimentMode.SHADOW;

  if ((top['candidate'] === undefined) === (top['candidate_file'] === undefined)) {
    reader.fail('candidate', 'give exactly one of candidate (inline YAML) and candidate_file');
  }
  const candidate =
    top['candidate'] !== undefined
      ? reader.string(top['candidate'], 'candidate')
      : await readText(
          reader,
          'candidate_file',
          resolve(base, reader.string(top['candidate_file'], 'candidate_file')),
        );

  const guardrails =
    top['guardrails'] === undefined
      ? undefined
      : reader.mapping(top['guardrails'], 'guardrails', GUARDRAIL_KEYS);
  const queries =
    top['queries'] === undefined
      ? undefined
      : reader.mapping(top['queries'], 'queries', QUERY_KEYS);
  const pricing =
    top['pricing'] === undefined
      ? undefined
      : reader.mapping(top['pricing'], 'pricing', PRICING_KEYS);

  const ruleFiles: NamedText[] = [];
  for (const [index, entry] of reader
    .strings(queries?.['rule_files'] ?? [], 'queries.rule_files')
    .entries()) {
    const full = resolve(base, entry);
    ruleFiles.push({
      $typeName: 'phoenix.v1.NamedText',
      name: full,
      content: await readText(reader, `queries.rule_files[${index}]`, full),
    });
  }
  const dashboards = await readDashboards(
    reader,
    base,
    reader.strings(queries?.['dashboards'] ?? [], 'queries.dashboards'),
  );

  const auto = top['auto'];
  if (auto !== undefined && typeof auto !== 'boolean')
    reader.fail('auto', 'expected true or false');
  const optionalString = (key: string) =>
    top[key] === undefined ? '' : reader.string(top[key], key);
  return create(ExperimentSpecSchema, {
    name,
    pipeline,
    description: optionalString('description'),
    candidateConfigYaml: candidate,
    mode,
    fraction: reader.optionalNumber(top, 'fraction', ''),
    durationSeconds:
      top['duration'] === undefined ? 0 : reader.seconds(top['duration'], 'duration'),
    shadowUpstream: optionalString('shadow_upstream'),
    baselineQueryUrl: optionalString('baseline_query_url'),
    candidateQueryUrl: optionalString('candidate_query_url'),
    auto: auto === true,
    ...(guardrails === undefined
      ? {}
      : {
          guardrails: {
            minDurationSeconds:
              guardrails['min_duration'] === undefined
                ? 0
                : reader.seconds(guardrails['min_duration'], 'guardrails.min_duration'),
            minReductionPercent: reader.optionalNumber(
              guardrails,
              'min_reduction_percent',
              'guardrails',
            ),
            maxBrokenQueries: reader.optionalNumber(guardrails, 'max_broken_queries', 'guardrails'),
            maxDivergence: reader.optionalNumber(guardrails, 'max_divergence', 'guardrails'),
          },
        }),
    queries: {
      ruleFiles,
      dashboards,
      promql: reader.strings(queries?.['promql'] ?? [], 'queries.promql'),
    },
    ...(pricing === undefined
      ? {}
      : {
          pricing: {
            perThousandSeries: reader.optionalNumber(pricing, 'per_thousand_series', 'pricing'),
            perMillionSamples: reader.optionalNumber(pricing, 'per_million_samples', 'pricing'),
          },
        }),
  });
}
