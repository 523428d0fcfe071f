/**
 * The control API through real clients over loopback: Connect over HTTP/1.1, gRPC and
 * gRPC-Web over HTTP/2, the auth cases, and the config stream.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError, createClient, type Transport } from '@connectrpc/connect';
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from '@connectrpc/connect-node';
import { compressSync } from 'snappy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigIssueSchema, PipelineService } from '../proto/gen/phoenix/v1/pipeline_pb.js';
import { ProxyService } from '../proto/gen/phoenix/v1/proxy_pb.js';
import { bearerToken } from '../proxy/control/control-plane-client.js';
import {
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../proxy/pipeline/remote-write-fixtures.js';
import { parseTokenFile } from './auth/tokens.js';
import { type RunningControlPlane, startControlPlane } from './server.js';

const TOKENS = {
  admin: 'admin-token-aaaaaaaaaaaaaaaa',
  viewer: 'viewer-token-bbbbbbbbbbbbbbbb',
  proxy: 'proxy-token-cccccccccccccccc',
};

let dataDir: string;
let server: RunningControlPlane;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'phoenix-cp-'));
  const tokens = parseTokenFile(
    JSON.stringify(
      Object.entries(TOKENS).map(([role, token]) => ({ name: `${role}-user`, token, role })),
    ),
    'tokens.json',
  );
  server = await startControlPlane({
    listenPort: 0,
    dataDir,
    tokens,
    heartbeatIntervalMs: 200,
  });
});

afterEach(async () => {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
});

type TransportKind = 'connect/1.1' | 'grpc/2' | 'grpc-web/2';

function transport(kind: TransportKind, token?: string): Transport {
  const interceptors = token === undefined ? [] : [bearerToken(token)];
  const baseUrl = server.url;
  switch (kind) {
    case 'connect/1.1':
      return createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors });
    case 'grpc/2':
      return createGrpcTransport({ baseUrl, interceptors });
    case 'grpc-web/2':
      return createGrpcWebTransport({ baseUrl, httpVersion: '2', interceptors });
  }
}

const pipelines = (token?: string, kind: TransportKind = 'connect/1.1') =>
  createClient(PipelineService, transport(kind, token));
const proxies = (token?: string, kind: TransportKind = 'connect/1.1') =>
  createClient(ProxyService, transport(kind, token));

async function connectError(promise: Promise<unknown>): Promise<ConnectError> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(caught).toBeInstanceOf(ConnectError);
  return caught as ConnectError;
}

const RULES = 'relabel_configs:\n  - action: labeldrop\n    regex: pod\n';

describe('protocols', () => {
  for (const kind of ['connect/1.1', 'grpc/2', 'grpc-web/2'] as const) {
    it(`serves ${kind}`, async () => {
      const client = pipelines(TOKENS.admin, kind);
      const created = await client.createPipeline({ name: 'default', configYaml: RULES });
      expect(created.pipeline?.version).toBe(1);
      expect(created.pipeline?.author).toBe('admin-user');
      expect(created.pipeline?.ruleCount).toBe(1);
      const error = await connectError(client.getPipeline({ name: 'missing' }));
      expect(error.code).toBe(Code.NotFound);
    });
  }
});

describe('pipelines', () => {
  it('creates, updates with optimistic concurrency, lists, diffs, rolls back, deletes', async () => {
    const client = pipelines(TOKENS.admin);
    await client.createPipeline({ name: 'default', configYaml: RULES, message: 'first' });
    const v2 = await client.updatePipeline({
      name: 'default',
      configYaml: `${RULES}  - action: labeldrop\n    regex: instance\n`,
      expectedVersion: 1,
    });
    expect(v2.pipeline?.version).toBe(2);

    const conflict = await connectError(
      client.updatePipeline({ name: 'default', configYaml: RULES, expectedVersion: 1 }),
    );
    expect(conflict.code).toBe(Code.Aborted);
    expect(conflict.rawMessage).toMatch(/at version 2, not the expected 1/);

    const duplicate = await connectError(
      client.createPipeline({ name: 'default', configYaml: '' }),
    );
    expect(duplicate.code).toBe(Code.AlreadyExists);

    const { diff } = await client.diffPipelineVersions({ name: 'default', fromVersion: 1 });
    expect(diff).toBe(
      [
        '--- default v1',
        '+++ default v2',
        '@@ -1,3 +1,5 @@',
        ' relabel_configs:',
        '   - action: labeldrop',
        '     regex: pod',
        '+  - action: labeldrop',
        '+    regex: instance',
        '',
      ].join('\n'),
    );

    const rolledBack = await client.rollbackPipeline({ name: 'default', toVersion: 1 });
    expect(rolledBack.pipeline?.version).toBe(3);
    expect(rolledBack.pipeline?.configYaml).toBe(RULES);
    expect(rolledBack.pipeline?.message).toBe('rollback to version 1');

    const { versions } = await client.getPipelineHistory({ name: 'default' });
    expect(versions.map((v) => [v.version, v.author, v.message])).toEqual([
      [3, 'admin-user', 'rollback to version 1'],
      [2, 'admin-user', ''],
      [1, 'admin-user', 'first'],
    ]);
    expect((await client.getPipeline({ name: 'default', version: 2 })).pipeline?.ruleCount).toBe(2);
    expect((await client.listPipelines({})).pipelines.map((p) => [p.name, p.version])).toEqual([
      ['default', 3],
    ]);

    await client.deletePipeline({ name: 'default' });
    expect((await client.listPipelines({})).pipelines).toEqual([]);
    expect((await connectError(client.getPipeline({ name: 'default' }))).code).toBe(Code.NotFound);
  });

  const invalid: Array<{ name: string; yaml: string; path: string; message: RegExp }> = [
    {
      name: 'a regex RE2 rejects',
      yaml: 'relabel_configs:\n  - source_labels: [a]\n    regex: "a(b"\n    target_label: x\n',
      path: 'relabel_configs[0].regex',
      message: /pipeline\.yaml: relabel_configs\[0\]\.regex: invalid regex/,
    },
    {
      name: 'an unknown key',
      yaml: 'relabel_configs:\n  - action: drop\n    regexp: x\n',
      path: 'relabel_configs[0].regexp',
      message: /regexp/,
    },
    {
      name: 'broken YAML',
      yaml: 'relabel_configs: [\n',
      path: '',
      message: /invalid YAML/,
    },
  ];
  for (const testCase of invalid) {
    it(`refuses ${testCase.name} with invalid_argument and the path, storing nothing`, async () => {
      const client = pipelines(TOKENS.admin);
      for (const call of [
        () => client.validatePipeline({ configYaml: testCase.yaml }),
        () => client.createPipeline({ name: 'default', configYaml: testCase.yaml }),
      ]) {
        const error = await connectError(call());
        expect(error.code).toBe(Code.InvalidArgument);
        expect(error.rawMessage).toMatch(testCase.message);
        const [issue] = error.findDetails(ConfigIssueSchema);
        expect(issue?.path).toBe(testCase.path);
        expect(issue?.line).toBeGreaterThan(0);
      }
      expect((await client.listPipelines({})).pipelines).toEqual([]);
    });
  }

  it('refuses a bad pipeline name', async () => {
    const error = await connectError(
      pipelines(TOKENS.admin).createPipeline({ name: 'Bad Name', configYaml: '' }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
  });

  it('previews a snappy remote-write body: series before and after, rule hits', async () => {
    const client = pipelines(TOKENS.viewer);
    const request = writeRequest([
      seriesWith(sortedLabels({ __name__: 'up', pod: 'a', job: 'x' })),
      seriesWith(sortedLabels({ __name__: 'go_gc_duration_seconds', pod: 'b' }), 3),
    ]);
    const preview = await client.previewPipeline({
      pipeline: {
        case: 'configYaml',
        value: `${RULES}  - source_labels: [__name__]\n    regex: go_.*\n    action: drop\n`,
      },
      remoteWriteBody: compressSync(Buffer.from(encodeRequest(request))),
      snappy: true,
    });
    const labelsOf = (series: typeof preview.before) =>
      series.map((s) => Object.fromEntries(s.labels.map((l) => [l.name, l.value])));
    expect(labelsOf(preview.before)).toEqual([
      { __name__: 'up', job: 'x', pod: 'a' },
      { __name__: 'go_gc_duration_seconds', pod: 'b' },
    ]);
    expect(labelsOf(preview.after)).toEqual([{ __name__: 'up', job: 'x' }]);
    expect(preview.ruleHits.map((hit) => [hit.rule, hit.action, hit.series])).toEqual([
      [0, 'labeldrop', 2],
      [1, 'drop', 1],
    ]);
    expect([preview.seriesIn, preview.seriesOut, preview.seriesDropped]).toEqual([2, 1, 1]);
    expect([preview.samplesIn, preview.samplesOut]).toEqual([4, 1]);

    const corrupt = await connectError(
      client.previewPipeline({
        pipeline: { case: 'configYaml', value: RULES },
        remoteWriteBody: new Uint8Array([0x05, 0xff, 0xff]),
        snappy: true,
      }),
    );
    expect(corrupt.code).toBe(Code.InvalidArgument);
    expect(corrupt.rawMessage).toMatch(/remote_write_body/);
  });
});

describe('auth', () => {
  const cases: Array<{
    name: string;
    token: string | undefined;
    call: 'read' | 'write' | 'watch';
    code: Code | 'ok';
  }> = [
    { name: 'no token', token: undefined, call: 'read', code: Code.Unauthenticated },
    {
      name: 'an unknown token',
      token: 'nope-nope-nope-nope-nope',
      call: 'read',
      code: Code.Unauthenticated,
    },
    { name: 'a viewer reading', token: TOKENS.viewer, call: 'read', code: 'ok' },
    { name: 'a viewer writing', token: TOKENS.viewer, call: 'write', code: Code.PermissionDenied },
    {
      name: 'a viewer watching config',
      token: TOKENS.viewer,
      call: 'watch',
      code: Code.PermissionDenied,
    },
    {
      name: 'a proxy reading pipelines',
      token: TOKENS.proxy,
      call: 'read',
      code: Code.PermissionDenied,
    },
    { name: 'a proxy writing', token: TOKENS.proxy, call: 'write', code: Code.PermissionDenied },
    { name: 'a proxy registering', token: TOKENS.proxy, call: 'watch', code: 'ok' },
    { name: 'an admin writing', token: TOKENS.admin, call: 'write', code: 'ok' },
  ];
  for (const testCase of cases) {
    it(`answers ${testCase.name} with ${testCase.code === 'ok' ? 'success' : Code[testCase.code]}`, async () => {
      const run = () => {
        switch (testCase.call) {
          case 'read':
            return pipelines(testCase.token).listPipelines({});
          case 'write':
            return pipelines(testCase.token).createPipeline({ name: 'p', configYaml: '' });
          case 'watch':
            return proxies(testCase.token).register({ proxyId: 'x', pipeline: 'default' });
        }
      };
      if (testCase.code === 'ok') {
        await run();
      } else {
        expect((await connectError(run())).code).toBe(testCase.code);
      }
    });
  }
});

describe('config stream', () => {
  it('sends the config on connect, each new version, heartbeats; tracks the proxy', async () => {
    const admin = pipelines(TOKENS.admin);
    const fleet = proxies(TOKENS.proxy);
    const abort = new AbortController();
    const stream = fleet.watchConfig(
      { proxyId: 'proxy-a', pipeline: 'default' },
      { signal: abort.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    const next = async () => (await iterator.next()).value!;

    const first = await next();
    expect(first.event.case).toBe('config');
    expect(first.event.value).toMatchObject({ pipeline: 'default', version: 0, exists: false });

    await admin.createPipeline({ name: 'default', configYaml: RULES });
    expect((await next()).event.value).toMatchObject({
      version: 1,
      exists: true,
      configYaml: RULES,
    });
    // Writes to another pipeline are not this proxy's business.
    await admin.createPipeline({ name: 'other', configYaml: '' });
    await admin.updatePipeline({ name: 'default', configYaml: '' });
    expect((await next()).event.value).toMatchObject({ version: 2, configYaml: '' });
    // Quiet stream: a heartbeat after the interval.
    expect((await next()).event.case).toBe('heartbeat');

    await fleet.reportStatus({
      proxyId: 'proxy-a',
      pipeline: 'default',
      appliedVersion: 2,
      healthy: true,
      listen: '127.0.0.1:9091',
      counters: { requests: 5n },
    });
    const { proxies: listed } = await proxies(TOKENS.viewer).listProxies({});
    expect(
      listed.map((p) => [p.proxyId, p.appliedVersion, p.connected, p.counters?.requests]),
    ).toEqual([['proxy-a', 2, true, 5n]]);
    abort.abort();
    await iterator.return?.();
    // The server notices the closed stream.
    for (let attempt = 0; attempt < 50; attempt++) {
      const [status] = (await proxies(TOKENS.viewer).listProxies({})).proxies;
      if (status?.connected === false) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('stream still counted as connected after the client went away');
  });
});
