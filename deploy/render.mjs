// Renders the kustomize bases in deploy/kustomize/ from the Helm chart, so both install
// paths come from the same templates and values and cannot drift apart.
//
//   node deploy/render.mjs            rewrite deploy/kustomize/ and deploy/helm/phoenix/crds/
//   node deploy/render.mjs --out DIR  write the same tree under DIR instead (what the tests
//                                     compare with the committed files)
//
// It runs the real `helm template` (fetched by scripts/install-deploy-tools.sh when
// missing) once per topology values file, and once with `operator.enabled=true`, and
// sorts the objects into:
//   base/           the Namespace and the CRDs
//   control-plane/  the control plane (includes base)
//   <topology>/     what one topology adds (includes control-plane)
//   operator/       the operator, its ServiceAccount and Role (includes nothing: it is
//                   applied next to a topology, or listed beside one in an overlay)
// Objects of control-plane must render identically for every topology; the script fails
// if they do not.
import { execFileSync } from 'node:child_process';
import {
  accessSync,
  constants,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const deployDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(deployDir, '..');
const chartDir = join(deployDir, 'helm', 'phoenix');
const crdsDir = join(deployDir, 'crds');
const topologies = ['sidecar', 'gateway', 'aggregation'];
const releaseName = 'phoenix';
const namespace = 'phoenix';

const outIndex = process.argv.indexOf('--out');
const outDir = outIndex >= 0 ? resolve(process.argv[outIndex + 1] ?? '') : deployDir;
if (outIndex >= 0 && process.argv[outIndex + 1] === undefined) {
  console.error('usage: node deploy/render.mjs [--out DIR]');
  process.exit(2);
}

const helm = deployTool('helm');
const kustomizeDir = join(outDir, 'kustomize');
rmSync(kustomizeDir, { recursive: true, force: true });

// The chart ships the CRDs in its crds/ folder (Helm installs them before the templates);
// deploy/crds/ is where they are edited.
const crdFiles = readdirSync(crdsDir)
  .filter((name) => name.endsWith('.yaml'))
  .sort();
const chartCrdsDir = join(outDir, 'helm', 'phoenix', 'crds');
rmSync(chartCrdsDir, { recursive: true, force: true });
mkdirSync(chartCrdsDir, { recursive: true });
for (const name of crdFiles) {
  writeFileSync(join(chartCrdsDir, name), readFileSync(join(crdsDir, name)));
}

/** Shared objects by folder: file name -> text, filled by the first topology, checked by the rest. */
const shared = { base: new Map(), 'control-plane': new Map() };
const operatorObjects = new Map();
shared.base.set('namespace-phoenix.yaml', namespaceObject());
for (const name of crdFiles) shared.base.set(name, readFileSync(join(crdsDir, name), 'utf8'));
const sharedSource = new Map();

for (const topology of topologies) {
  const valuesFile = `values-${topology}.yaml`;
  const own = new Map();
  for (const document of helmTemplate(['--values', join(chartDir, valuesFile)])) {
    const object = parse(document);
    const fileName = objectFileName(object);
    const component = object.metadata.labels?.['app.kubernetes.io/component'];
    if (component === 'operator') {
      throw new Error(`${valuesFile} enables the operator; it belongs in operator/ only`);
    }
    const folder = component === 'control-plane' ? 'control-plane' : null;
    if (folder === null) {
      own.set(fileName, document);
      continue;
    }
    const key = `${folder}/${fileName}`;
    const earlier = shared[folder].get(fileName);
    if (earlier === undefined) {
      shared[folder].set(fileName, document);
      sharedSource.set(key, valuesFile);
    } else if (earlier !== document) {
      throw new Error(`${key} renders differently with ${sharedSource.get(key)} and ${valuesFile}`);
    }
  }
  writeFolder(topology, own, ['../control-plane'], `--values ${valuesFile}`);
}
// The operator is optional and the same for every topology: its own folder.
for (const document of helmTemplate(['--set', 'operator.enabled=true'])) {
  const object = parse(document);
  if (object.metadata.labels?.['app.kubernetes.io/component'] === 'operator') {
    operatorObjects.set(objectFileName(object), document);
  }
}
writeFolder('operator', operatorObjects, [], '--set operator.enabled=true');
writeFolder('control-plane', shared['control-plane'], ['../base'], 'the values files');
writeFolder('base', shared.base, [], 'the values files, and deploy/crds/');
console.log(`rendered ${relative(repoDir, kustomizeDir)}/ with ${relative(repoDir, helm)}`);

/** The documents `helm template` renders with `args` (and managedBy=kustomize). */
function helmTemplate(args) {
  const rendered = execFileSync(
    helm,
    [
      'template',
      releaseName,
      chartDir,
      '--namespace',
      namespace,
      ...args,
      '--set',
      'managedBy=kustomize',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  return splitDocuments(rendered);
}

function objectFileName(object) {
  return `${object.kind.toLowerCase()}-${object.metadata.name}.yaml`;
}

/** The documents of a `helm template` output, without Helm's `# Source:` lines. */
function splitDocuments(text) {
  return text
    .split(/^---$/m)
    .map((document) =>
      document
        .split('\n')
        .filter((line) => !line.startsWith('# Source: '))
        .join('\n')
        .trim(),
    )
    .filter((document) => document !== '')
    .map((document) => `${document}\n`);
}

function namespaceObject() {
  return [
    'apiVersion: v1',
    'kind: Namespace',
    'metadata:',
    `  name: ${namespace}`,
    '  labels:',
    '    app.kubernetes.io/name: phoenix',
    '    app.kubernetes.io/part-of: phoenix',
    '    app.kubernetes.io/managed-by: kustomize',
    '',
  ].join('\n');
}

function writeFolder(name, files, bases, source) {
  const folder = join(kustomizeDir, name);
  mkdirSync(folder, { recursive: true });
  const header =
    `# Rendered by deploy/render.mjs from deploy/helm/phoenix with ${source};\n` +
    '# change the chart, then run `node deploy/render.mjs`.\n';
  const names = [...files.keys()].sort();
  for (const fileName of names) {
    writeFileSync(join(folder, fileName), header + files.get(fileName));
  }
  const kustomization = [
    header.trimEnd(),
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    `namespace: ${namespace}`,
    'resources:',
    ...[...bases, ...names].map((resource) => `  - ${resource}`),
    '',
  ].join('\n');
  writeFileSync(join(folder, 'kustomization.yaml'), kustomization);
}

/** A tool of .peers/deploy-tools/, installed by scripts/install-deploy-tools.sh if missing. */
function deployTool(name) {
  const peersDir = process.env.PHOENIX_PEERS_DIR ?? join(repoDir, '.peers');
  const path = join(peersDir, 'deploy-tools', name);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    execFileSync('bash', [join(repoDir, 'scripts', 'install-deploy-tools.sh')], {
      stdio: 'inherit',
    });
  }
  return path;
}
