/**
 * The one place where the control plane's internal errors become Connect errors, so every
 * RPC answers the same failure with the same code.
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { ConfigIssueSchema } from '../../proto/gen/phoenix/v1/pipeline_pb.js';
import { ConfigError } from '../../proxy/pipeline/config-error.js';
import { ExperimentStoreError } from '../experiments/experiment-store.js';
import { PipelineStoreError } from '../store/pipeline-store.js';

const STORE_CODES = {
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  version_conflict: Code.Aborted,
  // Another decision (a person's or a guardrail's) moved the experiment first.
  phase_conflict: Code.FailedPrecondition,
} as const;

/**
 * A config error becomes `invalid_argument` whose message names the path, with a
 * `phoenix.v1.ConfigIssue` detail an editor can point at; a store refusal gets its code;
 * anything else goes through `ConnectError.from` (`internal` for a plain Error).
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof ConfigError) {
    return new ConnectError(error.message, Code.InvalidArgument, undefined, [
      {
        desc: ConfigIssueSchema,
        value: create(ConfigIssueSchema, {
          path: error.path,
          reason: error.reason,
          line: error.line ?? 0,
          column: error.column ?? 0,
        }),
      },
    ]);
  }
  if (error instanceof PipelineStoreError || error instanceof ExperimentStoreError) {
    return new ConnectError(error.message, STORE_CODES[error.kind]);
  }
  return ConnectError.from(error, Code.Internal);
}

/** Runs `body`, turning whatever it throws into a {@link ConnectError}. */
export async function connectErrors<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toConnectError(error);
  }
}

const PIPELINE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Pipeline names are DNS-label-like so they work as Kubernetes names and in URLs. */
export function checkPipelineName(name: string): void {
  if (!PIPELINE_NAME.test(name)) {
    throw new ConnectError(
      `pipeline name ${JSON.stringify(name)} must be 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit`,
      Code.InvalidArgument,
    );
  }
}
