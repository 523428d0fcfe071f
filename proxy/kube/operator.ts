/**
 * `phoenix operator`: keeps the control plane in line with the Phoenix custom resources of
 * one namespace. Per kind, an informer feeds a keyed work queue; each key is reconciled
 * from the informer cache's latest copy, failures are retried with backoff, and every
 * resource is reconciled again every `resyncIntervalMs` so drift in the control plane is
 * put right even when Kubernetes sends no event.
 */
import { CoreV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { ExperimentPhase } from '../../proto/gen/phoenix/v1/experiment_pb.js';
import { logEvent } from '../server/log.js';
import { type CustomResource, CustomResourceClient } from './custom-resource-client.js';
import { type ExperimentApi, ExperimentReconciler } from './experiment-reconciler.js';
import type { ConfigMapReader, ExperimentResource } from './experiment-spec.js';
import {
  EXPERIMENT_PLURAL,
  PIPELINE_PLURAL,
  type PipelineResource,
  resourceKey,
  splitResourceKey,
} from './phoenix-resources.js';
import { CONTROL_PLANE_CALL, type PipelineApi, PipelineReconciler } from './pipeline-reconciler.js';
import { describeKubeError, type ResourceWatch, watchResource } from './resource-watch.js';
import { WorkQueue } from './work-queue.js';

export interface OperatorOptions {
  readonly kubeConfig: KubeConfig;
  /** The namespace whose resources are reconciled. */
  readonly namespace: string;
  /** The control plane's pipeline API (a Connect client with an `admin` token). */
  readonly pipelines: PipelineApi;
  /** The control plane's experiment API; without it, Experiment resources are not watched. */
  readonly experiments?: ExperimentApi;
  /** How often every resource is reconciled without an event; default 300 000 ms. */
  readonly resyncIntervalMs?: number;
  /** How often the status of a running experiment is refreshed; default 10 000 ms. */
  readonly experimentRefreshMs?: number;
  /** First retry delay of a failed reconcile or watch; default 1000 ms. */
  readonly retryMinMs?: number;
  /** Longest retry delay; default 60 000 ms. */
  readonly retryMaxMs?: number;
}

export const OPERATOR_DEFAULTS = {
  resyncIntervalMs: 300_000,
  experimentRefreshMs: 10_000,
  retryMinMs: 1000,
  retryMaxMs: 60_000,
} as const;

export interface RunningOperator {
  /** Resolves once every informer has listed its resources once. */
  readonly synced: Promise<void>;
  /** Queues every cached resource for a reconcile, as the periodic resync does. */
  resync(): void;
  /** Whether no reconcile is queued or running. */
  readonly idle: boolean;
  close(): Promise<void>;
}

/** One kind's informer and queue. */
interface Controller {
  readonly synced: Promise<void>;
  readonly queue: WorkQueue;
  resync(): void;
  stop(): Promise<void>;
}

function startController<T extends CustomResource>(
  kind: string,
  options: OperatorOptions,
  resources: CustomResourceClient<T>,
  reconcile: (resource: T) => Promise<number | undefined>,
): Controller {
  const retryMinMs = options.retryMinMs ?? OPERATOR_DEFAULTS.retryMinMs;
  const retryMaxMs = options.retryMaxMs ?? OPERATOR_DEFAULTS.retryMaxMs;
  let watch: ResourceWatch<T & KubernetesObject> | undefined;
  const queue = new WorkQueue(
    async (key) => {
      const { namespace, name } = splitResourceKey(key);
      const resource = watch?.get(name, namespace);
      return resource === undefined ? undefined : reconcile(resource);
    },
    {
      retryMinMs,
      retryMaxMs,
      onError: (key, error, retryInMs) =>
        logEvent('warn', 'operator_reconcile_failed', {
          resource: `${kind} ${key}`,
          message: describeKubeError(error),
          retryInMs,
        }),
    },
  );
  watch = watchResource<T & KubernetesObject>({
    kubeConfig: options.kubeConfig,
    path: resources.path,
    list: () => resources.list(),
    description: `${kind} resources in ${options.namespace}`,
    onChange: (resource, deleted) => {
      // A deleted resource already went through its finalizer; nothing is left to do.
      if (!deleted) queue.add(resourceKey(resource.metadata));
    },
    retryMinMs,
    retryMaxMs,
  });
  return {
    synced: watch.synced,
    queue,
    resync: () => {
      for (const resource of watch?.list(options.namespace) ?? []) {
        queue.add(resourceKey(resource.metadata));
      }
    },
    stop: async () => {
      await watch?.stop();
      await queue.close();
    },
  };
}

/** Starts the informers and reconcilers; API failures are retried, never thrown. */
export function startOperator(options: OperatorOptions): RunningOperator {
  const pipelineResources = new CustomResourceClient<PipelineResource>(
    options.kubeConfig,
    PIPELINE_PLURAL,
    options.namespace,
  );
  const experiments = options.experiments;
  const pipelineReconciler = new PipelineReconciler(
    options.pipelines,
    pipelineResources,
    experiments === undefined
      ? undefined
      : async (pipeline, version) =>
          (await experiments.listExperiments({}, CONTROL_PLANE_CALL)).experiments.find(
            (experiment) =>
              experiment.phase === ExperimentPhase.PROMOTED &&
              experiment.spec?.pipeline === pipeline &&
              experiment.promotedVersion === version,
          )?.spec?.name,
  );
  const controllers: Controller[] = [
    startController('Pipeline', options, pipelineResources, async (resource) => {
      await pipelineReconciler.reconcile(resource);
      return undefined;
    }),
  ];
  if (options.experiments !== undefined) {
    const experimentResources = new CustomResourceClient<ExperimentResource>(
      options.kubeConfig,
      EXPERIMENT_PLURAL,
      options.namespace,
    );
    const experimentReconciler = new ExperimentReconciler(
      options.experiments,
      experimentResources,
      configMapReader(options.kubeConfig, options.namespace),
      options.experimentRefreshMs ?? OPERATOR_DEFAULTS.experimentRefreshMs,
    );
    controllers.push(
      startController('Experiment', options, experimentResources, (resource) =>
        experimentReconciler.reconcile(resource),
      ),
    );
  }

  const resync = () => {
    for (const controller of controllers) controller.resync();
  };
  const resyncTimer = setInterval(
    resync,
    options.resyncIntervalMs ?? OPERATOR_DEFAULTS.resyncIntervalMs,
  );
  resyncTimer.unref();

  return {
    synced: Promise.all(controllers.map((controller) => controller.synced)).then(() => undefined),
    resync,
    get idle() {
      return controllers.every((controller) => controller.queue.idle);
    },
    close: async () => {
      clearInterval(resyncTimer);
      await Promise.all(controllers.map((controller) => controller.stop()));
    },
  };
}

/** Reads ConfigMaps of `namespace` (the query sources experiments refer to). */
function configMapReader(kubeConfig: KubeConfig, namespace: string): ConfigMapReader {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return async (name) => {
    try {
      const configMap = await core.readNamespacedConfigMap({ name, namespace });
      return configMap.data ?? {};
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return undefined;
      throw error;
    }
  };
}
