import { parseAllDocuments } from 'yaml';

/** The parts of a Kubernetes object the deploy tests read; everything else stays `unknown`. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

/** Every object of a multi-document YAML stream (helm or kustomize output), in order. */
export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      throw new Error(`invalid YAML: ${document.errors.map((error) => error.message).join('; ')}`);
    }
    const value: unknown = document.toJS();
    if (value === null || value === undefined) continue;
    if (!isK8sObject(value)) {
      throw new Error(`not a Kubernetes object: ${JSON.stringify(value).slice(0, 200)}`);
    }
    objects.push(value);
  }
  return objects;
}

function isK8sObject(value: unknown): value is K8sObject {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  const metadata = record['metadata'] as Record<string, unknown> | undefined;
  return (
    typeof record['apiVersion'] === 'string' &&
    typeof record['kind'] === 'string' &&
    typeof metadata?.['name'] === 'string'
  );
}

/** The one object of a kind and name; throws, listing what there is, when it is missing. */
export function findObject(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (found === undefined) {
    const present = objects.map((object) => `${object.kind}/${object.metadata.name}`).join(', ');
    throw new Error(`no ${kind}/${name} among ${present}`);
  }
  return found;
}

/** A model class of `kubernetes-models`: construct with the object, `validate()` throws. */
type ModelClass = new (data: unknown) => { validate(): void };

/**
 * Module that holds the model of an apiVersion/kind: the Kubernetes API groups from
 * `kubernetes-models`, prometheus-operator's from `@kubernetes-models/prometheus-operator`
 * (both generated from the projects' own OpenAPI schemas).
 */
function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'monitoring.coreos.com') {
    return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  }
  return group === ''
    ? `kubernetes-models/${version}/${kind}`
    : `kubernetes-models/${group}/${version}/${kind}`;
}

/**
 * Validates one object against the OpenAPI schema of its apiVersion and kind. Throws with
 * the object's kind/name and the schema's complaint; an apiVersion/kind without a model
 * fails too, so nothing passes unchecked. (These schemas do not reject unknown fields; an
 * API server with strict field validation does.)
 */
export async function validateObject(object: K8sObject): Promise<void> {
  const specifier = modelModule(object.apiVersion, object.kind);
  let model: ModelClass;
  try {
    const module = (await import(specifier)) as Record<string, ModelClass | undefined>;
    const found = module[object.kind];
    if (found === undefined) throw new Error(`${specifier} exports no ${object.kind}`);
    model = found;
  } catch (error) {
    throw new Error(
      `no schema for ${object.apiVersion} ${object.kind}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  try {
    new model(object).validate();
  } catch (error) {
    throw new Error(
      `${object.kind}/${object.metadata.name}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** Pod template of a Deployment or StatefulSet. */
export function podSpec(workload: K8sObject): PodSpec {
  const spec = workload['spec'] as { template: { spec: PodSpec } };
  return spec.template.spec;
}

export interface PodSpec {
  readonly containers: readonly Container[];
  readonly volumes?: readonly Volume[];
  readonly serviceAccountName?: string;
  readonly securityContext?: Record<string, unknown>;
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly ports?: readonly { name?: string; containerPort: number }[];
  readonly volumeMounts?: readonly { name: string; mountPath: string; readOnly?: boolean }[];
  readonly livenessProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly startupProbe?: Probe;
  readonly securityContext?: Record<string, unknown>;
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Probe {
  readonly httpGet?: { path: string; port: string | number };
  readonly tcpSocket?: { port: string | number };
}

export interface Volume {
  readonly name: string;
  readonly emptyDir?: Record<string, unknown>;
  readonly configMap?: { name: string };
  readonly secret?: { secretName: string; items?: readonly { key: string; path: string }[] };
  readonly persistentVolumeClaim?: { claimName: string };
}

/** The container of a pod with this name; throws when there is none. */
export function container(pod: PodSpec, name: string): Container {
  const found = pod.containers.find((candidate) => candidate.name === name);
  if (found === undefined) {
    throw new Error(`no container ${name} (has ${pod.containers.map((c) => c.name).join(', ')})`);
  }
  return found;
}

/** The value after `--flag` in an argument list, or undefined. */
export function flagValue(args: readonly string[] | undefined, flag: string): string | undefined {
  if (args === undefined) return undefined;
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
}
