/**
 * The operator between the loopback Kubernetes API stand-in (test/kube/fake-api-server.ts;
 * no real API server can run here) and a real control plane on loopback: Pipeline
 * resources become control-plane pipelines, with status, finalizer, idempotence across
 * resyncs and restarts, and convergence after broken watches, 410 Gone and API errors.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError } from '@connectrpc/connect';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  parseTokenFile,
  type RunningControlPlane,
  startControlPlane,
} from '../../control-plane/index.js';
import { controlPlaneClients } from '../../proxy/control/index.js';
import { resolveKubeConfig } from '../../proxy/kube/kube-config.js';
import { type RunningOperator, startOperator } from '../../proxy/kube/operator.js';
import type { PipelineApi } from '../../proxy/kube/pipeline-reconciler.js';
import { pollUntil } from '../helpers/poll.js';
import { FakeApiServer, type FakeObject } from './fake-api-server.js';

const ADMIN_TOKEN = 'operator-admin-token-aaaaaaaaaaaa';
const NAMESPACE = 'metrics';
const DROP_POD = 'relabel_configs:\n  - action: labeldrop\n    regex: pod\n';
const DROP_POD_AND_NODE = `${DROP_POD}  - action: labeldrop\n    regex: node\n`;
const UNKNOWN_ACTION = 'relabel_configs:\n  - action: frobnicate\n    regex: pod\n';

let dataDir: string;
let controlPlane: RunningControlPlane;
let apiServer: FakeApiServer;
let kubeConfig: KubeConfig;
let pipelines: ReturnType<typeof controlPlaneClients>['pipelines'];
let operator: RunningOperator | undefined;
/** How many times the operator asked the control plane for a pipeline. */
let getCalls = 0;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'phoenix-operator-'));
  controlPlane = await startControlPlane({
    listenPort: 0,
    dataDir,
    tokens: parseTokenFile(
      JSON.stringify([{ name: 'operator', token: ADMIN_TOKEN, role: 'admin' }]),
      'tokens.json',
    ),
  });
  pipelines = controlPlaneClients(controlPlane.url, ADMIN_TOKEN).pipelines;
  apiServer = await FakeApiServer.start();
  kubeConfig = resolveKubeConfig({ apiUrl: apiServer.url });
  getCalls = 0;
});

afterEach(async () => {
  await operator?.close();
  operator = undefined;
  await apiServer.close();
  await controlPlane.close();
  await rm(dataDir, { recursive: true, force: true });
});

function runOperator(): RunningOperator {
  const counted: PipelineApi = {
    getPipeline: (request, options) => {
      getCalls += 1;
      return pipelines.getPipeline(request, options);
    },
    createPipeline: (request, options) => pipelines.createPipeline(request, options),
    updatePipeline: (request, options) => pipelines.updatePipeline(request, options),
    deletePipeline: (request, options) => pipelines.deletePipeline(request, options),
  };
  operator = startOperator({
    kubeConfig,
    namespace: NAMESPACE,
    pipelines: counted,
    retryMinMs: 100,
    retryMaxMs: 1000,
  });
  return operator;
}

function createPipelineResource(name: string, config: unknown): FakeObject {
  return apiServer.create('pipelines', {
    apiVersion: 'phoenix.dev/v1alpha1',
    kind: 'Pipeline',
    metadata: { name, namespace: NAMESPACE },
    spec: { config },
  });
}

function resource(name: string): FakeObject | undefined {
  return apiServer.get('pipelines', NAMESPACE, name);
}

interface SeenStatus {
  phase?: string;
  appliedVersion?: number;
  observedGeneration?: number;
  message?: string;
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
}

function statusOf(name: string): SeenStatus | undefined {
  return resource(name)?.['status'] as SeenStatus | undefined;
}

/** Waits until the resource's status describes its current generation with `phase`. */
async function waitForStatus(name: string, phase: string): Promise<SeenStatus> {
  return pollUntil(
    async () => {
      const current = resource(name);
      const status = current?.['status'] as SeenStatus | undefined;
      return status?.phase === phase && status.observedGeneration === current?.metadata.generation
        ? status
        : undefined;
    },
    { description: `Pipeline ${name} in phase ${phase}`, intervalMs: 50, timeoutMs: 20_000 },
  );
}

async function history(name: string): Promise<number[]> {
  try {
    const { versions } = await pipelines.getPipelineHistory({ name });
    return versions.map((version) => version.version);
  } catch (error) {
    if (ConnectError.from(error).code === Code.NotFound) return [];
    throw error;
  }
}

/** Lets the operator run `reconciles` more lookups, then waits for its queue to drain. */
async function settleAfter(getCallsBefore: number, reconciles: number): Promise<void> {
  await pollUntil(
    async () => (getCalls >= getCallsBefore + reconciles && operator?.idle ? true : undefined),
    { description: `${reconciles} more reconciles`, intervalMs: 50, timeoutMs: 20_000 },
  );
}

function statusWrites(): number {
  return apiServer.requests.filter(
    (request) => request.method === 'PATCH' && request.path.endsWith('/status'),
  ).length;
}

describe('phoenix operator: Pipeline resources', () => {
  it('creates the pipeline, adds the finalizer and writes status', async () => {
    createPipelineResource('edge', DROP_POD);
    await runOperator().synced;
    const status = await waitForStatus('edge', 'Applied');
    const { pipeline } = await pipelines.getPipeline({ name: 'edge' });
    expect(pipeline?.configYaml).toBe(DROP_POD);
    expect(pipeline?.author).toBe('operator');
    expect(pipeline?.message).toBe(`from Pipeline ${NAMESPACE}/edge generation 1`);
    expect(status).toMatchObject({
      appliedVersion: 1,
      observedGeneration: 1,
      message: 'spec.config is version 1 in the control plane',
      conditions: [{ type: 'Ready', status: 'True', reason: 'Applied' }],
    });
    expect(resource('edge')?.metadata.finalizers).toEqual(['phoenix.dev/finalizer']);
  });

  it('makes a new version when spec.config changes, and none on resync or restart', async () => {
    createPipelineResource('edge', DROP_POD);
    await runOperator().synced;
    await waitForStatus('edge', 'Applied');

    const current = resource('edge')!;
    apiServer.replace('pipelines', {
      ...current,
      spec: { config: DROP_POD_AND_NODE, message: 'drop node too' },
    });
    const updated = await waitForStatus('edge', 'Applied');
    expect(updated.appliedVersion).toBe(2);
    expect(updated.observedGeneration).toBe(2);
    expect((await pipelines.getPipeline({ name: 'edge' })).pipeline?.message).toBe('drop node too');
    expect(await history('edge')).toEqual([2, 1]);

    const writesBefore = statusWrites();
    const callsBeforeResync = getCalls;
    operator!.resync();
    await settleAfter(callsBeforeResync, 1);
    expect(await history('edge')).toEqual([2, 1]);
    expect(statusWrites()).toBe(writesBefore);

    await operator!.close();
    const callsBeforeRestart = getCalls;
    await runOperator().synced;
    await settleAfter(callsBeforeRestart, 1);
    expect(await history('edge')).toEqual([2, 1]);
    expect(statusWrites()).toBe(writesBefore);
    expect(statusOf('edge')?.appliedVersion).toBe(2);
  });

  it('puts back a change made to the pipeline behind its back on resync', async () => {
    createPipelineResource('edge', DROP_POD);
    await runOperator().synced;
    await waitForStatus('edge', 'Applied');
    await pipelines.updatePipeline({ name: 'edge', configYaml: DROP_POD_AND_NODE });
    const callsBefore = getCalls;
    operator!.resync();
    await settleAfter(callsBefore, 1);
    const { pipeline } = await pipelines.getPipeline({ name: 'edge' });
    expect(pipeline?.version).toBe(3);
    expect(pipeline?.configYaml).toBe(DROP_POD);
    expect(statusOf('edge')?.appliedVersion).toBe(3);
  });

  it('deletes the pipeline from the control plane before the finalizer lets the resource go', async () => {
    createPipelineResource('edge', DROP_POD);
    await runOperator().synced;
    await waitForStatus('edge', 'Applied');
    apiServer.delete('pipelines', NAMESPACE, 'edge');
    await pollUntil(async () => (resource('edge') === undefined ? true : undefined), {
      description: 'the resource to go away',
      intervalMs: 50,
    });
    const error = await pipelines.getPipeline({ name: 'edge' }).then(
      () => undefined,
      (caught: unknown) => ConnectError.from(caught),
    );
    expect(error?.code).toBe(Code.NotFound);
    const finalizerPatch = apiServer.requests.find(
      (request) =>
        request.method === 'PATCH' &&
        request.contentType === 'application/json-patch+json' &&
        JSON.stringify(request.body).includes('"value":[]'),
    );
    expect(finalizerPatch).toBeDefined();
  });

  it('reports an invalid config with its path and keeps serving the others', async () => {
    createPipelineResource('good', DROP_POD);
    createPipelineResource('bad', UNKNOWN_ACTION);
    createPipelineResource('not-text', { relabel_configs: [] });
    await runOperator().synced;
    const bad = await waitForStatus('bad', 'Invalid');
    expect(bad.message).toMatch(/relabel_configs\[0\]\.action/);
    expect(bad.message).toMatch(/frobnicate/);
    expect(bad.appliedVersion).toBeUndefined();
    expect(bad.conditions?.[0]).toMatchObject({
      type: 'Ready',
      status: 'False',
      reason: 'InvalidConfig',
    });
    const notText = await waitForStatus('not-text', 'Invalid');
    expect(notText.conditions?.[0]?.reason).toBe('InvalidSpec');
    expect(await history('bad')).toEqual([]);
    await waitForStatus('good', 'Applied');

    // Fixing the config applies it.
    apiServer.replace('pipelines', { ...resource('bad')!, spec: { config: DROP_POD } });
    const fixed = await waitForStatus('bad', 'Applied');
    expect(fixed.appliedVersion).toBe(1);

    // Breaking it again keeps the version proxies run and says so.
    apiServer.replace('pipelines', { ...resource('bad')!, spec: { config: UNKNOWN_ACTION } });
    const broken = await waitForStatus('bad', 'Invalid');
    expect(broken.appliedVersion).toBe(1);
    expect(await history('bad')).toEqual([1]);
  });

  it('converges after broken watches, 410 Gone and failing API calls', async () => {
    createPipelineResource('edge', DROP_POD);
    createPipelineResource('gone', DROP_POD);
    await runOperator().synced;
    await waitForStatus('edge', 'Applied');
    await waitForStatus('gone', 'Applied');

    // A dropped watch resumes from its resourceVersion.
    expect(apiServer.closeWatches()).toBe(1);
    apiServer.replace('pipelines', { ...resource('edge')!, spec: { config: DROP_POD_AND_NODE } });
    expect((await waitForStatus('edge', 'Applied')).appliedVersion).toBe(2);

    // Watches fail while things change and history is compacted: the informer restarts
    // with backoff, gets 410 Gone, and lists again; it must see the change and the delete.
    apiServer.failRequests(503, (request) => request.watch);
    apiServer.closeWatches();
    apiServer.replace('pipelines', { ...resource('edge')!, spec: { config: DROP_POD } });
    apiServer.delete('pipelines', NAMESPACE, 'gone');
    apiServer.compactHistory();
    await new Promise((resolve) => setTimeout(resolve, 300));
    apiServer.failRequests(undefined);
    const afterRelist = await waitForStatus('edge', 'Applied');
    expect(afterRelist.appliedVersion).toBe(3);
    await pollUntil(async () => (resource('gone') === undefined ? true : undefined), {
      description: 'the deleted resource to be finalized',
      intervalMs: 50,
    });
    expect(await history('gone')).toEqual([1]);
    expect((await pipelines.listPipelines({})).pipelines.map((p) => p.name)).toEqual(['edge']);
    // One list at start, one after 410 Gone: a dropped watch or a failed one resumes.
    const lists = apiServer.requests.filter(
      (request) =>
        request.method === 'GET' && !request.watch && request.path.endsWith('/pipelines'),
    );
    expect(lists).toHaveLength(2);

    // Status writes that fail are retried until they land.
    apiServer.failRequests(500, (request) => request.path.endsWith('/status'));
    apiServer.replace('pipelines', { ...resource('edge')!, spec: { config: DROP_POD_AND_NODE } });
    await pollUntil(
      async () =>
        apiServer.requests.filter(
          (request) => request.path.endsWith('/status') && request.method === 'PATCH',
        ).length > 0 && (await history('edge'))[0] === 4
          ? true
          : undefined,
      { description: 'the new version while status writes fail', intervalMs: 50 },
    );
    apiServer.failRequests(undefined);
    expect((await waitForStatus('edge', 'Applied')).appliedVersion).toBe(4);
  });

  it('marks resources Failed while the control plane is away, and applies them when it is back', async () => {
    await controlPlane.close();
    createPipelineResource('edge', DROP_POD);
    await runOperator().synced;
    const failed = await waitForStatus('edge', 'Failed');
    expect(failed.conditions?.[0]).toMatchObject({ status: 'False', reason: 'ControlPlaneError' });
    controlPlane = await startControlPlane({
      listenPort: Number(new URL(controlPlane.url).port),
      dataDir,
      tokens: parseTokenFile(
        JSON.stringify([{ name: 'operator', token: ADMIN_TOKEN, role: 'admin' }]),
        'tokens.json',
      ),
    });
    const applied = await waitForStatus('edge', 'Applied');
    expect(applied.appliedVersion).toBe(1);
  });
});
