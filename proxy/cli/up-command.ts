import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CONTROL_PLANE_DEFAULTS,
  loadTokenFile,
  type RunningControlPlane,
  type RunningSink,
  startControlPlane,
  startLocalSink,
} from '../../control-plane/index.js';
import { connectControlPlane, type ProxyControl, readTokenFile } from '../control/index.js';
import { logEvent } from '../server/log.js';
import { defaultWorkerCount, PROXY_DEFAULTS } from '../server/options.js';
import { type RunningProxy, startProxy } from '../server/proxy.js';
import { EXIT_FAILURE, EXIT_OK, reportUsageError } from './exit-codes.js';
import { FlagValueError, parseCount, parseListenAddress } from './flag-values.js';
import type { Command } from './main.js';
import { waitForSignal } from './shutdown-signal.js';

const DEFAULT_SINK_LISTEN = '127.0.0.1:9093';

const FLAGS = {
  listen: { type: 'string', default: `${PROXY_DEFAULTS.listenHost}:${PROXY_DEFAULTS.listenPort}` },
  'control-plane-listen': {
    type: 'string',
    default: `${CONTROL_PLANE_DEFAULTS.listenHost}:${CONTROL_PLANE_DEFAULTS.listenPort}`,
  },
  'sink-listen': { type: 'string', default: DEFAULT_SINK_LISTEN },
  upstream: { type: 'string' },
  'data-dir': { type: 'string', default: './data' },
  pipeline: { type: 'string', default: 'default' },
  workers: { type: 'string' },
  'token-file': { type: 'string' },
  'proxy-token-file': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function usage(): string {
  return [
    'Usage: phoenix up [flags]',
    '',
    'Runs everything on this machine: a control plane (pipelines in SQLite under --data-dir)',
    'and a proxy that follows its pipeline. Without --upstream, the proxy forwards to a',
    'local sink that counts and logs what arrives and keeps nothing. For local use: the',
    'control API and dashboard have no auth unless --token-file is given; the embedded',
    'proxy then needs a token of role proxy (or admin) in --proxy-token-file.',
    '',
    'Flags:',
    `  --listen HOST:PORT               proxy ingest (default ${FLAGS.listen.default})`,
    `  --control-plane-listen HOST:PORT control API (default ${FLAGS['control-plane-listen'].default})`,
    '  --upstream URL                   remote-write endpoint to forward to (default: local sink)',
    `  --sink-listen HOST:PORT          local sink, without --upstream (default ${DEFAULT_SINK_LISTEN})`,
    '  --data-dir DIR                   pipelines, last-good config, queues (default ./data)',
    '  --pipeline NAME                  pipeline the proxy follows (default default)',
    `  --workers N                      pipeline worker threads (default ${defaultWorkerCount()}, the cores here but one)`,
    '  --token-file FILE                bearer tokens and roles of the control API (default: no auth)',
    '  --proxy-token-file FILE          token the embedded proxy uses, with --token-file',
    '  -h, --help                       show this help',
    '',
  ].join('\n');
}

/** `phoenix up`: control plane, proxy and (without an upstream) a local sink, in one process. */
export const upCommand: Command = {
  name: 'up',
  summary: 'run a control plane and a proxy together, with a local sink (quick start)',
  run: runUp,
};

interface Started {
  controlPlane?: RunningControlPlane;
  sink?: RunningSink;
  control?: ProxyControl;
  proxy?: RunningProxy;
}

async function closeAll(started: Started): Promise<void> {
  await started.control?.close();
  await started.proxy?.close();
  await started.sink?.close();
  await started.controlPlane?.close();
}

async function runUp(args: string[]): Promise<number> {
  let values: ReturnType<typeof parseFlags>;
  try {
    values = parseFlags(args);
  } catch (error) {
    return usageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(usage());
    return EXIT_OK;
  }
  const started: Started = {};
  const dataDir = resolve(values['data-dir']);
  try {
    const proxyListen = parseListenAddress(values.listen);
    const controlListen = parseListenAddress(values['control-plane-listen']);
    const workers =
      values.workers === undefined ? undefined : parseCount('--workers', values.workers);
    const tokenFile = values['token-file'];
    const proxyTokenFile = values['proxy-token-file'];
    if ((tokenFile === undefined) !== (proxyTokenFile === undefined)) {
      throw new FlagValueError('--token-file and --proxy-token-file go together');
    }
    const tokens = tokenFile === undefined ? undefined : await loadTokenFile(tokenFile);
    if (tokens !== undefined && proxyTokenFile !== undefined) {
      // Refused here rather than by a proxy that would retry forever without a pipeline.
      const principal = tokens.authenticate(await readTokenFile(proxyTokenFile));
      if (principal === undefined || principal.role === 'viewer') {
        throw new Error(
          `${proxyTokenFile}: ${principal === undefined ? 'the token is not in' : `token ${JSON.stringify(principal.name)} has role viewer in`} ${tokenFile}; the proxy needs role proxy or admin`,
        );
      }
    }
    started.controlPlane = await startControlPlane({
      listenHost: controlListen.host,
      listenPort: controlListen.port,
      dataDir: join(dataDir, 'control-plane'),
      tokens,
    });
    await ensurePipeline(started.controlPlane, values.pipeline);
    let upstreamUrl = values.upstream;
    if (upstreamUrl === undefined) {
      const sinkListen = parseListenAddress(values['sink-listen']);
      started.sink = await startLocalSink({
        listenHost: sinkListen.host,
        listenPort: sinkListen.port,
        onSummary: ({ totals, exampleSeries }) =>
          logEvent('info', 'sink_received', { ...totals, exampleSeries }),
      });
      upstreamUrl = started.sink.url;
    }
    started.control = await connectControlPlane({
      controlPlaneUrl: started.controlPlane.url,
      tokenFile: proxyTokenFile,
      pipeline: values.pipeline,
      dataDir: join(dataDir, 'proxy'),
      initialWaitMs: 2_000,
      // In one process reports cost nothing; every second keeps the dashboard's rates live.
      statusIntervalMs: 1_000,
    });
    started.proxy = await startProxy({
      listenHost: proxyListen.host,
      listenPort: proxyListen.port,
      upstreamUrl,
      dataDir: join(dataDir, 'proxy'),
      pipeline: started.control.initial?.pipeline,
      workers,
    });
    started.control.attach(started.proxy);
    const writeUrl = `http://${proxyListen.host}:${started.proxy.port}/api/v1/write`;
    logEvent('info', 'phoenix_up', {
      remoteWrite: writeUrl,
      controlPlane: started.controlPlane.url,
      dataDir,
      upstream: started.sink === undefined ? upstreamUrl : `local sink ${started.sink.url}`,
    });
    process.stdout.write(
      [
        'Phoenix is up.',
        `  remote write to  ${writeUrl}`,
        `  control plane    ${started.controlPlane.url}   (phoenix pipeline apply -f pipeline.yaml --control-plane ${started.controlPlane.url})`,
        `  dashboard        ${started.controlPlane.url}/`,
        `  data             ${dataDir}`,
        started.sink === undefined
          ? `  upstream         ${upstreamUrl}`
          : `  upstream         none given: a local sink at ${started.sink.url} counts and logs what arrives and keeps nothing; pass --upstream URL to forward to your backend`,
        '',
      ].join('\n'),
    );
  } catch (error) {
    await closeAll(started).catch(() => undefined);
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof FlagValueError) return usageError(message);
    process.stderr.write(`phoenix up: ${message}\n`);
    return EXIT_FAILURE;
  }
  return waitForSignal({ close: () => closeAll(started) });
}

/** A pipeline with no rules yet, so a first `phoenix pipeline list` shows what runs. */
const STARTER_PIPELINE = [
  '# Rules in Prometheus relabel_config shape; apply changes with',
  '#   phoenix pipeline apply -f pipeline.yaml',
  'relabel_configs: []',
  '',
].join('\n');

async function ensurePipeline(controlPlane: RunningControlPlane, name: string): Promise<void> {
  if ((await controlPlane.store.get(name)) !== undefined) return;
  await controlPlane.store.create({
    name,
    configYaml: STARTER_PIPELINE,
    author: 'phoenix up',
    message: 'starter pipeline: no rules',
  });
}

function parseFlags(args: string[]) {
  return parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false }).values;
}

function usageError(message: string): number {
  return reportUsageError('up', message);
}
