/**
 * Reconciles one `Experiment` resource into the control plane's experiments. The
 * resource's `metadata.name` is the experiment's name. Experiments cannot be changed once
 * created (the control plane has no update), so the operator creates and starts one, then
 * mirrors its phase and results into `status` while it runs, refreshing every
 * `refreshIntervalMs`. A spec edited afterwards is reported, not applied. Deleting the
 * resource stops a running experiment (its record and results stay in the control plane).
 */
import { equals } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  type Experiment,
  ExperimentPhase,
  type ExperimentSpec,
  ExperimentSpecSchema,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';
import type { CustomResourceClient } from './custom-resource-client.js';
import {
  type ConfigMapReader,
  type ExperimentResource,
  ExperimentSpecError,
  type ExperimentStatus,
  experimentSpecOf,
  MissingConfigMapError,
} from './experiment-spec.js';
import { PHOENIX_FINALIZER } from './phoenix-resources.js';
import { type CallOptions, CONTROL_PLANE_CALL } from './pipeline-reconciler.js';
import { type ReconcileOutcome, readyCondition, statusDiffers } from './resource-status.js';

/** The calls of `phoenix.v1.ExperimentService` the reconciler makes. */
export interface ExperimentApi {
  getExperiment(
    request: { name: string },
    options?: CallOptions,
  ): Promise<{ experiment?: Experiment | undefined }>;
  createExperiment(
    request: { spec: ExperimentSpec; start: boolean },
    options?: CallOptions,
  ): Promise<{ experiment?: Experiment | undefined }>;
  startExperiment(
    request: { name: string },
    options?: CallOptions,
  ): Promise<{ experiment?: Experiment | undefined }>;
  stopExperiment(
    request: { name: string; reason: string },
    options?: CallOptions,
  ): Promise<unknown>;
  listExperiments(request: object, options?: CallOptions): Promise<{ experiments: Experiment[] }>;
}

const PHASE_NAMES: Readonly<Record<ExperimentPhase, string>> = {
  [ExperimentPhase.UNSPECIFIED]: 'Pending',
  [ExperimentPhase.DRAFT]: 'Pending',
  [ExperimentPhase.RUNNING]: 'Running',
  [ExperimentPhase.PROMOTED]: 'Promoted',
  [ExperimentPhase.ROLLED_BACK]: 'RolledBack',
  [ExperimentPhase.STOPPED]: 'Stopped',
};

/** What one reconcile found, before it becomes a status. */
interface ExperimentOutcome {
  readonly outcome: ReconcileOutcome;
  readonly experiment?: Experiment;
  /** Thrown after the status is written, so the work queue retries with backoff. */
  readonly retry?: Error;
}

export class ExperimentReconciler {
  readonly #experiments: ExperimentApi;
  readonly #resources: CustomResourceClient<ExperimentResource>;
  readonly #readConfigMap: ConfigMapReader;
  readonly #refreshIntervalMs: number;

  constructor(
    experiments: ExperimentApi,
    resources: CustomResourceClient<ExperimentResource>,
    readConfigMap: ConfigMapReader,
    refreshIntervalMs: number,
  ) {
    this.#experiments = experiments;
    this.#resources = resources;
    this.#readConfigMap = readConfigMap;
    this.#refreshIntervalMs = refreshIntervalMs;
  }

  /**
   * Brings the experiment and the resource's status in line with `resource`. Resolves to
   * a delay after which to reconcile again (while the experiment runs), or undefined.
   */
  async reconcile(resource: ExperimentResource): Promise<number | undefined> {
    if (resource.metadata.deletionTimestamp !== undefined) {
      await this.#finalize(resource);
      return undefined;
    }
    let current = resource;
    const finalizers = current.metadata.finalizers ?? [];
    if (!finalizers.includes(PHOENIX_FINALIZER)) {
      current = await this.#resources.setFinalizers(current, [...finalizers, PHOENIX_FINALIZER]);
    }
    const found = await this.#apply(current);
    const generation = current.metadata.generation ?? 0;
    const experiment = found.experiment;
    const results = experiment?.results;
    const status: ExperimentStatus = {
      phase: found.outcome.phase,
      observedGeneration: generation,
      message: found.outcome.message,
      ...(experiment === undefined || experiment.baselineVersion === 0
        ? {}
        : { appliedVersion: experiment.baselineVersion }),
      ...(experiment?.startedAt === undefined
        ? {}
        : {
            startedAt: timestampDate(experiment.startedAt)
              .toISOString()
              .replace(/\.\d+Z$/, 'Z'),
          }),
      ...(results === undefined
        ? {}
        : {
            // Rounded so that noise in the measurements does not rewrite status each time.
            reductionPercent: Math.round(results.reductionPercent * 10) / 10,
            brokenQueries: results.brokenQueries,
            divergence: Math.round(results.maxDivergence * 10_000) / 10_000,
          }),
      conditions: [readyCondition(current.status?.conditions, found.outcome, generation)],
    };
    if (statusDiffers(current.status ?? {}, status)) {
      await this.#resources.writeStatus(current, status);
    }
    if (found.retry !== undefined) throw found.retry;
    return experiment?.phase === ExperimentPhase.RUNNING ? this.#refreshIntervalMs : undefined;
  }

  async #apply(resource: ExperimentResource): Promise<ExperimentOutcome> {
    const name = resource.metadata.name;
    let desired: ExperimentSpec;
    try {
      desired = await experimentSpecOf(resource, this.#readConfigMap);
    } catch (error) {
      if (!(error instanceof ExperimentSpecError)) throw error;
      const existing = await this.#existing(name).catch(() => undefined);
      return {
        outcome: { phase: 'Invalid', ready: false, reason: 'InvalidSpec', message: error.message },
        ...(existing === undefined ? {} : { experiment: existing }),
        // A ConfigMap may be created later; anything else waits for a new generation.
        ...(error instanceof MissingConfigMapError ? { retry: error } : {}),
      };
    }
    let experiment: Experiment | undefined;
    try {
      experiment = await this.#existing(name);
      if (experiment === undefined) {
        experiment = (
          await this.#experiments.createExperiment(
            { spec: desired, start: true },
            CONTROL_PLANE_CALL,
          )
        ).experiment;
      } else if (experiment.phase === ExperimentPhase.DRAFT) {
        experiment = (await this.#experiments.startExperiment({ name }, CONTROL_PLANE_CALL))
          .experiment;
      }
    } catch (error) {
      const connectError = ConnectError.from(error);
      const outcome: ReconcileOutcome =
        connectError.code === Code.InvalidArgument
          ? {
              phase: 'Invalid',
              ready: false,
              reason: 'InvalidSpec',
              message: connectError.rawMessage,
            }
          : connectError.code === Code.FailedPrecondition
            ? {
                phase: 'Pending',
                ready: false,
                reason: 'Waiting',
                message: connectError.rawMessage,
              }
            : {
                phase: 'Failed',
                ready: false,
                reason: 'ControlPlaneError',
                message: `control plane: ${connectError.message}`,
              };
      return {
        outcome,
        ...(experiment === undefined ? {} : { experiment }),
        ...(outcome.phase === 'Invalid' ? {} : { retry: new Error(outcome.message) }),
      };
    }
    if (experiment === undefined) {
      return {
        outcome: {
          phase: 'Failed',
          ready: false,
          reason: 'ControlPlaneError',
          message: 'no experiment returned',
        },
        retry: new Error('the control plane returned no experiment'),
      };
    }
    const phase = PHASE_NAMES[experiment.phase];
    const stored = experiment.spec;
    if (
      stored !== undefined &&
      !equals(ExperimentSpecSchema, stored, { ...desired, description: stored.description })
    ) {
      return {
        outcome: {
          phase,
          ready: false,
          reason: 'SpecImmutable',
          message: `spec changed after experiment ${name} was created; an experiment cannot be changed: delete the resource and create it again (under a new name, since the control plane keeps the ended one)`,
        },
        experiment,
      };
    }
    const running = experiment.phase === ExperimentPhase.RUNNING;
    const message =
      experiment.decisionReason !== ''
        ? experiment.decisionReason
        : running
          ? `running against ${experiment.spec?.pipeline ?? ''} version ${experiment.baselineVersion}${experiment.results?.confidence ? `; ${experiment.results.confidence}` : ''}`
          : phase;
    // Ready: the control plane runs (or ran) the experiment the resource describes.
    return { outcome: { phase, reason: phase, message, ready: true }, experiment };
  }

  async #existing(name: string): Promise<Experiment | undefined> {
    try {
      return (await this.#experiments.getExperiment({ name }, CONTROL_PLANE_CALL)).experiment;
    } catch (error) {
      if (ConnectError.from(error).code === Code.NotFound) return undefined;
      throw error;
    }
  }

  async #finalize(resource: ExperimentResource): Promise<void> {
    const finalizers = resource.metadata.finalizers ?? [];
    if (!finalizers.includes(PHOENIX_FINALIZER)) return;
    try {
      await this.#experiments.stopExperiment(
        { name: resource.metadata.name, reason: 'Experiment resource deleted' },
        CONTROL_PLANE_CALL,
      );
    } catch (error) {
      const code = ConnectError.from(error).code;
      // Not found, or already ended: nothing left to stop.
      if (code !== Code.NotFound && code !== Code.FailedPrecondition) throw error;
    }
    await this.#resources.setFinalizers(
      resource,
      finalizers.filter((finalizer) => finalizer !== PHOENIX_FINALIZER),
    );
  }
}
