import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CONTROL_PLANE_DEFAULTS,
  loadTokenFile,
  type RunningControlPlane,
  STORE_FILE_NAME,
  startControlPlane,
  TokenFileError,
  type TokenSet,
} from '../../control-plane/index.js';
import { logEvent } from '../server/log.js';
import { EXIT_FAILURE, EXIT_OK, reportUsageError } from './exit-codes.js';
import { FlagValueError, parseListenAddress } from './flag-values.js';
import type { Command } from './main.js';
import { waitForSignal } from './shutdown-signal.js';

const DEFAULT_LISTEN = `${CONTROL_PLANE_DEFAULTS.listenHost}:${CONTROL_PLANE_DEFAULTS.listenPort}`;

const FLAGS = {
  listen: { type: 'string', default: DEFAULT_LISTEN },
  'data-dir': { type: 'string', default: './data' },
  'token-file': { type: 'string' },
  'insecure-no-auth': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function usage(): string {
  return [
    'Usage: phoenix control-plane [flags]',
    '',
    'Serves the control API (Connect, gRPC and gRPC-Web over HTTP/1.1 and HTTP/2):',
    'versioned pipelines, and the config stream every `phoenix proxy --control-plane`',
    'follows. Pipelines are kept in an embedded SQLite file in --data-dir.',
    '',
    'Flags:',
    `  --listen HOST:PORT      address to listen on (default ${DEFAULT_LISTEN})`,
    `  --data-dir DIR          where ${STORE_FILE_NAME} lives (default ./data)`,
    '  --token-file FILE       bearer tokens with roles viewer, admin, proxy (YAML/JSON);',
    '                          without it, auth is off: allowed on a loopback address only',
    '  --insecure-no-auth      run without auth on a non-loopback address',
    '  -h, --help              show this help',
    '',
  ].join('\n');
}

/** Whether `host` is reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** `phoenix control-plane`: serves the control API until SIGTERM or SIGINT. */
export const controlPlaneCommand: Command = {
  name: 'control-plane',
  summary: 'run the control plane (pipelines API and config stream to proxies)',
  run: runControlPlane,
};

async function runControlPlane(args: string[]): Promise<number> {
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
  let running: RunningControlPlane;
  try {
    const listen = parseListenAddress(values.listen);
    let tokens: TokenSet | undefined;
    if (values['token-file'] !== undefined) {
      tokens = await loadTokenFile(values['token-file']);
    } else if (!isLoopbackHost(listen.host) && !values['insecure-no-auth']) {
      return usageError(
        `--token-file is required on ${listen.host} (not loopback); --insecure-no-auth overrides`,
      );
    }
    running = await startControlPlane({
      listenHost: listen.host,
      listenPort: listen.port,
      dataDir: values['data-dir'],
      tokens,
    });
    logEvent('info', 'control_plane_started', {
      listen: `${listen.host}:${running.port}`,
      url: running.url,
      store: resolve(values['data-dir'], STORE_FILE_NAME),
      auth: tokens === undefined ? 'off' : `${tokens.size} tokens`,
    });
    if (tokens === undefined) {
      logEvent('warn', 'auth_disabled', { reason: 'no --token-file: every caller is admin' });
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof TokenFileError || error instanceof FlagValueError) {
      return usageError(message);
    }
    process.stderr.write(`phoenix control-plane: ${message}\n`);
    return EXIT_FAILURE;
  }
  return waitForSignal(running);
}

function parseFlags(args: string[]) {
  return parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false }).values;
}

function usageError(message: string): number {
  return reportUsageError('control-plane', message);
}
