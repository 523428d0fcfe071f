/**
 * A minimal HTTP/1.1 client connection for the load generator: one keep-alive socket, one
 * POST at a time, the response read by its `Content-Length`, chunked, or as empty for
 * 204/304.
 *
 * The harness speaks HTTP itself rather than through undici because undici refuses a
 * response whose `Content-Length` disagrees with its (empty) body, and uWebSockets.js'
 * `endWithoutBody()` answers 204 with a bogus `Content-Length: 9223372036854775808`; a
 * benchmark must measure the proxy, not trip over a header senders such as Prometheus
 * ignore. It is also cheaper, leaving more of the shared cores to the target.
 */

import { connect, type Socket } from 'node:net';

/** The status and body of one answer. */
export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** One keep-alive connection; reconnects when the server closed it. */
export class HttpConnection {
  readonly #host: string;
  readonly #port: number;
  #socket: Socket | undefined;
  #pending: Buffer = Buffer.alloc(0);
  #waiter: ((error: Error | undefined) => void) | undefined;
  #closedByServer = false;

  constructor(url: URL) {
    this.#host = url.hostname;
    this.#port = Number(url.port || 80);
  }

  /** Sends one request and resolves with the answer. */
  async post(
    path: string,
    headers: Readonly<Record<string, string>>,
    body: Uint8Array,
  ): Promise<HttpAnswer> {
    const socket = await this.#connected();
    let head = `POST ${path} HTTP/1.1\r\nhost: ${this.#host}:${this.#port}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    head += `content-length: ${body.length}\r\n\r\n`;
    socket.cork();
    socket.write(head);
    socket.write(body);
    socket.uncork();
    return this.#readAnswer();
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  async #connected(): Promise<Socket> {
    if (this.#socket !== undefined && !this.#closedByServer) return this.#socket;
    this.close();
    this.#closedByServer = false;
    this.#pending = Buffer.alloc(0);
    const socket = connect({ host: this.#host, port: this.#port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.#socket !== socket) return;
      this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
      this.#wake(undefined);
    });
    socket.on('error', (error) => {
      if (this.#socket === socket) this.#wake(error);
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#closedByServer = true;
      this.#wake(new Error('connection closed by the server'));
    });
    this.#socket = socket;
    return socket;
  }

  #wake(error: Error | undefined): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(error);
  }

  async #readAnswer(): Promise<HttpAnswer> {
    for (;;) {
      const answer = this.#parse();
      if (answer !== undefined) return answer;
      if (this.#closedByServer) throw new Error('connection closed by the server');
      const error = await new Promise<Error | undefined>((resolve) => {
        this.#waiter = resolve;
      });
      if (error !== undefined) {
        const late = this.#parse();
        if (late !== undefined) return late;
        this.close();
        throw error;
      }
    }
  }

  /** An answer complete in the buffer (consumed), or undefined when more bytes are needed. */
  #parse(): HttpAnswer | undefined {
    const headerEnd = this.#pending.indexOf(HEADER_END);
    if (headerEnd < 0) return undefined;
    const head = this.#pending.toString('latin1', 0, headerEnd);
    const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (statusMatch === null)
      throw new Error(`not an HTTP answer: ${JSON.stringify(head.slice(0, 80))}`);
    const status = Number(statusMatch[1]);
    const bodyStart = headerEnd + HEADER_END.length;
    let body: string;
    let end: number;
    if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const chunked = readChunked(this.#pending, bodyStart);
      if (chunked === undefined) return undefined;
      ({ body, end } = chunked);
    } else {
      const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const bodyBytes =
        status === 204 || status === 304 || lengthMatch === null ? 0 : Number(lengthMatch[1]);
      if (this.#pending.length < bodyStart + bodyBytes) return undefined;
      body = this.#pending.toString('utf8', bodyStart, bodyStart + bodyBytes);
      end = bodyStart + bodyBytes;
    }
    this.#pending = this.#pending.subarray(end);
    if (/\r\nconnection:\s*close/i.test(head)) this.#closedByServer = true;
    return { status, body };
  }
}

/** A chunked body complete in `buffer` from `start`: its text and where it ends. */
function readChunked(buffer: Buffer, start: number): { body: string; end: number } | undefined {
  const parts: Buffer[] = [];
  let position = start;
  for (;;) {
    const lineEnd = buffer.indexOf('\r\n', position);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(buffer.toString('latin1', position, lineEnd), 16);
    if (!Number.isFinite(size)) throw new Error('malformed chunk size in an answer');
    position = lineEnd + 2;
    if (size === 0) {
      // No trailers are expected: the body ends with an empty line.
      if (buffer.length < position + 2) return undefined;
      return { body: Buffer.concat(parts).toString('utf8'), end: position + 2 };
    }
    if (buffer.length < position + size + 2) return undefined;
    parts.push(buffer.subarray(position, position + size));
    position += size + 2;
  }
}
