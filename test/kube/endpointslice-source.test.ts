/**
 * Aggregator membership from EndpointSlices, against the loopback Kubernetes API stand-in
 * (test/kube/fake-api-server.ts; no real API server can run here): scale up and down
 * across slices, endpoints that stop being ready, slices deleted, bursts debounced, and
 * convergence after watch failures and 410 Gone.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveKubeConfig } from '../../proxy/kube/kube-config.js';
import {
  EndpointSliceMemberSource,
  membersFromSlices,
} from '../../proxy/membership/endpointslice-source.js';
import type { Member } from '../../proxy/membership/members.js';
import { pollUntil } from '../helpers/poll.js';
import { FakeApiServer, type FakeObject } from './fake-api-server.js';

const NAMESPACE = 'metrics';
const SERVICE = 'phoenix-aggregator';

let apiServer: FakeApiServer;
let kubeConfig: KubeConfig;
let source: EndpointSliceMemberSource | undefined;

beforeEach(async () => {
  apiServer = await FakeApiServer.start();
  kubeConfig = resolveKubeConfig({ apiUrl: apiServer.url });
});

afterEach(async () => {
  await source?.close();
  source = undefined;
  await apiServer.close();
});

interface EndpointSpec {
  pod: string;
  ip: string;
  ready?: boolean;
}

function slice(name: string, endpoints: EndpointSpec[], service = SERVICE): FakeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [
      { name: 'metrics', port: 9090, protocol: 'TCP' },
      { name: 'ingest', port: 9091, protocol: 'TCP' },
    ],
    endpoints: endpoints.map(({ pod, ip, ready }) => ({
      addresses: [ip],
      conditions: ready === undefined ? {} : { ready },
      targetRef: { kind: 'Pod', namespace: NAMESPACE, name: pod },
    })),
  };
}

function member(pod: string, ip: string): Member {
  return { name: pod, url: `http://${ip}:9091` };
}

/** Starts a source; returns every list it reported, newest last. */
async function startSource(debounceMs = 50): Promise<Member[][]> {
  const reports: Member[][] = [];
  source = new EndpointSliceMemberSource({
    kubeConfig,
    namespace: NAMESPACE,
    service: SERVICE,
    portName: 'ingest',
    debounceMs,
    retryMinMs: 50,
    retryMaxMs: 400,
  });
  await source.start((members) => reports.push([...members]));
  return reports;
}

async function waitForMembers(reports: Member[][], expected: Member[]): Promise<void> {
  await pollUntil(
    async () => (JSON.stringify(reports.at(-1)) === JSON.stringify(expected) ? true : undefined),
    {
      description: `members ${expected.map((m) => m.name).join(', ') || '(none)'}; last report ${JSON.stringify(reports.at(-1))}`,
      intervalMs: 25,
      timeoutMs: 15_000,
    },
  );
}

describe('membersFromSlices', () => {
  const cases: Array<{
    name: string;
    slices: FakeObject[];
    port: string | undefined;
    want: Member[];
  }> = [
    {
      name: 'ready and unset-ready endpoints count, not-ready ones do not',
      slices: [
        slice('a', [
          { pod: 'agg-1', ip: '10.0.0.1', ready: true },
          { pod: 'agg-0', ip: '10.0.0.0' },
          { pod: 'agg-2', ip: '10.0.0.2', ready: false },
        ]),
      ],
      port: 'ingest',
      want: [member('agg-0', '10.0.0.0'), member('agg-1', '10.0.0.1')],
    },
    {
      name: 'an endpoint in two slices appears once',
      slices: [
        slice('a', [{ pod: 'agg-0', ip: '10.0.0.0' }]),
        slice('b', [{ pod: 'agg-0', ip: '10.0.0.0' }]),
      ],
      port: 'ingest',
      want: [member('agg-0', '10.0.0.0')],
    },
    {
      name: 'a slice without the named port is skipped',
      slices: [slice('a', [{ pod: 'agg-0', ip: '10.0.0.0' }])],
      port: 'grpc',
      want: [],
    },
    {
      name: 'several ports and no port name: nothing to choose from',
      slices: [slice('a', [{ pod: 'agg-0', ip: '10.0.0.0' }])],
      port: undefined,
      want: [],
    },
    {
      name: 'IPv6 addresses in brackets, hostname when there is no target',
      slices: [
        {
          metadata: { name: 'v6' },
          addressType: 'IPv6',
          ports: [{ port: 8080 }],
          endpoints: [{ addresses: ['fd00::5'], hostname: 'agg-5' }, { addresses: ['fd00::6'] }],
        },
      ],
      port: undefined,
      want: [
        { name: 'agg-5', url: 'http://[fd00::5]:8080' },
        { name: 'fd00::6', url: 'http://[fd00::6]:8080' },
      ],
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      expect(membersFromSlices(testCase.slices as never, testCase.port)).toEqual(testCase.want);
    });
  }
});

describe('EndpointSliceMemberSource', () => {
  it('follows scale up, readiness, scale down and deleted slices across several slices', async () => {
    apiServer.create('endpointslices', slice('agg-abc', [{ pod: 'agg-0', ip: '10.0.0.10' }]));
    apiServer.create(
      'endpointslices',
      slice('other-xyz', [{ pod: 'web-0', ip: '10.0.9.9' }], 'web'),
    );
    const reports = await startSource();
    expect(reports).toEqual([[member('agg-0', '10.0.0.10')]]);

    // Scale up: a new pod in the same slice, another in a second slice.
    apiServer.replace(
      'endpointslices',
      slice('agg-abc', [
        { pod: 'agg-0', ip: '10.0.0.10' },
        { pod: 'agg-1', ip: '10.0.0.11', ready: false },
      ]),
    );
    apiServer.create('endpointslices', slice('agg-def', [{ pod: 'agg-2', ip: '10.0.0.12' }]));
    await waitForMembers(reports, [member('agg-0', '10.0.0.10'), member('agg-2', '10.0.0.12')]);

    // The not-ready pod becomes ready.
    apiServer.replace(
      'endpointslices',
      slice('agg-abc', [
        { pod: 'agg-0', ip: '10.0.0.10' },
        { pod: 'agg-1', ip: '10.0.0.11', ready: true },
      ]),
    );
    await waitForMembers(reports, [
      member('agg-0', '10.0.0.10'),
      member('agg-1', '10.0.0.11'),
      member('agg-2', '10.0.0.12'),
    ]);

    // Scale down: agg-0 terminates (not ready, then gone), and a whole slice is deleted.
    apiServer.replace(
      'endpointslices',
      slice('agg-abc', [
        { pod: 'agg-0', ip: '10.0.0.10', ready: false },
        { pod: 'agg-1', ip: '10.0.0.11' },
      ]),
    );
    await waitForMembers(reports, [member('agg-1', '10.0.0.11'), member('agg-2', '10.0.0.12')]);
    apiServer.delete('endpointslices', NAMESPACE, 'agg-def');
    await waitForMembers(reports, [member('agg-1', '10.0.0.11')]);

    // Changes to another Service's slices are not members and report nothing.
    const reportsBefore = reports.length;
    apiServer.replace(
      'endpointslices',
      slice('other-xyz', [{ pod: 'web-1', ip: '10.0.9.8' }], 'web'),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reports.length).toBe(reportsBefore);
    for (const report of reports) {
      expect(report.some((entry) => entry.name.startsWith('web'))).toBe(false);
    }
  });

  it('reports a burst of changes once', async () => {
    apiServer.create('endpointslices', slice('agg-abc', []));
    const reports = await startSource(300);
    expect(reports).toEqual([[]]);
    const pods: EndpointSpec[] = [];
    for (let index = 0; index < 5; index += 1) {
      pods.push({ pod: `agg-${index}`, ip: `10.0.0.${index}` });
      apiServer.replace('endpointslices', slice('agg-abc', [...pods]));
    }
    await waitForMembers(
      reports,
      pods.map(({ pod, ip }) => member(pod, ip)),
    );
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(reports).toHaveLength(2);
  });

  it('converges after a dropped watch, failing watches and 410 Gone', async () => {
    apiServer.create('endpointslices', slice('agg-abc', [{ pod: 'agg-0', ip: '10.0.0.10' }]));
    apiServer.create('endpointslices', slice('agg-def', [{ pod: 'agg-1', ip: '10.0.0.11' }]));
    const reports = await startSource();

    expect(apiServer.closeWatches()).toBe(1);
    apiServer.replace(
      'endpointslices',
      slice('agg-abc', [
        { pod: 'agg-0', ip: '10.0.0.10' },
        { pod: 'agg-3', ip: '10.0.0.13' },
      ]),
    );
    await waitForMembers(reports, [
      member('agg-0', '10.0.0.10'),
      member('agg-1', '10.0.0.11'),
      member('agg-3', '10.0.0.13'),
    ]);

    apiServer.failRequests(503, (request) => request.watch);
    apiServer.closeWatches();
    apiServer.delete('endpointslices', NAMESPACE, 'agg-def');
    apiServer.replace('endpointslices', slice('agg-abc', [{ pod: 'agg-3', ip: '10.0.0.13' }]));
    apiServer.compactHistory();
    await new Promise((resolve) => setTimeout(resolve, 300));
    apiServer.failRequests(undefined);
    await waitForMembers(reports, [member('agg-3', '10.0.0.13')]);
    const lists = apiServer.requests.filter(
      (request) => request.method === 'GET' && !request.watch,
    );
    expect(lists).toHaveLength(2);
    expect(
      lists.every(
        (request) => request.query.get('labelSelector') === `kubernetes.io/service-name=${SERVICE}`,
      ),
    ).toBe(true);
  });

  it('waits for the API server before its first report', async () => {
    apiServer.create('endpointslices', slice('agg-abc', [{ pod: 'agg-0', ip: '10.0.0.10' }]));
    apiServer.failRequests(503);
    setTimeout(() => apiServer.failRequests(undefined), 300);
    const reports = await startSource();
    expect(reports).toEqual([[member('agg-0', '10.0.0.10')]]);
    expect(apiServer.requests.filter((request) => request.method === 'GET').length).toBeGreaterThan(
      1,
    );
  });
});
