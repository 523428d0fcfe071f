import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { connectControlPlane, type ProxyControl } from '../control/proxy-control.js';
import {
  parseUpstreamsFile,
  type UpstreamConfig,
  UpstreamConfigError,
  upstreamFromUrl,
} from '../delivery/upstream.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { ConfigError } from '../pipeline/config-error.js';
import { parsePipelineConfig } from '../pipeline/load.js';
import { defaultWorkerCount, PROXY_DEFAULTS, ProxyOptionsError } from '../server/options.js';
import { startProxy } from '../server/proxy.js';
import { parseTierFlags, TIER_FLAGS, TIER_USAGE } from '../tier/tier-flags.js';
import { EXIT_FAILURE, EXIT_OK, reportUsageError } from './exit-codes.js';
import {
  FlagValueError,
  parseByteSize,
  parseCount,
  parseDuration,
  parseListenAddress,
} from './flag-values.js';
import type { Command } from './main.js';
import { DEFAULT_OTLP_GRPC_LISTEN, parseOtlpGrpcListen } from './otlp-flags.js';
import { waitForSignal } from './shutdown-signal.js';

const DEFAULT_LISTEN = `${PROXY_DEFAULTS.listenHost}:${PROXY_DEFAULTS.listenPort}`;

const FLAGS = {
  listen: { type: 'string', default: DEFAULT_LISTEN },
  upstream: { type: 'string', multiple: true },
  'upstreams-file': { type: 'string' },
  delivery: { type: 'string', default: 'durable' },
  'data-dir': { type: 'string', default: PROXY_DEFAULTS.dataDir },
  'max-queue-bytes': { type: 'string', default: '1GiB' },
  'queue-full-policy': { type: 'string', default: PROXY_DEFAULTS.queueFullPolicy },
  'retry-min-backoff': { type: 'string', default: `${PROXY_DEFAULTS.retryMinBackoffMs}ms` },
  'retry-max-backoff': { type: 'string', default: `${PROXY_DEFAULTS.retryMaxBackoffMs / 1000}s` },
  'max-batch-bytes': { type: 'string', default: '4MiB' },
  'shard-by-series': { type: 'boolean', default: false },
  'shard-labels': { type: 'string' },
  config: { type: 'string' },
  'control-plane': { type: 'string' },
  'proxy-token-file': { type: 'string' },
  pipeline: { type: 'string', default: 'default' },
  workers: { type: 'string' },
  'max-request-bytes': { type: 'string', default: String(PROXY_DEFAULTS.maxRequestBytes) },
  'max-decompressed-bytes': {
    type: 'string',
    default: String(PROXY_DEFAULTS.maxDecompressedBytes),
  },
  'max-labels-per-series': { type: 'string', default: String(PROXY_DEFAULTS.maxLabelsPerSeries) },
  'upstream-timeout': { type: 'string', default: `${PROXY_DEFAULTS.upstreamTimeoutMs / 1000}s` },
  'upstream-connections': {
    type: 'string',
    default: String(PROXY_DEFAULTS.upstreamConnections),
  },
  'shutdown-timeout': { type: 'string', default: `${PROXY_DEFAULTS.shutdownTimeoutMs / 1000}s` },
  'otlp-grpc-listen': { type: 'string' },
  'otlp-keep-names': { type: 'boolean', default: false },
  'cardinality-max-metrics': {
    type: 'string',
    default: String(PROXY_DEFAULTS.cardinalityMaxMetrics),
  },
  'cardinality-window': { type: 'string', default: '1h' },
  ...TIER_FLAGS,
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function usage(): string {
  return [
    'Usage: phoenix proxy --upstream URL [flags]',
    '',
    'Receives Prometheus remote write 1.0 and 2.0 on POST /api/v1/write, OTLP metrics on',
    'POST /v1/metrics (protobuf or JSON) and OTLP/gRPC, runs the pipeline of --config over',
    'every request in worker threads and forwards the result to --upstream.',
    'Also serves GET /metrics, /healthz, /readyz and GET /api/v1/status/tsdb (live',
    'cardinality, ?view=input|output&limit=N). SIGTERM or SIGINT shuts down gracefully.',
    '',
    'Flags:',
    `  --listen HOST:PORT            address to listen on (default ${DEFAULT_LISTEN})`,
    '  --upstream URL                remote-write endpoint to deliver to (required unless',
    '                                --upstreams-file); repeat it to replicate to several',
    '  --upstreams-file FILE         YAML `upstreams:` list with per-upstream name, headers,',
    '                                basic_auth, bearer_token(_file), tls_config, timeout',
    '  --delivery durable|sync       durable: answer once queued on disk (default);',
    "                                sync: answer with the single upstream's answer",
    `  --data-dir DIR                where the durable queues live (default ${PROXY_DEFAULTS.dataDir})`,
    `  --max-queue-bytes SIZE        disk bound of each upstream's queue (default ${FLAGS['max-queue-bytes'].default})`,
    '  --queue-full-policy P         refuse (429, default) or drop-oldest when a queue is full',
    `  --retry-min-backoff DURATION  first retry wait (default ${FLAGS['retry-min-backoff'].default})`,
    `  --retry-max-backoff DURATION  longest retry wait (default ${FLAGS['retry-max-backoff'].default})`,
    `  --max-batch-bytes SIZE        most bytes joined into one request from a backlog (default ${FLAGS['max-batch-bytes'].default})`,
    '  --shard-by-series             spread series over the upstreams (rendezvous hashing)',
    '                                instead of sending each upstream everything',
    "  --shard-labels L1,L2          labels that pick a series' upstream (default: all)",
    '  --config FILE                 pipeline config (phoenix.yaml); default: no rules',
    '  --control-plane URL           follow the pipeline of a control plane instead of',
    '                                --config, hot-reloading every new version',
    '  --pipeline NAME               the control-plane pipeline to run (default default)',
    '  --proxy-token-file FILE       bearer token (role proxy) for the control plane',
    `  --workers N                   pipeline worker threads (default ${defaultWorkerCount()}, the cores here but one)`,
    `  --max-request-bytes SIZE      largest compressed body accepted, else 413 (default ${PROXY_DEFAULTS.maxRequestBytes} = 32MiB)`,
    `  --max-decompressed-bytes SIZE largest decompressed body accepted (default ${PROXY_DEFAULTS.maxDecompressedBytes} = 256MiB)`,
    `  --max-labels-per-series N     most labels in one series (default ${PROXY_DEFAULTS.maxLabelsPerSeries})`,
    `  --upstream-timeout DURATION   budget of one upstream request (default ${FLAGS['upstream-timeout'].default})`,
    `  --upstream-connections N      keep-alive connections to the upstream (default ${PROXY_DEFAULTS.upstreamConnections})`,
    `  --shutdown-timeout DURATION   longest wait for in-flight requests on shutdown (default ${FLAGS['shutdown-timeout'].default})`,
    `  --otlp-grpc-listen HOST:PORT  OTLP/gRPC metrics listener, or off (default ${DEFAULT_OTLP_GRPC_LISTEN};`,
    '                                skipped with a warning when that default is taken)',
    '  --otlp-keep-names             OTLP: keep metric names as sent (no unit/_total suffixes)',
    `  --cardinality-max-metrics N   metric names tracked apart in live cardinality before the`,
    `                                "other" bucket (default ${PROXY_DEFAULTS.cardinalityMaxMetrics}; 0 turns tracking off)`,
    '  --cardinality-window DURATION window of live cardinality; churn is per window (default 1h)',
    ...TIER_USAGE,
    '  -h, --help                    show this help',
    '',
    'SIZE is bytes, optionally with KiB, MiB or GiB; DURATION is like 500ms, 30s, 1m30s.',
    '',
  ].join('\n');
}

/** `phoenix proxy`: runs the remote-write proxy until SIGTERM or SIGINT. */
export const proxyCommand: Command = {
  name: 'proxy',
  summary: 'run the remote-write proxy (receive, drop labels and series, forward)',
  run: runProxy,
};

async function runProxy(args: string[]): Promise<number> {
  let values: ReturnType<typeof parseFlags>;
  try {
    values = parseFlags(args);
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    process.stdout.write(usage());
    return EXIT_OK;
  }
  if (values.upstream === undefined && values['upstreams-file'] === undefined) {
    return usageError('--upstream is required');
  }
  if (values.delivery !== 'durable' && values.delivery !== 'sync') {
    return usageError(`--delivery ${JSON.stringify(values.delivery)} must be durable or sync`);
  }

  const controlPlaneUrl = values['control-plane'];
  if (controlPlaneUrl !== undefined && values.config !== undefined) {
    return usageError('--config and --control-plane exclude each other');
  }

  let pipeline: PipelineConfig | undefined;
  let running: Awaited<ReturnType<typeof startProxy>>;
  let control: ProxyControl | undefined;
  try {
    const listen = parseListenAddress(values.listen);
    if (values.config !== undefined) pipeline = await readPipelineConfig(values.config);
    if (controlPlaneUrl !== undefined) {
      control = await connectControlPlane({
        controlPlaneUrl,
        tokenFile: values['proxy-token-file'],
        pipeline: values.pipeline,
        dataDir: values['data-dir'],
      });
      pipeline = control.initial?.pipeline;
    }
    const upstreamTimeoutMs = parseDuration('--upstream-timeout', values['upstream-timeout']);
    const upstreams = await readUpstreams(
      values.upstream ?? [],
      values['upstreams-file'],
      upstreamTimeoutMs,
    );
    running = await startProxy({
      listenHost: listen.host,
      listenPort: listen.port,
      upstreamUrl: upstreams[0]!.url,
      upstreams,
      dataDir: values.delivery === 'durable' ? values['data-dir'] : undefined,
      maxQueueBytes: parseByteSize('--max-queue-bytes', values['max-queue-bytes']),
      queueFullPolicy: parseQueueFullPolicy(values['queue-full-policy']),
      retryMinBackoffMs: parseDuration('--retry-min-backoff', values['retry-min-backoff']),
      retryMaxBackoffMs: parseDuration('--retry-max-backoff', values['retry-max-backoff']),
      maxBatchBytes: parseByteSize('--max-batch-bytes', values['max-batch-bytes']),
      shardBySeries: values['shard-by-series'],
      shardLabels: parseLabelList(values['shard-labels']),
      pipeline,
      workers: values.workers === undefined ? undefined : parseCount('--workers', values.workers),
      maxRequestBytes: parseByteSize('--max-request-bytes', values['max-request-bytes']),
      maxDecompressedBytes: parseByteSize(
        '--max-decompressed-bytes',
        values['max-decompressed-bytes'],
      ),
      maxLabelsPerSeries: parseCount('--max-labels-per-series', values['max-labels-per-series']),
      otlpGrpcListen: parseOtlpGrpcListen(values['otlp-grpc-listen']),
      otlpKeepNames: values['otlp-keep-names'],
      cardinalityMaxMetrics: parseCount(
        '--cardinality-max-metrics',
        values['cardinality-max-metrics'],
      ),
      cardinalityWindowMs: parseDuration('--cardinality-window', values['cardinality-window']),
      upstreamTimeoutMs,
      upstreamConnections: parseCount('--upstream-connections', values['upstream-connections']),
      shutdownTimeoutMs: parseDuration('--shutdown-timeout', values['shutdown-timeout']),
      aggregationTier: parseTierFlags(values),
    });
  } catch (error) {
    await control?.close();
    const message = error instanceof Error ? error.message : String(error);
    if (
      error instanceof ConfigError ||
      error instanceof ProxyOptionsError ||
      error instanceof UpstreamConfigError ||
      error instanceof FlagValueError
    ) {
      return usageError(message);
    }
    process.stderr.write(`phoenix proxy: ${message}\n`);
    return EXIT_FAILURE;
  }
  if (control === undefined) return waitForSignal(running, 'force-exit');
  control.attach(running);
  const proxy = running;
  const sync = control;
  return waitForSignal(
    {
      ...proxy,
      close: async () => {
        await sync.close();
        await proxy.close();
      },
    },
    'force-exit',
  );
}

function parseFlags(args: string[]) {
  return parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false }).values;
}

/**
 * Reads the pipeline file; errors name it as given on the command line (not only its base
 * name), so an operator with several configs sees which one is wrong.
 */
async function readPipelineConfig(path: string): Promise<PipelineConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(path, '', `cannot read the config file: ${reason}`);
  }
  return parsePipelineConfig(text, path, { configDir: dirname(path) });
}

/** `--upstream` URLs first, then the entries of `--upstreams-file`, in order. */
async function readUpstreams(
  urls: readonly string[],
  filePath: string | undefined,
  timeoutMs: number,
): Promise<UpstreamConfig[]> {
  const upstreams = urls.map((url) => upstreamFromUrl(url, timeoutMs));
  if (filePath !== undefined) {
    let text: string;
    try {
      text = await readFile(filePath, 'utf8');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new UpstreamConfigError(`${filePath}: cannot read the upstreams file: ${reason}`);
    }
    upstreams.push(...parseUpstreamsFile(text, filePath, timeoutMs));
  }
  return upstreams;
}

function parseLabelList(text: string | undefined): string[] {
  if (text === undefined) return [];
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) {
      throw new FlagValueError(`--shard-labels ${JSON.stringify(name)} is not a label name`);
    }
  }
  return names;
}

function parseQueueFullPolicy(text: string): 'refuse' | 'drop-oldest' {
  if (text === 'refuse' || text === 'drop-oldest') return text;
  throw new FlagValueError(
    `--queue-full-policy ${JSON.stringify(text)} must be refuse or drop-oldest`,
  );
}

function usageError(message: string): number {
  return reportUsageError('proxy', message);
}
