/**
 * `bin/phoenix up` as a newcomer runs it: control plane, proxy and local sink in one
 * process; a pipeline applied through the CLI reaches the proxy and shapes what the sink
 * logs.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertRunning,
  type ManagedProcess,
  startProcess,
} from '../../test/helpers/managed-process.js';
import { phoenixBinary, REPO_DIR } from '../../test/helpers/peers.js';
import { pollUntil } from '../../test/helpers/poll.js';
import {
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { capturingIo } from './cli-test-support.js';
import { EXIT_OK } from './exit-codes.js';
import { runPipelineCommand } from './pipeline-command.js';
import { runProxiesCommand } from './proxies-command.js';

let workDir: string;
let up: ManagedProcess;
let writeUrl: string;
let controlPlaneUrl: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'phoenix-up-'));
  up = startProcess(
    'phoenix up',
    phoenixBinary(),
    [
      'up',
      '--listen',
      '127.0.0.1:0',
      '--control-plane-listen',
      '127.0.0.1:0',
      '--sink-listen',
      '127.0.0.1:0',
      '--workers',
      '1',
      '--data-dir',
      join(workDir, 'data'),
    ],
    { cwd: REPO_DIR },
  );
  await pollUntil(
    async () => {
      assertRunning(up);
      const write = /remote write to\s+(\S+)/.exec(up.log())?.[1];
      const control = /control plane\s+(\S+)/.exec(up.log())?.[1];
      if (write === undefined || control === undefined) return undefined;
      writeUrl = write;
      controlPlaneUrl = control;
      return true;
    },
    { description: 'phoenix up banner', timeoutMs: 30_000, intervalMs: 50 },
  );
});

afterAll(async () => {
  await up?.stop();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

async function cli(run: typeof runPipelineCommand, args: string[]) {
  const io = capturingIo();
  const status = await run([...args, '--control-plane', controlPlaneUrl], io);
  return { status, out: io.out, err: io.err };
}

describe('phoenix up', () => {
  it('says where data goes, runs a starter pipeline and follows applied ones', async () => {
    expect(up.log()).toMatch(
      /upstream\s+none given: a local sink at http:\/\/127\.0\.0\.1:\d+\/api\/v1\/write/,
    );
    expect(up.log()).toContain(`data             ${join(workDir, 'data')}`);
    expect(await readdir(join(workDir, 'data', 'control-plane'))).toContain('phoenix.db');

    const listed = await cli(runPipelineCommand, ['list', '-o', 'json']);
    expect(JSON.parse(listed.out)).toEqual([
      expect.objectContaining({ name: 'default', version: 1, author: 'phoenix up' }),
    ]);

    const configPath = join(workDir, 'pipeline.yaml');
    await writeFile(configPath, 'relabel_configs:\n  - action: labeldrop\n    regex: pod\n');
    expect((await cli(runPipelineCommand, ['apply', '-f', configPath])).status).toBe(EXIT_OK);
    await pollUntil(
      async () => {
        const proxies = JSON.parse((await cli(runProxiesCommand, ['-o', 'json'])).out);
        return proxies[0]?.appliedVersion === 2 ? true : undefined;
      },
      { description: 'proxy on version 2', timeoutMs: 10_000, intervalMs: 50 },
    );

    const body = compressSync(
      Buffer.from(
        encodeRequest(
          writeRequest([seriesWith(sortedLabels({ __name__: 'up', pod: 'a', job: 'j' }))]),
        ),
      ),
    );
    const response = await fetch(writeUrl, { method: 'POST', body });
    expect(response.status).toBe(204);
    const logged = await pollUntil(
      async () => /^\{[^\n]*"event":"sink_received"[^\n]*$/m.exec(up.log())?.[0],
      { description: 'sink log line', timeoutMs: 10_000, intervalMs: 50 },
    );
    const line = JSON.parse(logged) as { requests: number; series: number; exampleSeries: string };
    expect(line.requests).toBe(1);
    expect(line.series).toBe(1);
    expect(line.exampleSeries).toBe('{__name__="up", job="j"}');
  });
});
