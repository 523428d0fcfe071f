/**
 * Real servers on loopback for the proxy's tests: a recording remote-write upstream and a
 * scope that shuts down everything a test started, whether it passed or not.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the upstream received. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The client's port: equal across requests when a keep-alive connection was reused. */
  readonly remotePort: number;
}

/** How the upstream answers; defaults to 204 with no body. */
export interface UpstreamReply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Wait this long before answering, in ms (a slow upstream). */
  readonly delayMs?: number;
}

/** A `node:http` server standing in for a remote-write backend; it records every request. */
export interface RecordingUpstream {
  /** `http://127.0.0.1:PORT/api/v1/write` */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Changes how later requests are answered. */
  reply(next: UpstreamReply | ((request: RecordedRequest) => UpstreamReply)): void;
  close(): Promise<void>;
}

export async function startRecordingUpstream(
  initial: UpstreamReply = { status: 204 },
): Promise<RecordingUpstream> {
  const requests: RecordedRequest[] = [];
  let replyFor: (request: RecordedRequest) => UpstreamReply = () => initial;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        remotePort: req.socket.remotePort ?? 0,
      };
      requests.push(recorded);
      const reply = replyFor(recorded);
      const send = () => {
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body);
      };
      if (reply.delayMs === undefined) send();
      else setTimeout(send, reply.delayMs);
    });
  });
  // Above undici's 2 s safety margin, or the client would not reuse connections at all.
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/v1/write`,
    requests,
    reply(next) {
      replyFor = typeof next === 'function' ? next : () => next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Something a test started and must stop. */
export interface Closable {
  close(): Promise<void>;
}

/**
 * Collects what a test starts; `closeAll()` (from `afterEach`) stops it in reverse order
 * and keeps going when one of them fails to close.
 */
export class ServerScope {
  #open: Closable[] = [];

  add<T extends Closable>(closable: T): T {
    this.#open.push(closable);
    return closable;
  }

  async closeAll(): Promise<void> {
    const open = this.#open.reverse();
    this.#open = [];
    let firstError: unknown;
    for (const closable of open) {
      try {
        await closable.close();
      } catch (error) {
        firstError ??= error;
      }
    }
    if (firstError !== undefined) throw firstError;
  }
}
