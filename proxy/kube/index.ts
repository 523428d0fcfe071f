/**
 * Phoenix on Kubernetes: the operator that reconciles Phoenix's custom resources into a
 * control plane, and the informer plumbing the aggregation tier's member discovery shares.
 */
export { defaultNamespace, type KubeConnectionOptions, resolveKubeConfig } from './kube-config.js';
export {
  OPERATOR_DEFAULTS,
  type OperatorOptions,
  type RunningOperator,
  startOperator,
} from './operator.js';
export {
  PHOENIX_FINALIZER,
  PHOENIX_GROUP,
  PHOENIX_VERSION,
  type PipelineResource,
  type PipelineStatus,
} from './phoenix-resources.js';
