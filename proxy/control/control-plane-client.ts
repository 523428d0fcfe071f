/**
 * A Connect client of the control plane's API for the proxy and the CLI. Only the API in
 * `proto/` is shared with the control plane; nothing of its implementation.
 */
import { type Client, createClient, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { AnalysisService } from '../../proto/gen/phoenix/v1/analysis_pb.js';
import { ExperimentService } from '../../proto/gen/phoenix/v1/experiment_pb.js';
import { PipelineService } from '../../proto/gen/phoenix/v1/pipeline_pb.js';
import { ProxyService } from '../../proto/gen/phoenix/v1/proxy_pb.js';

/** Adds `Authorization: Bearer <token>` to every call. */
export function bearerToken(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set('authorization', `Bearer ${token}`);
    return next(request);
  };
}

/** A Connect-protocol transport over HTTP/1.1 to `baseUrl`, with the token if one is given. */
export function controlPlaneTransport(baseUrl: string, token: string | undefined): Transport {
  return createConnectTransport({
    baseUrl,
    httpVersion: '1.1',
    interceptors: token === undefined ? [] : [bearerToken(token)],
  });
}

export interface ControlPlaneClients {
  readonly pipelines: Client<typeof PipelineService>;
  readonly proxies: Client<typeof ProxyService>;
  readonly analysis: Client<typeof AnalysisService>;
  readonly experiments: Client<typeof ExperimentService>;
}

/** Clients of both services over one transport. */
export function controlPlaneClients(
  baseUrl: string,
  token: string | undefined,
): ControlPlaneClients {
  const transport = controlPlaneTransport(baseUrl, token);
  return {
    pipelines: createClient(PipelineService, transport),
    proxies: createClient(ProxyService, transport),
    analysis: createClient(AnalysisService, transport),
    experiments: createClient(ExperimentService, transport),
  };
}
