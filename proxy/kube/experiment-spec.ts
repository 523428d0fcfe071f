/**
 * An `Experiment` resource's spec as the control plane's `ExperimentSpec`. Durations come
 * as Kubernetes-style strings (`2h`, `1h30m`, `1d`), queries as references to ConfigMaps
 * that hold Prometheus rule files and Grafana dashboards; both are resolved here, and
 * anything that does not resolve is an {@link ExperimentSpecError} naming the spec path.
 */
import { create } from '@bufbuild/protobuf';
import {
  ExperimentMode,
  type ExperimentSpec,
  ExperimentSpecSchema,
  GuardrailsSchema,
  type NamedText,
  NamedTextSchema,
  QuerySourcesSchema,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';
import type { ReadyCondition, ResourceMetadata } from './phoenix-resources.js';

/** A reference to a ConfigMap key (or every key, without `key`). */
export interface ConfigMapReference {
  readonly configMap?: unknown;
  readonly key?: unknown;
}

/** An `Experiment` resource (CRD `experiments.phoenix.dev`). */
export interface ExperimentResource {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ResourceMetadata;
  readonly spec?: {
    readonly baselinePipeline?: unknown;
    readonly candidate?: unknown;
    readonly mode?: unknown;
    readonly fraction?: unknown;
    readonly duration?: unknown;
    readonly shadowUpstream?: unknown;
    readonly guardrails?: {
      readonly minDuration?: unknown;
      readonly minReductionPercent?: unknown;
      readonly maxBrokenQueries?: unknown;
      readonly maxDivergence?: unknown;
    };
    readonly queries?: {
      readonly rules?: readonly ConfigMapReference[];
      readonly dashboards?: readonly ConfigMapReference[];
      readonly promql?: readonly unknown[];
    };
    readonly auto?: unknown;
  };
  readonly status?: Partial<ExperimentStatus>;
}

/**
 * `status` of an Experiment resource. `phase` is the control plane's (`Pending`,
 * `Running`, `Promoted`, `RolledBack`, `Stopped`) or the operator's (`Invalid`, `Failed`).
 */
export interface ExperimentStatus {
  readonly phase: string;
  /** The baseline pipeline's version the experiment started against. */
  readonly appliedVersion?: number;
  readonly observedGeneration: number;
  readonly message: string;
  readonly startedAt?: string;
  readonly reductionPercent?: number;
  readonly brokenQueries?: number;
  readonly divergence?: number;
  readonly conditions: readonly ReadyCondition[];
}

/** A spec that cannot become an `ExperimentSpec`; `message` starts with the spec path. */
export class ExperimentSpecError extends Error {
  override readonly name = 'ExperimentSpecError';
}

/** A ConfigMap missing (or missing a key): may appear later, so worth retrying. */
export class MissingConfigMapError extends ExperimentSpecError {}

const DURATION_UNITS_S: Readonly<Record<string, number>> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 604_800,
};

/** `1h30m` → 5400; the units the CRD allows: ms, s, m, h, d, w. */
export function parseDurationSeconds(path: string, value: unknown): number {
  if (typeof value !== 'string' || !/^(\d+(ms|s|m|h|d|w))+$/.test(value)) {
    throw new ExperimentSpecError(
      `${path}: ${JSON.stringify(value)} is not a duration (like 30m, 2h, 1h30m, 1d)`,
    );
  }
  let seconds = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) {
    seconds += Number(amount) * DURATION_UNITS_S[unit!]!;
  }
  return Math.ceil(seconds);
}

function optionalNumber(path: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ExperimentSpecError(`${path}: ${JSON.stringify(value)} is not a number`);
  }
  return value;
}

function requiredString(path: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new ExperimentSpecError(`${path}: required, a non-empty string`);
  }
  return value;
}

/** Reads ConfigMap `name` of the resource's namespace: its `data`, or undefined if absent. */
export type ConfigMapReader = (
  name: string,
) => Promise<Readonly<Record<string, string>> | undefined>;

async function namedTexts(
  path: string,
  references: readonly ConfigMapReference[] | undefined,
  readConfigMap: ConfigMapReader,
): Promise<NamedText[]> {
  const texts: NamedText[] = [];
  for (const [index, reference] of (references ?? []).entries()) {
    const name = requiredString(`${path}[${index}].configMap`, reference.configMap);
    const data = await readConfigMap(name);
    if (data === undefined) {
      throw new MissingConfigMapError(`${path}[${index}].configMap: ConfigMap ${name} not found`);
    }
    const keys =
      reference.key === undefined
        ? Object.keys(data).sort()
        : [requiredString(`${path}[${index}].key`, reference.key)];
    for (const key of keys) {
      const content = data[key];
      if (content === undefined) {
        throw new MissingConfigMapError(
          `${path}[${index}].key: ConfigMap ${name} has no key ${key}`,
        );
      }
      texts.push(create(NamedTextSchema, { name: `${name}/${key}`, content }));
    }
  }
  return texts;
}

/** The control plane's spec for `resource`; throws {@link ExperimentSpecError}. */
export async function experimentSpecOf(
  resource: ExperimentResource,
  readConfigMap: ConfigMapReader,
): Promise<ExperimentSpec> {
  const spec = resource.spec ?? {};
  const mode =
    spec.mode === 'shadow'
      ? ExperimentMode.SHADOW
      : spec.mode === 'split'
        ? ExperimentMode.SPLIT
        : undefined;
  if (mode === undefined) {
    throw new ExperimentSpecError(
      `spec.mode: ${JSON.stringify(spec.mode)} must be shadow or split`,
    );
  }
  const guardrails = spec.guardrails ?? {};
  const queries = spec.queries ?? {};
  const promql = (queries.promql ?? []).map((query, index) =>
    requiredString(`spec.queries.promql[${index}]`, query),
  );
  return create(ExperimentSpecSchema, {
    name: resource.metadata.name,
    pipeline: requiredString('spec.baselinePipeline', spec.baselinePipeline),
    candidateConfigYaml: requiredString('spec.candidate', spec.candidate),
    mode,
    fraction: optionalNumber('spec.fraction', spec.fraction),
    durationSeconds:
      spec.duration === undefined ? 0 : parseDurationSeconds('spec.duration', spec.duration),
    shadowUpstream:
      spec.shadowUpstream === undefined
        ? ''
        : requiredString('spec.shadowUpstream', spec.shadowUpstream),
    guardrails: create(GuardrailsSchema, {
      minDurationSeconds:
        guardrails.minDuration === undefined
          ? 0
          : parseDurationSeconds('spec.guardrails.minDuration', guardrails.minDuration),
      minReductionPercent: optionalNumber(
        'spec.guardrails.minReductionPercent',
        guardrails.minReductionPercent,
      ),
      maxBrokenQueries: optionalNumber(
        'spec.guardrails.maxBrokenQueries',
        guardrails.maxBrokenQueries,
      ),
      maxDivergence: optionalNumber('spec.guardrails.maxDivergence', guardrails.maxDivergence),
    }),
    queries: create(QuerySourcesSchema, {
      ruleFiles: await namedTexts('spec.queries.rules', queries.rules, readConfigMap),
      dashboards: await namedTexts('spec.queries.dashboards', queries.dashboards, readConfigMap),
      promql,
    }),
    auto: spec.auto === true,
    description: `from Experiment ${resource.metadata.namespace ?? ''}/${resource.metadata.name}`,
  });
}
