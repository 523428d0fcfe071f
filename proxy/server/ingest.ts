import uWS from 'uWebSockets.js';
import { checkOtlpHeaders, OTLP_METRICS_PATH } from '../otlp/otlp-headers.js';
import type { PipelineErrorCode } from '../pipeline/contracts.js';
import { errorAnswerBody, successAnswer, type WireAnswer } from '../wire/format-answers.js';
import type { BodyEncoding, IngestFormat } from '../wire/ingest-format.js';
import type { InFlightRequests } from './in-flight.js';
import { IngestError, type IngestErrorReason, statusLine } from './ingest-error.js';
import type { ThrottledLog } from './log.js';
import type { ProxyMetrics } from './metrics.js';
import { RequestBody } from './request-body.js';
import type { ProcessResponse, ProcessSuccess, WorkerFailureCode } from './worker-protocol.js';
import { checkWriteHeaders, parseContentLength, remoteWriteVersion } from './write-headers.js';

/** What the ingest server needs from the rest of the proxy. */
export interface IngestContext {
  /** See `ProxyOptions.maxRequestBytes`. */
  readonly maxRequestBytes: number;
  readonly metrics: ProxyMetrics;
  readonly inFlight: InFlightRequests;
  readonly errorLog: ThrottledLog;
  /** Runs a body through a pipeline worker; the body's buffer is transferred. */
  process(
    body: Uint8Array<ArrayBuffer>,
    format?: IngestFormat,
    encoding?: BodyEncoding,
  ): Promise<ProcessResponse>;
  /**
   * Hands a payload to delivery: resolves once it is durable in every upstream's queue (or,
   * on the synchronous path, once the upstream accepted it); rejects with an
   * {@link IngestError}.
   */
  forward(payload: Uint8Array): Promise<void>;
  /** False once shutdown began: new writes get 503 and `/readyz` fails. */
  isAccepting(): boolean;
  /**
   * Answers `GET /api/v1/status/tsdb` from the live cardinality trackers; absent when
   * tracking is off (the path is then a 404).
   */
  tsdbStatus?(queryString: string): Promise<{ status: number; body: string }>;
}

/** The ingest route of remote write 1.0. */
export const REMOTE_WRITE_PATH = '/api/v1/write';

/** How a worker's failure code is reported and answered. */
const FAILURE_REASON: Readonly<Record<WorkerFailureCode, IngestErrorReason>> = {
  snappy: 'snappy',
  too_large: 'too_large',
  protobuf: 'protobuf',
  invalid_labels: 'invalid_labels',
  host: 'pipeline',
  program: 'pipeline',
  internal: 'worker',
} satisfies Record<PipelineErrorCode | 'internal', IngestErrorReason>;

/** Per-request state shared by the uWebSockets.js callbacks of one request. */
interface WriteRequestState {
  readonly startedAt: number;
  /** The connection went away; `res` must not be touched any more. */
  aborted: boolean;
  /** An answer was written (or the request was abandoned): nothing more is sent. */
  settled: boolean;
  /** The body's wire format, from the route and headers; shapes the answer too. */
  format: IngestFormat;
  encoding: BodyEncoding;
}

/**
 * Builds the uWebSockets.js app: `POST /api/v1/write`, `GET /metrics`, `/healthz`,
 * `/readyz`. The ingest thread only checks headers, copies the body into a buffer of its
 * own and moves it to a worker; it never parses protobuf.
 */
export function createIngestApp(context: IngestContext): uWS.TemplatedApp {
  const app = uWS.App();
  app.post(REMOTE_WRITE_PATH, (res, req) => handleWrite(context, res, req, 'remote-write'));
  app.post(OTLP_METRICS_PATH, (res, req) => handleWrite(context, res, req, 'otlp'));
  app.get('/metrics', (res) => handleMetrics(context, res));
  if (context.tsdbStatus !== undefined) {
    const tsdbStatus = context.tsdbStatus.bind(context);
    app.get('/api/v1/status/tsdb', (res, req) => handleTsdbStatus(tsdbStatus, res, req));
  }
  app.get('/healthz', (res) => {
    res.writeStatus(statusLine(200)).writeHeader('content-type', 'text/plain').end('ok\n');
  });
  app.get('/readyz', (res) => {
    const ready = context.isAccepting();
    res
      .writeStatus(statusLine(ready ? 200 : 503))
      .writeHeader('content-type', 'text/plain')
      .end(ready ? 'ready\n' : 'shutting down\n');
  });
  app.any('/*', (res) => {
    res.writeStatus(statusLine(404)).writeHeader('content-type', 'text/plain').end('not found\n');
  });
  return app;
}

function handleWrite(
  context: IngestContext,
  res: uWS.HttpResponse,
  req: uWS.HttpRequest,
  route: 'remote-write' | 'otlp',
): void {
  const state: WriteRequestState = {
    startedAt: performance.now(),
    aborted: false,
    settled: false,
    format: route === 'otlp' ? 'otlp-proto' : 'rw1',
    encoding: route === 'otlp' ? 'identity' : 'snappy',
  };
  if (route === 'otlp') {
    const checked = checkOtlpHeaders(
      req.getHeader('content-type'),
      req.getHeader('content-encoding'),
    );
    if (checked instanceof IngestError) {
      answerError(context, res, state, checked);
      return;
    }
    state.format = checked.format;
    state.encoding = checked.encoding;
  }
  if (!context.isAccepting()) {
    answerError(context, res, state, new IngestError('shutting_down', 'proxy is shutting down'));
    return;
  }
  if (route === 'remote-write') {
    const contentType = req.getHeader('content-type');
    const headerError = checkWriteHeaders(contentType, req.getHeader('content-encoding'));
    if (headerError !== undefined) {
      answerError(context, res, state, headerError);
      return;
    }
    state.format = remoteWriteVersion(contentType);
  }
  const declaredBytes = parseContentLength(req.getHeader('content-length'));
  if (declaredBytes !== undefined && declaredBytes > context.maxRequestBytes) {
    answerError(context, res, state, tooLarge(declaredBytes, context.maxRequestBytes));
    return;
  }

  context.inFlight.begin();
  context.metrics.inFlight.inc();
  let requestDone = false;
  const finishRequest = () => {
    if (requestDone) return;
    requestDone = true;
    context.metrics.inFlight.dec();
    context.inFlight.end();
  };
  const body = new RequestBody(declaredBytes, context.maxRequestBytes);
  let bodyComplete = false;
  res.onAborted(() => {
    state.aborted = true;
    // Before the body is complete nothing else will finish the request.
    if (!bodyComplete) finishRequest();
  });
  res.onData((chunk, isLast) => {
    if (state.settled || state.aborted) return;
    if (!body.append(chunk)) {
      answerError(
        context,
        res,
        state,
        tooLarge(body.length + chunk.byteLength, context.maxRequestBytes),
      );
      finishRequest();
      return;
    }
    if (!isLast) return;
    bodyComplete = true;
    context.metrics.bytesIn.inc(body.length);
    processAndForward(context, res, state, body.bytes()).finally(finishRequest);
  });
}

async function processAndForward(
  context: IngestContext,
  res: uWS.HttpResponse,
  state: WriteRequestState,
  body: Uint8Array<ArrayBuffer>,
): Promise<void> {
  try {
    const response = await context
      .process(body, state.format, state.encoding)
      .catch((error: unknown) => {
        // A refusal with its own reason (e.g. two-tier routing) keeps it.
        if (error instanceof IngestError) throw error;
        const message = error instanceof Error ? error.message : String(error);
        return {
          ok: false,
          code: 'internal',
          message: `pipeline worker failed: ${message}`,
        } as const;
      });
    if (!response.ok) {
      throw new IngestError(FAILURE_REASON[response.code], response.message);
    }
    context.metrics.recordPipeline(response.stats, response.ruleHits);
    await forwardResponse(context, response);
    const success = successAnswer(state.format, response.conversion);
    answer(context, res, state, success.status, undefined, success);
  } catch (error) {
    const ingestError =
      error instanceof IngestError
        ? error
        : new IngestError('worker', error instanceof Error ? error.message : String(error));
    answerError(context, res, state, ingestError);
  }
}

/**
 * Delivers what a request left to send: the pipeline's output and, in a split experiment,
 * the candidate arm's output too. A request with nothing left (every series dropped, no
 * metadata) is done at once.
 */
export async function forwardResponse(
  context: IngestContext,
  response: ProcessSuccess,
): Promise<void> {
  const sends: Promise<void>[] = [];
  if (response.stats.seriesOut > 0 || response.stats.metadataOut > 0) {
    sends.push(context.forward(response.payload));
    context.metrics.bytesOut.inc(response.payload.byteLength);
  }
  if (response.alsoForward !== undefined) {
    sends.push(context.forward(response.alsoForward));
    context.metrics.bytesOut.inc(response.alsoForward.byteLength);
  }
  await Promise.all(sends);
}

function tooLarge(bytes: number, maxBytes: number): IngestError {
  return new IngestError(
    'too_large',
    `request body of ${bytes} bytes or more exceeds the limit of ${maxBytes} bytes`,
  );
}

function answerError(
  context: IngestContext,
  res: uWS.HttpResponse,
  state: WriteRequestState,
  error: IngestError,
): void {
  if (error.status >= 500 || error.reason === 'upstream_rejected') {
    context.errorLog.error(error.reason, 'request_failed', {
      reason: error.reason,
      status: error.status,
      message: error.message,
    });
  }
  answer(context, res, state, error.status, error);
}

/**
 * Writes the answer once, unless the sender went away. Refusals before the body was read
 * and answers during shutdown close the connection: the unread body cannot be trusted to
 * be skipped, and a draining proxy should not keep connections alive.
 */
function answer(
  context: IngestContext,
  res: uWS.HttpResponse,
  state: WriteRequestState,
  status: number,
  error?: IngestError,
  success?: WireAnswer,
): void {
  if (state.settled) return;
  state.settled = true;
  context.metrics.recordAnswer(status, (performance.now() - state.startedAt) / 1000, error?.reason);
  if (state.aborted) return;
  const closeConnection =
    !context.isAccepting() ||
    error?.reason === 'too_large' ||
    error?.reason === 'unsupported_media_type' ||
    error?.reason === 'unsupported_encoding' ||
    error?.reason === 'shutting_down';
  res.cork(() => {
    if (success !== undefined) {
      res.writeStatus(statusLine(success.status));
      for (const [name, value] of success.headers) res.writeHeader(name, value);
      // `end()` without a body writes `Content-Length: 0` and keeps the connection alive.
      if (success.body === undefined) res.end(undefined, closeConnection);
      else res.end(success.body, closeConnection);
      return;
    }
    res.writeStatus(statusLine(status));
    if (error === undefined) {
      // `end()` without a body writes `Content-Length: 0` and keeps the connection alive;
      // `endWithoutBody(undefined)` announces 2^63 bytes and closes it after every answer.
      res.end(undefined, closeConnection);
      return;
    }
    if (error.retryAfter !== undefined) res.writeHeader('retry-after', error.retryAfter);
    const formatBody = errorAnswerBody(state.format, status, error.message);
    if (formatBody !== undefined) {
      res.writeHeader('content-type', formatBody.contentType);
      res.end(formatBody.body, closeConnection);
      return;
    }
    res.writeHeader('content-type', 'text/plain; charset=utf-8');
    res.end(`${error.message}\n`, closeConnection);
  });
}

function handleTsdbStatus(
  tsdbStatus: (queryString: string) => Promise<{ status: number; body: string }>,
  res: uWS.HttpResponse,
  req: uWS.HttpRequest,
): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  tsdbStatus(req.getQuery() ?? '').then(
    ({ status, body }) => {
      if (aborted) return;
      res.cork(() => {
        res
          .writeStatus(statusLine(status))
          .writeHeader('content-type', 'application/json')
          .end(body);
      });
    },
    (error: unknown) => {
      if (aborted) return;
      const message = error instanceof Error ? error.message : String(error);
      res.cork(() => {
        res
          .writeStatus(statusLine(500))
          .writeHeader('content-type', 'application/json')
          .end(JSON.stringify({ status: 'error', errorType: 'internal', error: message }));
      });
    },
  );
}

function handleMetrics(context: IngestContext, res: uWS.HttpResponse): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  context.metrics.render().then(
    ({ contentType, text }) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(statusLine(200)).writeHeader('content-type', contentType).end(text);
      });
    },
    (error: unknown) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(statusLine(500)).end(`metrics failed: ${String(error)}\n`);
      });
    },
  );
}
