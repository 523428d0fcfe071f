import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import {
  capturingIo,
  startTestControlPlane,
  TEST_TOKENS,
  type TestControlPlane,
} from './cli-test-support.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { runPipelineCommand } from './pipeline-command.js';

let controlPlane: TestControlPlane;
const RULES_V1 = 'relabel_configs:\n  - action: labeldrop\n    regex: pod\n';
const RULES_V2 = `${RULES_V1}  - action: labeldrop\n    regex: instance\n`;

beforeAll(async () => {
  controlPlane = await startTestControlPlane();
});
afterAll(() => controlPlane.close());

async function run(args: string[], token: string = TEST_TOKENS.admin) {
  const io = capturingIo();
  const status = await runPipelineCommand(
    [...args, '--control-plane', controlPlane.url, '--token', token],
    io,
  );
  return { status, out: io.out, err: io.err };
}

async function configFile(name: string, text: string): Promise<string> {
  const path = join(controlPlane.dataDir, name);
  await writeFile(path, text);
  return path;
}

describe('phoenix pipeline', () => {
  it('applies, lists, shows history, diffs and rolls back, in every output format', async () => {
    const v1 = await configFile('v1.yaml', RULES_V1);
    const v2 = await configFile('v2.yaml', RULES_V2);
    expect(await run(['apply', '-f', v1, '-m', 'drop pod'])).toMatchObject({
      status: EXIT_OK,
      out: 'pipeline default created: version 1\n',
    });
    expect((await run(['apply', '-f', v1])).out).toBe('pipeline default unchanged at version 1\n');
    expect((await run(['apply', '-f', v2])).out).toBe('pipeline default updated: version 2\n');

    const table = await run(['list']);
    const [header, row, ...others] = table.out.trimEnd().split('\n');
    expect(header).toMatch(/^NAME\s+VERSION\s+RULES\s+AUTHOR\s+CREATED\s+MESSAGE$/);
    expect(row).toMatch(/^default\s+2\s+2\s+admin-user\s+\d{4}-\d\d-\d\dT/);
    expect(others).toEqual([]);

    const json = JSON.parse((await run(['list', '-o', 'json'])).out);
    expect(json).toEqual([
      expect.objectContaining({ name: 'default', version: 2, ruleCount: 2, author: 'admin-user' }),
    ]);
    const yaml = parse((await run(['history', 'default', '--output', 'yaml'])).out);
    expect(
      yaml.map((entry: { version: number; message?: string }) => [entry.version, entry.message]),
    ).toEqual([
      [2, undefined],
      [1, 'drop pod'],
    ]);

    const got = await run(['get', 'default', '--version', '1']);
    expect(got.out).toContain(RULES_V1);
    expect(got.out).toMatch(/^NAME/);

    const diff = await run(['diff', 'default', '--from', '1']);
    expect(diff.out).toContain('+    regex: instance');

    expect((await run(['rollback', 'default', '--to', '1'])).out).toBe(
      'pipeline default rolled back to version 1: now version 3\n',
    );
    const latest = JSON.parse((await run(['get', 'default', '-o', 'json'])).out);
    expect(latest).toMatchObject({ version: 3, configYaml: RULES_V1 });
  });

  it('previews a config over a remote-write body from a file', async () => {
    const config = await configFile(
      'preview.yaml',
      `${RULES_V1}  - source_labels: [__name__]\n    regex: go_.*\n    action: drop\n`,
    );
    const body = join(controlPlane.dataDir, 'request.bin');
    await writeFile(
      body,
      compressSync(
        Buffer.from(
          encodeRequest(
            writeRequest([
              seriesWith(sortedLabels({ __name__: 'up', pod: 'a' })),
              seriesWith(sortedLabels({ __name__: 'go_goroutines', pod: 'b' })),
            ]),
          ),
        ),
      ),
    );
    const table = await run(['preview', '-f', config, '--body', body], TEST_TOKENS.viewer);
    expect(table.status).toBe(EXIT_OK);
    expect(table.out).toContain('series 2 in, 1 out (1 dropped); samples 2 in, 1 out');
    expect(table.out).toMatch(/^0\s+labeldrop\s+2$/m);
    expect(table.out).toMatch(/^1\s+drop\s+1$/m);
    expect(table.out).toContain('after:\n  {__name__="up"}\n');
    const json = JSON.parse(
      (await run(['preview', '-f', config, '--body', body, '-o', 'json'])).out,
    );
    expect(json).toMatchObject({ seriesIn: 2, seriesOut: 1 });

    const live = await run(['preview', '-f', config, '--live']);
    expect(live.status).toBe(EXIT_FAILURE);
    expect(live.err).toMatch(/\[failed_precondition\] no live traffic reported yet/);
    const both = await run(['preview', '-f', config, '--live', '--body', body]);
    expect(both.status).toBe(EXIT_USAGE);
  });

  it('prints the config path of an invalid config and exits 1', async () => {
    const bad = await configFile('bad.yaml', 'relabel_configs:\n  - action: nope\n');
    for (const subcommand of ['validate', 'apply']) {
      const result = await run([subcommand, '-f', bad]);
      expect(result.status).toBe(EXIT_FAILURE);
      expect(result.err).toMatch(
        /\[invalid_argument\] pipeline\.yaml: relabel_configs\[0\]\.action: .*\(line 2\)/,
      );
    }
  });

  it('reports refusals of the control plane and usage errors', async () => {
    const cases: Array<{ args: string[]; token?: string; status: number; err: RegExp }> = [
      { args: ['get', 'missing'], status: EXIT_FAILURE, err: /\[not_found\]/ },
      {
        args: ['list'],
        token: 'wrong-token-wrong-token',
        status: EXIT_FAILURE,
        err: /\[unauthenticated\]/,
      },
      {
        args: ['rollback', 'default', '--to', '1'],
        token: TEST_TOKENS.viewer,
        status: EXIT_FAILURE,
        err: /\[permission_denied\]/,
      },
      { args: ['rollback', 'default'], status: EXIT_USAGE, err: /--to N is required/ },
      { args: ['list', '-o', 'xml'], status: EXIT_USAGE, err: /must be one of table, json, yaml/ },
      { args: ['frobnicate'], status: EXIT_USAGE, err: /unknown subcommand "frobnicate"/ },
    ];
    for (const testCase of cases) {
      const result = await run(testCase.args, testCase.token);
      expect({ args: testCase.args, status: result.status }).toEqual({
        args: testCase.args,
        status: testCase.status,
      });
      expect(result.err).toMatch(testCase.err);
    }
  });
});
