import { parseArgs } from 'node:util';
import { toJson } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { ConnectError } from '@connectrpc/connect';
import { ProxyStatusSchema } from '../../proto/gen/phoenix/v1/proxy_pb.js';
import {
  CONTROL_CLIENT_FLAGS,
  CONTROL_CLIENT_USAGE,
  type ControlClientContext,
  controlClientContext,
} from './control-client-flags.js';
import { EXIT_FAILURE, EXIT_OK, reportUsageError } from './exit-codes.js';
import type { Command } from './main.js';
import { type CommandIo, formatData, formatTable, processIo } from './output-format.js';

function usage(): string {
  return [
    'Usage: phoenix proxies [flags]',
    '',
    'Lists the proxies a control plane knows: the pipeline version each runs on every',
    'worker, whether its config stream is open, its counters and its last apply error.',
    '',
    'Flags:',
    ...CONTROL_CLIENT_USAGE,
    '',
  ].join('\n');
}

/** `phoenix proxies`: the fleet as the control plane sees it. */
export const proxiesCommand: Command = {
  name: 'proxies',
  summary: 'list the proxies following a control plane and the version each runs',
  run: (args) => runProxiesCommand(args, processIo),
};

/** Runs `phoenix proxies …` writing to `io`; resolves to the exit status. */
export async function runProxiesCommand(args: string[], io: CommandIo): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof CONTROL_CLIENT_FLAGS }>>['values'];
  try {
    values = parseArgs({ args, options: CONTROL_CLIENT_FLAGS, strict: true }).values;
  } catch (error) {
    return usageError(io, (error as Error).message);
  }
  if (values.help) {
    io.stdout(usage());
    return EXIT_OK;
  }
  let context: ControlClientContext;
  try {
    context = await controlClientContext(values);
  } catch (error) {
    return usageError(io, (error as Error).message);
  }
  try {
    const { proxies } = await context.clients.proxies.listProxies({});
    if (context.output !== 'table') {
      io.stdout(
        formatData(
          context.output,
          proxies.map((proxy) => toJson(ProxyStatusSchema, proxy)),
        ),
      );
      return EXIT_OK;
    }
    io.stdout(
      formatTable(
        [
          'id',
          'pipeline',
          'version',
          'connected',
          'listen',
          'requests',
          'last seen',
          'apply error',
        ],
        proxies.map((proxy) => [
          proxy.proxyId,
          proxy.pipeline,
          String(proxy.appliedVersion),
          proxy.connected ? 'yes' : 'no',
          proxy.listen,
          String(proxy.counters?.requests ?? 0n),
          proxy.lastSeen === undefined ? '' : timestampDate(proxy.lastSeen).toISOString(),
          proxy.applyError === undefined
            ? ''
            : `v${proxy.applyError.version}: ${proxy.applyError.message}`,
        ]),
      ),
    );
    return EXIT_OK;
  } catch (error) {
    const connectError = ConnectError.from(error);
    io.stderr(`phoenix proxies: ${connectError.message}\n`);
    return EXIT_FAILURE;
  }
}

function usageError(io: CommandIo, message: string): number {
  return reportUsageError('proxies', message, io.stderr);
}
