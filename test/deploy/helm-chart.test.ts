/**
 * Renders deploy/helm/phoenix with the real `helm template` (Helm 4, fetched by
 * scripts/install-deploy-tools.sh) for every topology, validates every object against the
 * Kubernetes OpenAPI schemas (kubernetes-models, @kubernetes-models/prometheus-operator),
 * and checks the facts each topology depends on. No cluster is involved.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { phoenixBinary, REPO_DIR } from '../helpers/peers.js';
import {
  CHART_DIR,
  deployTool,
  helmTemplate,
  helmTemplateTopology,
  NAMESPACE,
  run,
  TOPOLOGIES,
} from './deploy-tools.js';
import {
  container,
  findObject,
  flagValue,
  type K8sObject,
  type PodSpec,
  parseManifests,
  podSpec,
  validateObject,
} from './k8s-objects.js';

/** The endpoints `phoenix proxy` serves (see proxy/server/ingest.ts). */
const PROXY_PROBE_PATHS = ['/healthz', '/readyz'];

const rendered = new Map<string, K8sObject[]>();

/** Renders, once per test file, the topologies and the variants the tests below read. */
const VARIANTS: Record<string, () => string> = {
  sidecar: () => helmTemplateTopology('sidecar'),
  gateway: () => helmTemplateTopology('gateway'),
  aggregation: () => helmTemplateTopology('aggregation'),
  'aggregation-dns': () =>
    helmTemplateTopology('aggregation', ['--set', 'aggregation.memberDiscovery=dns']),
  'chart-defaults': () => helmTemplate([]),
  'static-pipeline': () =>
    helmTemplate([
      '--set',
      'controlPlane.enabled=false',
      '--set',
      'gateway.autoscaling.enabled=false',
    ]),
  'sidecar-static-pipeline': () =>
    helmTemplateTopology('sidecar', ['--set', 'controlPlane.enabled=false']),
  'with-crds': () => helmTemplateTopology('gateway', ['--include-crds']),
  operator: () => helmTemplateTopology('gateway', ['--set', 'operator.enabled=true']),
  'operator-elsewhere': () =>
    helmTemplate([
      '--set',
      'operator.enabled=true',
      '--set',
      'operator.watchNamespace=team-a',
      '--set',
      'operator.pipelinesOnly=true',
      '--set',
      'operator.resync=30s',
      '--set',
      'controlPlane.enabled=false',
      '--set',
      'operator.controlPlaneUrl=https://phoenix.example.com:9092',
      '--set',
      'operator.auth.tokenSecret=operator-token',
      '--set',
      'operator.auth.tokenKey=token',
      '--set',
      'operator.image.tag=0.2.0',
    ]),
};

function objects(variant: string): K8sObject[] {
  const found = rendered.get(variant);
  if (found === undefined) throw new Error(`variant ${variant} was not rendered`);
  return found;
}

function matchesSelector(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

function podLabels(workload: K8sObject): Record<string, string> {
  return (workload['spec'] as { template: { metadata: { labels: Record<string, string> } } })
    .template.metadata.labels;
}

function assertProbesOnServedPaths(pod: PodSpec, containerName: string): void {
  const phoenix = container(pod, containerName);
  const portNames = new Set((phoenix.ports ?? []).map((port) => port.name));
  for (const probe of [phoenix.livenessProbe, phoenix.readinessProbe, phoenix.startupProbe]) {
    expect(probe?.httpGet).toBeDefined();
    expect(PROXY_PROBE_PATHS).toContain(probe?.httpGet?.path);
    expect(portNames.has(String(probe?.httpGet?.port))).toBe(true);
  }
  expect(phoenix.readinessProbe?.httpGet?.path).toBe('/readyz');
  expect(phoenix.livenessProbe?.httpGet?.path).toBe('/healthz');
}

beforeAll(() => {
  deployTool('helm');
  for (const [variant, render] of Object.entries(VARIANTS)) {
    rendered.set(variant, parseManifests(render()));
  }
}, 180_000);

describe('helm chart: every object is valid Kubernetes', () => {
  for (const variant of Object.keys(VARIANTS)) {
    it(`${variant}: every object validates against its OpenAPI schema`, async () => {
      const list = objects(variant);
      expect(list.length).toBeGreaterThan(5);
      for (const object of list) await validateObject(object);
    });
  }

  it('a schema violation is caught (the validation is not a no-op)', async () => {
    const deployment = structuredClone(
      findObject(objects('gateway'), 'Deployment', 'phoenix-gateway'),
    );
    (deployment['spec'] as { replicas: unknown }).replicas = 'two';
    await expect(validateObject(deployment)).rejects.toThrow(/spec\/replicas must be integer/);
    const probe = structuredClone(findObject(objects('gateway'), 'Deployment', 'phoenix-gateway'));
    delete (podSpec(probe).containers[0]!.livenessProbe!.httpGet as { port?: unknown }).port;
    await expect(validateObject(probe)).rejects.toThrow(
      /livenessProbe\/httpGet must have required property '?port/,
    );
  });

  it('helm lint passes with every values file', () => {
    const helm = deployTool('helm');
    for (const topology of TOPOLOGIES) {
      const output = run(helm, [
        'lint',
        '--strict',
        CHART_DIR,
        '--values',
        join(CHART_DIR, `values-${topology}.yaml`),
      ]);
      expect(output).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  const badValues: ReadonlyArray<{ set: string; message: RegExp }> = [
    {
      set: 'topology=mesh',
      message: /at '\/topology': value must be one of 'sidecar', 'gateway', 'aggregation'/,
    },
    { set: 'proxy.workers=0', message: /at '\/proxy\/workers': minimum: got 0, want 1/ },
    { set: 'upstreams[0].url=ftp://backend', message: /at '\/upstreams\/0\/url'/ },
    { set: 'aggregation.memberDiscovery=consul', message: /at '\/aggregation\/memberDiscovery'/ },
    { set: 'proxy.maxQueueBytes=1GB', message: /at '\/proxy\/maxQueueBytes'/ },
    {
      set: 'gateway.autoscaling.targetCPUUtilizationPercentage=150',
      message: /targetCPUUtilizationPercentage/,
    },
    { set: 'proxy.replicas=3', message: /additional properties 'replicas' not allowed/ },
    { set: 'operator.resync=1d', message: /at '\/operator\/resync'/ },
    { set: 'operator.resync=5', message: /at '\/operator\/resync': got number, want string/ },
    { set: 'operator.watchNamespace=Team_A', message: /at '\/operator\/watchNamespace'/ },
    { set: 'operator.controlPlaneUrl=cp:9092', message: /at '\/operator\/controlPlaneUrl'/ },
    { set: 'operator.namespace=x', message: /additional properties 'namespace' not allowed/ },
  ];
  for (const { set, message } of badValues) {
    it(`values.schema.json refuses --set ${set}`, () => {
      expect(() => helmTemplate(['--set', set])).toThrow(message);
    });
  }
});

describe('helm chart: topologies', () => {
  it('sidecar: Phoenix runs in the Prometheus pod and Prometheus writes to it on 127.0.0.1', () => {
    const list = objects('sidecar');
    const prometheus = findObject(list, 'StatefulSet', 'phoenix-prometheus');
    const pod = podSpec(prometheus);
    expect(pod.containers.map((c) => c.name).sort()).toEqual(['phoenix', 'prometheus']);
    const phoenix = container(pod, 'phoenix');
    const port = phoenix.ports?.find((p) => p.name === 'http')?.containerPort;
    expect(flagValue(phoenix.args, '--listen')).toBe(`0.0.0.0:${port}`);
    const config = findObject(list, 'ConfigMap', 'phoenix-prometheus');
    const prometheusYml = parse((config['data'] as Record<string, string>)['prometheus.yml']!) as {
      remote_write: { url: string }[];
    };
    expect(prometheusYml.remote_write).toEqual([{ url: `http://127.0.0.1:${port}/api/v1/write` }]);
    const configVolume = pod.volumes?.find(
      (volume) => volume.configMap?.name === 'phoenix-prometheus',
    );
    const mount = container(pod, 'prometheus').volumeMounts?.find(
      (m) => m.name === configVolume?.name,
    );
    expect(container(pod, 'prometheus').args).toContain(
      `--config.file=${mount?.mountPath}/prometheus.yml`,
    );
    assertProbesOnServedPaths(pod, 'phoenix');
    // No gateway objects in this topology.
    expect(list.some((object) => object.metadata.name === 'phoenix-gateway')).toBe(false);
  });

  it('gateway: the HPA scales the Deployment, the PDB and Service select its pods, probes hit served paths', () => {
    const list = objects('gateway');
    const deployment = findObject(list, 'Deployment', 'phoenix-gateway');
    const labels = podLabels(deployment);
    const hpa = findObject(list, 'HorizontalPodAutoscaler', 'phoenix-gateway');
    expect((hpa['spec'] as { scaleTargetRef: unknown }).scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'phoenix-gateway',
    });
    // With an HPA the Deployment leaves replicas to it, so a helm upgrade does not reset them.
    expect((deployment['spec'] as { replicas?: number }).replicas).toBeUndefined();
    const pdb = findObject(list, 'PodDisruptionBudget', 'phoenix-gateway');
    const pdbSelector = (pdb['spec'] as { selector: { matchLabels: Record<string, string> } })
      .selector.matchLabels;
    expect(matchesSelector(pdbSelector, labels)).toBe(true);
    const deploymentSelector = (
      deployment['spec'] as { selector: { matchLabels: Record<string, string> } }
    ).selector.matchLabels;
    expect(pdbSelector).toEqual(deploymentSelector);
    const service = findObject(list, 'Service', 'phoenix-gateway');
    const serviceSpec = service['spec'] as {
      selector: Record<string, string>;
      ports: { name: string; targetPort: string }[];
    };
    expect(matchesSelector(serviceSpec.selector, labels)).toBe(true);
    const pod = podSpec(deployment);
    const containerPorts = new Set(container(pod, 'phoenix').ports?.map((p) => p.name));
    for (const port of serviceSpec.ports) expect(containerPorts.has(port.targetPort)).toBe(true);
    assertProbesOnServedPaths(pod, 'phoenix');
    // The HPA's CPU target needs CPU requests on every container.
    for (const c of pod.containers) {
      expect(
        (c as { resources?: { requests?: { cpu?: string } } }).resources?.requests?.cpu,
      ).toBeDefined();
    }
  });

  it('gateway without autoscaling sets replicas itself', () => {
    const list = objects('static-pipeline');
    const deployment = findObject(list, 'Deployment', 'phoenix-gateway');
    expect((deployment['spec'] as { replicas?: number }).replicas).toBe(2);
    expect(list.some((object) => object.kind === 'HorizontalPodAutoscaler')).toBe(false);
  });

  for (const [variant, discovery] of [
    ['aggregation', 'kubernetes'],
    ['aggregation-dns', 'dns'],
  ] as const) {
    it(`aggregation (${discovery} discovery): the StatefulSet's serviceName is a headless Service of its pods, and the gateway args name it`, () => {
      const list = objects(variant);
      const statefulSet = findObject(list, 'StatefulSet', 'phoenix-aggregator');
      const serviceName = (statefulSet['spec'] as { serviceName: string }).serviceName;
      const service = findObject(list, 'Service', serviceName);
      const serviceSpec = service['spec'] as {
        clusterIP?: string;
        selector: Record<string, string>;
      };
      expect(serviceSpec.clusterIP).toBe('None');
      expect(matchesSelector(serviceSpec.selector, podLabels(statefulSet))).toBe(true);
      const gateway = findObject(list, 'Deployment', 'phoenix-gateway');
      expect(matchesSelector(serviceSpec.selector, podLabels(gateway))).toBe(false);
      const gatewayArgs = container(podSpec(gateway), 'phoenix').args;
      const member = container(podSpec(statefulSet), 'phoenix');
      const [sourceFlag, otherFlag, source, self] =
        discovery === 'dns'
          ? [
              '--aggregation-members-dns',
              '--aggregation-members-k8s',
              `${serviceName}.${NAMESPACE}.svc.cluster.local:9091`,
              '$(POD_IP):9091',
            ]
          : [
              '--aggregation-members-k8s',
              '--aggregation-members-dns',
              `${NAMESPACE}/${serviceName}`,
              '$(POD_NAME)',
            ];
      // Both tiers find the members the same way; each member names itself as that source does.
      for (const [args, tier] of [
        [gatewayArgs, 'gateway'],
        [member.args, 'aggregator'],
      ] as const) {
        expect(flagValue(args, '--aggregation-tier')).toBe(tier);
        expect(flagValue(args, sourceFlag)).toBe(source);
        expect(args).not.toContain(otherFlag);
        // Both tiers group with the same rules: the aggregation ConfigMap, not the control plane.
        expect(flagValue(args, '--config')).toBe('/etc/phoenix/aggregation/phoenix.yaml');
        expect(args).not.toContain('--control-plane');
      }
      expect(flagValue(member.args, '--aggregation-self')).toBe(self);
      expect(gatewayArgs).not.toContain('--aggregation-self');
      const variable = /\$\((\w+)\)/.exec(self)![1];
      expect(
        member.env?.find((entry) => entry.name === variable)?.valueFrom?.fieldRef?.fieldPath,
      ).toBe(variable === 'POD_IP' ? 'status.podIP' : 'metadata.name');
      // Members run the aggregation rules from their ConfigMap, on persistent volumes.
      const aggregationConfig = findObject(list, 'ConfigMap', 'phoenix-aggregation');
      const rules = parse(
        (aggregationConfig['data'] as Record<string, string>)['phoenix.yaml']!,
      ) as {
        aggregations: unknown[];
      };
      expect(rules.aggregations.length).toBeGreaterThan(0);
      const claims = (
        statefulSet['spec'] as { volumeClaimTemplates: { metadata: { name: string } }[] }
      ).volumeClaimTemplates;
      expect(claims.map((claim) => claim.metadata.name)).toEqual(['data']);
      expect(member.volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/phoenix' });
      assertProbesOnServedPaths(podSpec(statefulSet), 'phoenix');
    });
  }

  it('aggregation: member discovery through the API gets only get/list/watch on EndpointSlices, for the two tiers only', () => {
    const list = objects('aggregation');
    const role = findObject(list, 'Role', 'phoenix-member-discovery');
    expect(role['rules']).toEqual([
      {
        apiGroups: ['discovery.k8s.io'],
        resources: ['endpointslices'],
        verbs: ['get', 'list', 'watch'],
      },
    ]);
    const binding = findObject(list, 'RoleBinding', 'phoenix-member-discovery');
    const gatewayAccount = podSpec(findObject(list, 'Deployment', 'phoenix-gateway'))
      .serviceAccountName!;
    const memberAccount = podSpec(findObject(list, 'StatefulSet', 'phoenix-aggregator'))
      .serviceAccountName!;
    expect(binding['subjects']).toEqual([
      { kind: 'ServiceAccount', name: gatewayAccount, namespace: NAMESPACE },
      { kind: 'ServiceAccount', name: memberAccount, namespace: NAMESPACE },
    ]);
    for (const account of [gatewayAccount, memberAccount]) {
      expect(findObject(list, 'ServiceAccount', account)['automountServiceAccountToken']).toBe(
        true,
      );
    }
    // The control plane and the example Prometheus get no token.
    expect(
      findObject(list, 'ServiceAccount', 'phoenix-control-plane')['automountServiceAccountToken'],
    ).toBe(false);
    // With DNS discovery nobody gets API access.
    const dns = objects('aggregation-dns');
    expect(dns.some((object) => object.kind === 'Role' || object.kind === 'RoleBinding')).toBe(
      false,
    );
    for (const account of [gatewayAccount, memberAccount]) {
      expect(findObject(dns, 'ServiceAccount', account)['automountServiceAccountToken']).toBe(
        false,
      );
    }
  });

  for (const topology of TOPOLOGIES) {
    it(`${topology}: the ServiceMonitor scrapes /metrics from Phoenix containers only`, () => {
      const list = objects(topology);
      const monitor = findObject(list, 'ServiceMonitor', 'phoenix');
      const spec = monitor['spec'] as {
        selector: { matchLabels: Record<string, string> };
        endpoints: { port: string; path: string }[];
      };
      expect(spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })]);
      const services = list.filter(
        (object) =>
          object.kind === 'Service' &&
          matchesSelector(spec.selector.matchLabels, object.metadata.labels),
      );
      expect(services.length).toBeGreaterThan(0);
      const workloads = list.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
      for (const service of services) {
        const serviceSpec = service['spec'] as {
          selector: Record<string, string>;
          ports: { name: string; targetPort: string }[];
        };
        const httpPort = serviceSpec.ports.find((port) => port.name === 'http');
        expect(httpPort, `Service ${service.metadata.name}`).toBeDefined();
        const selected = workloads.filter((w) =>
          matchesSelector(serviceSpec.selector, podLabels(w)),
        );
        expect(selected.length).toBeGreaterThan(0);
        for (const workload of selected) {
          const owner = podSpec(workload).containers.filter((c) =>
            c.ports?.some((port) => port.name === httpPort?.targetPort),
          );
          expect(owner.map((c) => c.name)).toEqual(['phoenix']);
          expect(owner[0]!.args?.[0]).toBe('proxy');
        }
      }
      // The control plane serves no /metrics and is not selected.
      const controlPlane = findObject(list, 'Service', 'phoenix-control-plane');
      expect(matchesSelector(spec.selector.matchLabels, controlPlane.metadata.labels)).toBe(false);
    });
  }

  it('the Grafana dashboard ConfigMap carries the sidecar label and the dashboard JSON', () => {
    const dashboard = findObject(objects('gateway'), 'ConfigMap', 'phoenix-dashboard');
    expect(dashboard.metadata.labels?.['grafana_dashboard']).toBe('1');
    const json = JSON.parse((dashboard['data'] as Record<string, string>)['phoenix.json']!) as {
      uid: string;
      panels: unknown[];
    };
    expect(json.uid).toBe('phoenix-proxy');
    expect(json.panels.length).toBeGreaterThan(5);
  });
});

describe('helm chart: control plane, pipeline source and security', () => {
  it('the control plane is one replica on a PersistentVolumeClaim, replaced with Recreate', () => {
    const list = objects('gateway');
    const deployment = findObject(list, 'Deployment', 'phoenix-control-plane');
    const spec = deployment['spec'] as { replicas: number; strategy: { type: string } };
    expect(spec.replicas).toBe(1);
    expect(spec.strategy.type).toBe('Recreate');
    const pod = podSpec(deployment);
    const data = pod.volumes?.find((volume) => volume.name === 'data');
    expect(data?.persistentVolumeClaim?.claimName).toBe('phoenix-control-plane');
    findObject(list, 'PersistentVolumeClaim', 'phoenix-control-plane');
    const controlPlane = container(pod, 'control-plane');
    expect(controlPlane.args?.slice(0, 1)).toEqual(['control-plane']);
    expect(flagValue(controlPlane.args, '--data-dir')).toBe('/var/lib/phoenix');
    expect(flagValue(controlPlane.args, '--token-file')).toBe('/etc/phoenix/tokens/tokens.yaml');
    expect(controlPlane.args).not.toContain('--insecure-no-auth');
  });

  for (const topology of ['sidecar', 'gateway'] as const) {
    it(`${topology}: proxies follow the control plane's pipeline, or pipeline.config without it`, () => {
      const workloadKind = topology === 'sidecar' ? 'StatefulSet' : 'Deployment';
      const workloadName = topology === 'sidecar' ? 'phoenix-prometheus' : 'phoenix-gateway';
      const following = container(
        podSpec(findObject(objects(topology), workloadKind, workloadName)),
        'phoenix',
      );
      expect(flagValue(following.args, '--control-plane')).toBe(
        `http://phoenix-control-plane.${NAMESPACE}.svc:9092`,
      );
      expect(following.args).not.toContain('--config');
      const staticVariant = topology === 'sidecar' ? 'sidecar-static-pipeline' : 'static-pipeline';
      const list = objects(staticVariant);
      const standalone = container(
        podSpec(findObject(list, workloadKind, workloadName)),
        'phoenix',
      );
      expect(flagValue(standalone.args, '--config')).toBe('/etc/phoenix/pipeline/phoenix.yaml');
      expect(standalone.args).not.toContain('--control-plane');
      expect(list.some((object) => object.metadata.name === 'phoenix-control-plane')).toBe(false);
    });
  }

  for (const variant of ['sidecar', 'gateway', 'aggregation', 'operator'] as const) {
    it(`${variant}: every container is non-root with a read-only root file system, writing only to volumes`, () => {
      for (const workload of objects(variant).filter(
        (object) => object.kind === 'Deployment' || object.kind === 'StatefulSet',
      )) {
        const pod = podSpec(workload);
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
        for (const c of pod.containers) {
          expect(c.securityContext, `${workload.metadata.name}/${c.name}`).toMatchObject({
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
          });
          const writable = c.volumeMounts?.filter((m) => m.readOnly !== true) ?? [];
          if (c.args?.[0] === 'operator') {
            // The operator keeps nothing on disk.
            expect(writable).toEqual([]);
          } else if (c.image.startsWith('phoenix:')) {
            const dataDir = flagValue(c.args, '--data-dir');
            expect(dataDir).toBe('/var/lib/phoenix');
            expect(writable.map((m) => m.mountPath)).toEqual([dataDir]);
          }
        }
      }
    });
  }

  it('helm template --include-crds installs the CRDs of deploy/crds/', () => {
    const crds = objects('with-crds').filter(
      (object) => object.kind === 'CustomResourceDefinition',
    );
    expect(crds.map((crd) => crd.metadata.name).sort()).toEqual([
      'experiments.phoenix.dev',
      'pipelines.phoenix.dev',
    ]);
    for (const crd of crds) {
      const source = parse(
        readFileSync(join(REPO_DIR, 'deploy', 'crds', `${crd.metadata.name}.yaml`), 'utf8'),
      ) as unknown;
      expect(crd).toEqual(source);
    }
  });
});

/**
 * The flags `phoenix operator --help` lists, each with whether it takes a value (`--flag
 * VALUE` in the table) or not. Read from the built CLI, so a flag renamed in the code fails
 * the args check below.
 */
function operatorFlags(): Map<string, boolean> {
  const help = execFileSync(phoenixBinary(), ['operator', '--help'], {
    cwd: REPO_DIR,
    encoding: 'utf8',
  });
  const flags = new Map<string, boolean>();
  for (const match of help.matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z-]*)( [A-Z]+)?/gm)) {
    flags.set(match[1]!, match[2] !== undefined);
  }
  return flags;
}

/** What is wrong with `args` as `phoenix operator` parses them (strict, no positionals). */
function operatorArgProblems(args: readonly string[], flags: Map<string, boolean>): string[] {
  const problems: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    const takesValue = flags.get(arg);
    if (takesValue === undefined) {
      problems.push(`${arg} is not a flag of phoenix operator`);
    } else if (takesValue) {
      const value = args[index + 1];
      if (value === undefined || value.startsWith('-')) problems.push(`${arg} has no value`);
      else index += 1;
    }
  }
  return problems;
}

function operatorContainer(list: readonly K8sObject[]) {
  return container(podSpec(findObject(list, 'Deployment', 'phoenix-operator')), 'operator');
}

describe('helm chart: operator', () => {
  it('is off by default: no operator objects and no cluster-wide RBAC', () => {
    for (const variant of ['chart-defaults', ...TOPOLOGIES]) {
      const list = objects(variant);
      expect(
        list.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'operator'),
        variant,
      ).toEqual([]);
    }
    for (const variant of Object.keys(VARIANTS)) {
      const clusterWide = objects(variant).filter(
        (o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding',
      );
      expect(clusterWide, variant).toEqual([]);
    }
  });

  it('its args are flags `phoenix operator --help` lists, each with its value', () => {
    const flags = operatorFlags();
    expect(flags.get('--namespace')).toBe(true);
    expect(flags.get('--pipelines-only')).toBe(false);
    for (const variant of ['operator', 'operator-elsewhere']) {
      const args = operatorContainer(objects(variant)).args ?? [];
      expect(args[0]).toBe('operator');
      expect(operatorArgProblems(args.slice(1), flags), variant).toEqual([]);
    }
    // The check catches a flag the command does not have, and one left without its value.
    expect(operatorArgProblems(['--watch-namespace', 'x', '--resync'], flags)).toEqual([
      '--watch-namespace is not a flag of phoenix operator',
      'x is not a flag of phoenix operator',
      '--resync has no value',
    ]);
  });

  it("watches the release namespace and writes to the chart's control-plane Service with the admin token from the tokens Secret", () => {
    const list = objects('operator');
    const deployment = findObject(list, 'Deployment', 'phoenix-operator');
    const spec = deployment['spec'] as { replicas: number; strategy: { type: string } };
    // No leader election in the operator: one replica, never two during a rollout.
    expect(spec).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' } });
    const pod = podSpec(deployment);
    const operator = operatorContainer(list);
    expect(flagValue(operator.args, '--namespace')).toBe(NAMESPACE);
    expect(flagValue(operator.args, '--resync')).toBe('5m');
    expect(operator.args).not.toContain('--pipelines-only');

    const controlPlane = new URL(flagValue(operator.args, '--control-plane')!);
    const [serviceName, serviceNamespace] = controlPlane.hostname.split('.');
    expect(serviceNamespace).toBe(NAMESPACE);
    const service = findObject(list, 'Service', serviceName!);
    const servicePort = (service['spec'] as { ports: { name: string; port: number }[] }).ports;
    expect(servicePort.map((port) => port.port)).toContain(Number(controlPlane.port));
    const controlPlanePod = podSpec(findObject(list, 'Deployment', 'phoenix-control-plane'));
    expect(
      matchesSelector(
        (service['spec'] as { selector: Record<string, string> }).selector,
        podLabels(findObject(list, 'Deployment', 'phoenix-control-plane')),
      ),
    ).toBe(true);

    // --token-file is a key of the Secret the control plane reads its tokens.yaml from.
    const tokenFile = flagValue(operator.args, '--token-file')!;
    const mount = operator.volumeMounts?.find((m) => tokenFile.startsWith(`${m.mountPath}/`));
    expect(mount?.readOnly).toBe(true);
    const volume = pod.volumes?.find((v) => v.name === mount?.name);
    const tokensVolume = controlPlanePod.volumes?.find((v) => v.name === 'tokens');
    expect(volume?.secret?.secretName).toBe(tokensVolume?.secret?.secretName);
    expect(volume?.secret?.items).toEqual([
      { key: 'operator.token', path: tokenFile.slice(mount!.mountPath.length + 1) },
    ]);

    // It reaches the API server with its ServiceAccount's token.
    expect(pod.serviceAccountName).toBe('phoenix-operator');
    expect(
      findObject(list, 'ServiceAccount', 'phoenix-operator')['automountServiceAccountToken'],
    ).toBe(true);
    // `phoenix operator` listens on nothing: no ports, and so no probes.
    expect(operator.ports).toBeUndefined();
    expect([operator.livenessProbe, operator.readinessProbe, operator.startupProbe]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect((operator as { resources?: { requests?: object } }).resources?.requests).toBeDefined();
  });

  it('a Role in the watched namespace grants exactly the calls of proxy/kube/, bound to its ServiceAccount', () => {
    const list = objects('operator');
    const role = findObject(list, 'Role', 'phoenix-operator');
    expect(role.metadata.namespace).toBe(NAMESPACE);
    expect(role['rules']).toEqual([
      {
        apiGroups: ['phoenix.dev'],
        resources: ['pipelines', 'experiments'],
        verbs: ['list', 'watch', 'patch'],
      },
      {
        apiGroups: ['phoenix.dev'],
        resources: ['pipelines/status', 'experiments/status'],
        verbs: ['patch'],
      },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
    ]);
    const binding = findObject(list, 'RoleBinding', 'phoenix-operator');
    expect(binding.metadata.namespace).toBe(NAMESPACE);
    expect(binding['roleRef']).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'phoenix-operator',
    });
    expect(binding['subjects']).toEqual([
      { kind: 'ServiceAccount', name: 'phoenix-operator', namespace: NAMESPACE },
    ]);
  });

  it('another namespace, --pipelines-only, an outside control plane and its own token Secret', () => {
    const list = objects('operator-elsewhere');
    const operator = operatorContainer(list);
    expect(operator.image).toBe('phoenix:0.2.0');
    expect(flagValue(operator.args, '--namespace')).toBe('team-a');
    expect(flagValue(operator.args, '--control-plane')).toBe('https://phoenix.example.com:9092');
    expect(flagValue(operator.args, '--resync')).toBe('30s');
    expect(operator.args).toContain('--pipelines-only');
    expect(flagValue(operator.args, '--token-file')).toBe('/etc/phoenix/control-plane/token');
    const volume = podSpec(findObject(list, 'Deployment', 'phoenix-operator')).volumes?.find(
      (v) => v.secret !== undefined,
    );
    expect(volume?.secret).toEqual({
      secretName: 'operator-token',
      items: [{ key: 'token', path: 'token' }],
    });
    // The Role and its binding live where the resources are; the account stays at home.
    const role = findObject(list, 'Role', 'phoenix-operator');
    expect(role.metadata.namespace).toBe('team-a');
    expect(role['rules']).toEqual([
      { apiGroups: ['phoenix.dev'], resources: ['pipelines'], verbs: ['list', 'watch', 'patch'] },
      { apiGroups: ['phoenix.dev'], resources: ['pipelines/status'], verbs: ['patch'] },
    ]);
    const binding = findObject(list, 'RoleBinding', 'phoenix-operator');
    expect(binding.metadata.namespace).toBe('team-a');
    expect(binding['subjects']).toEqual([
      { kind: 'ServiceAccount', name: 'phoenix-operator', namespace: NAMESPACE },
    ]);
  });

  it("without the chart's control plane, operator.controlPlaneUrl is required", () => {
    expect(() =>
      helmTemplate(['--set', 'operator.enabled=true', '--set', 'controlPlane.enabled=false']),
    ).toThrow(/operator.controlPlaneUrl: required when controlPlane.enabled is false/);
  });

  it('operator.rbac.create=false leaves the Role and binding out', () => {
    const list = parseManifests(
      helmTemplate(['--set', 'operator.enabled=true', '--set', 'operator.rbac.create=false']),
    );
    findObject(list, 'Deployment', 'phoenix-operator');
    expect(list.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding')).toEqual([]);
  });
});
