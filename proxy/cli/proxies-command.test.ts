import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ProxyService } from '../../proto/gen/phoenix/v1/proxy_pb.js';
import { bearerToken } from '../control/control-plane-client.js';
import {
  capturingIo,
  startTestControlPlane,
  TEST_TOKENS,
  type TestControlPlane,
} from './cli-test-support.js';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.js';
import { runProxiesCommand } from './proxies-command.js';

let controlPlane: TestControlPlane;

beforeAll(async () => {
  controlPlane = await startTestControlPlane();
  const fleet = createClient(
    ProxyService,
    createConnectTransport({
      baseUrl: controlPlane.url,
      httpVersion: '1.1',
      interceptors: [bearerToken(TEST_TOKENS.proxy)],
    }),
  );
  await fleet.register({ proxyId: 'edge-1', pipeline: 'default', version: '0.1.0' });
  await fleet.reportStatus({
    proxyId: 'edge-1',
    pipeline: 'default',
    appliedVersion: 4,
    healthy: true,
    listen: '127.0.0.1:9091',
    counters: { requests: 42n },
    applyError: { version: 5, message: 'rule program rejected' },
  });
});
afterAll(() => controlPlane.close());

async function run(args: string[], token: string = TEST_TOKENS.viewer) {
  const io = capturingIo();
  const status = await runProxiesCommand(
    [...args, '--control-plane', controlPlane.url, '--token', token],
    io,
  );
  return { status, out: io.out, err: io.err };
}

describe('phoenix proxies', () => {
  it('prints a table', async () => {
    const { status, out } = await run([]);
    expect(status).toBe(EXIT_OK);
    const [header, row] = out.trimEnd().split('\n');
    expect(header).toMatch(
      /^ID\s+PIPELINE\s+VERSION\s+CONNECTED\s+LISTEN\s+REQUESTS\s+LAST SEEN\s+APPLY ERROR$/,
    );
    expect(row).toMatch(
      /^edge-1\s+default\s+4\s+no\s+127\.0\.0\.1:9091\s+42\s+\S+\s+v5: rule program rejected$/,
    );
  });

  it('prints JSON and YAML in the API mapping', async () => {
    const json = JSON.parse((await run(['-o', 'json'])).out);
    const yaml = parse((await run(['--output', 'yaml'])).out);
    for (const listed of [json, yaml]) {
      expect(listed).toEqual([
        expect.objectContaining({
          proxyId: 'edge-1',
          appliedVersion: 4,
          counters: { requests: '42' },
          applyError: { version: 5, message: 'rule program rejected' },
        }),
      ]);
    }
  });

  it('fails with the Connect code when the token may not list proxies', async () => {
    const { status, err } = await run([], TEST_TOKENS.proxy);
    expect(status).toBe(EXIT_FAILURE);
    expect(err).toMatch(/\[permission_denied\]/);
  });
});
