/**
 * The control plane's plain-HTTP app in process (hono's `app.request`): who may ask what,
 * how the built dashboard is served, and the overview's server-sent events.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTokenFile } from '../auth/tokens.js';
import { ProxyRegistry } from '../services/proxy-registry.js';
import { createHttpApp } from './app.js';

const TOKENS = parseTokenFile(
  [
    '- { name: ops, token: admin-token-aaaaaaaaaa, role: admin }',
    '- { name: watcher, token: viewer-token-bbbbbbbbbb, role: viewer }',
    '- { name: edge, token: proxy-token-cccccccccc, role: proxy }',
  ].join('\n'),
  'tokens.yaml',
);
const VIEWER = { authorization: 'Bearer viewer-token-bbbbbbbbbb' };

let workDir: string;
let uiDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'phoenix-http-'));
  uiDir = join(workDir, 'ui');
  await mkdir(join(uiDir, 'assets'), { recursive: true });
  await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>Phoenix</title>');
  await writeFile(join(uiDir, 'assets', 'index-abc123.js'), 'console.log(1);');
  await writeFile(join(workDir, 'secret.txt'), 'not for the browser');
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('GET /api/ui/session', () => {
  const cases: Array<[string, Record<string, string>, number, unknown]> = [
    ['no token', {}, 401, { error: 'missing bearer token (Authorization: Bearer …)' }],
    [
      'an unknown token',
      { authorization: 'Bearer nope-nope-nope-nope' },
      401,
      { error: 'invalid bearer token' },
    ],
    [
      'a proxy token',
      { authorization: 'Bearer proxy-token-cccccccccc' },
      403,
      { error: 'token "edge" (role proxy) needs role viewer here' },
    ],
    ['a viewer token', VIEWER, 200, { name: 'watcher', role: 'viewer', authRequired: true }],
    [
      'an admin token',
      { authorization: 'Bearer admin-token-aaaaaaaaaa' },
      200,
      { name: 'ops', role: 'admin', authRequired: true },
    ],
  ];
  for (const [name, headers, status, body] of cases) {
    it(`answers ${status} to ${name}`, async () => {
      const app = createHttpApp({ tokens: TOKENS, proxies: new ProxyRegistry(), uiDir });
      const response = await app.request('/api/ui/session', { headers });
      expect(response.status).toBe(status);
      expect(await response.json()).toEqual(body);
    });
  }

  it('is a local admin when auth is off', async () => {
    const app = createHttpApp({ tokens: undefined, proxies: new ProxyRegistry(), uiDir });
    const response = await app.request('/api/ui/session');
    expect(await response.json()).toEqual({ name: 'local', role: 'admin', authRequired: false });
  });
});

describe('the dashboard files', () => {
  const app = () => createHttpApp({ tokens: TOKENS, proxies: new ProxyRegistry(), uiDir });

  it('serves index.html for the root and for every page path', async () => {
    for (const path of ['/', '/pipelines/default', '/experiments/new']) {
      const response = await app().request(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(await response.text()).toContain('<title>Phoenix</title>');
    }
  });

  it('serves hashed assets with a long cache and 404s a missing one', async () => {
    const asset = await app().request('/assets/index-abc123.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await app().request('/assets/gone.js')).status).toBe(404);
  });

  it('never serves a file outside the UI folder', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt']) {
      const response = await app().request(path);
      expect(await response.text(), path).not.toContain('not for the browser');
    }
  });

  it('answers unknown API paths and writes with JSON 404s, not the dashboard', async () => {
    const unknown = await app().request('/api/v1/unknown');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'no route for GET /api/v1/unknown' });
    const post = await app().request('/pipelines', { method: 'POST' });
    expect(post.status).toBe(404);
  });

  it('says how to build the dashboard when it is not built', async () => {
    const unbuilt = createHttpApp({
      tokens: TOKENS,
      proxies: new ProxyRegistry(),
      uiDir: join(workDir, 'missing'),
    });
    const response = await unbuilt.request('/');
    expect(response.status).toBe(404);
    expect(await response.text()).toContain('npm run build:ui');
  });
});

describe('GET /api/ui/overview/stream', () => {
  async function firstEvent(response: Response): Promise<{ event: string; data: unknown }> {
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel();
    const block = text.slice(0, text.indexOf('\n\n'));
    const event = /^event: (.*)$/m.exec(block)?.[1] ?? '';
    const data = /^data: (.*)$/m.exec(block)?.[1] ?? 'null';
    return { event, data: JSON.parse(data) };
  }

  it('refuses a caller without a viewer token', async () => {
    const app = createHttpApp({ tokens: TOKENS, proxies: new ProxyRegistry(), uiDir });
    const response = await app.request('/api/ui/overview/stream', {
      headers: { authorization: 'Bearer proxy-token-cccccccccc' },
    });
    expect(response.status).toBe(403);
  });

  it('streams overview points with every proxy, and active series once a TSDB status route answers', async () => {
    const registry = new ProxyRegistry();
    registry.register('proxy-1', '0.1.0', {}, 'default');
    const unmeasured = createHttpApp({ tokens: TOKENS, proxies: registry, uiDir });
    const before = await unmeasured.request('/api/ui/overview/stream', { headers: VIEWER });
    expect(before.headers.get('content-type')).toContain('text/event-stream');
    const first = await firstEvent(before);
    expect(first.event).toBe('overview');
    expect(first.data).toMatchObject({
      activeSeries: null,
      proxies: [{ proxyId: 'proxy-1', pipeline: 'default', connected: false }],
    });

    // The route the cardinality measurement mounts; it must see the caller's token.
    const measured = createHttpApp({ tokens: TOKENS, proxies: registry, uiDir });
    const seenAuthorization: Array<string | undefined> = [];
    measured.get('/api/v1/status/tsdb', (c) => {
      seenAuthorization.push(c.req.header('authorization'));
      const numSeries = c.req.query('view') === 'input' ? 1200 : 150;
      return c.json({ status: 'success', data: { headStats: { numSeries } } });
    });
    const after = await firstEvent(
      await measured.request('/api/ui/overview/stream', { headers: VIEWER }),
    );
    expect(after.data).toMatchObject({ activeSeries: { input: 1200, output: 150 } });
    expect(seenAuthorization).toEqual([VIEWER.authorization, VIEWER.authorization]);
  });
});
