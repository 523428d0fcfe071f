/**
 * One cleartext port for HTTP/1.1 and HTTP/2 (h2c with prior knowledge, what gRPC clients
 * speak). Node 20's `http2.createServer` has no HTTP/1.1 fallback without TLS, so the first
 * bytes of each connection pick the server: the HTTP/2 preface starts with `PRI `.
 */
import type { Server as Http1Server } from 'node:http';
import type { Http2Server } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';

const HTTP2_PREFACE_START = Buffer.from('PRI ', 'latin1');

/**
 * A TCP server that hands each connection to `http1` or `http2`. `sockets` gets every
 * accepted socket so a shutdown can destroy them.
 */
export function createDualProtocolListener(
  http1: Http1Server,
  http2: Http2Server,
  sockets: Set<Socket>,
): Server {
  return createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.once('data', (first: Buffer) => {
      socket.pause();
      if (first.subarray(0, HTTP2_PREFACE_START.length).equals(HTTP2_PREFACE_START)) {
        http2.emit('connection', replayingStream(socket, first));
      } else {
        socket.unshift(first);
        http1.emit('connection', socket);
        socket.resume();
      }
    });
  });
}

/**
 * The HTTP/2 server reads a plain socket natively, past anything unshifted in JavaScript,
 * so it gets a stream that replays the bytes already read and then relays the socket.
 */
function replayingStream(socket: Socket, first: Buffer): Duplex {
  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  stream.push(first);
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('error', (error) => stream.destroy(error));
  socket.on('close', () => stream.destroy());
  return stream;
}
