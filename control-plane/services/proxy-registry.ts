import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  type ApplyError,
  type ArmReport,
  type ProxyCounters,
  type ProxyStatus,
  ProxyStatusSchema,
} from '../../proto/gen/phoenix/v1/proxy_pb.js';

interface ProxyRecord {
  proxyId: string;
  version: string;
  labels: Record<string, string>;
  pipeline: string;
  appliedVersion: number;
  healthy: boolean;
  counters: ProxyCounters | undefined;
  applyError: ApplyError | undefined;
  listen: string;
  openStreams: number;
  lastSeenMs: number;
  /** The newest request the proxy reported from its traffic. */
  recentRequest: LiveRequest | undefined;
  /** The proxy's latest per-arm measurements of a running experiment. */
  arms: readonly ArmReport[];
}

/** An arm report with the proxy that sent it. */
export type ProxyArmReport = ArmReport & { readonly proxyId: string };

/** A request a proxy received, reported for previews on live traffic. */
export interface LiveRequest {
  readonly proxyId: string;
  readonly pipeline: string;
  /** Remote write 1.0, snappy-compressed, as the proxy received it. */
  readonly body: Uint8Array;
  /** When the control plane got it, in ms since the epoch. */
  readonly receivedAtMs: number;
}

/** Where `PreviewPipeline` finds live traffic. */
export interface LiveRequests {
  /** The newest reported request, from proxies running `pipeline` if given. */
  latestRequest(pipeline: string | undefined): LiveRequest | undefined;
}

/**
 * What the control plane knows of its proxies: kept in memory, because it is rebuilt within
 * seconds of a restart (every proxy reconnects, re-registers and reports).
 */
export class ProxyRegistry implements LiveRequests {
  readonly #proxies = new Map<string, ProxyRecord>();
  readonly #nowMs: () => number;

  constructor(nowMs: () => number = Date.now) {
    this.#nowMs = nowMs;
  }

  #record(proxyId: string): ProxyRecord {
    let record = this.#proxies.get(proxyId);
    if (record === undefined) {
      record = {
        proxyId,
        version: '',
        labels: {},
        pipeline: '',
        appliedVersion: 0,
        healthy: false,
        counters: undefined,
        applyError: undefined,
        listen: '',
        openStreams: 0,
        lastSeenMs: this.#nowMs(),
        recentRequest: undefined,
        arms: [],
      };
      this.#proxies.set(proxyId, record);
    }
    record.lastSeenMs = this.#nowMs();
    return record;
  }

  register(
    proxyId: string,
    version: string,
    labels: Record<string, string>,
    pipeline: string,
  ): void {
    const record = this.#record(proxyId);
    record.version = version;
    record.labels = { ...labels };
    record.pipeline = pipeline;
  }

  /** A config stream opened; the returned function marks it closed. */
  streamOpened(proxyId: string, pipeline: string): () => void {
    const record = this.#record(proxyId);
    record.pipeline = pipeline;
    record.openStreams++;
    return () => {
      record.openStreams--;
      record.lastSeenMs = this.#nowMs();
    };
  }

  report(status: {
    proxyId: string;
    pipeline: string;
    appliedVersion: number;
    healthy: boolean;
    counters: ProxyCounters | undefined;
    applyError: ApplyError | undefined;
    listen: string;
    recentRequest: Uint8Array;
    arms?: readonly ArmReport[];
  }): void {
    const record = this.#record(status.proxyId);
    record.pipeline = status.pipeline;
    record.appliedVersion = status.appliedVersion;
    record.healthy = status.healthy;
    record.counters = status.counters;
    record.applyError = status.applyError;
    record.listen = status.listen;
    record.arms = status.arms ?? [];
    if (status.recentRequest.length > 0) {
      record.recentRequest = {
        proxyId: status.proxyId,
        pipeline: status.pipeline,
        body: status.recentRequest,
        receivedAtMs: this.#nowMs(),
      };
    }
  }

  /** Every proxy's latest reports of `experiment`'s arms; counters are totals per proxy. */
  armReports(experiment: string): ProxyArmReport[] {
    const reports: ProxyArmReport[] = [];
    for (const record of this.#proxies.values()) {
      for (const arm of record.arms) {
        if (arm.experiment === experiment) reports.push({ ...arm, proxyId: record.proxyId });
      }
    }
    return reports;
  }

  latestRequest(pipeline: string | undefined): LiveRequest | undefined {
    let newest: LiveRequest | undefined;
    for (const record of this.#proxies.values()) {
      const candidate = record.recentRequest;
      if (candidate === undefined) continue;
      if (pipeline !== undefined && candidate.pipeline !== pipeline) continue;
      if (newest === undefined || candidate.receivedAtMs > newest.receivedAtMs) newest = candidate;
    }
    return newest;
  }

  /** Every proxy seen since the control plane started, by id. */
  list(): ProxyStatus[] {
    return [...this.#proxies.values()]
      .sort((a, b) => a.proxyId.localeCompare(b.proxyId))
      .map((record) =>
        create(ProxyStatusSchema, {
          proxyId: record.proxyId,
          version: record.version,
          labels: record.labels,
          pipeline: record.pipeline,
          appliedVersion: record.appliedVersion,
          healthy: record.healthy,
          ...(record.counters === undefined ? {} : { counters: record.counters }),
          ...(record.applyError === undefined ? {} : { applyError: record.applyError }),
          listen: record.listen,
          connected: record.openStreams > 0,
          lastSeen: timestampFromMs(record.lastSeenMs),
        }),
      );
  }
}
