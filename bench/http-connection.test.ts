import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpConnection } from './http-connection.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A node:http server answering each request with `answer`; resolves to its URL. */
async function serve(
  answer: (
    body: Buffer,
    respond: (status: number, headers: Record<string, string>, text?: string) => void,
  ) => void,
  ports: number[],
): Promise<URL> {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      ports.push(req.socket.remotePort ?? 0);
      answer(Buffer.concat(chunks), (status, headers, text) => {
        res.writeHead(status, headers);
        res.end(text);
      });
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`);
}

describe('HttpConnection', () => {
  it('sends the body and reuses one connection for every request', async () => {
    const ports: number[] = [];
    const bodies: string[] = [];
    const url = await serve((body, respond) => {
      bodies.push(body.toString());
      respond(204, {});
    }, ports);
    const connection = new HttpConnection(url);
    for (const text of ['one', 'two', 'three']) {
      const answer = await connection.post(
        url.pathname,
        { 'content-type': 'text/plain' },
        Buffer.from(text),
      );
      expect(answer).toEqual({ status: 204, body: '' });
    }
    connection.close();
    expect(bodies).toEqual(['one', 'two', 'three']);
    expect(new Set(ports).size).toBe(1);
  });

  it('reads error bodies by Content-Length', async () => {
    const text = 'upstream said no\n';
    const url = await serve(
      (_body, respond) => respond(429, { 'content-length': String(text.length) }, text),
      [],
    );
    const connection = new HttpConnection(url);
    expect(await connection.post(url.pathname, {}, Buffer.from('x'))).toEqual({
      status: 429,
      body: text,
    });
    expect(await connection.post(url.pathname, {}, Buffer.from('y'))).toEqual({
      status: 429,
      body: text,
    });
    connection.close();
  });

  it('reads chunked error bodies', async () => {
    const url = await serve((_body, respond) => respond(400, {}, 'bad labels in series 3\n'), []);
    const connection = new HttpConnection(url);
    expect(await connection.post(url.pathname, {}, Buffer.from('x'))).toEqual({
      status: 400,
      body: 'bad labels in series 3\n',
    });
    connection.close();
  });

  it('opens a new connection after the server said connection: close', async () => {
    const ports: number[] = [];
    const url = await serve((_body, respond) => respond(204, { connection: 'close' }), ports);
    const connection = new HttpConnection(url);
    for (let i = 0; i < 3; i++) {
      expect((await connection.post(url.pathname, {}, Buffer.from('x'))).status).toBe(204);
    }
    connection.close();
    expect(new Set(ports).size).toBe(3);
  });

  it('fails when the server goes away without answering', async () => {
    const url = await serve(() => {
      server?.closeAllConnections();
    }, []);
    const connection = new HttpConnection(url);
    await expect(connection.post(url.pathname, {}, Buffer.from('x'))).rejects.toThrow(/closed/);
    connection.close();
  });
});
