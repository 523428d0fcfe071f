/**
 * The object store behind the loopback Kubernetes API stand-in (`fake-api-server.ts`):
 * objects per resource type, one cluster-wide monotonic `resourceVersion`, the event
 * history watches resume from, and the write semantics of the real API server
 * (generations, the status subresource, finalizers and `deletionTimestamp`, optimistic
 * concurrency, no-op writes that change nothing).
 */
import { randomUUID } from 'node:crypto';
import { jsonEqual } from './json-patch.js';
import type { LabelSelector } from './label-selector.js';

/** A resource type the stand-in knows. */
export interface FakeResourceType {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  /** Whether `status` is a subresource, as declared by `subresources.status` in a CRD. */
  readonly statusSubresource: boolean;
}

export const FAKE_RESOURCE_TYPES: readonly FakeResourceType[] = [
  {
    group: 'phoenix.dev',
    version: 'v1alpha1',
    plural: 'pipelines',
    kind: 'Pipeline',
    statusSubresource: true,
  },
  {
    group: 'phoenix.dev',
    version: 'v1alpha1',
    plural: 'experiments',
    kind: 'Experiment',
    statusSubresource: true,
  },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', statusSubresource: false },
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    plural: 'endpointslices',
    kind: 'EndpointSlice',
    statusSubresource: false,
  },
];

export type FakePlural = 'pipelines' | 'experiments' | 'endpointslices' | 'configmaps';

/** Object metadata as the server reads and writes it. */
export interface FakeObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  [field: string]: unknown;
}

/** Any stored object: metadata plus whatever else the resource has. */
export interface FakeObject {
  apiVersion?: string;
  kind?: string;
  metadata: FakeObjectMeta;
  [field: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One write, as watches see it. */
export interface StoredEvent {
  readonly revision: number;
  readonly plural: string;
  readonly type: WatchEventType;
  readonly object: FakeObject;
  /** The object before a MODIFIED event, for watches whose selector it left or entered. */
  readonly previous: FakeObject | undefined;
}

/** A refusal, sent as a `Status` object with the HTTP code. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** A Kubernetes `Status` object of a failure. */
export function statusBody(code: number, reason: string, message: string): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  };
}

export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** `pipelines.phoenix.dev`, or `configmaps` for the core group, as Status messages name them. */
function qualifiedName(type: FakeResourceType): string {
  return type.group === '' ? type.plural : `${type.plural}.${type.group}`;
}

export function apiVersionOf(type: FakeResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

/** Everything of an object that `metadata.generation` counts: all but metadata and status. */
function generationContent(object: FakeObject): unknown {
  const { metadata: _metadata, status: _status, ...content } = object;
  return content;
}

/** Objects and their history; every write is announced to the listeners. */
export class FakeObjectStore {
  readonly #objects = new Map<string, Map<string, FakeObject>>();
  readonly #history: StoredEvent[] = [];
  readonly #listeners = new Set<(event: StoredEvent) => void>();
  readonly #historyLimit: number;
  #revision = 1;
  /** Watches may resume from this revision or later; older ones get 410. */
  #compactedRevision = 1;

  constructor(historyLimit: number) {
    this.#historyLimit = historyLimit;
    for (const type of FAKE_RESOURCE_TYPES) this.#objects.set(type.plural, new Map());
  }

  /** The current `resourceVersion` of the whole store. */
  get revision(): number {
    return this.#revision;
  }

  /** The oldest revision a watch may resume from. */
  get compactedRevision(): number {
    return this.#compactedRevision;
  }

  /** Kept events after `revision`, oldest first. */
  eventsAfter(revision: number): readonly StoredEvent[] {
    return this.#history.filter((event) => event.revision > revision);
  }

  /** Hears of every write from now on; returns the function that stops it. */
  subscribe(listener: (event: StoredEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Forgets the history; the revision moves on by one, as an unrelated write would make it. */
  compact(): void {
    this.#revision += 1;
    this.#history.length = 0;
    this.#compactedRevision = this.#revision;
  }

  /** The resource type of `plural`, or a 404 `ApiError`. */
  type(plural: string): FakeResourceType {
    const type = FAKE_RESOURCE_TYPES.find((candidate) => candidate.plural === plural);
    if (type === undefined) throw new ApiError(404, 'NotFound', `unknown resource ${plural}`);
    return type;
  }

  /** The stored object (not a copy), or undefined. */
  find(type: FakeResourceType, namespace: string, name: string): FakeObject | undefined {
    return this.#objects.get(type.plural)!.get(objectKey(namespace, name));
  }

  /** The stored object, or a 404 `ApiError`. */
  mustGet(type: FakeResourceType, namespace: string, name: string): FakeObject {
    const found = this.find(type, namespace, name);
    if (found === undefined) {
      throw new ApiError(
        404,
        'NotFound',
        `${qualifiedName(type)} ${JSON.stringify(name)} not found`,
      );
    }
    return found;
  }

  /** Objects of `type` in `namespace` (all when undefined) whose labels match, sorted. */
  matching(
    type: FakeResourceType,
    namespace: string | undefined,
    selector: LabelSelector,
  ): FakeObject[] {
    return [...this.#objects.get(type.plural)!.values()]
      .filter(
        (object) =>
          (namespace === undefined || object.metadata.namespace === namespace) &&
          selector(object.metadata.labels),
      )
      .sort((left, right) =>
        objectKey(left.metadata.namespace!, left.metadata.name!).localeCompare(
          objectKey(right.metadata.namespace!, right.metadata.name!),
        ),
      );
  }

  #record(
    type: FakeResourceType,
    eventType: WatchEventType,
    object: FakeObject,
    previous?: FakeObject,
  ): void {
    const event: StoredEvent = {
      revision: this.#revision,
      plural: type.plural,
      type: eventType,
      object: structuredClone(object),
      previous,
    };
    this.#history.push(event);
    while (this.#history.length > this.#historyLimit) {
      this.#compactedRevision = this.#history.shift()!.revision;
    }
    for (const listener of this.#listeners) listener(event);
  }

  /** POST: a new object with uid, generation 1 and no status (with a status subresource). */
  create(type: FakeResourceType, namespace: string, body: FakeObject): FakeObject {
    if (body === null || typeof body !== 'object' || typeof body.metadata !== 'object') {
      throw new ApiError(400, 'BadRequest', 'the body must be an object with metadata');
    }
    if (body.metadata.namespace !== undefined && body.metadata.namespace !== namespace) {
      throw new ApiError(
        400,
        'BadRequest',
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    const name =
      body.metadata.name ??
      (body.metadata.generateName === undefined
        ? undefined
        : `${body.metadata.generateName}${randomUUID().slice(0, 5)}`);
    if (name === undefined || name === '') {
      throw new ApiError(
        422,
        'Invalid',
        'metadata.name: Required value: name or generateName is required',
      );
    }
    const objects = this.#objects.get(type.plural)!;
    if (objects.has(objectKey(namespace, name))) {
      throw new ApiError(
        409,
        'AlreadyExists',
        `${qualifiedName(type)} ${JSON.stringify(name)} already exists`,
      );
    }
    this.#revision += 1;
    const stored: FakeObject = {
      ...structuredClone(body),
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      metadata: {
        ...structuredClone(body.metadata),
        name,
        namespace,
        uid: randomUUID(),
        resourceVersion: String(this.#revision),
        generation: 1,
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    };
    delete stored.metadata.deletionTimestamp;
    delete stored.metadata.deletionGracePeriodSeconds;
    if (type.statusSubresource) delete stored['status'];
    objects.set(objectKey(namespace, name), stored);
    this.#record(type, 'ADDED', stored);
    return stored;
  }

  /**
   * PUT or the result of a PATCH, of the object or of its `status`: refused on a stale
   * `resourceVersion`; a no-op when nothing changes; the object goes away when a write
   * empties the finalizers of an object being deleted.
   */
  update(
    type: FakeResourceType,
    namespace: string,
    name: string,
    body: FakeObject,
    part: 'object' | 'status',
  ): FakeObject {
    const current = this.mustGet(type, namespace, name);
    if (body === null || typeof body !== 'object' || typeof body.metadata !== 'object') {
      throw new ApiError(400, 'BadRequest', 'the body must be an object with metadata');
    }
    if (body.metadata.name !== undefined && body.metadata.name !== name) {
      throw new ApiError(400, 'BadRequest', 'the name of the object does not match the request');
    }
    if (
      body.metadata.resourceVersion !== undefined &&
      body.metadata.resourceVersion !== current.metadata.resourceVersion
    ) {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualifiedName(type)} ${JSON.stringify(name)}: the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    let next: FakeObject;
    if (part === 'status') {
      next = structuredClone(current);
      if (body['status'] === undefined) delete next['status'];
      else next['status'] = structuredClone(body['status']);
    } else {
      next = structuredClone(body);
      if (type.statusSubresource) {
        if (current['status'] === undefined) delete next['status'];
        else next['status'] = structuredClone(current['status']);
      }
      const kept = [
        'uid',
        'creationTimestamp',
        'deletionTimestamp',
        'deletionGracePeriodSeconds',
        'generation',
      ] as const;
      next.metadata = { ...next.metadata, name, namespace };
      for (const field of kept) {
        if (current.metadata[field] === undefined) delete next.metadata[field];
        else next.metadata[field] = current.metadata[field] as never;
      }
    }
    next.apiVersion = apiVersionOf(type);
    next.kind = type.kind;
    next.metadata.resourceVersion = current.metadata.resourceVersion!;
    if (jsonEqual(next, current)) return current;

    const deleting = current.metadata.deletionTimestamp !== undefined;
    const finalizers = next.metadata.finalizers ?? [];
    if (deleting) {
      const before = new Set(current.metadata.finalizers ?? []);
      const added = finalizers.filter((finalizer) => !before.has(finalizer));
      if (added.length > 0) {
        throw new ApiError(
          422,
          'Invalid',
          `metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
        );
      }
    }
    if (!jsonEqual(generationContent(next), generationContent(current))) {
      next.metadata.generation = (current.metadata.generation ?? 0) + 1;
    }
    this.#revision += 1;
    next.metadata.resourceVersion = String(this.#revision);
    const objects = this.#objects.get(type.plural)!;
    if (deleting && finalizers.length === 0) {
      objects.delete(objectKey(namespace, name));
      this.#record(type, 'DELETED', next);
      return next;
    }
    objects.set(objectKey(namespace, name), next);
    this.#record(type, 'MODIFIED', next, current);
    return next;
  }

  /** DELETE: with finalizers only `deletionTimestamp` is set; without, the object goes. */
  delete(type: FakeResourceType, namespace: string, name: string): FakeObject {
    const current = this.mustGet(type, namespace, name);
    const objects = this.#objects.get(type.plural)!;
    if ((current.metadata.finalizers ?? []).length > 0) {
      if (current.metadata.deletionTimestamp !== undefined) return current;
      this.#revision += 1;
      const next = structuredClone(current);
      next.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      next.metadata.deletionGracePeriodSeconds = 0;
      next.metadata.resourceVersion = String(this.#revision);
      objects.set(objectKey(namespace, name), next);
      this.#record(type, 'MODIFIED', next, current);
      return next;
    }
    this.#revision += 1;
    const gone = structuredClone(current);
    gone.metadata.resourceVersion = String(this.#revision);
    objects.delete(objectKey(namespace, name));
    this.#record(type, 'DELETED', gone);
    return gone;
  }
}
