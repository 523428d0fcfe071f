/**
 * The experiment API on a real control plane (SQLite file, Connect over loopback): input
 * checks with precise errors, the lifecycle and its event log, who may do what, the
 * assignment proxies receive on their config stream, and survival across a restart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ExperimentMode,
  ExperimentPhase,
  ExperimentService,
  type ExperimentSpec,
  ExperimentSpecSchema,
  QueryVerdict,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';
import { ConfigIssueSchema, PipelineService } from '../../proto/gen/phoenix/v1/pipeline_pb.js';
import { ProxyService } from '../../proto/gen/phoenix/v1/proxy_pb.js';
import { bearerToken } from '../../proxy/control/control-plane-client.js';
import { parseTokenFile } from '../auth/tokens.js';
import { type RunningControlPlane, startControlPlane } from '../server.js';

const TOKENS = {
  admin: 'admin-token-aaaaaaaaaaaaaaaa',
  viewer: 'viewer-token-bbbbbbbbbbbbbbbb',
  proxy: 'proxy-token-cccccccccccccccc',
};

let dataDir: string;
let server: RunningControlPlane;

async function start(): Promise<RunningControlPlane> {
  const tokens = parseTokenFile(
    JSON.stringify(
      Object.entries(TOKENS).map(([role, token]) => ({ name: `${role}-user`, token, role })),
    ),
    'tokens.json',
  );
  return startControlPlane({ listenPort: 0, dataDir, tokens, experimentTickMs: 100 });
}

function clients(role: keyof typeof TOKENS) {
  const transport = createConnectTransport({
    baseUrl: server.url,
    httpVersion: '1.1',
    interceptors: [bearerToken(TOKENS[role])],
  });
  return {
    experiments: createClient(ExperimentService, transport),
    pipelines: createClient(PipelineService, transport),
    proxies: createClient(ProxyService, transport),
  };
}

const RULES = [
  'groups:',
  '  - name: app',
  '    rules:',
  '      - record: pod:requests:rate5m',
  '        expr: sum by (pod) (rate(http_requests_total[5m]))',
  '      - record: job:requests:rate5m',
  '        expr: sum by (job) (rate(http_requests_total[5m]))',
  '',
].join('\n');

/** The plain-object form of a spec (not a message instance). */
type SpecInit = Exclude<MessageInitShape<typeof ExperimentSpecSchema>, ExperimentSpec>;

function spec(overrides: SpecInit = {}): ExperimentSpec {
  return create(ExperimentSpecSchema, {
    name: 'drop-pod',
    pipeline: 'default',
    mode: ExperimentMode.SHADOW,
    candidateConfigYaml: 'relabel_configs:\n  - action: labeldrop\n    regex: pod\n',
    queries: { ruleFiles: [{ name: 'rules.yaml', content: RULES }] },
    ...overrides,
  });
}

async function codeOf(promise: Promise<unknown>): Promise<ConnectError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => ConnectError.from(caught),
  );
  expect(error, 'the call should fail').toBeDefined();
  return error!;
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'phoenix-experiments-'));
  server = await start();
  await clients('admin').pipelines.createPipeline({
    name: 'default',
    configYaml: 'relabel_configs: []\n',
  });
});

afterEach(async () => {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('ExperimentService', () => {
  it('refuses bad specs with the field and reason, and stores nothing', async () => {
    const api = clients('admin').experiments;
    const badConfig = await codeOf(
      api.createExperiment({
        spec: spec({ candidateConfigYaml: 'relabel_configs:\n  - action: keep\n    regex: "("\n' }),
      }),
    );
    expect(badConfig.code).toBe(Code.InvalidArgument);
    expect(badConfig.findDetails(ConfigIssueSchema)[0]?.path).toBe('relabel_configs[0].regex');

    const cases: [SpecInit, Code, RegExp][] = [
      [{ name: 'Bad Name' }, Code.InvalidArgument, /name "Bad Name"/],
      [{ pipeline: 'missing' }, Code.FailedPrecondition, /pipeline: "missing" does not exist/],
      [{ mode: ExperimentMode.UNSPECIFIED }, Code.InvalidArgument, /mode/],
      [{ mode: ExperimentMode.SPLIT, fraction: 0 }, Code.InvalidArgument, /fraction: 0/],
      [{ shadowUpstream: 'not a url' }, Code.InvalidArgument, /shadow_upstream/],
      [{ baselineQueryUrl: 'http://a:9090' }, Code.InvalidArgument, /give both or neither/],
      [
        { queries: { ruleFiles: [{ name: 'broken.yaml', content: 'groups: [' }] } },
        Code.InvalidArgument,
        /queries: broken.yaml/,
      ],
    ];
    for (const [overrides, code, message] of cases) {
      const error = await codeOf(api.createExperiment({ spec: spec(overrides) }));
      expect(error.code, error.message).toBe(code);
      expect(error.message).toMatch(message);
    }
    expect((await api.listExperiments({})).experiments).toEqual([]);
  });

  it('runs the lifecycle, streams the assignment to proxies, and logs who did what', async () => {
    const admin = clients('admin');
    const created = await admin.experiments.createExperiment({ spec: spec() });
    expect(created.experiment?.phase).toBe(ExperimentPhase.DRAFT);
    expect((await codeOf(admin.experiments.createExperiment({ spec: spec() }))).code).toBe(
      Code.AlreadyExists,
    );

    // A proxy on the pipeline hears of the experiment on its config stream.
    const abort = new AbortController();
    const stream = clients('proxy').proxies.watchConfig(
      { proxyId: 'proxy-1', pipeline: 'default' },
      { signal: abort.signal },
    );
    const updates = stream[Symbol.asyncIterator]();
    const first = await updates.next();
    expect(first.value?.event.case === 'config' && first.value.event.value.experiment).toBe(
      undefined,
    );
    const started = await admin.experiments.startExperiment({ name: 'drop-pod' });
    expect(started.experiment?.phase).toBe(ExperimentPhase.RUNNING);
    expect(started.experiment?.baselineVersion).toBe(1);
    const second = await updates.next();
    const assignment =
      second.value?.event.case === 'config' ? second.value.event.value.experiment : undefined;
    expect(assignment?.name).toBe('drop-pod');
    expect(assignment?.mode).toBe('shadow');
    expect(assignment?.candidateConfigYaml).toContain('labeldrop');

    // Static query checks are ready right away.
    const running = await admin.experiments.getExperiment({ name: 'drop-pod' });
    const verdicts = Object.fromEntries(
      running.experiment!.results!.queries.map((query) => [query.query, query.verdict]),
    );
    expect(verdicts['sum by (pod) (rate(http_requests_total[5m]))']).toBe(QueryVerdict.BROKEN);
    expect(verdicts['sum by (job) (rate(http_requests_total[5m]))']).toBe(QueryVerdict.SAFE);

    // A viewer may look but not decide.
    const viewer = clients('viewer').experiments;
    expect((await viewer.getExperiment({ name: 'drop-pod' })).experiment?.phase).toBe(
      ExperimentPhase.RUNNING,
    );
    expect((await codeOf(viewer.promoteExperiment({ name: 'drop-pod' }))).code).toBe(
      Code.PermissionDenied,
    );

    const rolledBack = await admin.experiments.rollbackExperiment({
      name: 'drop-pod',
      reason: 'breaks the per-pod rule',
    });
    expect(rolledBack.experiment?.phase).toBe(ExperimentPhase.ROLLED_BACK);
    expect(rolledBack.experiment?.decisionReason).toBe('breaks the per-pod rule');
    const third = await updates.next();
    expect(third.value?.event.case === 'config' && third.value.event.value.experiment).toBe(
      undefined,
    );
    abort.abort();
    expect((await codeOf(admin.experiments.promoteExperiment({ name: 'drop-pod' }))).code).toBe(
      Code.FailedPrecondition,
    );
    expect((await codeOf(admin.experiments.getExperiment({ name: 'nope' }))).code).toBe(
      Code.NotFound,
    );

    const events = [];
    for await (const { event } of viewer.watchExperiment({ name: 'drop-pod' })) {
      events.push(`${event?.type}:${event?.actor}:${event?.reason}`);
    }
    expect(events).toEqual([
      'created:admin-user:',
      'started:admin-user:baseline version 1',
      'rolled_back:admin-user:breaks the per-pod rule',
    ]);
    // The pipeline is untouched by a rollback.
    expect((await admin.pipelines.getPipeline({ name: 'default' })).pipeline?.version).toBe(1);
  });

  it('promotes the candidate as a new pipeline version, and keeps running experiments across a restart', async () => {
    const admin = clients('admin');
    const created = await admin.experiments.createExperiment({
      spec: spec({ name: 'keep-me' }),
      start: true,
    });
    // Created and started in one call, with its first results (the static checks).
    expect(created.experiment?.phase).toBe(ExperimentPhase.RUNNING);
    expect(created.experiment?.results?.brokenQueries).toBe(1);
    await server.close();
    server = await start();
    const restarted = clients('admin');
    expect((await restarted.experiments.getExperiment({ name: 'keep-me' })).experiment?.phase).toBe(
      ExperimentPhase.RUNNING,
    );
    // One experiment per pipeline at a time.
    await restarted.experiments.createExperiment({ spec: spec({ name: 'second' }) });
    expect((await codeOf(restarted.experiments.startExperiment({ name: 'second' }))).code).toBe(
      Code.FailedPrecondition,
    );

    const promoted = await restarted.experiments.promoteExperiment({
      name: 'keep-me',
      reason: 'cheaper',
    });
    expect(promoted.experiment?.phase).toBe(ExperimentPhase.PROMOTED);
    expect(promoted.experiment?.promotedVersion).toBe(2);
    const pipeline = (await restarted.pipelines.getPipeline({ name: 'default' })).pipeline;
    expect(pipeline?.version).toBe(2);
    expect(pipeline?.configYaml).toContain('labeldrop');
    expect(pipeline?.author).toBe('admin-user');
    expect(pipeline?.message).toBe('promote experiment keep-me: cheaper');
    // With the first one decided, the second may start.
    expect(
      (await restarted.experiments.startExperiment({ name: 'second' })).experiment?.phase,
    ).toBe(ExperimentPhase.RUNNING);
  });

  it('checks queries against a pipeline without an experiment', async () => {
    const { queries } = await clients('viewer').experiments.checkQueries({
      configYaml:
        'relabel_configs:\n  - action: drop\n    source_labels: [__name__]\n    regex: http_requests_total\n',
      queries: { promql: ['sum(rate(http_requests_total[5m]))', 'up', 'sum(rate(x[5m]'] },
    });
    expect(queries.map((query) => query.verdict)).toEqual([
      QueryVerdict.BROKEN,
      QueryVerdict.SAFE,
      QueryVerdict.INVALID,
    ]);
    expect(queries[0]?.reason).toContain('http_requests_total');
  });
});
