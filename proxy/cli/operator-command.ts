import { parseArgs } from 'node:util';
import { createClient } from '@connectrpc/connect';
import { ExperimentService } from '../../proto/gen/phoenix/v1/experiment_pb.js';
import { PipelineService } from '../../proto/gen/phoenix/v1/pipeline_pb.js';
import { controlPlaneTransport } from '../control/control-plane-client.js';
import { readTokenFile } from '../control/index.js';
import { logEvent } from '../server/log.js';
import { DEFAULT_CONTROL_PLANE_URL } from './control-client-flags.js';
import { EXIT_OK, reportUsageError } from './exit-codes.js';
import { FlagValueError, parseDuration } from './flag-values.js';
import type { Command } from './main.js';
import { type CommandIo, processIo } from './output-format.js';
import { waitForSignal } from './shutdown-signal.js';

const FLAGS = {
  kubeconfig: { type: 'string' },
  'kube-api-url': { type: 'string' },
  'kube-token-file': { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  resync: { type: 'string', default: '5m' },
  'pipelines-only': { type: 'boolean', default: false },
  'control-plane': { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function usage(): string {
  return [
    'Usage: phoenix operator [flags]',
    '',
    'Reconciles the phoenix.dev/v1alpha1 resources of one namespace into a control plane.',
    'A Pipeline becomes the control-plane pipeline of the same name, with a new version only',
    'when spec.config changes; an Experiment is created and started, and its phase and',
    'results are mirrored into status. Deleting a Pipeline deletes the pipeline; deleting an',
    'Experiment stops it (a finalizer holds the resource until then).',
    '',
    'Kubernetes API (default: $KUBECONFIG or ~/.kube/config, else the pod service account):',
    '  --kubeconfig FILE        kubeconfig file; its current context is used',
    '  --kube-api-url URL       API server URL without a kubeconfig (kubectl proxy, tests)',
    '  --kube-token-file FILE   bearer token sent with --kube-api-url',
    '  -n, --namespace NS       namespace to watch (default: the pod namespace, else default)',
    '  --resync DURATION        reconcile everything this often without events (default 5m)',
    '  --pipelines-only         do not watch Experiment resources',
    '',
    'Control plane (the token needs the admin role):',
    `  --control-plane URL      control plane address (default $PHOENIX_CONTROL_PLANE or ${DEFAULT_CONTROL_PLANE_URL})`,
    '  --token TOKEN            bearer token (default $PHOENIX_TOKEN)',
    '  --token-file FILE        file holding the bearer token',
    '  -h, --help               show this help',
    '',
  ].join('\n');
}

/** `phoenix operator`: the Kubernetes operator, until SIGTERM or SIGINT. */
export const operatorCommand: Command = {
  name: 'operator',
  summary: 'reconcile Kubernetes Pipeline and Experiment resources into a control plane',
  run: (args) => runOperatorCommand(args, processIo),
};

/** Runs `phoenix operator …`; resolves to the exit status once a signal stopped it. */
export async function runOperatorCommand(args: string[], io: CommandIo): Promise<number> {
  let values: ReturnType<typeof parseFlags>;
  try {
    values = parseFlags(args);
  } catch (error) {
    return usageError(io, (error as Error).message);
  }
  if (values.help) {
    io.stdout(usage());
    return EXIT_OK;
  }
  // Loaded only for this command: the Kubernetes client is tens of MiB of heap that every
  // other command (a proxy above all) would otherwise carry.
  const kube = await import('../kube/index.js');
  let setup: Awaited<ReturnType<typeof resolveSetup>>;
  try {
    setup = await resolveSetup(values, kube);
  } catch (error) {
    return usageError(io, (error as Error).message);
  }
  const operator = kube.startOperator({
    kubeConfig: setup.kubeConfig,
    namespace: setup.namespace,
    pipelines: setup.pipelines,
    ...(values['pipelines-only'] ? {} : { experiments: setup.experiments }),
    resyncIntervalMs: setup.resyncIntervalMs,
  });
  logEvent('info', 'operator_started', {
    namespace: setup.namespace,
    kubeApi: setup.kubeConfig.getCurrentCluster()?.server,
    controlPlane: setup.controlPlaneUrl,
    kinds: values['pipelines-only'] ? ['Pipeline'] : ['Pipeline', 'Experiment'],
    resyncMs: setup.resyncIntervalMs,
  });
  void operator.synced.then(() =>
    logEvent('info', 'operator_synced', { namespace: setup.namespace }),
  );
  return waitForSignal(operator);
}

function parseFlags(args: string[]) {
  return parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false }).values;
}

async function resolveSetup(
  values: ReturnType<typeof parseFlags>,
  kube: typeof import('../kube/index.js'),
) {
  const resyncIntervalMs = parseDuration('--resync', values.resync);
  if (resyncIntervalMs < 1000) {
    throw new FlagValueError(`--resync ${values.resync} must be at least 1s`);
  }
  if (values['kube-token-file'] !== undefined && values['kube-api-url'] === undefined) {
    throw new FlagValueError('--kube-token-file goes with --kube-api-url');
  }
  const kubeToken =
    values['kube-token-file'] === undefined
      ? undefined
      : await readTokenFile(values['kube-token-file']);
  const kubeConfig = kube.resolveKubeConfig({
    ...(values.kubeconfig === undefined ? {} : { kubeconfigPath: values.kubeconfig }),
    ...(values['kube-api-url'] === undefined ? {} : { apiUrl: values['kube-api-url'] }),
    ...(kubeToken === undefined ? {} : { bearerToken: kubeToken }),
  });
  const controlPlaneUrl =
    values['control-plane'] ?? process.env['PHOENIX_CONTROL_PLANE'] ?? DEFAULT_CONTROL_PLANE_URL;
  let token = values.token ?? process.env['PHOENIX_TOKEN'];
  if (values['token-file'] !== undefined) token = await readTokenFile(values['token-file']);
  const transport = controlPlaneTransport(controlPlaneUrl, token === '' ? undefined : token);
  return {
    kubeConfig,
    namespace: values.namespace ?? kube.defaultNamespace(),
    pipelines: createClient(PipelineService, transport),
    experiments: createClient(ExperimentService, transport),
    resyncIntervalMs,
    controlPlaneUrl,
  };
}

function usageError(io: CommandIo, message: string): number {
  return reportUsageError('operator', message, (text) => io.stderr(text));
}
