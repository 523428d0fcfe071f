/**
 * The operator's Experiment resources between the loopback Kubernetes API stand-in (no
 * real API server can run here) and a real control plane: created and started with their
 * queries read from ConfigMaps, status following the control plane's phase, invalid and
 * waiting specs reported, edits after creation refused, deletion stopping the experiment.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@connectrpc/connect';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  parseTokenFile,
  type RunningControlPlane,
  startControlPlane,
} from '../../control-plane/index.js';
import { ExperimentPhase, ExperimentService } from '../../proto/gen/phoenix/v1/experiment_pb.js';
import { controlPlaneTransport } from '../../proxy/control/control-plane-client.js';
import { controlPlaneClients } from '../../proxy/control/index.js';
import { resolveKubeConfig } from '../../proxy/kube/kube-config.js';
import { type RunningOperator, startOperator } from '../../proxy/kube/operator.js';
import { pollUntil } from '../helpers/poll.js';
import { FakeApiServer, type FakeObject } from './fake-api-server.js';

const ADMIN_TOKEN = 'operator-admin-token-bbbbbbbbbbbb';
const NAMESPACE = 'metrics';
const BASELINE = 'relabel_configs:\n  - action: labeldrop\n    regex: node\n';
const CANDIDATE = 'relabel_configs:\n  - action: labeldrop\n    regex: pod\n';
const RULES = `groups:\n  - name: http\n    rules:\n      - alert: HighErrorRate\n        expr: sum by (pod) (rate(http_errors_total[5m])) > 1\n`;

let dataDir: string;
let controlPlane: RunningControlPlane;
let apiServer: FakeApiServer;
let kubeConfig: KubeConfig;
let operator: RunningOperator | undefined;

function experimentsClient() {
  return createClient(ExperimentService, controlPlaneTransport(controlPlane.url, ADMIN_TOKEN));
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'phoenix-operator-exp-'));
  controlPlane = await startControlPlane({
    listenPort: 0,
    dataDir,
    tokens: parseTokenFile(
      JSON.stringify([{ name: 'operator', token: ADMIN_TOKEN, role: 'admin' }]),
      'tokens.json',
    ),
    experimentTickMs: 200,
  });
  apiServer = await FakeApiServer.start();
  kubeConfig = resolveKubeConfig({ apiUrl: apiServer.url });
  operator = startOperator({
    kubeConfig,
    namespace: NAMESPACE,
    pipelines: controlPlaneClients(controlPlane.url, ADMIN_TOKEN).pipelines,
    experiments: experimentsClient(),
    retryMinMs: 100,
    retryMaxMs: 500,
    experimentRefreshMs: 200,
  });
  await operator.synced;
});

afterEach(async () => {
  await operator?.close();
  operator = undefined;
  await apiServer.close();
  await controlPlane.close();
  await rm(dataDir, { recursive: true, force: true });
});

function createPipeline(name: string): void {
  apiServer.create('pipelines', {
    apiVersion: 'phoenix.dev/v1alpha1',
    kind: 'Pipeline',
    metadata: { name, namespace: NAMESPACE },
    spec: { config: BASELINE },
  });
}

function createExperiment(name: string, spec: Record<string, unknown>): void {
  apiServer.create('experiments', {
    apiVersion: 'phoenix.dev/v1alpha1',
    kind: 'Experiment',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      baselinePipeline: 'edge',
      candidate: CANDIDATE,
      mode: 'shadow',
      duration: '1h',
      ...spec,
    },
  });
}

function experimentResource(name: string): FakeObject | undefined {
  return apiServer.get('experiments', NAMESPACE, name);
}

interface SeenStatus {
  phase?: string;
  appliedVersion?: number;
  observedGeneration?: number;
  message?: string;
  startedAt?: string;
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
}

async function waitForPhase(name: string, phase: string, reason?: string): Promise<SeenStatus> {
  let last: SeenStatus | undefined;
  return pollUntil(
    async () => {
      const current = experimentResource(name);
      last = current?.['status'] as SeenStatus | undefined;
      return last?.phase === phase &&
        last.observedGeneration === current?.metadata.generation &&
        (reason === undefined || last.conditions?.[0]?.reason === reason)
        ? last
        : undefined;
    },
    {
      get description() {
        return `Experiment ${name} in phase ${phase}; status ${JSON.stringify(last)}`;
      },
      intervalMs: 50,
      timeoutMs: 20_000,
    },
  );
}

describe('phoenix operator: Experiment resources', () => {
  it('creates and starts the experiment with queries from a ConfigMap, and follows its phase', async () => {
    apiServer.create('configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'http-rules', namespace: NAMESPACE },
      data: { 'alerts.yaml': RULES },
    });
    createPipeline('edge');
    createExperiment('drop-pod', {
      queries: {
        rules: [{ configMap: 'http-rules', key: 'alerts.yaml' }],
        promql: ['sum(rate(http_requests_total[5m]))'],
      },
      guardrails: { minDuration: '10m', maxBrokenQueries: 0 },
    });
    const running = await waitForPhase('drop-pod', 'Running');
    expect(running.appliedVersion).toBe(1);
    expect(running.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(running.conditions?.[0]).toMatchObject({
      type: 'Ready',
      status: 'True',
      reason: 'Running',
    });
    expect(experimentResource('drop-pod')?.metadata.finalizers).toEqual(['phoenix.dev/finalizer']);

    const { experiment } = await experimentsClient().getExperiment({ name: 'drop-pod' });
    expect(experiment?.phase).toBe(ExperimentPhase.RUNNING);
    expect(experiment?.spec?.durationSeconds).toBe(3600);
    expect(experiment?.spec?.guardrails?.minDurationSeconds).toBe(600);
    expect(experiment?.spec?.queries?.ruleFiles.map((file) => file.name)).toEqual([
      'http-rules/alerts.yaml',
    ]);
    expect(experiment?.spec?.queries?.promql).toEqual(['sum(rate(http_requests_total[5m]))']);

    // The candidate drops `pod`, which the alert groups by: the static check says so.
    await pollUntil(
      async () => {
        const status = experimentResource('drop-pod')?.['status'] as { brokenQueries?: number };
        return status?.brokenQueries === 1 ? true : undefined;
      },
      { description: 'brokenQueries 1 in status', intervalMs: 50, timeoutMs: 20_000 },
    );

    await experimentsClient().rollbackExperiment({ name: 'drop-pod', reason: 'breaks alerts' });
    const rolledBack = await waitForPhase('drop-pod', 'RolledBack');
    expect(rolledBack.message).toBe('breaks alerts');
  });

  it('reports invalid specs with their path', async () => {
    createPipeline('edge');
    createExperiment('bad-mode', { mode: 'canary' });
    createExperiment('bad-candidate', { candidate: 'relabel_configs:\n  - action: frobnicate\n' });
    createExperiment('bad-duration', { duration: 'an hour' });
    const badMode = await waitForPhase('bad-mode', 'Invalid');
    expect(badMode.message).toMatch(/^spec\.mode: "canary" must be shadow or split/);
    const badCandidate = await waitForPhase('bad-candidate', 'Invalid');
    expect(badCandidate.message).toMatch(/relabel_configs\[0\]\.action/);
    const badDuration = await waitForPhase('bad-duration', 'Invalid');
    expect(badDuration.message).toMatch(/^spec\.duration: "an hour" is not a duration/);
    expect(badDuration.conditions?.[0]).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    const { experiments } = await experimentsClient().listExperiments({});
    expect(experiments).toEqual([]);
  });

  it('waits for a missing baseline pipeline and ConfigMap, then starts', async () => {
    createExperiment('drop-pod', { queries: { dashboards: [{ configMap: 'dashboards' }] } });
    const missingMap = await waitForPhase('drop-pod', 'Invalid');
    expect(missingMap.message).toBe(
      'spec.queries.dashboards[0].configMap: ConfigMap dashboards not found',
    );
    apiServer.create('configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'dashboards', namespace: NAMESPACE },
      data: { 'http.json': JSON.stringify({ title: 'HTTP', panels: [] }) },
    });
    const waiting = await waitForPhase('drop-pod', 'Pending');
    expect(waiting.message).toMatch(/pipeline: "edge" does not exist/);
    createPipeline('edge');
    await waitForPhase('drop-pod', 'Running');
  });

  it('reports an edit after creation instead of applying it, and stops the experiment on delete', async () => {
    createPipeline('edge');
    createExperiment('drop-pod', {});
    await waitForPhase('drop-pod', 'Running');
    const current = experimentResource('drop-pod')!;
    apiServer.replace('experiments', {
      ...current,
      spec: { ...(current['spec'] as object), mode: 'split', fraction: 0.5 },
    });
    const edited = await waitForPhase('drop-pod', 'Running', 'SpecImmutable');
    expect(edited.conditions?.[0]?.status).toBe('False');
    expect(edited.message).toMatch(/an experiment cannot be changed/);
    const { experiment } = await experimentsClient().getExperiment({ name: 'drop-pod' });
    expect(experiment?.spec?.fraction).toBe(0);

    apiServer.delete('experiments', NAMESPACE, 'drop-pod');
    await pollUntil(async () => (experimentResource('drop-pod') === undefined ? true : undefined), {
      description: 'the Experiment resource to go away',
      intervalMs: 50,
    });
    const stopped = await experimentsClient().getExperiment({ name: 'drop-pod' });
    expect(stopped.experiment?.phase).toBe(ExperimentPhase.STOPPED);
    expect(stopped.experiment?.decisionReason).toBe('Experiment resource deleted');
  });

  it('keeps a promoted version until the Pipeline spec changes', async () => {
    createPipeline('edge');
    createExperiment('drop-pod', {});
    await waitForPhase('drop-pod', 'Running');
    const promoted = await experimentsClient().promoteExperiment({
      name: 'drop-pod',
      reason: 'saves 40%',
    });
    expect(promoted.experiment?.promotedVersion).toBe(2);
    await waitForPhase('drop-pod', 'Promoted');

    const pipelines = controlPlaneClients(controlPlane.url, ADMIN_TOKEN).pipelines;
    operator!.resync();
    const pipelineStatus = await pollUntil(
      async () => {
        const status = apiServer.get('pipelines', NAMESPACE, 'edge')?.['status'] as
          | { appliedVersion?: number; conditions?: Array<{ reason: string; message: string }> }
          | undefined;
        return status?.conditions?.[0]?.reason === 'Promoted' ? status : undefined;
      },
      { description: 'the Pipeline to report the promotion', intervalMs: 50, timeoutMs: 20_000 },
    );
    expect(pipelineStatus.appliedVersion).toBe(2);
    expect(pipelineStatus.conditions?.[0]?.message).toMatch(
      /^experiment drop-pod promoted version 2/,
    );
    const latest = await pipelines.getPipeline({ name: 'edge' });
    expect(latest.pipeline?.configYaml).toBe(CANDIDATE);

    // A new spec is applied as usual.
    const resource = apiServer.get('pipelines', NAMESPACE, 'edge')!;
    apiServer.replace('pipelines', {
      ...resource,
      spec: { config: CANDIDATE.replace('pod', 'pod|node') },
    });
    await pollUntil(
      async () =>
        (await pipelines.getPipeline({ name: 'edge' })).pipeline?.version === 3 ? true : undefined,
      { description: 'version 3 from the new spec', intervalMs: 50, timeoutMs: 20_000 },
    );
  });
});
