/**
 * API failures in words: what the operator sees instead of a code.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { type ConfigIssue, ConfigIssueSchema } from '../../../proto/gen/phoenix/v1/pipeline_pb.js';
import { HttpError } from './session.js';

/** A sentence that says what went wrong and, where it helps, what to do. */
export function describeError(error: unknown): string {
  if (error instanceof ConnectError) {
    const reason = error.rawMessage;
    switch (error.code) {
      case Code.Unauthenticated:
        return `Not signed in (401): ${reason}. Sign in again with a valid token.`;
      case Code.PermissionDenied:
        return `Not allowed (403): ${reason}.`;
      case Code.InvalidArgument:
        return `Invalid: ${reason}`;
      case Code.NotFound:
        return `Not found: ${reason}`;
      case Code.AlreadyExists:
        return `Already exists: ${reason}`;
      case Code.Aborted:
        return `Someone else changed it first: ${reason}. Reload and try again.`;
      case Code.FailedPrecondition:
        return `Not possible now: ${reason}`;
      case Code.Unimplemented:
        return `This control plane does not offer that yet (${reason}).`;
      case Code.Unavailable:
        return `The control plane cannot be reached: ${reason}`;
      case Code.DeadlineExceeded:
        return `The control plane did not answer in time: ${reason}`;
      default:
        return `${Code[error.code] ?? 'error'}: ${reason}`;
    }
  }
  if (error instanceof HttpError) {
    if (error.status === 401) return `Not signed in (401): ${error.message}`;
    if (error.status === 403) return `Not allowed (403): ${error.message}`;
    if (error.status === 404) return `Not found (404): ${error.message}`;
    return `The control plane answered ${error.status}: ${error.message}`;
  }
  if (error instanceof TypeError) return `The control plane cannot be reached: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** Whether the error means the token is no longer any good (sign in again). */
export function isUnauthenticated(error: unknown): boolean {
  return (
    (error instanceof ConnectError && error.code === Code.Unauthenticated) ||
    (error instanceof HttpError && error.status === 401)
  );
}

/** The config issues an `invalid_argument` carries, for an editor to point at. */
export function configIssues(error: unknown): ConfigIssue[] {
  if (!(error instanceof ConnectError)) return [];
  return error.findDetails(ConfigIssueSchema);
}
