/**
 * Entry of the delta accumulator thread. The whole proxy has exactly one: it owns the
 * running totals of OTLP delta series, so the cumulative values cannot depend on how many
 * pipeline workers there are or which of them converted a request. It parses protobuf,
 * which the ingest thread never does, and snapshots its state to the data dir.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { compress } from 'snappyjs';
import { DeltaAccumulator } from './delta-accumulator.js';
import type { DeltaThreadSetup, FromDeltaThread, ToDeltaThread } from './delta-protocol.js';
import { readDeltaSnapshot, writeDeltaSnapshot } from './delta-snapshot.js';

const setup = workerData as DeltaThreadSetup;
const port = parentPort!;
const accumulator = new DeltaAccumulator();

function post(message: FromDeltaThread, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** Writes the state when it changed; a failure is reported and the next attempt retries. */
async function snapshot(): Promise<void> {
  if (setup.dataDir === undefined || !accumulator.changed) return;
  try {
    await writeDeltaSnapshot(setup.dataDir, accumulator.snapshot());
  } catch (error) {
    post({
      kind: 'event',
      level: 'error',
      event: 'otlp_delta_snapshot_failed',
      fields: { message: error instanceof Error ? error.message : String(error) },
    });
  }
}

if (setup.dataDir !== undefined) {
  const read = await readDeltaSnapshot(setup.dataDir);
  if (read.kind === 'state') {
    accumulator.restore(read.entries);
    post({
      kind: 'event',
      level: 'info',
      event: 'otlp_delta_state_restored',
      fields: { series: accumulator.size },
    });
  } else if (read.kind === 'unusable') {
    post({
      kind: 'event',
      level: 'warn',
      event: 'otlp_delta_snapshot_ignored',
      fields: { reason: read.reason },
    });
  }
}
let snapshotting: Promise<void> = Promise.resolve();
const timer = setInterval(() => {
  snapshotting = snapshotting.then(snapshot);
}, setup.snapshotIntervalMs);

port.on('message', (message: ToDeltaThread) => {
  if (message.kind === 'accumulate') {
    try {
      const result = accumulator.accumulate(message.body);
      const payload =
        result.series === 0 ? undefined : (compress(result.rw1) as Uint8Array<ArrayBuffer>);
      post(
        {
          kind: 'accumulated',
          id: message.id,
          payload,
          rejected: result.rejected,
          message: result.message,
        },
        payload === undefined ? [] : [payload.buffer],
      );
    } catch (error) {
      post({
        kind: 'failed',
        id: message.id,
        message: error instanceof Error ? error.message : String(error),
      });
    }
    return;
  }
  clearInterval(timer);
  snapshotting = snapshotting.then(snapshot).then(() => post({ kind: 'closed' }));
});
post({ kind: 'ready' });
