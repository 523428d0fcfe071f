/**
 * Connect clients of the control API, generated from `proto/`. Every call carries the
 * signed-in token as a bearer token.
 */
import { type Client, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { AnalysisService } from '../../../proto/gen/phoenix/v1/analysis_pb.js';
import { ExperimentService } from '../../../proto/gen/phoenix/v1/experiment_pb.js';
import { PipelineService } from '../../../proto/gen/phoenix/v1/pipeline_pb.js';
import { ProxyService } from '../../../proto/gen/phoenix/v1/proxy_pb.js';

export interface ApiClients {
  readonly pipelines: Client<typeof PipelineService>;
  readonly proxies: Client<typeof ProxyService>;
  readonly experiments: Client<typeof ExperimentService>;
  readonly analysis: Client<typeof AnalysisService>;
}

/** Clients that talk to the control plane that served this page, as `token`. */
export function createApiClients(token: string): ApiClients {
  const bearer: Interceptor = (next) => (request) => {
    if (token !== '') request.header.set('authorization', `Bearer ${token}`);
    return next(request);
  };
  const transport = createConnectTransport({
    baseUrl: window.location.origin,
    interceptors: [bearer],
  });
  return {
    pipelines: createClient(PipelineService, transport),
    proxies: createClient(ProxyService, transport),
    experiments: createClient(ExperimentService, transport),
    analysis: createClient(AnalysisService, transport),
  };
}
