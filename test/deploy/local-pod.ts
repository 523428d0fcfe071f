/**
 * Runs a container of a rendered manifest as a local `phoenix` process, the way the kubelet
 * would start it: the container's own args, with each volume it mounts laid out under a
 * temporary root (ConfigMap and Secret keys as files, emptyDir and claims as empty
 * folders), and paths in the args moved under that root. Only what cannot exist off a
 * cluster is rewritten: listen addresses become loopback port 0, and Service URLs become
 * the URLs of the local processes standing in for those Services.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type ManagedProcess, startProcess } from '../helpers/managed-process.js';
import { phoenixBinary, REPO_DIR } from '../helpers/peers.js';
import { LOOPBACK_HOST } from '../helpers/ports.js';
import {
  type Container,
  findObject,
  type K8sObject,
  type PodSpec,
  type Volume,
} from './k8s-objects.js';

/** Secret data the chart references but does not create (the control plane's tokens). */
export type ExternalSecrets = Readonly<Record<string, Readonly<Record<string, string>>>>;

export interface LocalPodOptions {
  /** Every object of the render, where ConfigMaps and Secrets are looked up. */
  readonly objects: readonly K8sObject[];
  readonly pod: PodSpec;
  readonly container: Container;
  /** Folder that stands for the container's root file system. */
  readonly root: string;
  readonly externalSecrets?: ExternalSecrets;
  /** Replaces text in every file written from a ConfigMap or Secret (e.g. Service URLs). */
  readonly fileRewrites?: ReadonlyArray<readonly [string, string]>;
  /** Replaces the value of a flag, e.g. `--control-plane` with a local URL. */
  readonly flagValues?: Readonly<Record<string, string>>;
  /**
   * Values of the downward-API fields the container's env reads (`status.podIP`,
   * `metadata.name`), expanded in args as `$(VAR)` the way the kubelet does.
   */
  readonly fieldValues?: Readonly<Record<string, string>>;
  /** Flags appended for what a cluster provides otherwise (e.g. a DNS server). */
  readonly extraArgs?: readonly string[];
}

/** The args the local process runs with, after the rewrites above. */
export function localArgs(options: LocalPodOptions): string[] {
  const mounts = [...(options.container.volumeMounts ?? [])].sort(
    (a, b) => b.mountPath.length - a.mountPath.length,
  );
  const environment = new Map<string, string>();
  for (const entry of options.container.env ?? []) {
    const field = entry.valueFrom?.fieldRef?.fieldPath;
    const value = entry.value ?? (field === undefined ? undefined : options.fieldValues?.[field]);
    if (value === undefined)
      throw new Error(`no value for env ${entry.name} (${field ?? 'unset'})`);
    environment.set(entry.name, value);
  }
  const args = (options.container.args ?? []).map((arg) =>
    arg.replace(/\$\((\w+)\)/g, (reference, name: string) => environment.get(name) ?? reference),
  );
  for (let index = 0; index < args.length; index++) {
    const flag = args[index - 1];
    const replacement = flag === undefined ? undefined : options.flagValues?.[flag];
    if (replacement !== undefined) {
      args[index] = replacement;
      continue;
    }
    if (flag === '--listen' || flag === '--otlp-grpc-listen') {
      args[index] = args[index] === 'off' ? 'off' : `${LOOPBACK_HOST}:0`;
      continue;
    }
    const value = args[index]!;
    const mount = mounts.find(
      (candidate) => value === candidate.mountPath || value.startsWith(`${candidate.mountPath}/`),
    );
    if (mount !== undefined) args[index] = join(options.root, value);
  }
  return [...args, ...(options.extraArgs ?? [])];
}

/** Writes every volume the container mounts under `root`. */
export function layOutVolumes(options: LocalPodOptions): void {
  for (const mount of options.container.volumeMounts ?? []) {
    const volume = options.pod.volumes?.find((candidate) => candidate.name === mount.name);
    const target = join(options.root, mount.mountPath);
    mkdirSync(target, { recursive: true });
    if (volume === undefined) continue; // a volumeClaimTemplate: an empty disk
    for (const [path, content] of Object.entries(volumeFiles(volume, options))) {
      let text = content;
      for (const [from, to] of options.fileRewrites ?? []) text = text.replaceAll(from, to);
      mkdirSync(dirname(join(target, path)), { recursive: true });
      writeFileSync(join(target, path), text);
    }
  }
}

function volumeFiles(volume: Volume, options: LocalPodOptions): Record<string, string> {
  if (volume.configMap !== undefined) {
    const configMap = findObject(options.objects, 'ConfigMap', volume.configMap.name);
    return { ...(configMap['data'] as Record<string, string>) };
  }
  if (volume.secret !== undefined) {
    const name = volume.secret.secretName;
    const rendered = options.objects.find((o) => o.kind === 'Secret' && o.metadata.name === name);
    const data: Record<string, string> =
      rendered !== undefined
        ? { ...((rendered['stringData'] as Record<string, string> | undefined) ?? {}) }
        : { ...(options.externalSecrets?.[name] ?? {}) };
    if (rendered === undefined && options.externalSecrets?.[name] === undefined) {
      throw new Error(`Secret ${name} is neither rendered nor given`);
    }
    if (volume.secret.items === undefined) return data;
    const files: Record<string, string> = {};
    for (const item of volume.secret.items) {
      const value = data[item.key];
      if (value === undefined) throw new Error(`Secret ${name} has no key ${item.key}`);
      files[item.path] = value;
    }
    return files;
  }
  return {};
}

/** Lays out the volumes and starts `bin/phoenix` with the container's (rewritten) args. */
export function startLocalPod(name: string, options: LocalPodOptions): ManagedProcess {
  layOutVolumes(options);
  return startProcess(name, phoenixBinary(), localArgs(options), { cwd: REPO_DIR });
}
