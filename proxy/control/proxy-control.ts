/**
 * `phoenix proxy --control-plane URL`: wires a {@link ConfigSync} to a running proxy. The
 * proxy starts with the control plane's pipeline when it answers quickly, else with the
 * last good one kept in the data directory, else with none, and follows every new version.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { logEvent } from '../server/log.js';
import type { RunningProxy } from '../server/proxy.js';
import { phoenixVersion } from '../server/version.js';
import { ConfigSync, type InitialConfig } from './config-sync.js';
import { readProxyCounters } from './proxy-counters.js';

/** Options of {@link connectControlPlane}. */
export interface ProxyControlOptions {
  readonly controlPlaneUrl: string;
  /** File holding the bearer token (role `proxy`); omitted when the control plane has no auth. */
  readonly tokenFile: string | undefined;
  readonly pipeline: string;
  readonly dataDir: string;
  /** How long to wait for the control plane's config before starting without it, in ms. */
  readonly initialWaitMs?: number;
  /** Longest reconnect delay, in ms; see `ConfigSyncOptions.maxBackoffMs`. */
  readonly maxBackoffMs?: number;
  /** Interval of status reports, in ms; see `ConfigSyncOptions.statusIntervalMs`. */
  readonly statusIntervalMs?: number;
}

/** The proxy's end of the control channel. */
export interface ProxyControl {
  /** The pipeline to start the proxy with; undefined: none known yet (no rules). */
  readonly initial: InitialConfig | undefined;
  /** Starts applying new versions to `running` and reporting its status. */
  attach(running: RunningProxy): void;
  close(): Promise<void>;
}

/** Reads a token file: the token is its content without surrounding whitespace. */
export async function readTokenFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the token file ${path}: ${(error as Error).message}`);
  }
  const token = text.trim();
  if (token === '') throw new Error(`token file ${path} is empty`);
  return token;
}

export async function connectControlPlane(options: ProxyControlOptions): Promise<ProxyControl> {
  const token =
    options.tokenFile === undefined ? undefined : await readTokenFile(options.tokenFile);
  const sync = new ConfigSync({
    controlPlaneUrl: options.controlPlaneUrl,
    token,
    proxyId: `${hostname()}-${process.pid}`,
    pipeline: options.pipeline,
    dataDir: options.dataDir,
    phoenixVersion: phoenixVersion(),
    labels: { host: hostname() },
    ...(options.maxBackoffMs === undefined ? {} : { maxBackoffMs: options.maxBackoffMs }),
    ...(options.statusIntervalMs === undefined
      ? {}
      : { statusIntervalMs: options.statusIntervalMs }),
  });
  const initial = await sync.initialConfig(options.initialWaitMs ?? 3_000);
  logEvent('info', 'pipeline_initial', {
    pipeline: options.pipeline,
    source: initial?.source ?? 'none',
    version: initial?.version ?? 0,
  });
  return {
    initial,
    attach(running) {
      sync.attach(
        {
          apply: (pipeline, experiment) => running.applyPipeline(pipeline, experiment),
          experimentCounters: () => running.experimentCounters(),
          counters: () => readProxyCounters(running.metrics.registry),
          recentRequest: () => running.recentRequest(),
          cardinality: () => running.cardinalityWindows(),
          listen: `${running.options.listenHost}:${running.port}`,
        },
        initial,
      );
    },
    close: () => sync.close(),
  };
}
