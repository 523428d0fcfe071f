/**
 * A remote-write sender shaped like Kubernetes traffic: one counter per pod, path and
 * status code, so dropping `pod` visibly shrinks the output. It pushes a request every
 * `intervalMs` until stopped and counts what was acknowledged.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { compressSync } from 'snappy';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import {
  LabelSchema,
  SampleSchema,
  TimeSeriesSchema,
} from '../../proto/gen/prometheus/types_pb.js';

export interface TrafficSender {
  /** Requests answered with a 2xx. */
  acknowledged(): number;
  /** The last non-2xx answer or network error, if any. */
  lastFailure(): string | undefined;
  stop(): Promise<void>;
}

export const TRAFFIC_METRIC = 'http_requests_total';
export const TRAFFIC_PODS = 20;
export const TRAFFIC_PATHS = ['/api/orders', '/api/users', '/healthz'] as const;

/** Series per request: every pod × path, each with one new sample. */
export const TRAFFIC_SERIES = TRAFFIC_PODS * TRAFFIC_PATHS.length;

/** Sends every `intervalMs`; a second sender with another `job` adds its own series. */
export function startTrafficSender(
  writeUrl: string,
  intervalMs: number,
  job = 'shop',
): TrafficSender {
  let stopping = false;
  let acknowledged = 0;
  let lastFailure: string | undefined;
  let tick = 0;
  const loop = (async () => {
    while (!stopping) {
      tick++;
      const timestampMs = Date.now();
      const timeseries = [];
      for (let pod = 0; pod < TRAFFIC_PODS; pod++) {
        for (const path of TRAFFIC_PATHS) {
          const labels: Array<{ name: string; value: string }> = [
            { name: '__name__', value: TRAFFIC_METRIC },
            { name: 'code', value: '200' },
            { name: 'job', value: job },
            { name: 'path', value: path },
            { name: 'pod', value: `shop-7d9f-${pod.toString(36).padStart(5, 'x')}` },
          ];
          timeseries.push(
            create(TimeSeriesSchema, {
              labels: labels.map((label) => create(LabelSchema, label)),
              samples: [
                create(SampleSchema, { value: tick * (pod + 1), timestamp: BigInt(timestampMs) }),
              ],
            }),
          );
        }
      }
      const body = compressSync(
        Buffer.from(toBinary(WriteRequestSchema, create(WriteRequestSchema, { timeseries }))),
      );
      try {
        const response = await fetch(writeUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-protobuf',
            'content-encoding': 'snappy',
            'x-prometheus-remote-write-version': '0.1.0',
          },
          body,
        });
        await response.arrayBuffer();
        if (response.ok) acknowledged++;
        else lastFailure = `HTTP ${response.status}`;
      } catch (error) {
        lastFailure = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    acknowledged: () => acknowledged,
    lastFailure: () => lastFailure,
    async stop() {
      stopping = true;
      await loop;
    },
  };
}
