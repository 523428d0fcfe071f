import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phoenixBinary } from '../../test/helpers/peers.js';
import { isLoopbackHost } from './control-plane-command.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'phoenix-cp-cli-'));
});
afterAll(() => rm(workDir, { recursive: true, force: true }));

function phoenix(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(phoenixBinary(), args, { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('isLoopbackHost', () => {
  const table: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['10.0.0.5', false],
    ['::', false],
  ];
  for (const [host, loopback] of table) {
    it(`${host} is ${loopback ? '' : 'not '}loopback`, () => {
      expect(isLoopbackHost(host)).toBe(loopback);
    });
  }
});

describe('phoenix control-plane and friends', () => {
  it('every new command answers --help', async () => {
    for (const [command, first] of [
      ['up', 'Usage: phoenix up'],
      ['control-plane', 'Usage: phoenix control-plane'],
      ['pipeline', 'Usage: phoenix pipeline <subcommand>'],
      ['proxies', 'Usage: phoenix proxies'],
    ] as const) {
      const result = await phoenix([command, '--help']);
      expect({ command, code: result.code }).toEqual({ command, code: EXIT_OK });
      expect(result.stdout.startsWith(first)).toBe(true);
    }
    const proxyHelp = await phoenix(['proxy', '--help']);
    expect(proxyHelp.stdout).toContain('--control-plane URL');
    expect(proxyHelp.stdout).toContain('--proxy-token-file FILE');
  });

  it('refuses to run without auth on a non-loopback address', async () => {
    const result = await phoenix(['control-plane', '--listen', '0.0.0.0:0', '--data-dir', workDir]);
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stderr).toContain('--token-file is required on 0.0.0.0 (not loopback)');
  });

  it('exits 2 naming the entry of a bad token file', async () => {
    const tokenFile = join(workDir, 'tokens.yaml');
    await writeFile(tokenFile, '- { name: a, token: tooshort, role: admin }\n');
    const result = await phoenix([
      'control-plane',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      workDir,
      '--token-file',
      tokenFile,
    ]);
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stderr).toContain(
      `${tokenFile}: tokens[0].token: must be a string of at least 16`,
    );
  });

  it('refuses --config together with --control-plane', async () => {
    const result = await phoenix([
      'proxy',
      '--upstream',
      'http://127.0.0.1:1/api/v1/write',
      '--config',
      'x.yaml',
      '--control-plane',
      'http://127.0.0.1:1',
      '--data-dir',
      workDir,
    ]);
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stderr).toContain('--config and --control-plane exclude each other');
  });
});
