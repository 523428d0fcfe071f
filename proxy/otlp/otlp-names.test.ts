import { describe, expect, it } from 'vitest';
import { type MetricKind, prometheusLabelName, prometheusMetricName } from './otlp-names.js';

describe('prometheusMetricName', () => {
  const cases: Array<[string, string, MetricKind, boolean, string]> = [
    [
      'http.server.request.duration',
      's',
      'histogram',
      false,
      'http_server_request_duration_seconds',
    ],
    ['http.server.requests', '{request}', 'counter', false, 'http_server_requests_total'],
    ['requests_total', '1', 'counter', false, 'requests_total'],
    ['system.memory.usage', 'By', 'gauge', false, 'system_memory_usage_bytes'],
    ['network.io', 'By/s', 'gauge', false, 'network_io_bytes_per_second'],
    ['cpu.utilization', '1', 'gauge', false, 'cpu_utilization_ratio'],
    ['latency_milliseconds', 'ms', 'histogram', false, 'latency_milliseconds'],
    ['queue.size', '', 'gauge', false, 'queue_size'],
    ['2xx.count', '', 'counter', false, '_2xx_count_total'],
    ['temp', 'Cel', 'gauge', false, 'temp_celsius'],
    ['odd.unit', 'widgets', 'gauge', false, 'odd_unit_widgets'],
    ['http.server.requests', '{request}', 'counter', true, 'http_server_requests'],
    ['process.cpu.time', 's', 'counter', true, 'process_cpu_time'],
  ];
  for (const [name, unit, kind, keep, expected] of cases) {
    it(`${name} [${unit}] ${kind}${keep ? ' (kept)' : ''} → ${expected}`, () => {
      expect(prometheusMetricName(name, unit, kind, keep)).toBe(expected);
    });
  }
});

describe('prometheusLabelName', () => {
  it.each([
    ['http.method', 'http_method'],
    ['service_name', 'service_name'],
    ['1st', 'key_1st'],
    ['k8s.pod.name', 'k8s_pod_name'],
    ['ünïcode', '_n_code'],
  ])('%s → %s', (key, expected) => {
    expect(prometheusLabelName(key)).toBe(expected);
  });
});
