/**
 * The writes the operator makes to its custom resources, through client-node's
 * `CustomObjectsApi`: finalizers by JSON patch guarded by a `test` of the
 * `resourceVersion` (so a stale cache cannot drop someone else's finalizer), and status by
 * merge patch on the `/status` subresource (status belongs to the operator alone).
 */
import {
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { PHOENIX_GROUP, PHOENIX_VERSION, type ResourceMetadata } from './phoenix-resources.js';

export interface CustomResource {
  readonly metadata: ResourceMetadata;
}

export class CustomResourceClient<T extends CustomResource> {
  readonly #api: CustomObjectsApi;
  readonly #plural: string;
  readonly #namespace: string;

  constructor(kubeConfig: KubeConfig, plural: string, namespace: string) {
    this.#api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.#plural = plural;
    this.#namespace = namespace;
  }

  /** The collection's path, as informers watch it. */
  get path(): string {
    return `/apis/${PHOENIX_GROUP}/${PHOENIX_VERSION}/namespaces/${this.#namespace}/${this.#plural}`;
  }

  async list(): Promise<KubernetesListObject<T & KubernetesObject>> {
    return (await this.#api.listNamespacedCustomObject({
      group: PHOENIX_GROUP,
      version: PHOENIX_VERSION,
      namespace: this.#namespace,
      plural: this.#plural,
    })) as KubernetesListObject<T & KubernetesObject>;
  }

  /** Sets `metadata.finalizers` if the object is still at the version the caller saw. */
  async setFinalizers(object: T, finalizers: readonly string[]): Promise<T> {
    const operations = [
      { op: 'test', path: '/metadata/resourceVersion', value: object.metadata.resourceVersion },
      object.metadata.finalizers === undefined
        ? { op: 'add', path: '/metadata/finalizers', value: finalizers }
        : { op: 'replace', path: '/metadata/finalizers', value: finalizers },
    ];
    return (await this.#api.patchNamespacedCustomObject(
      {
        group: PHOENIX_GROUP,
        version: PHOENIX_VERSION,
        namespace: this.#namespace,
        plural: this.#plural,
        name: object.metadata.name,
        body: operations,
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    )) as T;
  }

  /** Replaces `status` with `status` (merge patch; fields left out are removed). */
  async writeStatus(object: T, status: object): Promise<T> {
    const removals = Object.fromEntries(
      Object.keys((object as { status?: object }).status ?? {})
        .filter((field) => !(field in status))
        .map((field) => [field, null]),
    );
    return (await this.#api.patchNamespacedCustomObjectStatus(
      {
        group: PHOENIX_GROUP,
        version: PHOENIX_VERSION,
        namespace: this.#namespace,
        plural: this.#plural,
        name: object.metadata.name,
        body: { status: { ...removals, ...status } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as T;
  }
}
