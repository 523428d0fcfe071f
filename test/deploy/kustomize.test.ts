/**
 * deploy/kustomize/ is generated from the Helm chart by deploy/render.mjs. These tests
 * render it again into a temporary folder and require the committed files to be exactly
 * that, then build every base with the real `kubectl kustomize` and check that what it
 * produces is what `helm template` produces, object for object.
 */
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_DIR } from '../helpers/peers.js';
import {
  deployTool,
  helmTemplateTopology,
  kustomizeBuild,
  NAMESPACE,
  TOPOLOGIES,
} from './deploy-tools.js';
import { type K8sObject, parseManifests, validateObject } from './k8s-objects.js';

const DEPLOY_DIR = join(REPO_DIR, 'deploy');
const KUSTOMIZE_DIR = join(DEPLOY_DIR, 'kustomize');
const FOLDERS = ['base', 'control-plane', 'operator', ...TOPOLOGIES] as const;
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
]);

let renderDir = '';

function filesUnder(root: string): string[] {
  const files: string[] = [];
  const walk = (directory: string) => {
    for (const name of readdirSync(directory)) {
      const path = join(directory, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(relative(root, path));
    }
  };
  walk(root);
  return files.sort();
}

function key(object: K8sObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

beforeAll(() => {
  deployTool('helm');
  deployTool('kubectl');
  renderDir = mkdtempSync(join(tmpdir(), 'phoenix-render-'));
  execFileSync(process.execPath, [join(DEPLOY_DIR, 'render.mjs'), '--out', renderDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}, 180_000);

afterAll(() => {
  if (renderDir !== '') rmSync(renderDir, { recursive: true, force: true });
});

describe('kustomize bases', () => {
  it('the committed deploy/kustomize/ equals a fresh render of the chart', () => {
    const fresh = filesUnder(join(renderDir, 'kustomize'));
    expect(filesUnder(KUSTOMIZE_DIR)).toEqual(fresh);
    for (const file of fresh) {
      expect(readFileSync(join(KUSTOMIZE_DIR, file), 'utf8'), file).toBe(
        readFileSync(join(renderDir, 'kustomize', file), 'utf8'),
      );
    }
  });

  it("the chart's crds/ folder equals deploy/crds/", () => {
    const chartCrds = join(DEPLOY_DIR, 'helm', 'phoenix', 'crds');
    expect(filesUnder(chartCrds)).toEqual(filesUnder(join(DEPLOY_DIR, 'crds')));
    for (const file of filesUnder(chartCrds)) {
      expect(readFileSync(join(chartCrds, file), 'utf8')).toBe(
        readFileSync(join(DEPLOY_DIR, 'crds', file), 'utf8'),
      );
    }
  });

  for (const folder of FOLDERS) {
    it(`${folder}: kubectl kustomize builds it, every object is valid and in namespace ${NAMESPACE}`, async () => {
      const objects = parseManifests(kustomizeBuild(join(KUSTOMIZE_DIR, folder)));
      expect(objects.length).toBeGreaterThanOrEqual(3);
      for (const object of objects) {
        await validateObject(object);
        if (CLUSTER_SCOPED.has(object.kind)) expect(object.metadata.namespace).toBeUndefined();
        else expect(object.metadata.namespace, key(object)).toBe(NAMESPACE);
      }
    });
  }

  /**
   * Requires a kustomize build to hold exactly the objects of a `helm template` with
   * `--include-crds` (and the Namespace besides). Helm leaves the namespace out of most
   * objects (`helm install -n` fills it in); kustomize writes it into each.
   */
  function expectSameObjects(built: K8sObject[], helm: K8sObject[]): void {
    const withNamespace = helm.map((object) =>
      CLUSTER_SCOPED.has(object.kind) || object.metadata.namespace !== undefined
        ? object
        : { ...object, metadata: { ...object.metadata, namespace: NAMESPACE } },
    );
    const byKey = (list: K8sObject[]) =>
      new Map(list.map((object) => [key(object), object] as const));
    const fromKustomize = byKey(built.filter((object) => object.kind !== 'Namespace'));
    const fromHelm = byKey(withNamespace);
    expect([...fromKustomize.keys()].sort()).toEqual([...fromHelm.keys()].sort());
    for (const [name, object] of fromHelm) expect(fromKustomize.get(name), name).toEqual(object);
    expect(built.filter((object) => object.kind === 'Namespace')).toHaveLength(1);
  }

  for (const topology of TOPOLOGIES) {
    it(`${topology}: the kustomize build holds exactly what helm installs`, () => {
      expectSameObjects(
        parseManifests(kustomizeBuild(join(KUSTOMIZE_DIR, topology))),
        parseManifests(
          helmTemplateTopology(topology, ['--include-crds', '--set', 'managedBy=kustomize']),
        ),
      );
    });
  }

  it('operator: only the operator objects, which helm adds with operator.enabled=true', () => {
    const built = parseManifests(kustomizeBuild(join(KUSTOMIZE_DIR, 'operator')));
    expect(built.map(key).sort()).toEqual([
      'Deployment/phoenix-operator',
      'Role/phoenix-operator',
      'RoleBinding/phoenix-operator',
      'ServiceAccount/phoenix-operator',
    ]);
    for (const object of built) {
      expect(object.metadata.labels?.['app.kubernetes.io/component'], key(object)).toBe('operator');
    }
  });

  it('an overlay of gateway and operator holds exactly what helm installs with operator.enabled=true', () => {
    const overlay = join(renderDir, 'gateway-with-operator');
    mkdirSync(overlay);
    // kustomize takes bases by relative path only.
    const bases = relative(overlay, KUSTOMIZE_DIR);
    writeFileSync(
      join(overlay, 'kustomization.yaml'),
      `resources:\n  - ${bases}/gateway\n  - ${bases}/operator\n`,
    );
    expectSameObjects(
      parseManifests(kustomizeBuild(overlay)),
      parseManifests(
        helmTemplateTopology('gateway', [
          '--include-crds',
          '--set',
          'managedBy=kustomize',
          '--set',
          'operator.enabled=true',
        ]),
      ),
    );
  });
});
