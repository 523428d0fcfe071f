/**
 * The Kubernetes face of Phoenix: the `phoenix.dev/v1alpha1` custom resources the operator
 * reconciles, as the operator reads and writes them. The CRDs themselves live in
 * `deploy/crds/`.
 */

/** API group and version of Phoenix's custom resources. */
export const PHOENIX_GROUP = 'phoenix.dev';
export const PHOENIX_VERSION = 'v1alpha1';
export const PIPELINE_PLURAL = 'pipelines';
export const EXPERIMENT_PLURAL = 'experiments';

/**
 * The finalizer the operator puts on every resource it manages, so that deleting the
 * resource waits until the control plane has forgotten it too.
 */
export const PHOENIX_FINALIZER = 'phoenix.dev/finalizer';

/** The metadata fields the operator relies on. */
export interface ResourceMetadata {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly deletionTimestamp?: string | Date;
  readonly finalizers?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
}

/** A `Ready` condition, in the shape of Kubernetes' `metav1.Condition`. */
export interface ReadyCondition {
  readonly type: 'Ready';
  readonly status: 'True' | 'False' | 'Unknown';
  /** CamelCase, machine-readable: `Applied`, `InvalidConfig`, `ControlPlaneError`. */
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration: number;
  /** RFC 3339; changes only when `status` changes. */
  readonly lastTransitionTime: string;
}

/**
 * Where a resource stands: `Applied` (the control plane stores `spec` as the pipeline's
 * latest version), `Invalid` (the control plane refused `spec`; proxies keep the version
 * they had) or `Failed` (the control plane could not be reached or refused for another
 * reason; the operator retries with backoff).
 */
export type ResourcePhase = 'Applied' | 'Invalid' | 'Failed';

/** `status` of a Pipeline resource. */
export interface PipelineStatus {
  readonly phase: ResourcePhase;
  /** The control plane's latest version of the pipeline; absent while there is none. */
  readonly appliedVersion?: number;
  /** The `metadata.generation` this status describes. */
  readonly observedGeneration: number;
  /** Human-readable; for `Invalid` the control plane's error with the config path. */
  readonly message: string;
  readonly conditions: readonly ReadyCondition[];
}

/** A `Pipeline` resource: `spec.config` is the pipeline config text (YAML or JSON). */
export interface PipelineResource {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ResourceMetadata;
  readonly spec?: {
    readonly config?: unknown;
    readonly message?: unknown;
  };
  readonly status?: Partial<PipelineStatus>;
}

/** `namespace/name`, the work-queue key of a namespaced resource. */
export function resourceKey(metadata: ResourceMetadata): string {
  return `${metadata.namespace ?? ''}/${metadata.name}`;
}

/** Splits a {@link resourceKey} back into its parts. */
export function splitResourceKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
