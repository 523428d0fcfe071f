/**
 * A remote-write sender for delivery tests that knows exactly which samples were
 * acknowledged: it behaves like one Prometheus shard per lane (one request at a time,
 * retrying the same request on 429/5xx and network errors, like the remote-write spec
 * asks), and records a request's samples as acknowledged only on a 2xx.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { compressSync } from 'snappy';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import {
  LabelSchema,
  SampleSchema,
  TimeSeriesSchema,
} from '../../proto/gen/prometheus/types_pb.js';

/** Options of {@link startRemoteWriteLoad}. */
export interface RemoteWriteLoadOptions {
  /** Metric name of every series. */
  metric: string;
  /** Concurrent in-order senders, each with its own series. */
  lanes: number;
  /** Series per lane; every request carries one new sample of each. */
  seriesPerLane: number;
  /** Pause between two requests of a lane, in ms. */
  intervalMs: number;
  /** Where to send; read before every attempt, so a test can point it at a restarted proxy. */
  target(): string;
}

/** A running load. */
export interface RemoteWriteLoad {
  /** Acknowledged samples, by series key (`lane-<l>-series-<s>`), as timestamp → value. */
  readonly acknowledged: Map<string, Map<number, number>>;
  /** Requests acknowledged so far. */
  acknowledgedRequests(): number;
  /** Attempts that failed and were retried, by status code or `network`. */
  readonly failures: Map<string, number>;
  /** Stops sending; resolves once every lane ended (the attempt in flight finishes). */
  stop(): Promise<void>;
}

/** Starts the lanes; each keeps sending until {@link RemoteWriteLoad.stop}. */
export function startRemoteWriteLoad(options: RemoteWriteLoadOptions): RemoteWriteLoad {
  const acknowledged = new Map<string, Map<number, number>>();
  const failures = new Map<string, number>();
  let requests = 0;
  let stopping = false;

  const runLane = async (lane: number) => {
    let lastTimestampMs = 0;
    let tick = 0;
    while (!stopping) {
      // Strictly increasing timestamps per series, close to now (the receiver refuses
      // samples too far in the past).
      const timestampMs = Math.max(Date.now(), lastTimestampMs + 1);
      lastTimestampMs = timestampMs;
      tick++;
      const keys = Array.from(
        { length: options.seriesPerLane },
        (_, s) => `lane-${lane}-series-${s}`,
      );
      const body = compressSync(
        Buffer.from(
          toBinary(
            WriteRequestSchema,
            create(WriteRequestSchema, {
              timeseries: keys.map((key) =>
                create(TimeSeriesSchema, {
                  labels: [
                    create(LabelSchema, { name: '__name__', value: options.metric }),
                    create(LabelSchema, { name: 'series', value: key }),
                  ],
                  samples: [create(SampleSchema, { value: tick, timestamp: BigInt(timestampMs) })],
                }),
              ),
            }),
          ),
        ),
      );
      // The same request until it is acknowledged (or the load stops: then it never was).
      for (;;) {
        if (stopping) return;
        let status = 'network';
        try {
          const response = await fetch(options.target(), {
            method: 'POST',
            headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
            body,
            signal: AbortSignal.timeout(10_000),
          });
          await response.arrayBuffer();
          status = String(response.status);
          if (response.ok) break;
          if (response.status !== 429 && response.status < 500) {
            throw new Error(`proxy refused a valid request with ${response.status}`);
          }
        } catch (error) {
          if (error instanceof Error && error.message.startsWith('proxy refused')) throw error;
        }
        failures.set(status, (failures.get(status) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      requests++;
      for (const key of keys) {
        let samples = acknowledged.get(key);
        if (samples === undefined) {
          samples = new Map();
          acknowledged.set(key, samples);
        }
        samples.set(timestampMs, tick);
      }
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    }
  };

  const lanes = Array.from({ length: options.lanes }, (_, lane) => runLane(lane));
  return {
    acknowledged,
    acknowledgedRequests: () => requests,
    failures,
    async stop() {
      stopping = true;
      await Promise.all(lanes);
    },
  };
}
