/**
 * `phoenix.v1.PipelineService`: pipelines as versioned documents. Every write is validated
 * with the pipeline model the proxies run (parse and compile), so a config that would not
 * load on a proxy is refused here and never streamed to one.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import {
  type Pipeline,
  PipelineSchema,
  type PipelineService,
} from '../../proto/gen/phoenix/v1/pipeline_pb.js';
import { compilePipeline } from '../../proxy/pipeline/compile.js';
import type { PipelineConfig } from '../../proxy/pipeline/config.js';
import { parsePipelineConfig } from '../../proxy/pipeline/load.js';
import { principalKey } from '../auth/auth-interceptor.js';
import type { PipelineStore, StoredPipelineVersion } from '../store/pipeline-store.js';
import { checkPipelineName, connectErrors } from './connect-errors.js';
import type { PipelineEvents } from './pipeline-events.js';
import { previewPipeline } from './preview.js';
import type { LiveRequests } from './proxy-registry.js';
import { unifiedDiff } from './text-diff.js';

/** Label of submitted config text in error messages (`pipeline.yaml: relabel_configs[0]…`). */
const SOURCE_NAME = 'pipeline.yaml';

/**
 * Parses and compiles a config exactly as a proxy will; throws the pipeline model's
 * `ConfigError` (with the config path) when either step refuses it.
 */
export function validateConfigText(configYaml: string): PipelineConfig {
  const config = parsePipelineConfig(configYaml, SOURCE_NAME);
  compilePipeline(config);
  return config;
}

/** The API shape of a stored version. */
export function toPipelineMessage(stored: StoredPipelineVersion): Pipeline {
  let ruleCount = 0;
  try {
    ruleCount = parsePipelineConfig(stored.configYaml, SOURCE_NAME).relabelConfigs.length;
  } catch {
    // Stored before a stricter validator: still shown, with no rule count.
  }
  return create(PipelineSchema, {
    name: stored.name,
    version: stored.version,
    configYaml: stored.configYaml,
    author: stored.author,
    message: stored.message,
    createdAt: timestampFromMs(stored.createdAtMs),
    ruleCount,
  });
}

function author(context: HandlerContext): string {
  return context.values.get(principalKey).name;
}

async function mustGet(
  store: PipelineStore,
  name: string,
  version: number,
): Promise<StoredPipelineVersion> {
  const found = await store.get(name, version === 0 ? undefined : version);
  if (found === undefined) {
    const what = version === 0 ? '' : ` version ${version}`;
    throw new ConnectError(`pipeline ${JSON.stringify(name)}${what} not found`, Code.NotFound);
  }
  return found;
}

/**
 * The service implementation over a store; `events` hears of every committed write, and
 * `liveRequests` gives previews a recent request of live traffic.
 */
export function pipelineServiceImpl(
  store: PipelineStore,
  events: PipelineEvents,
  liveRequests: LiveRequests,
): ServiceImpl<typeof PipelineService> {
  return {
    createPipeline: (request, context) =>
      connectErrors(async () => {
        checkPipelineName(request.name);
        validateConfigText(request.configYaml);
        const stored = await store.create({
          name: request.name,
          configYaml: request.configYaml,
          author: author(context),
          message: request.message,
        });
        events.changed(stored.name);
        return { pipeline: toPipelineMessage(stored) };
      }),

    getPipeline: (request) =>
      connectErrors(async () => ({
        pipeline: toPipelineMessage(await mustGet(store, request.name, request.version)),
      })),

    listPipelines: () =>
      connectErrors(async () => ({ pipelines: (await store.list()).map(toPipelineMessage) })),

    updatePipeline: (request, context) =>
      connectErrors(async () => {
        checkPipelineName(request.name);
        validateConfigText(request.configYaml);
        const stored = await store.update({
          name: request.name,
          configYaml: request.configYaml,
          author: author(context),
          message: request.message,
          ...(request.expectedVersion === undefined
            ? {}
            : { expectedVersion: request.expectedVersion }),
        });
        events.changed(stored.name);
        return { pipeline: toPipelineMessage(stored) };
      }),

    deletePipeline: (request) =>
      connectErrors(async () => {
        await store.delete(request.name, request.expectedVersion);
        events.changed(request.name);
        return {};
      }),

    validatePipeline: (request) =>
      connectErrors(async () => ({
        ruleCount: validateConfigText(request.configYaml).relabelConfigs.length,
      })),

    previewPipeline: (request) =>
      connectErrors(async () => {
        let configYaml: string;
        switch (request.pipeline.case) {
          case 'configYaml':
            configYaml = request.pipeline.value;
            break;
          case 'name':
            configYaml = (await mustGet(store, request.pipeline.value, request.version)).configYaml;
            break;
          default:
            throw new ConnectError('give config_yaml or name', Code.InvalidArgument);
        }
        const pipeline = validateConfigText(configYaml);
        if (request.liveSample) {
          const live = liveRequests.latestRequest(
            request.pipeline.case === 'name' ? request.pipeline.value : undefined,
          );
          if (live === undefined) {
            throw new ConnectError(
              'no live traffic reported yet: proxies send a recent request with each status report (every 10 s while traffic flows)',
              Code.FailedPrecondition,
            );
          }
          const preview = await previewPipeline({
            pipeline,
            body: live.body,
            snappy: true,
            maxSeries: request.maxSeries,
          });
          preview.sampleProxyId = live.proxyId;
          preview.sampleTime = timestampFromMs(live.receivedAtMs);
          return preview;
        }
        if (request.remoteWriteBody.length === 0) {
          throw new ConnectError(
            'remote_write_body is empty (or set live_sample)',
            Code.InvalidArgument,
          );
        }
        return previewPipeline({
          pipeline,
          body: request.remoteWriteBody,
          snappy: request.snappy,
          maxSeries: request.maxSeries,
        });
      }),

    getPipelineHistory: (request) =>
      connectErrors(async () => {
        const versions = await store.history(request.name);
        if (versions.length === 0) {
          throw new ConnectError(
            `pipeline ${JSON.stringify(request.name)} not found`,
            Code.NotFound,
          );
        }
        return { versions: versions.map(toPipelineMessage) };
      }),

    diffPipelineVersions: (request) =>
      connectErrors(async () => {
        const history = await store.history(request.name);
        const pick = (version: number): StoredPipelineVersion => {
          const found = version === 0 ? history[0] : history.find((v) => v.version === version);
          if (found === undefined) {
            throw new ConnectError(
              `pipeline ${JSON.stringify(request.name)} version ${version} not found`,
              Code.NotFound,
            );
          }
          return found;
        };
        const from = pick(request.fromVersion);
        const to = pick(request.toVersion);
        return {
          diff: unifiedDiff(
            from.configYaml,
            to.configYaml,
            `${request.name} v${from.version}`,
            `${request.name} v${to.version}`,
          ),
        };
      }),

    rollbackPipeline: (request, context) =>
      connectErrors(async () => {
        const history = await store.history(request.name);
        const target = history.find((v) => v.version === request.toVersion);
        if (target === undefined) {
          throw new ConnectError(
            `pipeline ${JSON.stringify(request.name)} version ${request.toVersion} not found`,
            Code.NotFound,
          );
        }
        validateConfigText(target.configYaml);
        const stored = await store.update({
          name: request.name,
          configYaml: target.configYaml,
          author: author(context),
          message: `rollback to version ${target.version}`,
          ...(request.expectedVersion === undefined
            ? {}
            : { expectedVersion: request.expectedVersion }),
        });
        events.changed(stored.name);
        return { pipeline: toPipelineMessage(stored) };
      }),
  };
}
