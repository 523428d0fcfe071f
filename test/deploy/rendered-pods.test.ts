/**
 * What the chart renders runs: the real `phoenix` is started with the exact args of the
 * rendered containers and with their ConfigMaps and Secrets as files (see local-pod.ts),
 * on the loopback. The gateway must serve its probe paths and /metrics and forward a write
 * through the chart's pipeline; a sidecar proxy must authenticate to a control plane
 * started from the rendered control-plane container; the two aggregation tiers must route
 * and aggregate with the rendered rules; and every metric the Grafana dashboard queries
 * must be one Phoenix exports.
 *
 * The two-tier aggregation layout runs with DNS member discovery: a loopback DNS server
 * stands in for the cluster DNS (`--aggregation-dns-server` is the one flag added) and
 * answers the headless Service's name with two loopback addresses, one per member. The
 * EndpointSlice discovery needs an API server and is not run here.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { compressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import { startTestDnsServer, type TestDnsServer } from '../../proxy/membership/dns-test-server.js';
import { assertRunning, type ManagedProcess } from '../helpers/managed-process.js';
import { phoenixBinary, REPO_DIR } from '../helpers/peers.js';
import { pollUntil } from '../helpers/poll.js';
import { freePort, LOOPBACK_HOST } from '../helpers/ports.js';
import {
  type RemoteWriteReceiver,
  startRemoteWriteReceiver,
} from '../helpers/remote-write-receiver.js';
import { helmTemplate, helmTemplateTopology } from './deploy-tools.js';
import {
  container,
  findObject,
  flagValue,
  type K8sObject,
  parseManifests,
  podSpec,
} from './k8s-objects.js';
import { startLocalPod } from './local-pod.js';

/** The upstream URL of the example values files, replaced by the local receiver's. */
const EXAMPLE_UPSTREAM = 'http://mimir-distributor.mimir.svc:8080/api/v1/push';
const STARTED_LINE = /"event":"proxy_started".*?"listen":"([^"]+)"/;

const ADMIN_TOKEN = 'deploy-test-admin-token-0001';
const PROXY_TOKEN = 'deploy-test-proxy-token-0001';
const TOKENS_YAML = [
  'tokens:',
  `  - { name: admin, token: "${ADMIN_TOKEN}", role: admin }`,
  `  - { name: fleet, token: "${PROXY_TOKEN}", role: proxy }`,
  '',
].join('\n');

/** An entry of `phoenix proxies -o json` (the API's JSON mapping of ProxyStatus). */
interface ListedProxy {
  readonly pipeline?: string;
  readonly connected?: boolean;
}

let receiver: RemoteWriteReceiver;
let workDir = '';
const processes: ManagedProcess[] = [];
/** `/metrics` text of every proxy started here, for the dashboard check. */
const exposition: string[] = [];

beforeAll(async () => {
  receiver = await startRemoteWriteReceiver();
  workDir = mkdtempSync(join(tmpdir(), 'phoenix-rendered-pods-'));
}, 60_000);

afterAll(async () => {
  await Promise.all(processes.map((process) => process.stop()));
  await receiver?.close();
  if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
});

/** Waits for a proxy's startup line and `/readyz`, returns its base URL. */
async function waitForProxy(process: ManagedProcess): Promise<string> {
  let url = '';
  await pollUntil(
    async () => {
      assertRunning(process);
      if (url === '') {
        const listen = STARTED_LINE.exec(process.log())?.[1];
        if (listen === undefined) return undefined;
        url = `http://${listen}`;
      }
      const response = await fetch(`${url}/readyz`);
      await response.arrayBuffer();
      return response.ok ? true : undefined;
    },
    { description: `${process.name} /readyz`, timeoutMs: 30_000 },
  );
  return url;
}

/** GETs each probe path of the container and `/metrics`; all must answer 200. */
async function checkServedPaths(url: string, probePaths: readonly string[]): Promise<void> {
  for (const path of probePaths) {
    const response = await fetch(`${url}${path}`);
    await response.arrayBuffer();
    expect(response.status, path).toBe(200);
  }
  const metrics = await fetch(`${url}/metrics`);
  expect(metrics.status).toBe(200);
  exposition.push(await metrics.text());
}

function probePaths(objects: readonly K8sObject[], kind: string, name: string): string[] {
  const phoenix = container(podSpec(findObject(objects, kind, name)), 'phoenix');
  return [phoenix.livenessProbe, phoenix.readinessProbe, phoenix.startupProbe].map(
    (probe) => probe?.httpGet?.path ?? '',
  );
}

/** A snappy remote-write 1.0 body with one sample (now) of each series. */
function writeBody(series: ReadonlyArray<readonly [Record<string, string>, number]>): Uint8Array {
  const request = create(WriteRequestSchema, {
    timeseries: series.map(([labels, value]) => ({
      labels: Object.entries(labels)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, labelValue]) => ({ name, value: labelValue })),
      samples: [{ value, timestamp: BigInt(Date.now()) }],
    })),
  });
  return compressSync(Buffer.from(toBinary(WriteRequestSchema, request)));
}

async function remoteWrite(url: string, body: Uint8Array): Promise<number> {
  const response = await fetch(`${url}/api/v1/write`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-protobuf',
      'Content-Encoding': 'snappy',
      'X-Prometheus-Remote-Write-Version': '0.1.0',
    },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

/** The value of an unlabelled sample in exposition text, or undefined. */
function sampleValue(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return match === null ? undefined : Number(match[1]);
}

describe('rendered pods run with the real phoenix', () => {
  it('gateway with pipeline.config: starts, serves its probe paths and /metrics, forwards through the pipeline', async () => {
    const objects = parseManifests(helmTemplate(['--set', 'controlPlane.enabled=false']));
    const deployment = findObject(objects, 'Deployment', 'phoenix-gateway');
    const pod = podSpec(deployment);
    const process = startLocalPod('gateway', {
      objects,
      pod,
      container: container(pod, 'phoenix'),
      root: join(workDir, 'gateway'),
      fileRewrites: [[EXAMPLE_UPSTREAM, `${receiver.url}/gateway`]],
    });
    processes.push(process);
    const url = await waitForProxy(process);
    await checkServedPaths(url, probePaths(objects, 'Deployment', 'phoenix-gateway'));

    // values.yaml's pipeline drops pod_template_hash; the receiver must see it gone.
    const status = await remoteWrite(
      url,
      writeBody([
        [
          { __name__: 'deploy_test_requests_total', job: 'deploy-test', pod_template_hash: '5d9c' },
          42,
        ],
      ]),
    );
    expect(status).toBe(204);
    const series = await pollUntil(
      async () => {
        const received = receiver.series('/gateway');
        return received.length > 0 ? received : undefined;
      },
      { description: 'the write reaching the upstream', timeoutMs: 20_000 },
    );
    expect(series.map((s) => s.labels)).toEqual([
      { __name__: 'deploy_test_requests_total', job: 'deploy-test' },
    ]);
    expect(series[0]!.lastValue).toBe(42);
    exposition.push(await (await fetch(`${url}/metrics`)).text());
    await process.stop();
  });

  it('control plane and a sidecar proxy: the proxy follows the control plane with the token Secret', async () => {
    const objects = parseManifests(helmTemplateTopology('sidecar'));
    const tokens = {
      'phoenix-control-plane-tokens': { 'tokens.yaml': TOKENS_YAML, 'proxy.token': PROXY_TOKEN },
    };
    const controlPlanePod = podSpec(findObject(objects, 'Deployment', 'phoenix-control-plane'));
    const controlPlaneContainer = container(controlPlanePod, 'control-plane');
    const port = await freePort();
    const controlPlane = startLocalPod('control plane', {
      objects,
      pod: controlPlanePod,
      container: controlPlaneContainer,
      root: join(workDir, 'control-plane'),
      externalSecrets: tokens,
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
    const controlPlaneUrl = `http://${LOOPBACK_HOST}:${port}`;

    const statefulSet = findObject(objects, 'StatefulSet', 'phoenix-prometheus');
    const pod = podSpec(statefulSet);
    const sidecar = startLocalPod('sidecar', {
      objects,
      pod,
      container: container(pod, 'phoenix'),
      root: join(workDir, 'sidecar'),
      externalSecrets: tokens,
      fileRewrites: [[EXAMPLE_UPSTREAM, `${receiver.url}/sidecar`]],
      flagValues: { '--control-plane': controlPlaneUrl },
    });
    processes.push(sidecar);
    const url = await waitForProxy(sidecar);
    await checkServedPaths(url, probePaths(objects, 'StatefulSet', 'phoenix-prometheus'));

    // The control plane lists the proxy, its config stream open, once its token (role
    // proxy, from the Secret the chart mounts) was accepted.
    const proxies = await pollUntil(
      async () => {
        const output = execFileSync(
          phoenixBinary(),
          ['proxies', '--control-plane', controlPlaneUrl, '--token', ADMIN_TOKEN, '-o', 'json'],
          { cwd: REPO_DIR, encoding: 'utf8' },
        );
        const listed = JSON.parse(output) as ListedProxy[];
        return listed.some((proxy) => proxy.connected === true) ? listed : undefined;
      },
      { description: 'the sidecar proxy connected to the control plane', timeoutMs: 20_000 },
    );
    expect(proxies).toHaveLength(1);
    expect(proxies[0]).toMatchObject({ pipeline: 'default', connected: true });
    await sidecar.stop();
    await controlPlane.stop();
  });

  it('aggregation, two tiers with DNS discovery: the gateway tier routes every group to one of two members', async () => {
    const objects = parseManifests(
      helmTemplateTopology('aggregation', ['--set', 'aggregation.memberDiscovery=dns']),
    );
    const gatewayPod = podSpec(findObject(objects, 'Deployment', 'phoenix-gateway'));
    const memberPod = podSpec(findObject(objects, 'StatefulSet', 'phoenix-aggregator'));
    const membersFlag = flagValue(
      container(gatewayPod, 'phoenix').args,
      '--aggregation-members-dns',
    )!;
    const [serviceHost, servicePort] = membersFlag.split(':');
    let dns: TestDnsServer | undefined;
    try {
      dns = await startTestDnsServer();
      // Two members on loopback addresses of their own, so both listen on the Service port.
      const memberIps = ['127.0.0.11', '127.0.0.12'];
      dns.setA(serviceHost!, memberIps);
      const clusterDns = ['--aggregation-dns-server', dns.address];
      const upstream: ReadonlyArray<readonly [string, string]> = [
        [EXAMPLE_UPSTREAM, `${receiver.url}/aggregation`],
      ];
      const members = memberIps.map((ip, index) => {
        const member = startLocalPod(`aggregator-${index}`, {
          objects,
          pod: memberPod,
          container: container(memberPod, 'phoenix'),
          root: join(workDir, `aggregator-${index}`),
          fileRewrites: upstream,
          fieldValues: { 'status.podIP': ip, 'metadata.name': `phoenix-aggregator-${index}` },
          flagValues: { '--listen': `${ip}:${servicePort}` },
          extraArgs: clusterDns,
        });
        processes.push(member);
        return member;
      });
      const memberUrls = await Promise.all(members.map((member) => waitForProxy(member)));
      expect(memberUrls).toEqual(memberIps.map((ip) => `http://${ip}:${servicePort}`));
      for (const url of memberUrls) {
        await checkServedPaths(url, probePaths(objects, 'StatefulSet', 'phoenix-aggregator'));
      }
      const gateway = startLocalPod('gateway tier', {
        objects,
        pod: gatewayPod,
        container: container(gatewayPod, 'phoenix'),
        root: join(workDir, 'gateway-tier'),
        fileRewrites: upstream,
        extraArgs: clusterDns,
      });
      processes.push(gateway);
      const gatewayUrl = await waitForProxy(gateway);
      await checkServedPaths(gatewayUrl, probePaths(objects, 'Deployment', 'phoenix-gateway'));
      await pollUntil(
        async () =>
          memberIps.every((ip) => gateway.log().includes(`${ip}:${servicePort}`))
            ? true
            : undefined,
        { description: 'the gateway tier seeing both members', timeoutMs: 20_000 },
      );

      // 40 groups of the values file's rule (http_requests_total without pod, instance),
      // and one series no rule selects, which the gateway tier forwards itself.
      const series: [Record<string, string>, number][] = Array.from({ length: 40 }, (_, i) => [
        { __name__: 'http_requests_total', service: `svc-${i}`, pod: `pod-${i}`, instance: 'a' },
        i,
      ]);
      series.push([{ __name__: 'deploy_test_up', job: 'deploy-test' }, 1]);
      expect(await remoteWrite(gatewayUrl, writeBody(series))).toBe(204);
      const perMember = await pollUntil(
        async () => {
          const counts = await Promise.all(
            memberUrls.map(async (url) =>
              sampleValue(
                await (await fetch(`${url}/metrics`)).text(),
                'phoenix_aggregation_series',
              ),
            ),
          );
          const total = counts.reduce<number>((sum, count) => sum + (count ?? 0), 0);
          return total === 40 ? counts : undefined;
        },
        { description: 'both members aggregating the 40 series', timeoutMs: 20_000 },
      );
      // Rendezvous hashing spreads 40 groups over both members (all on one: p = 2^-39).
      for (const count of perMember) expect(count).toBeGreaterThan(0);
      const forwarded = await pollUntil(
        async () => {
          const received = receiver.series('/aggregation');
          return received.length > 0 ? received : undefined;
        },
        { description: 'the unaggregated series reaching the upstream', timeoutMs: 20_000 },
      );
      expect(forwarded.map((s) => s.labels)).toEqual([
        { __name__: 'deploy_test_up', job: 'deploy-test' },
      ]);
      await gateway.stop();
      await Promise.all(members.map((member) => member.stop()));
    } finally {
      await dns?.close();
    }
  });

  it('every metric the Grafana dashboard queries is one Phoenix exports', () => {
    const exported = new Set<string>();
    for (const text of exposition) {
      for (const match of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
        const [, name, type] = match;
        exported.add(name!);
        if (type === 'histogram') {
          for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name}${suffix}`);
        }
      }
    }
    expect(exported.size).toBeGreaterThan(20);
    const dashboard = readFileSync(
      join(REPO_DIR, 'deploy', 'helm', 'phoenix', 'dashboards', 'phoenix.json'),
      'utf8',
    );
    const queried = new Set(
      [...dashboard.matchAll(/\bphoenix_[a-z0-9_]+/g)].map((match) => match[0]),
    );
    expect(queried.size).toBeGreaterThan(10);
    const missing = [...queried].filter((name) => !exported.has(name));
    expect(missing).toEqual([]);
  });
});
