/**
 * The loopback stand-in for the Kubernetes API server, driven through
 * `@kubernetes/client-node` exactly as the operator and the member source drive it.
 */
import {
  ApiException,
  CustomObjectsApi,
  DiscoveryV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveKubeConfig } from '../../proxy/kube/kube-config.js';
import { pollUntil } from '../helpers/poll.js';
import { FakeApiServer, type FakeObject } from './fake-api-server.js';

let server: FakeApiServer;
let kubeConfig: KubeConfig;

beforeEach(async () => {
  server = await FakeApiServer.start({ bookmarkIntervalMs: 100 });
  kubeConfig = resolveKubeConfig({ apiUrl: server.url });
});

afterEach(async () => {
  await server.close();
});

const PIPELINE_PATH = '/apis/phoenix.dev/v1alpha1/namespaces/ns/pipelines';
const pipelineParams = {
  group: 'phoenix.dev',
  version: 'v1alpha1',
  namespace: 'ns',
  plural: 'pipelines',
};

function pipeline(name: string, config: string, extra: Partial<FakeObject['metadata']> = {}) {
  return {
    apiVersion: 'phoenix.dev/v1alpha1',
    kind: 'Pipeline',
    metadata: { name, ...extra },
    spec: { config },
  };
}

interface SeenEvent {
  type: string;
  name: string | undefined;
  resourceVersion: string | undefined;
  code?: number;
}

/** Opens a watch through client-node's `Watch`, collecting its events until it ends. */
async function openWatch(path: string, query: Record<string, string>) {
  const events: SeenEvent[] = [];
  let ended = false;
  const controller = await new Watch(kubeConfig).watch(
    path,
    query,
    (type, object: { metadata?: { name?: string; resourceVersion?: string }; code?: number }) =>
      events.push({
        type,
        name: object.metadata?.name,
        resourceVersion: object.metadata?.resourceVersion,
        ...(object.code === undefined ? {} : { code: object.code }),
      }),
    () => {
      ended = true;
    },
  );
  return {
    events,
    get ended() {
      return ended;
    },
    stop: () => controller.abort(),
  };
}

async function apiError(promise: Promise<unknown>): Promise<ApiException<unknown>> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(caught).toBeInstanceOf(ApiException);
  return caught as ApiException<unknown>;
}

describe('fake API server', () => {
  it('lists with a monotonic resourceVersion and streams watch events from it', async () => {
    const api = kubeConfig.makeApiClient(CustomObjectsApi);
    const first = await api.createNamespacedCustomObject({
      ...pipelineParams,
      body: pipeline('a', 'relabel_configs: []\n'),
    });
    const list = await api.listNamespacedCustomObject(pipelineParams);
    expect(list.items.map((item: FakeObject) => item.metadata.name)).toEqual(['a']);
    expect(list.metadata.resourceVersion).toBe(first.metadata.resourceVersion);

    const watch = await openWatch(PIPELINE_PATH, {
      resourceVersion: list.metadata.resourceVersion,
    });
    await api.createNamespacedCustomObject({ ...pipelineParams, body: pipeline('b', 'x: 1\n') });
    await api.patchNamespacedCustomObject(
      { ...pipelineParams, name: 'a', body: { spec: { config: 'changed\n' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await api.deleteNamespacedCustomObject({ ...pipelineParams, name: 'b' });
    await pollUntil(async () => (watch.events.length >= 3 ? true : undefined), {
      description: 'three watch events',
    });
    watch.stop();
    expect(watch.events.map((event) => `${event.type} ${event.name}`)).toEqual([
      'ADDED b',
      'MODIFIED a',
      'DELETED b',
    ]);
    const versions = watch.events.map((event) => Number(event.resourceVersion));
    expect(versions).toEqual([...versions].sort((left, right) => left - right));
    expect(versions[0]).toBeGreaterThan(Number(list.metadata.resourceVersion));
  });

  it('replays missed events to a watch that resumes, and answers 410 once history is compacted', async () => {
    const api = kubeConfig.makeApiClient(CustomObjectsApi);
    const created = await api.createNamespacedCustomObject({
      ...pipelineParams,
      body: pipeline('a', 'one\n'),
    });
    await api.patchNamespacedCustomObject(
      { ...pipelineParams, name: 'a', body: { spec: { config: 'two\n' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const resumed = await openWatch(PIPELINE_PATH, {
      resourceVersion: created.metadata.resourceVersion,
    });
    await pollUntil(async () => (resumed.events.length >= 1 ? true : undefined), {
      description: 'the replayed event',
    });
    resumed.stop();
    expect(resumed.events.map((event) => event.type)).toEqual(['MODIFIED']);

    server.compactHistory();
    const expired = await openWatch(PIPELINE_PATH, {
      resourceVersion: created.metadata.resourceVersion,
    });
    await pollUntil(async () => (expired.ended ? true : undefined), {
      description: 'the expired watch to end',
    });
    expect(expired.events).toEqual([
      { type: 'ERROR', name: undefined, resourceVersion: undefined, code: 410 },
    ]);
  });

  it('sends bookmarks when allowed, and ends watches on demand', async () => {
    const watch = await openWatch(PIPELINE_PATH, {
      resourceVersion: server.resourceVersion,
      allowWatchBookmarks: 'true',
    });
    await pollUntil(async () => (watch.events.length >= 2 ? true : undefined), {
      description: 'two bookmarks',
    });
    expect(watch.events[0]).toMatchObject({
      type: 'BOOKMARK',
      resourceVersion: server.resourceVersion,
    });
    expect(server.closeWatches()).toBe(1);
    await pollUntil(async () => (watch.ended ? true : undefined), {
      description: 'the watch to end',
    });
  });

  it('keeps status apart from the object and counts generations of spec changes only', async () => {
    const api = kubeConfig.makeApiClient(CustomObjectsApi);
    const created = await api.createNamespacedCustomObject({
      ...pipelineParams,
      body: { ...pipeline('a', 'one\n'), status: { phase: 'ignored on create' } },
    });
    expect(created.status).toBeUndefined();
    expect(created.metadata.generation).toBe(1);

    const withStatus = await api.patchNamespacedCustomObjectStatus(
      { ...pipelineParams, name: 'a', body: { status: { phase: 'Applied' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(withStatus.status).toEqual({ phase: 'Applied' });
    expect(withStatus.metadata.generation).toBe(1);

    const respec = await api.patchNamespacedCustomObject(
      {
        ...pipelineParams,
        name: 'a',
        body: { spec: { config: 'two\n' }, status: { phase: 'dropped' } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(respec.metadata.generation).toBe(2);
    expect(respec.status).toEqual({ phase: 'Applied' });

    const noOp = await api.patchNamespacedCustomObject(
      { ...pipelineParams, name: 'a', body: { spec: { config: 'two\n' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(noOp.metadata.resourceVersion).toBe(respec.metadata.resourceVersion);

    const stale = await apiError(
      api.replaceNamespacedCustomObject({
        ...pipelineParams,
        name: 'a',
        body: {
          ...pipeline('a', 'three\n', { resourceVersion: created.metadata.resourceVersion }),
        },
      }),
    );
    expect(stale.code).toBe(409);
    const replaced = await api.replaceNamespacedCustomObject({
      ...pipelineParams,
      name: 'a',
      body: pipeline('a', 'three\n', { resourceVersion: respec.metadata.resourceVersion }),
    });
    expect(replaced.spec.config).toBe('three\n');
    expect(replaced.metadata.generation).toBe(3);
  });

  it('holds a deleted object with finalizers until a JSON patch empties them', async () => {
    const api = kubeConfig.makeApiClient(CustomObjectsApi);
    await api.createNamespacedCustomObject({
      ...pipelineParams,
      body: pipeline('a', 'one\n', { finalizers: ['phoenix.dev/finalizer'] }),
    });
    const watch = await openWatch(PIPELINE_PATH, { resourceVersion: server.resourceVersion });
    const deleting = await api.deleteNamespacedCustomObject({ ...pipelineParams, name: 'a' });
    expect(deleting.metadata.deletionTimestamp).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(server.get('pipelines', 'ns', 'a')).toBeDefined();

    const addFinalizer = await apiError(
      api.patchNamespacedCustomObject(
        {
          ...pipelineParams,
          name: 'a',
          body: [{ op: 'add', path: '/metadata/finalizers/-', value: 'other' }],
        },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      ),
    );
    expect(addFinalizer.code).toBe(422);

    const staleTest = await apiError(
      api.patchNamespacedCustomObject(
        {
          ...pipelineParams,
          name: 'a',
          body: [
            { op: 'test', path: '/metadata/resourceVersion', value: '1' },
            { op: 'replace', path: '/metadata/finalizers', value: [] },
          ],
        },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      ),
    );
    expect(staleTest.code).toBe(422);

    await api.patchNamespacedCustomObject(
      {
        ...pipelineParams,
        name: 'a',
        body: [
          {
            op: 'test',
            path: '/metadata/resourceVersion',
            value: deleting.metadata.resourceVersion,
          },
          { op: 'replace', path: '/metadata/finalizers', value: [] },
        ],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    expect(server.get('pipelines', 'ns', 'a')).toBeUndefined();
    await pollUntil(async () => (watch.events.length >= 2 ? true : undefined), {
      description: 'MODIFIED then DELETED',
    });
    watch.stop();
    expect(watch.events.map((event) => event.type)).toEqual(['MODIFIED', 'DELETED']);
  });

  it('filters lists and watches by label selector, seeing a label change as a delete', async () => {
    const slice = (name: string, service: string) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name, labels: { 'kubernetes.io/service-name': service } },
      addressType: 'IPv4',
      endpoints: [],
      ports: [],
    });
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    await discovery.createNamespacedEndpointSlice({ namespace: 'ns', body: slice('agg-1', 'agg') });
    await discovery.createNamespacedEndpointSlice({ namespace: 'ns', body: slice('web-1', 'web') });
    const listed = await discovery.listNamespacedEndpointSlice({
      namespace: 'ns',
      labelSelector: 'kubernetes.io/service-name=agg',
    });
    expect(listed.items.map((item) => item.metadata?.name)).toEqual(['agg-1']);

    const watch = await openWatch('/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices', {
      resourceVersion: listed.metadata?.resourceVersion ?? '',
      labelSelector: 'kubernetes.io/service-name in (agg)',
    });
    server.replace('endpointslices', {
      ...slice('agg-1', 'other'),
      metadata: {
        name: 'agg-1',
        namespace: 'ns',
        labels: { 'kubernetes.io/service-name': 'other' },
      },
    });
    server.replace('endpointslices', {
      ...slice('web-1', 'agg'),
      metadata: { name: 'web-1', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'agg' } },
    });
    await pollUntil(async () => (watch.events.length >= 2 ? true : undefined), {
      description: 'two events',
    });
    watch.stop();
    expect(watch.events.map((event) => `${event.type} ${event.name}`)).toEqual([
      'DELETED agg-1',
      'ADDED web-1',
    ]);

    const bad = await apiError(
      discovery.listNamespacedEndpointSlice({ namespace: 'ns', labelSelector: 'a in b' }),
    );
    expect(bad.code).toBe(400);
  });

  it('answers injected failures and unknown patch types with a Status', async () => {
    const api = kubeConfig.makeApiClient(CustomObjectsApi);
    server.failRequests(503, (request) => request.method === 'GET');
    const unavailable = await apiError(api.listNamespacedCustomObject(pipelineParams));
    expect(unavailable.code).toBe(503);
    server.failRequests(undefined);
    await api.createNamespacedCustomObject({ ...pipelineParams, body: pipeline('a', 'one\n') });
    const unsupported = await apiError(
      api.patchNamespacedCustomObject(
        { ...pipelineParams, name: 'a', body: { spec: {} } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    );
    expect(unsupported.code).toBe(415);
    const duplicate = await apiError(
      api.createNamespacedCustomObject({ ...pipelineParams, body: pipeline('a', 'one\n') }),
    );
    expect(duplicate.code).toBe(409);
    expect((duplicate.body as string).includes('AlreadyExists')).toBe(true);
  });
});
