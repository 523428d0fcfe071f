/**
 * A stand-in for the Kubernetes API server, for tests: a real HTTP server on loopback that
 * speaks the REST list/watch protocol for the few resources Phoenix uses, so
 * `@kubernetes/client-node` (its typed clients and its informers) runs unmodified against
 * it. No API server can be installed on the machines these tests run on; everything here
 * follows the documented behaviour of the real one, and nothing else was run against a
 * cluster.
 *
 * What it implements, per resource (`phoenix.dev/v1alpha1` pipelines and experiments with a
 * `/status` subresource, `discovery.k8s.io/v1` endpointslices, core `v1` configmaps):
 * - one cluster-wide, monotonic `resourceVersion`; writes that change nothing are no-ops
 *   (no new version, no event), as on the real server;
 * - list (with `labelSelector`) returning the current `resourceVersion`;
 * - watch (`watch=true|1`) from a `resourceVersion`: missed events are replayed from the
 *   kept history, an empty or `0` version starts with synthetic ADDED events, an expired
 *   one gets an ERROR event carrying a 410 `Status` (what the real server sends), bookmarks
 *   with `allowWatchBookmarks=true`, `timeoutSeconds`; a label change out of (or into) a
 *   watch's selector is seen as DELETED (ADDED);
 * - create, get, replace (PUT, optimistic concurrency on `resourceVersion`), merge patch
 *   and JSON patch (a `resourceVersion` in the patched object is checked too), delete;
 * - `metadata.generation` counting changes outside metadata and status, and the status
 *   subresource: writes to the object keep its status, writes to `/status` change only that;
 * - finalizers: DELETE of an object with finalizers sets `deletionTimestamp`; the object
 *   goes away when a write empties its finalizers; no finalizer may be added meanwhile.
 *
 * Tests steer it with {@link FakeApiServer.closeWatches}, {@link
 * FakeApiServer.compactHistory} and {@link FakeApiServer.failRequests}, and read
 * {@link FakeApiServer.requests} to see what a client sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ApiError,
  apiVersionOf,
  type FakeObject,
  FakeObjectStore,
  type FakePlural,
  type FakeResourceType,
  type StoredEvent,
  statusBody,
  type WatchEventType,
} from './fake-object-store.js';
import { applyJsonPatch, applyMergePatch, PatchError } from './json-patch.js';
import { type LabelSelector, LabelSelectorError, parseLabelSelector } from './label-selector.js';

interface OpenWatch {
  readonly type: FakeResourceType;
  readonly namespace: string | undefined;
  readonly selector: LabelSelector;
  readonly response: ServerResponse;
  readonly timers: NodeJS.Timeout[];
}

/** One request as the server received it. */
export interface FakeRequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly contentType: string | undefined;
  readonly watch: boolean;
  readonly body: unknown;
}

export interface FakeApiServerOptions {
  /** Events kept for watches that resume from a `resourceVersion`; default 1000. */
  historyLimit?: number;
  /** Interval of BOOKMARK events on watches that allow them; default 1000 ms. */
  bookmarkIntervalMs?: number;
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  bearerToken?: string;
}

export type { FakeObject, FakeObjectMeta, FakePlural } from './fake-object-store.js';

export class FakeApiServer {
  readonly #server: Server;
  readonly #options: {
    readonly historyLimit: number;
    readonly bookmarkIntervalMs: number;
    readonly bearerToken: string | undefined;
  };
  readonly #store: FakeObjectStore;
  readonly #watches = new Set<OpenWatch>();
  #failure: { status: number; when: (request: FakeRequestRecord) => boolean } | undefined;
  /** Every request received, oldest first. */
  readonly requests: FakeRequestRecord[] = [];

  private constructor(server: Server, options: FakeApiServerOptions) {
    this.#server = server;
    this.#options = {
      historyLimit: options.historyLimit ?? 1000,
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 1000,
      bearerToken: options.bearerToken,
    };
    this.#store = new FakeObjectStore(this.#options.historyLimit);
    this.#store.subscribe((event) => {
      for (const watch of this.#watches) deliver(watch, event);
    });
  }

  /** Starts a server on 127.0.0.1 and a free port. */
  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const server = createServer();
    const fake = new FakeApiServer(server, options);
    server.on('request', (request, response) => {
      fake.#handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) {
          fake.#sendJson(response, 500, statusBody(500, 'InternalError', String(error)));
        } else {
          response.destroy();
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  /** Base URL, as a kubeconfig's `server`. */
  get url(): string {
    const address = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  /** The current `resourceVersion` of the whole store. */
  get resourceVersion(): string {
    return String(this.#store.revision);
  }

  /** How many watches are open now. */
  get openWatchCount(): number {
    return this.#watches.size;
  }

  /** Creates an object as POST would; returns the stored copy. */
  create(plural: FakePlural, object: FakeObject): FakeObject {
    const namespace = object.metadata.namespace ?? 'default';
    return structuredClone(this.#store.create(this.#store.type(plural), namespace, object));
  }

  /** The stored object, or undefined. */
  get(plural: FakePlural, namespace: string, name: string): FakeObject | undefined {
    const found = this.#store.find(this.#store.type(plural), namespace, name);
    return found === undefined ? undefined : structuredClone(found);
  }

  /** Stored objects of a type, in one namespace or all. */
  list(plural: FakePlural, namespace?: string): FakeObject[] {
    return this.#store
      .matching(this.#store.type(plural), namespace, () => true)
      .map((object) => structuredClone(object));
  }

  /**
   * Replaces an object as PUT would, except that a missing `resourceVersion` means
   * "whatever is stored" (the real server insists on one).
   */
  replace(plural: FakePlural, object: FakeObject): FakeObject {
    const type = this.#store.type(plural);
    const namespace = object.metadata.namespace ?? 'default';
    const name = object.metadata.name ?? '';
    const current = this.#store.mustGet(type, namespace, name);
    const body = structuredClone(object);
    body.metadata.resourceVersion ??= current.metadata.resourceVersion!;
    return structuredClone(this.#store.update(type, namespace, name, body, 'object'));
  }

  /** Deletes as DELETE would: with finalizers the object only gets a `deletionTimestamp`. */
  delete(plural: FakePlural, namespace: string, name: string): FakeObject {
    return structuredClone(this.#store.delete(this.#store.type(plural), namespace, name));
  }

  /** Ends every open watch as if the connection dropped; returns how many were open. */
  closeWatches(): number {
    const count = this.#watches.size;
    for (const watch of [...this.#watches]) this.#endWatch(watch);
    return count;
  }

  /**
   * Forgets the event history, as etcd compaction and a watch cache that moved on do: a
   * watch that resumes from any `resourceVersion` before now gets 410 Gone and its client
   * must list again. The store's version moves on by one, as a write to some unrelated
   * object would make it.
   */
  compactHistory(): void {
    this.#store.compact();
  }

  /**
   * Answers requests that `when` selects with `status` (a `Status` body) until called
   * again with `undefined`.
   */
  failRequests(
    status: number | undefined,
    when: (request: FakeRequestRecord) => boolean = () => true,
  ): void {
    this.#failure = status === undefined ? undefined : { status, when };
  }

  /** Stops the server, ending open watches. */
  async close(): Promise<void> {
    this.closeWatches();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://fake');
    const method = request.method ?? 'GET';
    const watchParam = url.searchParams.get('watch');
    const watch = method === 'GET' && (watchParam === 'true' || watchParam === '1');
    const body = method === 'GET' || method === 'DELETE' ? undefined : await readJson(request);
    const contentType = request.headers['content-type']?.split(';')[0]?.trim();
    const record: FakeRequestRecord = {
      method,
      path: url.pathname,
      query: url.searchParams,
      contentType,
      watch,
      body: body instanceof ApiError ? undefined : body,
    };
    this.requests.push(record);
    try {
      const token = this.#options.bearerToken;
      if (token !== undefined && request.headers.authorization !== `Bearer ${token}`) {
        throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      }
      if (this.#failure?.when(record)) {
        throw new ApiError(this.#failure.status, 'InternalError', 'failure injected by the test');
      }
      if (body instanceof ApiError) throw body;
      const reply = this.#route(method, url, record, response);
      if (reply !== undefined) this.#sendJson(response, reply.status, reply.body);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.#sendJson(response, error.code, statusBody(error.code, error.reason, error.message));
    }
  }

  /** Answers the request; `undefined` when a watch took over the response. */
  #route(
    method: string,
    url: URL,
    record: FakeRequestRecord,
    response: ServerResponse,
  ): { status: number; body: unknown } | undefined {
    // /apis/{group}/{version}[/namespaces/{ns}]/{plural}[/{name}[/status]], and the core
    // group's /api/v1[/namespaces/{ns}]/{plural}[/{name}].
    const segments = url.pathname.split('/').filter((segment) => segment !== '');
    let group: string | undefined;
    let version: string | undefined;
    let rest: string[];
    if (segments[0] === 'apis' && segments.length >= 4) {
      [, group, version] = segments;
      rest = segments.slice(3);
    } else if (segments[0] === 'api' && segments.length >= 3) {
      group = '';
      version = segments[1];
      rest = segments.slice(2);
    } else {
      throw new ApiError(404, 'NotFound', `no route for ${url.pathname}`);
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, subresource, ...extra] = rest;
    const type = this.#store.type(plural ?? '');
    if (type.group !== group || type.version !== version || extra.length > 0) {
      throw new ApiError(404, 'NotFound', `no route for ${url.pathname}`);
    }
    if (subresource !== undefined && (subresource !== 'status' || !type.statusSubresource)) {
      throw new ApiError(404, 'NotFound', `no subresource ${subresource} on ${type.plural}`);
    }
    const part = subresource === 'status' ? 'status' : 'object';

    if (name === undefined) {
      if (method === 'GET' && record.watch) {
        this.#watch(type, namespace, url, response);
        return undefined;
      }
      if (method === 'GET') return { status: 200, body: this.#listBody(type, namespace, url) };
      if (method === 'POST' && namespace !== undefined) {
        return {
          status: 201,
          body: this.#store.create(type, namespace, record.body as FakeObject),
        };
      }
      throw new ApiError(405, 'MethodNotAllowed', `${method} is not allowed on a collection`);
    }
    if (namespace === undefined) {
      throw new ApiError(404, 'NotFound', `${type.plural} are namespaced`);
    }
    switch (method) {
      case 'GET':
        return { status: 200, body: this.#store.mustGet(type, namespace, name) };
      case 'PUT': {
        const body = record.body as FakeObject;
        if (body?.metadata?.resourceVersion === undefined) {
          throw new ApiError(
            422,
            'Invalid',
            'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
          );
        }
        return { status: 200, body: this.#store.update(type, namespace, name, body, part) };
      }
      case 'PATCH': {
        const current = this.#store.mustGet(type, namespace, name);
        const patched = applyPatch(current, record.body, record.contentType) as FakeObject;
        return { status: 200, body: this.#store.update(type, namespace, name, patched, part) };
      }
      case 'DELETE':
        if (part === 'status') throw new ApiError(405, 'MethodNotAllowed', 'cannot delete status');
        return { status: 200, body: this.#store.delete(type, namespace, name) };
      default:
        throw new ApiError(405, 'MethodNotAllowed', `${method} is not allowed`);
    }
  }

  #listBody(type: FakeResourceType, namespace: string | undefined, url: URL): object {
    const selector = selectorOf(url);
    const items = this.#store.matching(type, namespace, selector);
    return {
      apiVersion: apiVersionOf(type),
      kind: `${type.kind}List`,
      metadata: { resourceVersion: String(this.#store.revision) },
      items,
    };
  }

  #watch(
    type: FakeResourceType,
    namespace: string | undefined,
    url: URL,
    response: ServerResponse,
  ): void {
    const selector = selectorOf(url);
    const fromText = url.searchParams.get('resourceVersion') ?? '';
    const from = fromText === '' ? 0 : Number(fromText);
    if (!Number.isInteger(from) || from < 0) {
      throw new ApiError(400, 'BadRequest', `invalid resourceVersion ${JSON.stringify(fromText)}`);
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    // Headers go out at once, as the real server's do: clients wait for them before
    // they consider the watch open.
    response.flushHeaders();
    const watch: OpenWatch = { type, namespace, selector, response, timers: [] };
    if (from !== 0 && from < this.#store.compactedRevision) {
      writeEvent(response, 'ERROR', {
        ...statusBody(
          410,
          'Expired',
          `too old resource version: ${from} (${this.#store.compactedRevision})`,
        ),
      });
      response.end();
      return;
    }
    this.#watches.add(watch);
    response.on('close', () => this.#endWatch(watch));
    if (from === 0) {
      for (const object of this.#store.matching(type, namespace, selector)) {
        writeEvent(response, 'ADDED', object);
      }
    } else {
      for (const event of this.#store.eventsAfter(from)) deliver(watch, event);
    }
    if (url.searchParams.get('allowWatchBookmarks') === 'true') {
      watch.timers.push(
        setInterval(() => {
          writeEvent(response, 'BOOKMARK', {
            apiVersion: apiVersionOf(type),
            kind: type.kind,
            metadata: { resourceVersion: String(this.#store.revision) },
          });
        }, this.#options.bookmarkIntervalMs),
      );
    }
    const timeoutSeconds = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    if (timeoutSeconds > 0) {
      watch.timers.push(setTimeout(() => this.#endWatch(watch), timeoutSeconds * 1000));
    }
  }

  #endWatch(watch: OpenWatch): void {
    if (!this.#watches.delete(watch)) return;
    for (const timer of watch.timers) clearTimeout(timer);
    watch.response.end();
  }

  #sendJson(response: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    response.end(text);
  }
}

/** Sends `event` to `watch` as that watch sees it (selector and namespace applied). */
function deliver(watch: OpenWatch, event: StoredEvent): void {
  if (watch.type.plural !== event.plural) return;
  if (watch.namespace !== undefined && event.object.metadata.namespace !== watch.namespace) {
    return;
  }
  const matchesNow = watch.selector(event.object.metadata.labels);
  const matchedBefore =
    event.previous === undefined ? matchesNow : watch.selector(event.previous.metadata.labels);
  let type: WatchEventType | undefined = event.type;
  if (event.type === 'MODIFIED') {
    if (matchesNow && !matchedBefore) type = 'ADDED';
    else if (!matchesNow && matchedBefore) type = 'DELETED';
    else if (!matchesNow) type = undefined;
  } else if (!matchesNow) {
    type = undefined;
  }
  if (type !== undefined) writeEvent(watch.response, type, event.object);
}

function selectorOf(url: URL): LabelSelector {
  try {
    return parseLabelSelector(url.searchParams.get('labelSelector'));
  } catch (error) {
    if (error instanceof LabelSelectorError) throw new ApiError(400, 'BadRequest', error.message);
    throw error;
  }
}

function writeEvent(response: ServerResponse, type: string, object: unknown): void {
  response.write(`${JSON.stringify({ type, object })}\n`);
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    return new ApiError(400, 'BadRequest', `invalid JSON body: ${(error as Error).message}`);
  }
}

function applyPatch(current: FakeObject, patch: unknown, contentType: string | undefined): unknown {
  try {
    switch (contentType) {
      case 'application/merge-patch+json':
        return applyMergePatch(current, patch);
      case 'application/json-patch+json':
        return applyJsonPatch(current, patch);
      default:
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json (got ${contentType ?? 'none'})`,
        );
    }
  } catch (error) {
    if (error instanceof PatchError) throw new ApiError(422, 'Invalid', error.message);
    throw error;
  }
}
