/**
 * The control plane's plain-HTTP face, next to the Connect API on the same port: the built
 * dashboard and the few JSON and server-sent-event endpoints it needs that are not RPCs.
 *
 * The dashboard's files are served from `notFound`, so routes added to the returned app
 * take precedence over them (for example `/api/v1/status/tsdb`, mounted in `server.ts`).
 * Add routes before the server starts: hono builds its matcher on the first request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { getRequestListener } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { ProxyStatus } from '../../proto/gen/phoenix/v1/proxy_pb.js';
import type { Role, TokenSet } from '../auth/tokens.js';
import { type ActiveSeries, OverviewRates } from './overview-rates.js';
import { defaultUiDir, readUiFile } from './static-ui.js';
import { authenticateUiRequest, type UiSession } from './ui-session.js';

/** Options of {@link createHttpApp}. */
export interface HttpAppOptions {
  /** Same tokens as the Connect API; undefined means auth is off. */
  readonly tokens: TokenSet | undefined;
  /** What `ListProxies` answers; the overview's rates are derived from it. */
  readonly proxies: { list(): ProxyStatus[] };
  /** Folder of the built dashboard; default `dist/ui` of the repo. */
  readonly uiDir?: string;
  /** Time between two overview events, in ms. Default 1000. */
  readonly overviewIntervalMs?: number;
}

/** The path of Prometheus's TSDB status API, served by the control plane when measured. */
const TSDB_STATUS_PATH = '/api/v1/status/tsdb';

/** Builds the hono app; hand `app.fetch` to `@hono/node-server`'s `getRequestListener`. */
export function createHttpApp(options: HttpAppOptions): Hono {
  const app = new Hono();
  const uiDir = options.uiDir ?? defaultUiDir();
  const intervalMs = options.overviewIntervalMs ?? 1_000;
  const rates = new OverviewRates();

  const refuse = (c: Context, needed: Role) => {
    const result = authenticateUiRequest(options.tokens, c.req.header('authorization'), needed);
    if ('failure' in result) {
      return { response: c.json({ error: result.failure.message }, result.failure.status) };
    }
    return { principal: result.principal };
  };

  app.get('/api/ui/session', (c) => {
    const checked = refuse(c, 'viewer');
    if (checked.response !== undefined) return checked.response;
    const session: UiSession = {
      name: checked.principal.name,
      role: checked.principal.role,
      authRequired: options.tokens !== undefined,
    };
    return c.json(session);
  });

  // Active series before and after the pipeline, when the TSDB status route is mounted:
  // asked in process, with the caller's own credentials.
  const activeSeries = async (authorization: string | undefined) => {
    const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
    const read = async (view: 'input' | 'output') => {
      const response = await app.request(`${TSDB_STATUS_PATH}?view=${view}&limit=1`, { headers });
      if (!response.ok) return undefined;
      const body = (await response.json()) as {
        data?: { headStats?: { numSeries?: unknown } };
      };
      const numSeries = body.data?.headStats?.numSeries;
      return typeof numSeries === 'number' ? numSeries : undefined;
    };
    const [input, output] = await Promise.all([read('input'), read('output')]);
    return input === undefined || output === undefined
      ? null
      : ({ input, output } satisfies ActiveSeries);
  };

  app.get('/api/ui/overview/stream', (c) => {
    const checked = refuse(c, 'viewer');
    if (checked.response !== undefined) return checked.response;
    const authorization = c.req.header('authorization');
    return streamSSE(c, async (stream) => {
      while (!stream.aborted) {
        const active = await activeSeries(authorization).catch(() => null);
        const point = rates.observe(options.proxies.list(), Date.now(), active);
        await stream.writeSSE({ event: 'overview', data: JSON.stringify(point) });
        await stream.sleep(intervalMs);
      }
    });
  });

  app.notFound(async (c) => {
    const path = c.req.path;
    if ((c.req.method !== 'GET' && c.req.method !== 'HEAD') || path.startsWith('/api/')) {
      return c.json({ error: `no route for ${c.req.method} ${path}` }, 404);
    }
    const file = await readUiFile(uiDir, path);
    if (file === undefined) {
      return c.text(
        path === '/' || !path.includes('.')
          ? `The dashboard is not built (no ${uiDir}/index.html): run npm run build:ui\n`
          : `not found: ${path}\n`,
        404,
      );
    }
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200, {
      'content-type': file.contentType,
      'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
  });

  return app;
}

/**
 * The app as a Node request handler for both HTTP/1.1 and HTTP/2 requests, in the shape
 * connect-node's `fallback` takes. Connect types the response a little more loosely than
 * Node does (its `write` callback may get null); the objects are Node's own.
 */
export function httpAppListener(
  app: Hono,
): (
  request: IncomingMessage | Http2ServerRequest,
  response: Omit<ServerResponse, 'write'> | Omit<Http2ServerResponse, 'write'>,
) => void {
  const listener = getRequestListener(app.fetch);
  return (request, response) => {
    void listener(request, response as ServerResponse | Http2ServerResponse);
  };
}
