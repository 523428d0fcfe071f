/**
 * The control plane's public surface, for the `phoenix` CLI that starts it. Everything
 * else talks to it over the API in `proto/`.
 */
export {
  loadTokenFile,
  type Principal,
  parseTokenFile,
  ROLES,
  type Role,
  TokenFileError,
  TokenSet,
} from './auth/tokens.js';
export {
  type LocalSinkOptions,
  type RunningSink,
  type SinkTotals,
  startLocalSink,
} from './local-sink.js';
export {
  CONTROL_PLANE_DEFAULTS,
  type ControlPlaneOptions,
  type RunningControlPlane,
  STORE_FILE_NAME,
  startControlPlane,
} from './server.js';
export type { PipelineStore, StoredPipelineVersion } from './store/pipeline-store.js';
