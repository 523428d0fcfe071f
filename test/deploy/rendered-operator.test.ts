/**
 * The chart's operator runs and its RBAC covers what it does. The operator container is
 * started as the real `phoenix operator` with its rendered args and its token Secret as a
 * file (local-pod.ts), against a control plane started from the rendered control-plane
 * container. No API server can run here: the Kubernetes API is the loopback stand-in of
 * test/kube/fake-api-server.ts, reached with `--kube-api-url` and `--kube-token-file` (the
 * two flags added; in a pod the service account stands in for them). Every request the
 * operator sent while it applied and deleted a Pipeline and an Experiment with a ConfigMap
 * query source is then checked against the rendered Role and bindings of its
 * ServiceAccount with the RBAC rules of test/deploy/rbac.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertRunning, type ManagedProcess } from '../helpers/managed-process.js';
import { pollUntil } from '../helpers/poll.js';
import { freePort, LOOPBACK_HOST } from '../helpers/ports.js';
import { FakeApiServer } from '../kube/fake-api-server.js';
import { helmTemplate, NAMESPACE } from './deploy-tools.js';
import { container, findObject, type K8sObject, parseManifests, podSpec } from './k8s-objects.js';
import { startLocalPod } from './local-pod.js';
import {
  deniedRequests,
  describeAttributes,
  type RequestAttributes,
  requestAttributes,
} from './rbac.js';

const ADMIN_TOKEN = 'deploy-test-operator-admin-0001';
const PROXY_TOKEN = 'deploy-test-operator-proxy-0001';
const KUBE_TOKEN = 'deploy-test-service-account-token';
const TOKENS_YAML = [
  'tokens:',
  `  - { name: operator, token: "${ADMIN_TOKEN}", role: admin }`,
  `  - { name: fleet, token: "${PROXY_TOKEN}", role: proxy }`,
  '',
].join('\n');
const BASELINE = 'relabel_configs:\n  - action: labeldrop\n    regex: node\n';
const CANDIDATE = 'relabel_configs:\n  - action: labeldrop\n    regex: pod\n';
const RULES = `groups:\n  - name: http\n    rules:\n      - record: job:http_requests:rate5m\n        expr: sum by (job) (rate(http_requests_total[5m]))\n`;

let workDir = '';
let apiServer: FakeApiServer;
const processes: ManagedProcess[] = [];
let objects: K8sObject[] = [];
/** Distinct attributes of the requests the operator sent, by description. */
const sent = new Map<string, RequestAttributes>();

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'phoenix-rendered-operator-'));
  apiServer = await FakeApiServer.start({ bearerToken: KUBE_TOKEN });
  objects = parseManifests(helmTemplate(['--set', 'operator.enabled=true']));
}, 60_000);

afterAll(async () => {
  await Promise.all(processes.map((process) => process.stop()));
  await apiServer?.close();
  if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
});

function operatorAccount() {
  const pod = podSpec(findObject(objects, 'Deployment', 'phoenix-operator'));
  return { name: pod.serviceAccountName!, namespace: NAMESPACE };
}

function statusOf(plural: 'pipelines' | 'experiments', name: string) {
  return apiServer.get(plural, NAMESPACE, name)?.['status'] as
    | { phase?: string; message?: string }
    | undefined;
}

describe('the rendered operator', () => {
  it('reconciles a Pipeline and an Experiment with a ConfigMap query source, and cleans up on delete', async () => {
    const secrets = {
      'phoenix-control-plane-tokens': {
        'tokens.yaml': TOKENS_YAML,
        'proxy.token': PROXY_TOKEN,
        'operator.token': `${ADMIN_TOKEN}\n`,
      },
    };
    const controlPlanePod = podSpec(findObject(objects, 'Deployment', 'phoenix-control-plane'));
    const port = await freePort();
    const controlPlane = startLocalPod('control plane', {
      objects,
      pod: controlPlanePod,
      container: container(controlPlanePod, 'control-plane'),
      root: join(workDir, 'control-plane'),
      externalSecrets: secrets,
      flagValues: { '--listen': `${LOOPBACK_HOST}:${port}` },
    });
    processes.push(controlPlane);
    await pollUntil(
      async () => {
        assertRunning(controlPlane);
        return controlPlane.log().includes('"event":"control_plane_started"') ? true : undefined;
      },
      { description: 'control plane start', timeoutMs: 20_000 },
    );

    apiServer.create('configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'http-rules', namespace: NAMESPACE },
      data: { 'rules.yaml': RULES },
    });
    apiServer.create('pipelines', {
      apiVersion: 'phoenix.dev/v1alpha1',
      kind: 'Pipeline',
      metadata: { name: 'default', namespace: NAMESPACE },
      spec: { config: BASELINE },
    });
    apiServer.create('experiments', {
      apiVersion: 'phoenix.dev/v1alpha1',
      kind: 'Experiment',
      metadata: { name: 'drop-pod', namespace: NAMESPACE },
      spec: {
        baselinePipeline: 'default',
        candidate: CANDIDATE,
        mode: 'shadow',
        duration: '1h',
        queries: { rules: [{ configMap: 'http-rules' }] },
      },
    });

    const kubeTokenFile = join(workDir, 'service-account-token');
    writeFileSync(kubeTokenFile, `${KUBE_TOKEN}\n`);
    const operatorPod = podSpec(findObject(objects, 'Deployment', 'phoenix-operator'));
    const operator = startLocalPod('operator', {
      objects,
      pod: operatorPod,
      container: container(operatorPod, 'operator'),
      root: join(workDir, 'operator'),
      externalSecrets: secrets,
      flagValues: { '--control-plane': `http://${LOOPBACK_HOST}:${port}` },
      extraArgs: ['--kube-api-url', apiServer.url, '--kube-token-file', kubeTokenFile],
    });
    processes.push(operator);

    for (const [plural, name, phase] of [
      ['pipelines', 'default', 'Applied'],
      ['experiments', 'drop-pod', 'Running'],
    ] as const) {
      await pollUntil(
        async () => {
          assertRunning(operator);
          return statusOf(plural, name)?.phase === phase ? true : undefined;
        },
        {
          get description() {
            return `${plural}/${name} ${phase}; status ${JSON.stringify(statusOf(plural, name))}`;
          },
          timeoutMs: 20_000,
        },
      );
    }
    expect(operator.log()).toContain('"namespace":"phoenix"');

    // Deleting waits for the finalizer: the experiment is stopped, the pipeline deleted.
    apiServer.delete('experiments', NAMESPACE, 'drop-pod');
    apiServer.delete('pipelines', NAMESPACE, 'default');
    await pollUntil(
      async () => {
        assertRunning(operator);
        return apiServer.list('experiments').length === 0 &&
          apiServer.list('pipelines').length === 0
          ? true
          : undefined;
      },
      { description: 'both resources gone after their finalizers', timeoutMs: 20_000 },
    );
    await operator.stop();
    expect(operator.exitStatus()).toBe('0');
    await controlPlane.stop();

    for (const request of apiServer.requests) {
      const attributes = requestAttributes(request.method, request.path, request.watch);
      sent.set(describeAttributes(attributes), attributes);
    }
    // The calls the reconcilers make, every one of them seen here.
    expect([...sent.keys()].sort()).toEqual([
      'get configmaps in phoenix',
      'list phoenix.dev experiments in phoenix',
      'list phoenix.dev pipelines in phoenix',
      'patch phoenix.dev experiments in phoenix',
      'patch phoenix.dev experiments/status in phoenix',
      'patch phoenix.dev pipelines in phoenix',
      'patch phoenix.dev pipelines/status in phoenix',
      'watch phoenix.dev experiments in phoenix',
      'watch phoenix.dev pipelines in phoenix',
    ]);
  }, 90_000);

  it("every request it sent is allowed by the chart's RBAC for its ServiceAccount", () => {
    expect(sent.size).toBeGreaterThan(0);
    expect(deniedRequests(objects, operatorAccount(), [...sent.values()], NAMESPACE)).toEqual([]);
  });

  it('the check is not a no-op: without the ConfigMap rule, or in another namespace, requests are denied', () => {
    const narrowed = objects.map((object) =>
      object.kind === 'Role' && object.metadata.name === 'phoenix-operator'
        ? {
            ...object,
            rules: (object['rules'] as { resources: string[] }[]).filter(
              (rule) => !rule.resources.includes('configmaps'),
            ),
          }
        : object,
    );
    expect(deniedRequests(narrowed, operatorAccount(), [...sent.values()], NAMESPACE)).toEqual([
      'get configmaps in phoenix',
    ]);
    const elsewhere = [...sent.values()].map((attributes) => ({
      ...attributes,
      namespace: 'team-a',
    }));
    expect(deniedRequests(objects, operatorAccount(), elsewhere, NAMESPACE)).toHaveLength(
      elsewhere.length,
    );
  });
});
