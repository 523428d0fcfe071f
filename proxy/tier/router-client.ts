/** The ingest thread's handle on the tier routing thread (`router-thread.ts`). */
import { Worker } from 'node:worker_threads';
import type { AggregationRule } from '../pipeline/aggregation-config.js';
import type { FromRouter, RouterSetup, RouteTask } from './router-protocol.js';

export interface RoutedPayload {
  /** Per member (in the order given), a snappy WriteRequest; empty: nothing for it. */
  readonly parts: Uint8Array[];
  /** Per member index, the earlier owners of groups it got. */
  readonly movedFrom: ReadonlyMap<number, readonly string[]>;
}

export interface RouterThread {
  /** Routes a copy of `payload`; rejects with the reason a malformed request is refused. */
  route(
    payload: Uint8Array,
    members: readonly string[],
    previous?: readonly string[],
  ): Promise<RoutedPayload>;
  close(): Promise<void>;
}

export async function startRouterThread(
  rules: readonly AggregationRule[],
  maxDecompressedBytes: number,
): Promise<RouterThread> {
  const setup: RouterSetup = { rules, maxDecompressedBytes };
  const worker = new Worker(new URL(threadFileUrl()), { workerData: setup });
  const waiting = new Map<number, (message: FromRouter) => void>();
  let nextId = 0;
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (message: FromRouter) => {
      if (message.kind === 'ready') resolve();
      else if (message.kind === 'failed')
        reject(new Error(`tier routing failed to start: ${message.message}`));
      else {
        waiting.get(message.id)?.(message);
        waiting.delete(message.id);
      }
    });
    worker.on('error', (error) => {
      reject(error);
      for (const answer of waiting.values()) {
        answer({
          kind: 'refused',
          id: -1,
          message: `tier routing thread failed: ${error.message}`,
        });
      }
      waiting.clear();
    });
  });
  return {
    route(payload, members, previous) {
      const id = nextId++;
      const copy = payload.slice();
      const task: RouteTask = { id, payload: copy, members, previous };
      return new Promise((resolve, reject) => {
        waiting.set(id, (message) => {
          if (message.kind === 'routed') {
            resolve({ parts: message.parts, movedFrom: new Map(message.movedFrom) });
          } else if (message.kind === 'refused') {
            reject(new Error(message.message));
          }
        });
        worker.postMessage(task, [copy.buffer]);
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}

/** The thread entry; compiled JavaScript from `dist/` when running from the sources. */
function threadFileUrl(): string {
  const here = import.meta.url;
  return here.endsWith('.ts')
    ? new URL('../../dist/proxy/tier/router-thread.js', here).href
    : new URL('./router-thread.js', here).href;
}
