/**
 * The ingest thread's handle on the delta accumulator thread (proxy/otlp/delta-thread.ts).
 * The thread starts with the first request that has delta points, so a proxy that never
 * sees delta temporality runs no extra thread. Bytes only pass through here: the ingest
 * thread never parses them.
 */
import { Worker } from 'node:worker_threads';
import type { ConversionOutcome } from '../wire/ingest-format.js';
import type { DeltaThreadSetup, FromDeltaThread, ToDeltaThread } from './delta-protocol.js';

/** What the accumulator made of one request's delta points. */
export interface DeltaOutcome {
  /** Snappy 1.0 of the cumulative series, to run through the pipeline; absent when none. */
  readonly payload: Uint8Array<ArrayBuffer> | undefined;
  /** Points refused as duplicate or late, with the first reasons. */
  readonly rejected: number;
  readonly message: string;
}

export interface DeltaAccumulation {
  /** Adds `deltaSeries` (transferred) to the running totals; resolves to the totals. */
  accumulate(deltaSeries: Uint8Array): Promise<DeltaOutcome>;
  /** Final snapshot, then the thread ends. Safe to call more than once. */
  close(): Promise<void>;
}

export interface DeltaAccumulationOptions {
  /** Folder of the snapshot; `undefined` keeps the totals in memory only. */
  readonly dataDir: string | undefined;
  /** Default 30 000 ms. */
  readonly snapshotIntervalMs?: number;
  readonly onEvent: (
    level: 'info' | 'warn' | 'error',
    event: string,
    fields: Record<string, unknown>,
  ) => void;
}

interface Waiting {
  resolve(outcome: DeltaOutcome): void;
  reject(error: Error): void;
}

export function deltaAccumulation(options: DeltaAccumulationOptions): DeltaAccumulation {
  let started: Promise<Worker> | undefined;
  let closed: Promise<void> | undefined;
  let resolveClosed: (() => void) | undefined;
  let nextId = 0;
  const waiting = new Map<number, Waiting>();

  const failAll = (error: Error) => {
    for (const entry of waiting.values()) entry.reject(error);
    waiting.clear();
  };

  const start = () =>
    new Promise<Worker>((resolve, reject) => {
      const setup: DeltaThreadSetup = {
        dataDir: options.dataDir,
        snapshotIntervalMs: options.snapshotIntervalMs ?? 30_000,
      };
      const worker = new Worker(new URL(threadFileUrl()), { workerData: setup });
      worker.on('message', (message: FromDeltaThread) => {
        switch (message.kind) {
          case 'ready':
            resolve(worker);
            break;
          case 'accumulated':
            waiting.get(message.id)?.resolve({
              payload: message.payload as Uint8Array<ArrayBuffer> | undefined,
              rejected: message.rejected,
              message: message.message,
            });
            waiting.delete(message.id);
            break;
          case 'failed':
            waiting.get(message.id)?.reject(new Error(`delta accumulator: ${message.message}`));
            waiting.delete(message.id);
            break;
          case 'event':
            options.onEvent(message.level, message.event, message.fields);
            break;
          case 'closed':
            resolveClosed?.();
            break;
        }
      });
      worker.on('error', (error) => {
        options.onEvent('error', 'otlp_delta_thread_error', { message: error.message });
        reject(error);
        failAll(error);
        started = undefined;
        resolveClosed?.();
      });
      worker.on('exit', () => {
        failAll(new Error('delta accumulator thread exited'));
        resolveClosed?.();
      });
    });

  return {
    async accumulate(deltaSeries) {
      if (closed !== undefined) throw new Error('delta accumulator is closed');
      started ??= start();
      const worker = await started;
      const id = nextId++;
      return new Promise<DeltaOutcome>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        const message: ToDeltaThread = { kind: 'accumulate', id, body: deltaSeries };
        worker.postMessage(message, [deltaSeries.buffer as ArrayBuffer]);
      });
    },
    close() {
      closed ??= (async () => {
        const running = await started?.catch(() => undefined);
        if (running === undefined) return;
        await new Promise<void>((resolve) => {
          resolveClosed = resolve;
          const message: ToDeltaThread = { kind: 'close' };
          running.postMessage(message);
        });
        await running.terminate();
      })();
      return closed;
    },
  };
}

/** The sender's answer counts: the conversion's, plus the points the accumulator refused. */
export function withDeltaRejections(
  conversion: ConversionOutcome | undefined,
  delta: DeltaOutcome,
): ConversionOutcome | undefined {
  if (conversion === undefined || delta.rejected === 0) return conversion;
  return {
    ...conversion,
    rejectedPoints: conversion.rejectedPoints + delta.rejected,
    message: conversion.message === '' ? delta.message : `${conversion.message}; ${delta.message}`,
  };
}

/** The thread entry; compiled JavaScript from `dist/` when running from the sources. */
function threadFileUrl(): string {
  const here = import.meta.url;
  return here.endsWith('.ts')
    ? new URL('../../dist/proxy/otlp/delta-thread.js', here).href
    : new URL('./delta-thread.js', here).href;
}
