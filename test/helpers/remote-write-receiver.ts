import { createServer, type IncomingMessage, type Server } from 'node:http';
import { fromBinary } from '@bufbuild/protobuf';
import { uncompressSync } from 'snappy';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import { LOOPBACK_HOST } from './ports.js';

/** One distinct series a receiver saw on one path, with its latest sample. */
export interface ReceivedSeries {
  /** Labels in the order the sender wrote them. */
  labels: Record<string, string>;
  lastValue: number | undefined;
  sampleCount: number;
}

/** A remote-write 1.0 endpoint on the loopback that keeps what it decoded, by URL path. */
export interface RemoteWriteReceiver {
  /** Base URL, e.g. `http://127.0.0.1:40123`; any path under it accepts writes. */
  readonly url: string;
  /** Series received on `path`, keyed by their label set. */
  series(path: string): ReceivedSeries[];
  /** Write requests received on `path`, including ones that carried only metadata. */
  requestCount(path: string): number;
  /** Bodies that failed to decompress or decode, with the reason; a test expects none. */
  readonly decodeErrors: string[];
  close(): Promise<void>;
}

/**
 * Starts a receiver that decodes every POSTed body as snappy-compressed `WriteRequest`, so
 * a test can see exactly which label sets a sender wrote. Each URL path is a separate
 * mailbox: one Prometheus with many `remote_write` entries can write each to its own path.
 */
export async function startRemoteWriteReceiver(): Promise<RemoteWriteReceiver> {
  const byPath = new Map<string, Map<string, ReceivedSeries>>();
  const requestsByPath = new Map<string, number>();
  const decodeErrors: string[] = [];

  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://receiver').pathname;
    if (request.method !== 'POST') {
      response.writeHead(405).end();
      return;
    }
    readBody(request).then(
      (body) => {
        try {
          const writeRequest = fromBinary(WriteRequestSchema, uncompressSync(body) as Buffer);
          requestsByPath.set(path, (requestsByPath.get(path) ?? 0) + 1);
          let mailbox = byPath.get(path);
          if (mailbox === undefined) {
            mailbox = new Map();
            byPath.set(path, mailbox);
          }
          for (const timeSeries of writeRequest.timeseries) {
            const labels: Record<string, string> = {};
            for (const label of timeSeries.labels) labels[label.name] = label.value;
            const key = JSON.stringify(timeSeries.labels.map((label) => [label.name, label.value]));
            const entry = mailbox.get(key) ?? { labels, lastValue: undefined, sampleCount: 0 };
            for (const sample of timeSeries.samples) {
              entry.lastValue = sample.value;
              entry.sampleCount++;
            }
            mailbox.set(key, entry);
          }
          response.writeHead(204).end();
        } catch (error) {
          decodeErrors.push(`${path}: ${error instanceof Error ? error.message : String(error)}`);
          response.writeHead(400).end('cannot decode write request');
        }
      },
      () => response.writeHead(400).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('receiver has no port');

  return {
    url: `http://${LOOPBACK_HOST}:${address.port}`,
    series: (path) => [...(byPath.get(path)?.values() ?? [])],
    requestCount: (path) => requestsByPath.get(path) ?? 0,
    decodeErrors,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}
