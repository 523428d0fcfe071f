/**
 * The label sets of a Kubernetes-style workload, as a cluster's Prometheus would scrape
 * them: application request counters by method/route/status, request-latency histograms
 * (buckets, sum, count), cAdvisor container series and kube-state-metrics series. Every
 * series carries the target labels Kubernetes service discovery adds (cluster, namespace,
 * pod, container, node, instance, job) and has 9 to 13 labels in all.
 */

/** One series: its metric name and its labels sorted by name, `__name__` included. */
export interface CatalogSeries {
  readonly metricName: string;
  readonly labels: ReadonlyArray<readonly [string, string]>;
}

const ROUTES = ['/api/v1/orders', '/api/v1/users/:id', '/api/v1/cart', '/healthz'];
const STATUS_BY_METHOD: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['GET', ['200', '304', '404', '500']],
  ['POST', ['201', '400', '500']],
];
const LATENCY_BUCKETS = [
  '0.005',
  '0.01',
  '0.025',
  '0.05',
  '0.1',
  '0.25',
  '0.5',
  '1',
  '2.5',
  '+Inf',
];
const NODE_COUNT = 48;
const NAMESPACE_COUNT = 24;
const DEPLOYMENTS_PER_NAMESPACE = 6;

/** The pod a group of series belongs to, with the labels its scrape targets share. */
interface Pod {
  readonly index: number;
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly ip: string;
  readonly deployment: string;
}

function podAt(index: number): Pod {
  const namespaceIndex = index % NAMESPACE_COUNT;
  const deploymentIndex = Math.floor(index / NAMESPACE_COUNT) % DEPLOYMENTS_PER_NAMESPACE;
  const deployment = `svc-${namespaceIndex}-${deploymentIndex}`;
  const replicaHash = ((index * 2_654_435_761) >>> 0).toString(36).padStart(7, '0').slice(-5);
  return {
    index,
    namespace: `team-${namespaceIndex}`,
    deployment,
    name: `${deployment}-6f8d9c${(index % 97).toString(36)}-${replicaHash}`,
    node: `ip-10-0-${index % NODE_COUNT}-${(index * 7) % 250}.eu-west-1.compute.internal`,
    ip: `10.${1 + (index >> 16)}.${(index >> 8) & 0xff}.${index & 0xff}`,
  };
}

function series(metricName: string, labels: Record<string, string>): CatalogSeries {
  const pairs = Object.entries({ __name__: metricName, ...labels }).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return { metricName, labels: pairs };
}

/** Series of one pod's application: request counters and latency histograms. */
function appSeries(pod: Pod, target: Record<string, string>): CatalogSeries[] {
  const app = { ...target, container: 'app', instance: `${pod.ip}:8080`, job: 'kubernetes-pods' };
  const out: CatalogSeries[] = [];
  for (const route of ROUTES) {
    for (const [method, statuses] of STATUS_BY_METHOD) {
      for (const status of statuses) {
        out.push(series('http_requests_total', { ...app, method, route, status }));
      }
    }
    for (const le of LATENCY_BUCKETS) {
      out.push(
        series('http_request_duration_seconds_bucket', { ...app, le, method: 'GET', route }),
      );
    }
    out.push(series('http_request_duration_seconds_sum', { ...app, method: 'GET', route }));
    out.push(series('http_request_duration_seconds_count', { ...app, method: 'GET', route }));
  }
  return out;
}

/** cAdvisor series of one pod (two containers) and kube-state-metrics series about it. */
function platformSeries(pod: Pod, target: Record<string, string>): CatalogSeries[] {
  const kubelet = {
    ...target,
    instance: `${pod.node}:10250`,
    job: 'kubelet',
    metrics_path: '/metrics/cadvisor',
  };
  const out: CatalogSeries[] = [];
  for (const container of ['app', 'istio-proxy']) {
    const cgroup = {
      ...kubelet,
      container,
      id: `/kubepods/burstable/pod${pod.index.toString(16).padStart(8, '0')}/${container}`,
      image:
        container === 'app'
          ? `registry.example.com/${pod.deployment}:1.4.2`
          : 'istio/proxyv2:1.20.3',
      name: `k8s_${container}_${pod.name}_${pod.namespace}`,
    };
    for (const cpu of ['cpu00', 'cpu01']) {
      out.push(series('container_cpu_usage_seconds_total', { ...cgroup, cpu }));
    }
    out.push(series('container_memory_working_set_bytes', cgroup));
    out.push(series('container_fs_reads_bytes_total', { ...cgroup, device: '/dev/nvme0n1' }));
  }
  const podCgroup = {
    ...kubelet,
    container: 'POD',
    id: `/kubepods/burstable/pod${pod.index.toString(16).padStart(8, '0')}`,
    image: 'registry.k8s.io/pause:3.9',
  };
  for (const iface of ['eth0', 'lo']) {
    out.push(series('container_network_receive_bytes_total', { ...podCgroup, interface: iface }));
    out.push(series('container_network_transmit_bytes_total', { ...podCgroup, interface: iface }));
  }
  const kubeState = {
    ...target,
    container: 'kube-state-metrics',
    instance: '10.0.0.12:8080',
    job: 'kube-state-metrics',
  };
  for (const condition of ['true', 'false']) {
    out.push(series('kube_pod_status_ready', { ...kubeState, condition }));
  }
  out.push(
    series('kube_pod_container_status_restarts_total', { ...kubeState, uid: `uid-${pod.index}` }),
  );
  return out;
}

/**
 * The first `count` series of the catalog, in a stable order: pod after pod, each pod's
 * application series and then its platform series, as one scrape round would send them.
 */
export function catalogSeries(count: number): CatalogSeries[] {
  const out: CatalogSeries[] = [];
  for (let podIndex = 0; out.length < count; podIndex++) {
    const pod = podAt(podIndex);
    const target = {
      cluster: 'prod-eu-1',
      namespace: pod.namespace,
      node: pod.node,
      pod: pod.name,
    };
    for (const one of [...appSeries(pod, target), ...platformSeries(pod, target)]) {
      if (out.length === count) break;
      out.push(one);
    }
  }
  return out;
}
