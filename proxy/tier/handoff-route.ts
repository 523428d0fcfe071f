/**
 * `POST /api/v1/tier/handoff` on an aggregator: another member's aggregation state for
 * groups this member owns now (wasm/ABI.md, "Hand-off between replicas"). The sender
 * names itself in `X-Phoenix-Handoff-From`. Answers 204 once the state is merged, 400
 * for bytes that are not a hand-off, 503 when shutting down.
 */
import type uWS from 'uWebSockets.js';
import { statusLine } from '../server/ingest-error.js';

export const HANDOFF_PATH = '/api/v1/tier/handoff';
export const HANDOFF_FROM_HEADER = 'x-phoenix-handoff-from';
/** Larger than any hand-off of a sane state, small enough to bound memory. */
const MAX_HANDOFF_BYTES = 1024 * 1024 * 1024;

export type HandoffReceiver = (from: string, bytes: Uint8Array) => Promise<number>;

export function registerHandoffRoute(app: uWS.TemplatedApp, receive: HandoffReceiver): void {
  app.post(HANDOFF_PATH, (res, req) => {
    const from = req.getHeader(HANDOFF_FROM_HEADER);
    const chunks: Uint8Array[] = [];
    let size = 0;
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const reply = (status: number, text: string): void => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(statusLine(status)).writeHeader('content-type', 'text/plain').end(text);
      });
    };
    res.onData((chunk, isLast) => {
      // uWebSockets.js reuses the chunk's memory after this callback: copy it.
      chunks.push(new Uint8Array(chunk.slice(0)));
      size += chunk.byteLength;
      if (size > MAX_HANDOFF_BYTES) {
        if (!aborted) res.close();
        aborted = true;
        return;
      }
      if (!isLast || aborted) return;
      const body = new Uint8Array(size);
      let offset = 0;
      for (const piece of chunks) {
        body.set(piece, offset);
        offset += piece.length;
      }
      if (from === '') {
        reply(400, `missing ${HANDOFF_FROM_HEADER}\n`);
        return;
      }
      receive(from, body).then(
        () => reply(204, ''),
        (error: unknown) => {
          const message = error instanceof Error ? error.message : String(error);
          reply(message.includes('malformed') ? 400 : 503, `${message}\n`);
        },
      );
    });
  });
}
