/**
 * `phoenix.v1.ExperimentService`: the API face of the {@link ExperimentEngine}.
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import {
  type ExperimentService,
  ExperimentSpecSchema,
  type WatchExperimentResponse,
  WatchExperimentResponseSchema,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';
import { principalKey } from '../auth/auth-interceptor.js';
import { connectErrors } from '../services/connect-errors.js';
import { validateConfigText } from '../services/pipeline-service.js';
import type { ExperimentEngine } from './experiment-engine.js';
import type { QueryChecker } from './query-checker.js';

function actor(context: HandlerContext): string {
  return context.values.get(principalKey).name;
}

export function experimentServiceImpl(
  engine: ExperimentEngine,
  queries: QueryChecker,
): ServiceImpl<typeof ExperimentService> {
  return {
    createExperiment: (request, context) =>
      connectErrors(async () => ({
        experiment: await engine.create(
          request.spec ?? create(ExperimentSpecSchema),
          request.start,
          actor(context),
        ),
      })),
    startExperiment: (request, context) =>
      connectErrors(async () => ({
        experiment: await engine.start(request.name, actor(context)),
      })),
    getExperiment: (request) =>
      connectErrors(async () => ({ experiment: await engine.get(request.name) })),
    listExperiments: () => connectErrors(async () => ({ experiments: await engine.list() })),
    promoteExperiment: (request, context) =>
      connectErrors(async () => ({
        experiment: await engine.promote(request.name, actor(context), request.reason),
      })),
    rollbackExperiment: (request, context) =>
      connectErrors(async () => ({
        experiment: await engine.rollback(request.name, actor(context), request.reason),
      })),
    stopExperiment: (request, context) =>
      connectErrors(async () => ({
        experiment: await engine.stop(request.name, actor(context), request.reason),
      })),
    checkQueries: (request) =>
      connectErrors(async () => {
        validateConfigText(request.configYaml);
        return { queries: queries.checkStatic(request.configYaml, request.queries) };
      }),
    async *watchExperiment(request, context): AsyncGenerator<WatchExperimentResponse> {
      try {
        for await (const event of engine.watch(request.name, context.signal)) {
          yield create(WatchExperimentResponseSchema, { event });
        }
      } catch (error) {
        if (error instanceof ConnectError) throw error;
        throw ConnectError.from(error, Code.Internal);
      }
    },
  };
}
