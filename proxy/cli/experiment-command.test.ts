/**
 * `phoenix experiment` against a real control plane: an experiment file with a candidate
 * file and a rule file, the table and JSON outputs, decisions, and precise errors for a
 * bad file.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  capturingIo,
  startTestControlPlane,
  TEST_TOKENS,
  type TestControlPlane,
} from './cli-test-support.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { runExperimentCommand } from './experiment-command.js';
import { runPipelineCommand } from './pipeline-command.js';

let controlPlane: TestControlPlane;

beforeAll(async () => {
  controlPlane = await startTestControlPlane();
  const baseline = join(controlPlane.dataDir, 'baseline.yaml');
  await writeFile(baseline, 'relabel_configs: []\n');
  const io = capturingIo();
  const flags = ['--control-plane', controlPlane.url, '--token', TEST_TOKENS.admin];
  expect(await runPipelineCommand(['apply', '-f', baseline, ...flags], io)).toBe(EXIT_OK);
});
afterAll(() => controlPlane.close());

async function run(args: string[], token: string = TEST_TOKENS.admin) {
  const io = capturingIo();
  const status = await runExperimentCommand(
    [...args, '--control-plane', controlPlane.url, '--token', token],
    io,
  );
  return { status, out: io.out, err: io.err };
}

async function file(name: string, text: string): Promise<string> {
  const path = join(controlPlane.dataDir, name);
  await writeFile(path, text);
  return path;
}

describe('phoenix experiment', () => {
  it('creates from a file, shows the query checks, lists and rolls back', async () => {
    await file('candidate.yaml', 'relabel_configs:\n  - action: labeldrop\n    regex: pod\n');
    await file(
      'rules.yaml',
      'groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum by (pod) (rate(x[5m]))\n',
    );
    const experiment = await file(
      'exp.yaml',
      [
        'name: drop-pod',
        'pipeline: default',
        'mode: shadow',
        'duration: 30m',
        'candidate_file: candidate.yaml',
        'guardrails:',
        '  min_duration: 5m',
        '  min_reduction_percent: 50',
        'queries:',
        '  rule_files: [rules.yaml]',
        '  promql: ["sum(rate(x[5m]))"]',
        '',
      ].join('\n'),
    );
    const created = await run(['create', '-f', experiment]);
    expect(created.err).toBe('');
    expect(created.status).toBe(EXIT_OK);
    expect(created.out).toContain('experiment drop-pod on pipeline default');
    expect(created.out).toMatch(/broken .*sum by \(pod\) \(rate\(x\[5m\]\)\)/);
    expect(created.out).toMatch(/safe .*sum\(rate\(x\[5m\]\)\)/);

    const listed = await run(['list', '-o', 'json']);
    expect(JSON.parse(listed.out)[0]).toMatchObject({
      spec: { name: 'drop-pod', durationSeconds: 1800 },
      phase: 'EXPERIMENT_PHASE_RUNNING',
    });

    expect((await run(['promote', 'drop-pod'], TEST_TOKENS.viewer)).status).toBe(EXIT_FAILURE);
    const rolledBack = await run(['rollback', 'drop-pod', '-m', 'breaks a rule']);
    expect(rolledBack.status).toBe(EXIT_OK);
    expect(rolledBack.out).toContain('rolled_back');
    expect(rolledBack.out).toContain('decision: breaks a rule');
    const watched = await run(['watch', 'drop-pod']);
    expect(
      watched.out
        .trim()
        .split('\n')
        .map((line) => line.split(' ')[1]),
    ).toEqual(['created', 'started', 'rolled_back']);
  });

  it('names the key and reason of a bad experiment file', async () => {
    const unknownKey = await file(
      'bad1.yaml',
      'name: x\ncandidate: "relabel_configs: []"\nmdoe: split\n',
    );
    const result = await run(['create', '-f', unknownKey]);
    expect(result.status).toBe(EXIT_FAILURE);
    expect(result.err).toContain('bad1.yaml: mdoe: unknown key');
    const badDuration = await file(
      'bad2.yaml',
      'name: x\ncandidate: "relabel_configs: []"\nduration: soon\n',
    );
    expect((await run(['create', '-f', badDuration])).err).toContain(
      'duration: expected a duration',
    );
    const badCandidate = await file(
      'bad3.yaml',
      'name: x\ncandidate: "relabel_configs: [{regex: \\"(\\"}]"\n',
    );
    const refused = await run(['create', '-f', badCandidate]);
    expect(refused.status).toBe(EXIT_FAILURE);
    expect(refused.err).toContain('relabel_configs[0].regex');
    expect((await run(['create'])).status).toBe(EXIT_USAGE);
  });
});
