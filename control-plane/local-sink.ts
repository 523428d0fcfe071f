/**
 * A remote-write receiver that keeps nothing: it decodes what arrives, counts it and logs
 * a summary, so someone trying Phoenix (`phoenix up` without `--upstream`) sees traffic
 * flow and what the pipeline left of it, without running a metrics backend.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { fromBinary } from '@bufbuild/protobuf';
import { WriteRequestSchema } from '../proto/gen/prometheus/remote_pb.js';
import { uncompressSnappyBlock } from './services/snappy-block.js';

/** Totals since the sink started. */
export interface SinkTotals {
  requests: number;
  series: number;
  samples: number;
  compressedBytes: number;
  /** Bodies that were not snappy-compressed remote write 1.0. */
  rejected: number;
}

export interface RunningSink {
  /** `http://HOST:PORT/api/v1/write` */
  readonly url: string;
  totals(): SinkTotals;
  close(): Promise<void>;
}

/** Options of {@link startLocalSink}. */
export interface LocalSinkOptions {
  readonly listenHost: string;
  readonly listenPort: number;
  /**
   * Called with the totals on the first write, then every `summaryIntervalMs` in which
   * something arrived.
   */
  readonly onSummary: (summary: { totals: SinkTotals; exampleSeries: string | undefined }) => void;
  /** Default 5000 ms; a quiet interval logs nothing. */
  readonly summaryIntervalMs?: number;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;

export async function startLocalSink(options: LocalSinkOptions): Promise<RunningSink> {
  const totals: SinkTotals = {
    requests: 0,
    series: 0,
    samples: 0,
    compressedBytes: 0,
    rejected: 0,
  };
  let requestsAtLastSummary = 0;
  let exampleSeries: string | undefined;
  const server: Server = createServer((request, response) => {
    if (request.method !== 'POST') {
      response.writeHead(405).end();
      return;
    }
    readBody(request).then(
      (body) => {
        try {
          const decoded = fromBinary(
            WriteRequestSchema,
            uncompressSnappyBlock(body, 8 * MAX_BODY_BYTES),
          );
          totals.requests++;
          totals.compressedBytes += body.length;
          totals.series += decoded.timeseries.length;
          for (const series of decoded.timeseries) totals.samples += series.samples.length;
          const first = decoded.timeseries[0];
          if (first !== undefined) {
            exampleSeries = `{${first.labels.map((label) => `${label.name}=${JSON.stringify(label.value)}`).join(', ')}}`;
          }
          response.writeHead(204).end();
          // The very first write is shown at once: that is when someone is watching.
          if (totals.requests === 1) summarize();
        } catch (error) {
          totals.rejected++;
          response.writeHead(400).end(`not remote write 1.0: ${(error as Error).message}`);
        }
      },
      () => response.writeHead(413).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort, options.listenHost, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.listenPort;
  const summarize = () => {
    if (totals.requests === requestsAtLastSummary) return;
    requestsAtLastSummary = totals.requests;
    options.onSummary({ totals: { ...totals }, exampleSeries });
  };
  const timer = setInterval(summarize, options.summaryIntervalMs ?? 5_000);
  timer.unref();
  return {
    url: `http://${options.listenHost}:${port}/api/v1/write`,
    totals: () => ({ ...totals }),
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        request.destroy();
        reject(new Error('body too large'));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}
