/**
 * The remote-write receiver at the end of the benchmark pipeline: it decompresses every
 * request (with the AssemblyScript snappy codec), counts its series and samples (and distinct series by label hash) and answers
 * 204. It runs on uWebSockets.js in the bench process, so it takes as little CPU as a
 * receiver can and leaves the cores to the process being measured.
 */

import uWS from 'uWebSockets.js';
import { countWriteRequest, type RemoteWriteCounts, SeriesHashSet } from './remote-write-count.js';
import { createSnappyDecompressor } from './wasm-snappy.js';

/** Totals since the sink started or was last reset. */
export interface SinkTotals {
  readonly requests: number;
  /** Requests that were not valid snappy + WriteRequest (answered 400). */
  readonly badRequests: number;
  /** Compressed bytes received (request bodies). */
  readonly bytes: number;
  readonly series: number;
  readonly samples: number;
  /** Distinct label sets seen (by a 64-bit hash of their bytes). */
  readonly distinctSeries: number;
}

/** A running sink. */
export interface Sink {
  /** Where to send: `http://127.0.0.1:PORT/api/v1/write`. */
  readonly url: string;
  readonly port: number;
  totals(): SinkTotals;
  /** Zeroes the counters and forgets the distinct series. */
  reset(): void;
  close(): void;
}

/** Options of {@link startSink}. */
export interface SinkOptions {
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Count distinct series (hashes every label byte). Default true. */
  readonly countDistinctSeries?: boolean;
}

export const SINK_PATH = '/api/v1/write';

/** Starts the sink; resolves once it listens. */
export async function startSink(options: SinkOptions = {}): Promise<Sink> {
  const host = options.host ?? '127.0.0.1';
  const countDistinct = options.countDistinctSeries ?? true;
  let counts: RemoteWriteCounts = { series: 0, samples: 0 };
  let seriesHashes = new SeriesHashSet();
  let requests = 0;
  let badRequests = 0;
  let bytes = 0;
  // Phoenix's own snappy codec, standalone: about 50 times cheaper per byte than napi
  // snappy here (see the micro benchmarks), so the sink leaves the cores to the target.
  const snappy = await createSnappyDecompressor();

  const receive = (body: Buffer): number => {
    requests++;
    bytes += body.length;
    try {
      const raw = snappy.decompress(body);
      const before = { ...counts };
      try {
        countWriteRequest(raw, counts, countDistinct ? seriesHashes : undefined);
      } catch (error) {
        counts = before;
        throw error;
      }
      return 204;
    } catch {
      badRequests++;
      return 400;
    }
  };

  const app = uWS.App();
  app.post(SINK_PATH, (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const chunks: Buffer[] = [];
    res.onData((chunk, isLast) => {
      // uWebSockets.js reuses the chunk's memory after this callback: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (!isLast || aborted) return;
      const status = receive(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      res.cork(() => {
        res.writeStatus(status === 204 ? '204 No Content' : '400 Bad Request').end();
      });
    });
  });
  app.any('/*', (res) => {
    res.writeStatus('404 Not Found').end();
  });

  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(host, options.port ?? 0, (socket) => {
      if (socket === false) reject(new Error(`sink cannot listen on ${host}:${options.port ?? 0}`));
      else resolve(socket);
    });
  });
  const port = uWS.us_socket_local_port(listenSocket);
  return {
    url: `http://${host}:${port}${SINK_PATH}`,
    port,
    totals: () => ({
      requests,
      badRequests,
      bytes,
      series: counts.series,
      samples: counts.samples,
      distinctSeries: seriesHashes.size,
    }),
    reset: () => {
      counts = { series: 0, samples: 0 };
      seriesHashes = new SeriesHashSet();
      requests = 0;
      badRequests = 0;
      bytes = 0;
    },
    close: () => {
      uWS.us_listen_socket_close(listenSocket);
      (app as uWS.TemplatedApp & { close?: () => void }).close?.();
    },
  };
}
