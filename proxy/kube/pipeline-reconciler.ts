/**
 * Reconciles one `Pipeline` resource into the control plane. The resource's
 * `metadata.name` is the control-plane pipeline's name, and `spec.config` its config text.
 *
 * - The control plane gets a new version only when `spec.config` differs from its latest
 *   version's text: reconciling again (a resync, an operator restart, a status write) is
 *   a no-op, and a change made behind the operator's back (`phoenix pipeline apply`) is
 *   put back to what the resource says.
 * - A config the control plane refuses leaves phase `Invalid` with its error (config path
 *   and reason); proxies keep the version they run.
 * - A version made by promoting an experiment is left in place while `spec.config` is
 *   unchanged (status says so), so that the operator does not undo the promotion.
 * - The finalizer `phoenix.dev/finalizer` makes deleting the resource wait until the
 *   pipeline is deleted from the control plane.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import type { Pipeline } from '../../proto/gen/phoenix/v1/pipeline_pb.js';
import type { CustomResourceClient } from './custom-resource-client.js';
import {
  PHOENIX_FINALIZER,
  type PipelineResource,
  type PipelineStatus,
  type ResourcePhase,
} from './phoenix-resources.js';
import {
  type ReconcileOutcome as AnyOutcome,
  readyCondition,
  statusDiffers,
} from './resource-status.js';

type ReconcileOutcome = AnyOutcome<ResourcePhase>;

/** Options of every control-plane call; a Connect client takes them as they are. */
export interface CallOptions {
  readonly timeoutMs: number;
}

/**
 * Longest a control-plane call may take: a control plane that hangs must not hold a key
 * of the work queue for ever; the call fails with `deadline_exceeded` and is retried.
 */
export const CONTROL_PLANE_CALL: CallOptions = { timeoutMs: 15_000 };

/** The calls of `phoenix.v1.PipelineService` the reconciler makes. */
export interface PipelineApi {
  getPipeline(
    request: { name: string },
    options?: CallOptions,
  ): Promise<{ pipeline?: Pipeline | undefined }>;
  createPipeline(
    request: { name: string; configYaml: string; message: string },
    options?: CallOptions,
  ): Promise<{ pipeline?: Pipeline | undefined }>;
  updatePipeline(
    request: { name: string; configYaml: string; message: string; expectedVersion: number },
    options?: CallOptions,
  ): Promise<{ pipeline?: Pipeline | undefined }>;
  deletePipeline(request: { name: string }, options?: CallOptions): Promise<unknown>;
}

/**
 * The experiment whose promotion made `version` of pipeline `name`, if one did: such a
 * version is not reverted to `spec.config` until the spec changes.
 */
export type PromotionLookup = (name: string, version: number) => Promise<string | undefined>;

/** A failure worth retrying; the status is written before it is thrown. */
export class ReconcileError extends Error {
  override readonly name = 'ReconcileError';
}

export class PipelineReconciler {
  readonly #pipelines: PipelineApi;
  readonly #resources: CustomResourceClient<PipelineResource>;
  readonly #promotedBy: PromotionLookup | undefined;

  constructor(
    pipelines: PipelineApi,
    resources: CustomResourceClient<PipelineResource>,
    promotedBy?: PromotionLookup,
  ) {
    this.#pipelines = pipelines;
    this.#resources = resources;
    this.#promotedBy = promotedBy;
  }

  /**
   * Brings the control plane and the resource's status in line with `resource` (the
   * informer cache's latest copy). Throws when a retry may help.
   */
  async reconcile(resource: PipelineResource): Promise<void> {
    if (resource.metadata.deletionTimestamp !== undefined) {
      await this.#finalize(resource);
      return;
    }
    let current = resource;
    const finalizers = current.metadata.finalizers ?? [];
    if (!finalizers.includes(PHOENIX_FINALIZER)) {
      current = await this.#resources.setFinalizers(current, [...finalizers, PHOENIX_FINALIZER]);
    }
    const { outcome, appliedVersion, retry } = await this.#apply(current);
    const generation = current.metadata.generation ?? 0;
    const status: PipelineStatus = {
      phase: outcome.phase,
      ...(appliedVersion === undefined ? {} : { appliedVersion }),
      observedGeneration: generation,
      message: outcome.message,
      conditions: [readyCondition(current.status?.conditions, outcome, generation)],
    };
    if (statusDiffers(current.status ?? {}, status)) {
      await this.#resources.writeStatus(current, status);
    }
    if (retry !== undefined) throw retry;
  }

  async #apply(resource: PipelineResource): Promise<{
    outcome: ReconcileOutcome;
    appliedVersion: number | undefined;
    retry?: ReconcileError;
  }> {
    const { name, namespace, generation } = resource.metadata;
    const config = resource.spec?.config;
    let stored: Pipeline | undefined;
    try {
      stored = (await this.#pipelines.getPipeline({ name }, CONTROL_PLANE_CALL)).pipeline;
    } catch (error) {
      const connectError = ConnectError.from(error);
      if (connectError.code !== Code.NotFound) return failed(connectError, undefined);
    }
    if (typeof config !== 'string') {
      return {
        outcome: {
          phase: 'Invalid',
          ready: false,
          reason: 'InvalidSpec',
          message: 'spec.config: must be a string holding the pipeline config (YAML or JSON)',
        },
        appliedVersion: stored?.version,
      };
    }
    if (stored !== undefined && stored.configYaml === config) {
      return { outcome: applied(stored.version), appliedVersion: stored.version };
    }
    if (
      stored !== undefined &&
      this.#promotedBy !== undefined &&
      generation !== undefined &&
      resource.status?.observedGeneration === generation
    ) {
      // The spec is unchanged since it was last applied, so the control plane moved on by
      // itself. A promoted experiment is a decision to keep: reverting it would undo it.
      let experiment: string | undefined;
      try {
        experiment = await this.#promotedBy(name, stored.version);
      } catch (error) {
        return failed(ConnectError.from(error), stored.version);
      }
      if (experiment !== undefined) {
        return {
          outcome: {
            phase: 'Applied',
            ready: true,
            reason: 'Promoted',
            message: `experiment ${experiment} promoted version ${stored.version}, which differs from spec.config; the operator keeps it until spec.config changes (copy the candidate into spec.config to keep it in source control)`,
          },
          appliedVersion: stored.version,
        };
      }
    }
    const specMessage = resource.spec?.message;
    const message =
      typeof specMessage === 'string' && specMessage !== ''
        ? specMessage
        : `from Pipeline ${namespace}/${name} generation ${generation ?? 0}`;
    try {
      const written =
        stored === undefined
          ? await this.#pipelines.createPipeline(
              { name, configYaml: config, message },
              CONTROL_PLANE_CALL,
            )
          : await this.#pipelines.updatePipeline(
              { name, configYaml: config, message, expectedVersion: stored.version },
              CONTROL_PLANE_CALL,
            );
      const version = written.pipeline?.version ?? 0;
      return { outcome: applied(version), appliedVersion: version };
    } catch (error) {
      const connectError = ConnectError.from(error);
      if (connectError.code === Code.InvalidArgument) {
        return {
          outcome: {
            phase: 'Invalid',
            ready: false,
            reason: 'InvalidConfig',
            message: connectError.rawMessage,
          },
          appliedVersion: stored?.version,
        };
      }
      return failed(connectError, stored?.version);
    }
  }

  async #finalize(resource: PipelineResource): Promise<void> {
    const finalizers = resource.metadata.finalizers ?? [];
    if (!finalizers.includes(PHOENIX_FINALIZER)) return;
    try {
      await this.#pipelines.deletePipeline({ name: resource.metadata.name }, CONTROL_PLANE_CALL);
    } catch (error) {
      const connectError = ConnectError.from(error);
      if (connectError.code !== Code.NotFound) {
        throw new ReconcileError(
          `cannot delete pipeline ${resource.metadata.name} from the control plane: ${connectError.message}`,
        );
      }
    }
    await this.#resources.setFinalizers(
      resource,
      finalizers.filter((finalizer) => finalizer !== PHOENIX_FINALIZER),
    );
  }
}

function applied(version: number): ReconcileOutcome {
  return {
    phase: 'Applied',
    ready: true,
    reason: 'Applied',
    message: `spec.config is version ${version} in the control plane`,
  };
}

function failed(
  error: ConnectError,
  appliedVersion: number | undefined,
): { outcome: ReconcileOutcome; appliedVersion: number | undefined; retry: ReconcileError } {
  const message = `control plane: ${error.message}`;
  return {
    outcome: { phase: 'Failed', ready: false, reason: 'ControlPlaneError', message },
    appliedVersion,
    retry: new ReconcileError(message),
  };
}
