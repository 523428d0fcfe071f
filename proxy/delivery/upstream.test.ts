import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ServerScope, startRecordingUpstream } from '../server/test-support.js';
import {
  checkDistinctNames,
  defaultUpstreamName,
  hasOnlyUrlSettings,
  parseUpstreamsFile,
  UpstreamClient,
  upstreamFromUrl,
} from './upstream.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'phoenix-upstream-'));
  await writeFile(join(dir, 'token'), 'secret-token\n');
  await writeFile(join(dir, 'password'), 'hunter2\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('parseUpstreamsFile', () => {
  it('reads names, headers, auth and timeouts', () => {
    const upstreams = parseUpstreamsFile(
      [
        'upstreams:',
        '  - url: https://mimir.example/api/v1/push',
        '    name: mimir',
        '    headers: { X-Scope-OrgID: team-a }',
        `    bearer_token_file: ${join(dir, 'token')}`,
        '    timeout: 5s',
        '  - url: http://thanos:19291/api/v1/receive',
        `    basic_auth: { username: phoenix, password_file: ${join(dir, 'password')} }`,
      ].join('\n'),
      'upstreams.yaml',
      30_000,
    );
    expect(upstreams.map((upstream) => upstream.name)).toEqual([
      'mimir',
      'thanos_19291_api_v1_receive',
    ]);
    expect(upstreams[0]!.headers).toEqual({ 'x-scope-orgid': 'team-a' });
    expect(upstreams[0]!.authorization).toBe('Bearer secret-token');
    expect(upstreams[0]!.timeoutMs).toBe(5000);
    expect(upstreams[1]!.authorization).toBe(
      `Basic ${Buffer.from('phoenix:hunter2').toString('base64')}`,
    );
    expect(upstreams[1]!.timeoutMs).toBe(30_000);
  });

  it('reads protocol, with remote write 1.0 as the default', () => {
    const upstreams = parseUpstreamsFile(
      'upstreams:\n  - url: http://a/w\n    protocol: rw2\n  - url: http://b/w\n',
      'upstreams.yaml',
      1000,
    );
    expect(upstreams.map((upstream) => upstream.protocol)).toEqual(['rw2', 'rw1']);
    expect(upstreamFromUrl('http://c/w', 1000).protocol).toBe('rw1');
    // The synchronous path honours protocol, so it does not need durable delivery.
    expect(hasOnlyUrlSettings(upstreams[0]!, 1000)).toBe(true);
  });

  const rejected: Array<[string, string, RegExp]> = [
    ['no list', 'upstreams: []', /upstreams must be a non-empty list/],
    [
      'a bad scheme',
      'upstreams:\n  - url: ftp://x/y',
      /upstreams\[0\]\.url ftp:\/\/x\/y must use http: or https:/,
    ],
    [
      'basic and bearer together',
      'upstreams:\n  - url: http://x/y\n    bearer_token: t\n    basic_auth: { username: u }',
      /mutually exclusive/,
    ],
    [
      'a missing file',
      'upstreams:\n  - url: http://x/y\n    bearer_token_file: /nonexistent/token',
      /cannot read \/nonexistent\/token/,
    ],
    [
      'a bad timeout',
      'upstreams:\n  - url: http://x/y\n    timeout: soon',
      /timeout "soon" is not a duration/,
    ],
    [
      'an unknown protocol',
      'upstreams:\n  - url: http://x/y\n    protocol: rw3',
      /upstreams\[0\]\.protocol "rw3" must be one of rw1, rw2/,
    ],
  ];
  for (const [name, text, message] of rejected) {
    it(`rejects ${name}`, () => {
      expect(() => parseUpstreamsFile(text, 'upstreams.yaml', 1000)).toThrow(message);
    });
  }

  it('refuses two upstreams with one name (they would share a queue)', () => {
    const url = 'http://127.0.0.1:9090/api/v1/write';
    expect(() => checkDistinctNames([upstreamFromUrl(url, 1), upstreamFromUrl(url, 1)])).toThrow(
      /two upstreams are named "127.0.0.1_9090_api_v1_write"/,
    );
    expect(defaultUpstreamName(new URL('https://user:pw@mimir:443/api/v1/push'))).toBe(
      'mimir_api_v1_push',
    );
  });
});

describe('UpstreamClient', () => {
  const scope = new ServerScope();
  afterEach(() => scope.closeAll());

  it('sends the configured headers and auth, and reads Retry-After', async () => {
    const upstream = scope.add(
      await startRecordingUpstream({
        status: 429,
        headers: { 'retry-after': '2' },
        body: 'slow down',
      }),
    );
    const config = {
      ...upstreamFromUrl(upstream.url, 5000),
      headers: { 'x-scope-orgid': 'team-a' },
      authorization: 'Bearer abc',
    };
    const client = scope.add(new UpstreamClient(config, 1, 'phoenix/test'));
    const outcome = await client.send(new Uint8Array([1, 2, 3]));
    expect(outcome).toMatchObject({
      verdict: 'retry',
      code: '429',
      reason: 'slow down',
      retryAfterMs: 2000,
    });
    expect(upstream.requests[0]!.headers).toMatchObject({
      authorization: 'Bearer abc',
      'x-scope-orgid': 'team-a',
      'content-encoding': 'snappy',
      'user-agent': 'phoenix/test',
    });
  });

  it('reports network failures and timeouts as retryable', async () => {
    const upstream = scope.add(await startRecordingUpstream({ status: 204, delayMs: 2000 }));
    const slow = scope.add(
      new UpstreamClient(upstreamFromUrl(upstream.url, 200), 1, 'phoenix/test'),
    );
    expect(await slow.send(new Uint8Array(1))).toMatchObject({ verdict: 'retry', code: 'timeout' });
    const closed = scope.add(
      new UpstreamClient(upstreamFromUrl('http://127.0.0.1:1/w', 1000), 1, 'phoenix/test'),
    );
    expect(await closed.send(new Uint8Array(1))).toMatchObject({
      verdict: 'retry',
      code: 'network',
    });
  });

  it('speaks TLS with a private CA and a client certificate', async () => {
    const tls = join(dir, 'tls');
    execFileSync('bash', [
      '-c',
      [
        `mkdir -p ${tls} && cd ${tls}`,
        'openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 1 -subj /CN=test-ca 2>/dev/null',
        'openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj /CN=127.0.0.1 2>/dev/null',
        'printf "subjectAltName=IP:127.0.0.1" > san.ext',
        'openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days 1 -extfile san.ext 2>/dev/null',
        'openssl req -newkey rsa:2048 -nodes -keyout client-key.pem -out client.csr -subj /CN=phoenix 2>/dev/null',
        'openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client.pem -days 1 2>/dev/null',
      ].join(' && '),
    ]);
    const pem = (name: string) => readFile(join(tls, name), 'utf8');
    const seenClients: string[] = [];
    const server = createHttpsServer(
      {
        key: await pem('server-key.pem'),
        cert: await pem('server.pem'),
        ca: await pem('ca.pem'),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (request, response) => {
        seenClients.push(
          String((request.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN),
        );
        request.resume();
        request.on('end', () => response.writeHead(204).end());
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    scope.add({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
    const [upstream] = parseUpstreamsFile(
      `upstreams:\n  - url: ${url}\n    tls_config: { ca_file: ${tls}/ca.pem, cert_file: ${tls}/client.pem, key_file: ${tls}/client-key.pem }`,
      'upstreams.yaml',
      5000,
    );
    const client = scope.add(new UpstreamClient(upstream!, 1, 'phoenix/test'));
    expect(await client.send(new Uint8Array(4))).toMatchObject({
      verdict: 'delivered',
      code: '204',
    });
    expect(seenClients).toEqual(['phoenix']);
    // Without the client certificate the server refuses the handshake.
    const anonymous = scope.add(
      new UpstreamClient(
        { ...upstream!, clientCertPem: undefined, clientKeyPem: undefined },
        1,
        'phoenix/test',
      ),
    );
    expect(await anonymous.send(new Uint8Array(4))).toMatchObject({
      verdict: 'retry',
      code: 'network',
    });
  });
});
