/**
 * Entry of the tier routing thread: runs a {@link GroupRouter} off the ingest thread,
 * which never parses protobuf. Classification needs each rule's input relabeling, so the
 * thread loads the rules' relabel engines once.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { compress, uncompress } from 'snappyjs';
import { RuleRelabelers } from '../aggregation/rule-relabel.js';
import { snappyHeader } from '../delivery/batch.js';
import { GroupRouter } from './group-router.js';
import type { FromRouter, RouterSetup, RouteTask } from './router-protocol.js';
import { MemberRing } from './routing-key.js';

const setup = workerData as RouterSetup;
const port = parentPort!;
const rings = new Map<string, MemberRing>();

function ringOf(names: readonly string[]): MemberRing {
  const key = names.join('\n');
  let ring = rings.get(key);
  if (ring === undefined) {
    if (rings.size > 16) rings.clear();
    ring = new MemberRing(names);
    rings.set(key, ring);
  }
  return ring;
}

function post(message: FromRouter, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

try {
  const relabelers = await RuleRelabelers.load(setup.rules);
  const router = new GroupRouter(setup.rules, (rule, labels) =>
    relabelers.relabelInput(rule, labels),
  );
  port.on('message', (task: RouteTask) => {
    try {
      const declared = snappyHeader(task.payload).uncompressedBytes;
      if (declared > setup.maxDecompressedBytes) {
        throw new Error(`payload of ${declared} bytes exceeds ${setup.maxDecompressedBytes}`);
      }
      const routed = router.route(
        uncompress(task.payload, setup.maxDecompressedBytes),
        ringOf(task.members),
        task.previous === undefined ? undefined : ringOf(task.previous),
      );
      const parts = routed.parts.map((part) =>
        part.length === 0 ? new Uint8Array(0) : compress(part),
      );
      post(
        {
          kind: 'routed',
          id: task.id,
          parts,
          movedFrom: [...routed.movedFrom].map(([index, from]) => [index, [...from]] as const),
        },
        parts.filter((part) => part.length > 0).map((part) => part.buffer as ArrayBuffer),
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      post({ kind: 'refused', id: task.id, message });
    }
  });
  post({ kind: 'ready' });
} catch (error) {
  post({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
}
