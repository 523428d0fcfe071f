import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { PipelineConfig } from '../pipeline/config.js';
import { ConfigError } from '../pipeline/config-error.js';
import { parsePipelineConfig } from '../pipeline/load.js';
import { logEvent } from '../server/log.js';
import { PROXY_DEFAULTS, ProxyOptionsError } from '../server/options.js';
import { startProxy } from '../server/proxy.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import {
  FlagValueError,
  parseByteSize,
  parseCount,
  parseDuration,
  parseListenAddress,
} from './flag-values.js';
import type { Command } from './main.js';

const DEFAULT_LISTEN = `${PROXY_DEFAULTS.listenHost}:${PROXY_DEFAULTS.listenPort}`;

const FLAGS = {
  listen: { type: 'string', default: DEFAULT_LISTEN },
  upstream: { type: 'string' },
  config: { type: 'string' },
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
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function usage(): string {
  return [
    'Usage: phoenix proxy --upstream URL [flags]',
    '',
    'Receives Prometheus remote write 1.0 on POST /api/v1/write, runs the pipeline of',
    '--config over every request in worker threads and forwards the result to --upstream.',
    'Also serves GET /metrics, /healthz and /readyz. SIGTERM or SIGINT shuts down gracefully.',
    '',
    'Flags:',
    `  --listen HOST:PORT            address to listen on (default ${DEFAULT_LISTEN})`,
    '  --upstream URL                remote-write endpoint to forward to (required),',
    '                                e.g. http://127.0.0.1:9090/api/v1/write',
    '  --config FILE                 pipeline config (phoenix.yaml); default: no rules',
    `  --workers N                   pipeline worker threads (default ${availableParallelism()}, the cores here)`,
    `  --max-request-bytes SIZE      largest compressed body accepted, else 413 (default ${PROXY_DEFAULTS.maxRequestBytes} = 32MiB)`,
    `  --max-decompressed-bytes SIZE largest decompressed body accepted (default ${PROXY_DEFAULTS.maxDecompressedBytes} = 256MiB)`,
    `  --max-labels-per-series N     most labels in one series (default ${PROXY_DEFAULTS.maxLabelsPerSeries})`,
    `  --upstream-timeout DURATION   budget of one upstream request (default ${FLAGS['upstream-timeout'].default})`,
    `  --upstream-connections N      keep-alive connections to the upstream (default ${PROXY_DEFAULTS.upstreamConnections})`,
    `  --shutdown-timeout DURATION   longest wait for in-flight requests on shutdown (default ${FLAGS['shutdown-timeout'].default})`,
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
  if (values.upstream === undefined) return usageError('--upstream is required');

  let pipeline: PipelineConfig | undefined;
  let running: Awaited<ReturnType<typeof startProxy>>;
  try {
    const listen = parseListenAddress(values.listen);
    if (values.config !== undefined) pipeline = await readPipelineConfig(values.config);
    running = await startProxy({
      listenHost: listen.host,
      listenPort: listen.port,
      upstreamUrl: values.upstream,
      pipeline,
      workers: values.workers === undefined ? undefined : parseCount('--workers', values.workers),
      maxRequestBytes: parseByteSize('--max-request-bytes', values['max-request-bytes']),
      maxDecompressedBytes: parseByteSize(
        '--max-decompressed-bytes',
        values['max-decompressed-bytes'],
      ),
      maxLabelsPerSeries: parseCount('--max-labels-per-series', values['max-labels-per-series']),
      upstreamTimeoutMs: parseDuration('--upstream-timeout', values['upstream-timeout']),
      upstreamConnections: parseCount('--upstream-connections', values['upstream-connections']),
      shutdownTimeoutMs: parseDuration('--shutdown-timeout', values['shutdown-timeout']),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (
      error instanceof ConfigError ||
      error instanceof ProxyOptionsError ||
      error instanceof FlagValueError
    ) {
      return usageError(message);
    }
    process.stderr.write(`phoenix proxy: ${message}\n`);
    return EXIT_FAILURE;
  }
  return waitForShutdown(running);
}

/** Resolves once a signal asked for shutdown and the proxy finished it. */
function waitForShutdown(running: Awaited<ReturnType<typeof startProxy>>): Promise<number> {
  return new Promise((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        // A second signal means "now": in-flight requests are abandoned (senders retry).
        logEvent('warn', 'shutdown_forced', { signal });
        process.exit(EXIT_FAILURE);
      }
      signalled = true;
      logEvent('info', 'shutdown_started', { signal });
      running.close().then(
        () => resolve(EXIT_OK),
        (error: unknown) => {
          logEvent('error', 'shutdown_failed', { message: String(error) });
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
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
  return parsePipelineConfig(text, path);
}

function usageError(message: string): number {
  process.stderr.write(`phoenix proxy: ${message}\n\nRun \`phoenix proxy --help\` for usage.\n`);
  return EXIT_USAGE;
}
