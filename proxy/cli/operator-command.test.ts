/**
 * `phoenix operator` from the command line: flag errors, and `bin/phoenix operator` as a
 * child process between the loopback Kubernetes API stand-in (which demands a bearer
 * token, like a real API server) and a real control plane, stopped with SIGTERM.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ManagedProcess, startProcess } from '../../test/helpers/managed-process.js';
import { phoenixBinary } from '../../test/helpers/peers.js';
import { pollUntil } from '../../test/helpers/poll.js';
import { FakeApiServer } from '../../test/kube/fake-api-server.js';
import { controlPlaneClients } from '../control/index.js';
import {
  capturingIo,
  startTestControlPlane,
  TEST_TOKENS,
  type TestControlPlane,
} from './cli-test-support.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { runOperatorCommand } from './operator-command.js';

describe('phoenix operator flags', () => {
  const cases: Array<{ args: string[]; error: RegExp }> = [
    { args: ['--kubeconfig', 'a', '--kube-api-url', 'http://127.0.0.1:1'], error: /not both/ },
    { args: ['--kube-api-url', 'ftp://x'], error: /must be http or https/ },
    { args: ['--kube-api-url', 'not a url'], error: /is not a URL/ },
    { args: ['--kube-token-file', '/nonexistent'], error: /goes with --kube-api-url/ },
    { args: ['--resync', '10x'], error: /--resync "10x" is not a duration/ },
    { args: ['--resync', '500ms'], error: /at least 1s/ },
    { args: ['--kubeconfig', '/nonexistent/kubeconfig'], error: /cannot load --kubeconfig/ },
    { args: ['--frobnicate'], error: /Unknown option '--frobnicate'/ },
  ];
  for (const { args, error } of cases) {
    it(`refuses ${args.join(' ')}`, async () => {
      const io = capturingIo();
      expect(await runOperatorCommand(args, io)).toBe(EXIT_USAGE);
      expect(io.err).toMatch(error);
      expect(io.err).toMatch(/phoenix operator --help/);
    });
  }

  it('prints its help', async () => {
    const io = capturingIo();
    expect(await runOperatorCommand(['--help'], io)).toBe(EXIT_OK);
    expect(io.out).toMatch(/--kube-api-url URL/);
  });
});

describe('bin/phoenix operator', () => {
  const KUBE_TOKEN = 'kube-service-account-token';
  let workDir: string;
  let apiServer: FakeApiServer;
  let controlPlane: TestControlPlane;
  let operator: ManagedProcess | undefined;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'phoenix-operator-cli-'));
    apiServer = await FakeApiServer.start({ bearerToken: KUBE_TOKEN });
    controlPlane = await startTestControlPlane();
  });

  afterAll(async () => {
    await operator?.stop();
    await apiServer.close();
    await controlPlane.close();
    await rm(workDir, { recursive: true, force: true });
  });

  it('applies a Pipeline resource and stops cleanly on SIGTERM', async () => {
    const tokenFile = join(workDir, 'kube-token');
    await writeFile(tokenFile, `${KUBE_TOKEN}\n`);
    apiServer.create('pipelines', {
      apiVersion: 'phoenix.dev/v1alpha1',
      kind: 'Pipeline',
      metadata: { name: 'edge', namespace: 'metrics' },
      spec: { config: 'relabel_configs:\n  - action: labeldrop\n    regex: pod\n' },
    });
    operator = startProcess('phoenix operator', phoenixBinary(), [
      'operator',
      '--kube-api-url',
      apiServer.url,
      '--kube-token-file',
      tokenFile,
      '--namespace',
      'metrics',
      '--control-plane',
      controlPlane.url,
      '--token',
      TEST_TOKENS.admin,
    ]);
    const status = await pollUntil(
      async () => {
        const exited = operator?.exitStatus();
        if (exited !== undefined) throw new Error(`operator exited ${exited}:\n${operator?.log()}`);
        const found = apiServer.get('pipelines', 'metrics', 'edge')?.['status'] as
          | { phase?: string; appliedVersion?: number }
          | undefined;
        return found?.phase === 'Applied' ? found : undefined;
      },
      { description: 'the Pipeline to be applied', intervalMs: 100 },
    );
    expect(status.appliedVersion).toBe(1);
    const { pipeline } = await controlPlaneClients(
      controlPlane.url,
      TEST_TOKENS.admin,
    ).pipelines.getPipeline({
      name: 'edge',
    });
    expect(pipeline?.author).toBe('admin-user');
    expect(apiServer.requests.some((request) => request.watch)).toBe(true);

    await operator.stop();
    expect(operator.exitStatus()).toBe('0');
    const events = operator
      .log()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { event: string }).event);
    expect(events).toEqual(
      expect.arrayContaining(['operator_started', 'operator_synced', 'shutdown_started']),
    );
  });
});
