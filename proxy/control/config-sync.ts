/**
 * Keeps a proxy on its control plane's pipeline: watches the config stream (reconnecting
 * with backoff), applies each new version to every worker, persists the last good one in
 * the data directory, and reports what it runs. While the control plane is away the proxy
 * keeps serving with what it has.
 */
import { create } from '@bufbuild/protobuf';
import { ConnectError } from '@connectrpc/connect';
import {
  ArmReportSchema,
  type ConfigUpdate,
  ProxyCountersSchema,
} from '../../proto/gen/phoenix/v1/proxy_pb.js';
import { windowsToReport } from '../cardinality/cardinality-proto.js';
import type { CardinalityWindow } from '../cardinality/cardinality-summary.js';
import type { ArmCounters } from '../experiments/experiment-run.js';
import type { ProxyExperiment } from '../experiments/proxy-experiments.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { parsePipelineConfig } from '../pipeline/load.js';
import { logEvent } from '../server/log.js';
import { backoffDelayMs } from './backoff.js';
import { type ControlPlaneClients, controlPlaneClients } from './control-plane-client.js';
import {
  type LastGoodConfig,
  readLastGoodConfig,
  writeLastGoodConfig,
} from './last-good-config.js';
import type { ProxyCounterValues } from './proxy-counters.js';

/** Options of {@link ConfigSync}. */
export interface ConfigSyncOptions {
  readonly controlPlaneUrl: string;
  /** Bearer token with the `proxy` role; undefined when the control plane runs without auth. */
  readonly token: string | undefined;
  readonly proxyId: string;
  /** The pipeline this proxy runs (`--pipeline`). */
  readonly pipeline: string;
  /** Where the last good config is kept. */
  readonly dataDir: string;
  readonly phoenixVersion: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** First reconnect delay, in ms. Default 100. */
  readonly minBackoffMs?: number;
  /** Longest reconnect delay, in ms. Default 3000. */
  readonly maxBackoffMs?: number;
  /** A stream silent this long (no config, no heartbeat) counts as dead, in ms. Default 15 000. */
  readonly idleTimeoutMs?: number;
  /** Interval of status reports while connected, in ms. Default 10 000. */
  readonly statusIntervalMs?: number;
}

/** The running proxy, as far as the sync needs it. */
export interface ConfigTarget {
  /**
   * Switches every worker to the pipeline (and the experiment beside it); resolves once all
   * run it, rejects (keeping the old) otherwise.
   */
  apply(pipeline: PipelineConfig | undefined, experiment?: ProxyExperiment): Promise<void>;
  /** Both arms' measurements of the running experiment, sent with every status report. */
  experimentCounters?(): readonly ArmCounters[];
  counters(): Promise<ProxyCounterValues>;
  /** A recent request the proxy received, for previews on live traffic. */
  recentRequest(): { readonly body: Uint8Array; readonly atMs: number } | undefined;
  /** HOST:PORT the proxy ingests on. */
  readonly listen: string;
  /** The proxy's cardinality windows, sent with every status report. */
  cardinality?(): Promise<readonly CardinalityWindow[]>;
}

/** The config a proxy starts with. */
export interface InitialConfig {
  readonly version: number;
  readonly configYaml: string;
  readonly pipeline: PipelineConfig;
  readonly source: 'control-plane' | 'last-good';
}

const SOURCE_NAME = 'control-plane pipeline';
/** While an experiment runs, status reports go out at least this often, in ms. */
const EXPERIMENT_REPORT_INTERVAL_MS = 2_000;

/** What the proxy runs for a config update: its version and experiment. */
function appliedKey(update: ConfigUpdate): string {
  return `${update.version}/${update.experiment?.name ?? ''}`;
}

/** The experiment of an update as the proxy runs it; throws a `ConfigError` for a bad one. */
function experimentOf(update: ConfigUpdate): ProxyExperiment | undefined {
  const assignment = update.experiment;
  if (assignment === undefined || assignment.name === '') return undefined;
  const mode = assignment.mode === 'split' ? 'split' : 'shadow';
  return {
    name: assignment.name,
    mode,
    fraction: assignment.fraction,
    candidate: parsePipelineConfig(
      assignment.candidateConfigYaml,
      `experiment ${assignment.name} candidate`,
    ),
    shadowUpstream:
      mode === 'shadow' && assignment.shadowUpstream !== ''
        ? new URL(assignment.shadowUpstream)
        : undefined,
  };
}

export class ConfigSync {
  readonly #options: ConfigSyncOptions;
  readonly #clients: ControlPlaneClients;
  #target: ConfigTarget | undefined;
  #latest: ConfigUpdate | undefined;
  #appliedVersion = 0;
  /** {@link appliedKey} of what runs now. */
  #appliedKey = '0/';
  #applyError: { version: number; message: string; key: string } | undefined;
  #experimentTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #streamAbort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #reconciling: Promise<void> | undefined;
  #onUpdate: (() => void) | undefined;
  #onAttemptFailed: (() => void) | undefined;
  #statusTimer: NodeJS.Timeout | undefined;
  #connected = false;
  /** Time of the last recent request sent in a report, in ms. */
  #reportedRequestAtMs = 0;

  constructor(options: ConfigSyncOptions) {
    this.#options = options;
    this.#clients = controlPlaneClients(options.controlPlaneUrl, options.token);
  }

  /** The control-plane version every worker runs; 0 before any. */
  get appliedVersion(): number {
    return this.#appliedVersion;
  }

  /** Whether a config stream is open now. */
  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Starts watching and picks the config to start the proxy with: the control plane's, if
   * it answers within `waitMs`; else the last good one from the data directory; else none.
   * With a last good config at hand, one failed attempt to reach the control plane is
   * enough to start with it rather than wait.
   */
  async initialConfig(waitMs: number): Promise<InitialConfig | undefined> {
    const kept = await readLastGoodConfig(this.#options.dataDir, this.#options.pipeline);
    this.#loop ??= this.#watchLoop();
    const streamed = await new Promise<ConfigUpdate | undefined>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        resolve(this.#latest);
      };
      const timer = setTimeout(finish, waitMs);
      this.#onUpdate = finish;
      if (kept !== undefined) this.#onAttemptFailed = finish;
      if (this.#latest !== undefined) finish();
    });
    this.#onUpdate = undefined;
    this.#onAttemptFailed = undefined;
    if (streamed?.exists) {
      try {
        const pipeline = parsePipelineConfig(streamed.configYaml, SOURCE_NAME);
        return {
          version: streamed.version,
          configYaml: streamed.configYaml,
          pipeline,
          source: 'control-plane',
        };
      } catch (error) {
        this.#applyError = {
          version: streamed.version,
          message: (error as Error).message,
          key: appliedKey(streamed),
        };
      }
    }
    if (kept === undefined) return undefined;
    return {
      version: kept.version,
      configYaml: kept.configYaml,
      pipeline: parsePipelineConfig(kept.configYaml, SOURCE_NAME),
      source: 'last-good',
    };
  }

  /**
   * Hands the running proxy to the sync; `initial` is what it was started with. From here
   * every new version is applied to it.
   */
  attach(target: ConfigTarget, initial: InitialConfig | undefined): void {
    this.#target = target;
    if (initial !== undefined) {
      this.#appliedVersion = initial.version;
      this.#appliedKey = `${initial.version}/`;
      if (initial.source === 'control-plane')
        void this.#persist(initial.version, initial.configYaml);
    }
    this.#loop ??= this.#watchLoop();
    this.#statusTimer = setInterval(
      () => void this.#report(),
      this.#options.statusIntervalMs ?? 10_000,
    );
    this.#statusTimer.unref();
    this.#reconcile();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#statusTimer);
    clearInterval(this.#experimentTimer);
    this.#streamAbort?.abort();
    await this.#loop;
    await this.#reconciling;
  }

  async #watchLoop(): Promise<void> {
    const minMs = this.#options.minBackoffMs ?? 100;
    const maxMs = this.#options.maxBackoffMs ?? 3_000;
    const idleTimeoutMs = this.#options.idleTimeoutMs ?? 15_000;
    let attempt = 0;
    let lastFailure = '';
    while (!this.#closed) {
      const abort = new AbortController();
      this.#streamAbort = abort;
      let idleTimer: NodeJS.Timeout | undefined;
      const resetIdle = () => {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => abort.abort(), idleTimeoutMs);
      };
      try {
        await this.#clients.proxies.register(
          {
            proxyId: this.#options.proxyId,
            version: this.#options.phoenixVersion,
            labels: { ...this.#options.labels },
            pipeline: this.#options.pipeline,
          },
          { signal: abort.signal },
        );
        resetIdle();
        const stream = this.#clients.proxies.watchConfig(
          { proxyId: this.#options.proxyId, pipeline: this.#options.pipeline },
          { signal: abort.signal },
        );
        for await (const message of stream) {
          resetIdle();
          if (!this.#connected) {
            this.#connected = true;
            attempt = 0;
            lastFailure = '';
            logEvent('info', 'control_plane_connected', { url: this.#options.controlPlaneUrl });
          }
          if (message.event.case === 'config') this.#received(message.event.value);
        }
      } catch (error) {
        const reason = this.#closed ? '' : ConnectError.from(error).message;
        if (reason !== '' && reason !== lastFailure) {
          lastFailure = reason;
          logEvent('warn', 'control_plane_unavailable', {
            url: this.#options.controlPlaneUrl,
            reason,
            keeping: this.#appliedVersion,
          });
        }
      } finally {
        clearTimeout(idleTimer);
        this.#connected = false;
      }
      this.#onAttemptFailed?.();
      if (this.#closed) break;
      await new Promise((resolve) => setTimeout(resolve, backoffDelayMs(attempt++, minMs, maxMs)));
    }
  }

  #received(update: ConfigUpdate): void {
    this.#latest = update;
    this.#onUpdate?.();
    this.#reconcile();
  }

  /** Applies the newest received version unless it runs already; one apply at a time. */
  #reconcile(): void {
    if (this.#target === undefined || this.#reconciling !== undefined) return;
    this.#reconciling = (async () => {
      try {
        for (;;) {
          const update = this.#latest;
          if (update === undefined || this.#closed) break;
          if (!update.exists) {
            logEvent('warn', 'pipeline_missing', {
              pipeline: update.pipeline,
              keeping: this.#appliedVersion,
            });
            break;
          }
          if (appliedKey(update) === this.#appliedKey) break;
          if (appliedKey(update) === this.#applyError?.key) break;
          await this.#apply(update);
        }
        await this.#report();
      } finally {
        this.#reconciling = undefined;
      }
      // Something newer may have arrived during the report.
      const latest = this.#latest;
      if (latest !== undefined && appliedKey(latest) !== this.#appliedKey) {
        if (latest.exists && appliedKey(latest) !== this.#applyError?.key) {
          this.#reconcile();
        }
      }
    })();
  }

  async #apply(update: ConfigUpdate): Promise<void> {
    const target = this.#target!;
    const startedMs = performance.now();
    try {
      const pipeline = parsePipelineConfig(update.configYaml, SOURCE_NAME);
      const experiment = experimentOf(update);
      await target.apply(pipeline, experiment);
      this.#appliedVersion = update.version;
      this.#appliedKey = appliedKey(update);
      this.#applyError = undefined;
      this.#reportOftenWhile(experiment !== undefined);
      logEvent('info', 'pipeline_applied', {
        pipeline: update.pipeline,
        version: update.version,
        rules: pipeline.relabelConfigs.length,
        ...(experiment === undefined ? {} : { experiment: experiment.name }),
        applyMs: Math.round((performance.now() - startedMs) * 10) / 10,
      });
      await this.#persist(update.version, update.configYaml);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#applyError = { version: update.version, message, key: appliedKey(update) };
      logEvent('error', 'pipeline_apply_failed', {
        pipeline: update.pipeline,
        version: update.version,
        keeping: this.#appliedVersion,
        message,
      });
    }
  }

  /** Experiment results are only as fresh as the reports: send them often while one runs. */
  #reportOftenWhile(experimentRuns: boolean): void {
    clearInterval(this.#experimentTimer);
    this.#experimentTimer = undefined;
    const interval = this.#options.statusIntervalMs ?? 10_000;
    if (!experimentRuns || interval <= EXPERIMENT_REPORT_INTERVAL_MS) return;
    this.#experimentTimer = setInterval(() => void this.#report(), EXPERIMENT_REPORT_INTERVAL_MS);
    this.#experimentTimer.unref();
  }

  async #persist(version: number, configYaml: string): Promise<void> {
    const kept: LastGoodConfig = {
      pipeline: this.#options.pipeline,
      version,
      configYaml,
      appliedAtMs: Date.now(),
    };
    try {
      await writeLastGoodConfig(this.#options.dataDir, kept);
    } catch (error) {
      logEvent('warn', 'last_good_config_not_saved', {
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }

  async #report(): Promise<void> {
    const target = this.#target;
    if (target === undefined || this.#closed) return;
    try {
      const counters = await target.counters();
      const recent = target.recentRequest();
      const recentIsNew = recent !== undefined && recent.atMs > this.#reportedRequestAtMs;
      const cardinality = (await target.cardinality?.()) ?? [];
      await this.#clients.proxies.reportStatus(
        {
          proxyId: this.#options.proxyId,
          pipeline: this.#options.pipeline,
          appliedVersion: this.#appliedVersion,
          healthy: true,
          counters: create(ProxyCountersSchema, counters),
          listen: target.listen,
          ...(recentIsNew ? { recentRequest: recent.body } : {}),
          ...(cardinality.length === 0 ? {} : { cardinality: windowsToReport(cardinality) }),
          ...(this.#applyError === undefined
            ? {}
            : {
                applyError: {
                  version: this.#applyError.version,
                  message: this.#applyError.message,
                },
              }),
          arms: (target.experimentCounters?.() ?? []).map((arm) => create(ArmReportSchema, arm)),
        },
        { timeoutMs: 5_000 },
      );
      if (recentIsNew) this.#reportedRequestAtMs = recent.atMs;
    } catch {
      // The control plane is away; the stream loop logs that and reconnects, and the next
      // report after it is back carries the same state.
    }
  }
}
