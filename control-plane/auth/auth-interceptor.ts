import { Code, ConnectError, createContextKey, type Interceptor } from '@connectrpc/connect';
import { type Principal, type Role, roleAllows, type TokenSet } from './tokens.js';

/**
 * The caller of the current request, set by {@link authInterceptor}. Without a token set
 * (auth off) every caller is this local admin.
 */
export const LOCAL_PRINCIPAL: Principal = { name: 'local', role: 'admin' };
export const principalKey = createContextKey<Principal>(LOCAL_PRINCIPAL, {
  description: 'the authenticated caller',
});

/**
 * The role each method needs, by `service/method`. A method missing here is refused to
 * everyone, so a new RPC cannot be served before someone decides who may call it.
 */
export const METHOD_ROLES: Readonly<Record<string, Role>> = {
  'phoenix.v1.PipelineService/CreatePipeline': 'admin',
  'phoenix.v1.PipelineService/UpdatePipeline': 'admin',
  'phoenix.v1.PipelineService/DeletePipeline': 'admin',
  'phoenix.v1.PipelineService/RollbackPipeline': 'admin',
  'phoenix.v1.PipelineService/GetPipeline': 'viewer',
  'phoenix.v1.PipelineService/ListPipelines': 'viewer',
  'phoenix.v1.PipelineService/ValidatePipeline': 'viewer',
  'phoenix.v1.PipelineService/PreviewPipeline': 'viewer',
  'phoenix.v1.PipelineService/GetPipelineHistory': 'viewer',
  'phoenix.v1.PipelineService/DiffPipelineVersions': 'viewer',
  'phoenix.v1.ProxyService/Register': 'proxy',
  'phoenix.v1.ProxyService/WatchConfig': 'proxy',
  'phoenix.v1.ProxyService/ReportStatus': 'proxy',
  'phoenix.v1.ProxyService/ListProxies': 'viewer',
  'phoenix.v1.AnalysisService/TopMetrics': 'viewer',
  'phoenix.v1.AnalysisService/TopLabels': 'viewer',
  'phoenix.v1.AnalysisService/Churn': 'viewer',
  'phoenix.v1.AnalysisService/Recommend': 'viewer',
  'phoenix.v1.ExperimentService/CreateExperiment': 'admin',
  'phoenix.v1.ExperimentService/StartExperiment': 'admin',
  'phoenix.v1.ExperimentService/PromoteExperiment': 'admin',
  'phoenix.v1.ExperimentService/RollbackExperiment': 'admin',
  'phoenix.v1.ExperimentService/StopExperiment': 'admin',
  'phoenix.v1.ExperimentService/GetExperiment': 'viewer',
  'phoenix.v1.ExperimentService/ListExperiments': 'viewer',
  'phoenix.v1.ExperimentService/WatchExperiment': 'viewer',
  'phoenix.v1.ExperimentService/CheckQueries': 'viewer',
};

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Checks `Authorization: Bearer <token>` on every call: no or an unknown token is
 * `unauthenticated`, a token whose role does not cover the method is `permission_denied`.
 * With `tokens` undefined, auth is off and every call runs as {@link LOCAL_PRINCIPAL}.
 */
export function authInterceptor(tokens: TokenSet | undefined): Interceptor {
  return (next) => async (request) => {
    if (tokens === undefined) return next(request);
    const header = request.header.get('authorization');
    if (header === null) {
      throw new ConnectError(
        'missing bearer token (Authorization: Bearer …)',
        Code.Unauthenticated,
      );
    }
    const token = BEARER.exec(header)?.[1];
    const principal = token === undefined ? undefined : tokens.authenticate(token);
    if (principal === undefined) {
      throw new ConnectError('invalid bearer token', Code.Unauthenticated);
    }
    const methodName = `${request.service.typeName}/${request.method.name}`;
    const needed = METHOD_ROLES[methodName];
    if (needed === undefined || !roleAllows(principal.role, needed)) {
      throw new ConnectError(
        `token ${JSON.stringify(principal.name)} (role ${principal.role}) may not call ${methodName}${needed === undefined ? '' : `, which needs role ${needed}`}`,
        Code.PermissionDenied,
      );
    }
    request.contextValues.set(principalKey, principal);
    return next(request);
  };
}
