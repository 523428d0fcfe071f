/**
 * OTLP/gRPC: `opentelemetry.proto.collector.metrics.v1.MetricsService/Export` over h2c,
 * served with connect-node's gRPC protocol. The request is read as `google.protobuf.Empty`,
 * so protobuf-es keeps every field as raw unknown-field bytes instead of decoding the
 * metrics: the ingest thread only copies each `resource_metrics` back into one body and
 * hands it to a worker, the same way as OTLP/HTTP.
 */

import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import { create, toBinary } from '@bufbuild/protobuf';
import { EmptySchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import {
  ExportMetricsServiceResponseSchema,
  MetricsService,
} from '../../proto/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import type { PipelineErrorCode } from '../pipeline/contracts.js';
import { forwardResponse, type IngestContext } from '../server/ingest.js';
import { IngestError, type IngestErrorReason } from '../server/ingest-error.js';

/** A listening OTLP/gRPC server. */
export interface RunningOtlpGrpcServer {
  readonly port: number;
  /** Stops accepting calls and closes every connection. */
  close(): Promise<void>;
}

/** gRPC code per pipeline failure: bad data is never retried, proxy faults are. */
const FAILURE_CODE: Readonly<Record<PipelineErrorCode | 'internal', Code>> = {
  snappy: Code.InvalidArgument,
  protobuf: Code.InvalidArgument,
  invalid_labels: Code.InvalidArgument,
  too_large: Code.ResourceExhausted,
  host: Code.Internal,
  program: Code.Internal,
  internal: Code.Internal,
};
const FAILURE_STATUS: Readonly<Record<PipelineErrorCode | 'internal', number>> = {
  snappy: 400,
  protobuf: 400,
  invalid_labels: 400,
  too_large: 413,
  host: 500,
  program: 500,
  internal: 500,
};

const FAILURE_REASON: Readonly<Record<PipelineErrorCode | 'internal', IngestErrorReason>> = {
  snappy: 'snappy',
  protobuf: 'protobuf',
  invalid_labels: 'invalid_labels',
  too_large: 'too_large',
  host: 'pipeline',
  program: 'pipeline',
  internal: 'worker',
};

/** The Export method, with its input read as raw bytes (see the file comment). */
const exportRaw = { ...MetricsService.method.export, input: EmptySchema };

/** Starts the OTLP/gRPC server on `host:port` (`0` picks a free port). */
export async function startOtlpGrpcServer(
  context: IngestContext,
  host: string,
  port: number,
): Promise<RunningOtlpGrpcServer> {
  const handler = connectNodeAdapter({
    grpc: true,
    grpcWeb: false,
    connect: false,
    readMaxBytes: context.maxRequestBytes,
    routes: (router: ConnectRouter) => {
      router.rpc(exportRaw as unknown as typeof MetricsService.method.export, async (request) =>
        exportMetrics(context, toBinary(EmptySchema, request as never)),
      );
    },
  });
  const sessions = new Set<ServerHttp2Session>();
  const server: Http2Server = createServer(handler);
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  return {
    port: boundPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) session.close();
      }),
  };
}

async function exportMetrics(context: IngestContext, body: Uint8Array) {
  const startedAt = performance.now();
  const seconds = () => (performance.now() - startedAt) / 1000;
  if (!context.isAccepting()) {
    context.metrics.recordAnswer(503, seconds(), 'shutting_down');
    throw new ConnectError('proxy is shutting down', Code.Unavailable);
  }
  context.inFlight.begin();
  context.metrics.inFlight.inc();
  context.metrics.bytesIn.inc(body.byteLength);
  try {
    const owned = new Uint8Array(body);
    const response = await context.process(owned, 'otlp-proto', 'identity').catch(
      (error: unknown) =>
        ({
          ok: false,
          code: 'internal',
          message: `pipeline worker failed: ${error instanceof Error ? error.message : String(error)}`,
        }) as const,
    );
    if (!response.ok) {
      context.metrics.recordAnswer(
        FAILURE_STATUS[response.code],
        seconds(),
        FAILURE_REASON[response.code],
      );
      throw new ConnectError(response.message, FAILURE_CODE[response.code]);
    }
    context.metrics.recordPipeline(response.stats, response.ruleHits);
    try {
      await forwardResponse(context, response);
    } catch (error) {
      if (!(error instanceof IngestError)) throw error;
      context.metrics.recordAnswer(error.status, seconds(), error.reason);
      // OTLP/gRPC retries UNAVAILABLE; a refusal by the upstream is final.
      throw new ConnectError(
        error.message,
        error.status === 400 ? Code.InvalidArgument : Code.Unavailable,
      );
    }
    context.metrics.recordAnswer(200, seconds());
    const outcome = response.conversion;
    return create(ExportMetricsServiceResponseSchema, {
      partialSuccess:
        outcome !== undefined && (outcome.rejectedPoints > 0 || outcome.message !== '')
          ? {
              rejectedDataPoints: BigInt(outcome.rejectedPoints),
              errorMessage: outcome.message,
            }
          : undefined,
    });
  } finally {
    context.metrics.inFlight.dec();
    context.inFlight.end();
  }
}

/** Where OTLP/gRPC listens; see `ProxyOptions.otlpGrpcListen`. */
export interface OtlpGrpcListen {
  readonly host: string;
  readonly port: number;
  /**
   * True for the built-in default address: when it is taken (another collector or Phoenix
   * on 4317), OTLP/gRPC is left off with a warning instead of failing the start.
   */
  readonly optional: boolean;
}

/**
 * Starts OTLP/gRPC when configured. Returns `undefined` when it is off, or when the
 * default address is taken (`onUnavailable` is told why).
 */
export async function startOtlpGrpcListener(
  context: IngestContext,
  listen: OtlpGrpcListen | undefined,
  onUnavailable: (reason: string) => void,
): Promise<RunningOtlpGrpcServer | undefined> {
  if (listen === undefined) return undefined;
  try {
    return await startOtlpGrpcServer(context, listen.host, listen.port);
  } catch (error) {
    const reason = `cannot listen for OTLP/gRPC on ${listen.host}:${listen.port}: ${error instanceof Error ? error.message : String(error)}`;
    if (!listen.optional) throw new Error(reason);
    onUnavailable(reason);
    return undefined;
  }
}
