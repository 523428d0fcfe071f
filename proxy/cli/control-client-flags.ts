/**
 * Flags shared by the commands that call the control API (`phoenix pipeline`,
 * `phoenix proxies`): where it is, which token to send, how to print.
 */
import { type ControlPlaneClients, controlPlaneClients, readTokenFile } from '../control/index.js';
import { type OutputFormat, parseOutputFormat } from './output-format.js';

/** Default `--control-plane`: `$PHOENIX_CONTROL_PLANE`, else the local default address. */
export const DEFAULT_CONTROL_PLANE_URL = 'http://127.0.0.1:9092';

export const CONTROL_CLIENT_FLAGS = {
  'control-plane': { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  output: { type: 'string', short: 'o', default: 'table' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const CONTROL_CLIENT_USAGE = [
  `  --control-plane URL    control plane address (default $PHOENIX_CONTROL_PLANE or ${DEFAULT_CONTROL_PLANE_URL})`,
  '  --token TOKEN          bearer token (default $PHOENIX_TOKEN)',
  '  --token-file FILE      file holding the bearer token',
  '  -o, --output FORMAT    table (default), json or yaml',
  '  -h, --help             show this help',
];

export interface ControlClientContext {
  readonly clients: ControlPlaneClients;
  readonly output: OutputFormat;
}

/** Resolves the shared flags (and their environment defaults) to clients and a format. */
export async function controlClientContext(values: {
  readonly 'control-plane'?: string | undefined;
  readonly token?: string | undefined;
  readonly 'token-file'?: string | undefined;
  readonly output: string;
}): Promise<ControlClientContext> {
  const output = parseOutputFormat(values.output);
  const url =
    values['control-plane'] ?? process.env['PHOENIX_CONTROL_PLANE'] ?? DEFAULT_CONTROL_PLANE_URL;
  let token = values.token ?? process.env['PHOENIX_TOKEN'];
  if (values['token-file'] !== undefined) token = await readTokenFile(values['token-file']);
  return { clients: controlPlaneClients(url, token === '' ? undefined : token), output };
}
