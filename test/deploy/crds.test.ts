/**
 * The Pipeline and Experiment CRDs of deploy/crds/: valid CustomResourceDefinitions,
 * structural schemas the API server accepts, and schemas strict enough that the example
 * resources of deploy/examples/ pass and bad ones are refused at apply time. An API server
 * is not available here; ajv evaluates each CRD's openAPIV3Schema, with unknown fields
 * refused as `kubectl apply` (server-side strict field validation) refuses them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compilePipeline, parsePipelineConfig } from '../../proxy/pipeline/index.js';
import { REPO_DIR } from '../helpers/peers.js';
import { type K8sObject, parseManifests, validateObject } from './k8s-objects.js';

const CRDS_DIR = join(REPO_DIR, 'deploy', 'crds');
const EXAMPLES_DIR = join(REPO_DIR, 'deploy', 'examples');

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: boolean | Schema;
  anyOf?: Schema[];
  required?: string[];
  [keyword: string]: unknown;
}

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  subresources?: { status?: object };
  additionalPrinterColumns: { name: string; type: string; jsonPath: string }[];
  schema: { openAPIV3Schema: Schema };
}

interface Crd extends K8sObject {
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string };
    versions: CrdVersion[];
  };
}

const crds = new Map<string, Crd>(
  readdirSync(CRDS_DIR)
    .filter((name) => name.endsWith('.yaml'))
    .map((name) => {
      const crd = parse(readFileSync(join(CRDS_DIR, name), 'utf8')) as Crd;
      return [crd.spec.names.kind, crd];
    }),
);

function crd(kind: string): Crd {
  const found = crds.get(kind);
  if (found === undefined) throw new Error(`no CRD for ${kind}`);
  return found;
}

/**
 * The schema as the API server applies it to a create or update with strict field
 * validation: fields a schema does not declare are errors (the server prunes them, and
 * strict validation reports them), except below `x-kubernetes-preserve-unknown-fields`
 * and in `metadata`, which the server checks itself.
 */
function withStrictFields(schema: Schema, path: string[] = []): Schema {
  const copy: Schema = { ...schema };
  if (copy.properties !== undefined) {
    copy.properties = Object.fromEntries(
      Object.entries(copy.properties).map(([key, value]) => [
        key,
        path.length === 0 && key === 'metadata' ? value : withStrictFields(value, [...path, key]),
      ]),
    );
    if (copy['x-kubernetes-preserve-unknown-fields'] !== true) copy.additionalProperties = false;
  }
  if (copy.items !== undefined) copy.items = withStrictFields(copy.items, [...path, '[]']);
  return copy;
}

function validatorFor(kind: string): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
  for (const keyword of [
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-preserve-unknown-fields',
  ]) {
    ajv.addKeyword({ keyword });
  }
  ajv.addFormat('int64', {
    type: 'number',
    validate: (value: number) => Number.isSafeInteger(value),
  });
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  const version = crd(kind).spec.versions[0]!;
  return ajv.compile(withStrictFields(version.schema.openAPIV3Schema));
}

/** The errors of one resource as `instancePath message` lines; empty when it is valid. */
function errorsOf(resource: unknown): string[] {
  const kind = (resource as { kind: string }).kind;
  const validate = validatorFor(kind);
  if (validate(resource)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
}

/** Every schema node in `schema`, with its path. */
function* schemaNodes(schema: Schema, path = ''): Generator<[string, Schema]> {
  yield [path, schema];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    yield* schemaNodes(child, `${path}.${key}`);
  }
  if (schema.items !== undefined) yield* schemaNodes(schema.items, `${path}[]`);
}

function exampleResources(): K8sObject[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .flatMap((name) => parseManifests(readFileSync(join(EXAMPLES_DIR, name), 'utf8')));
}

describe('CRDs', () => {
  it('define Pipeline and Experiment in phoenix.dev/v1alpha1, namespaced, with a status subresource', () => {
    expect([...crds.keys()].sort()).toEqual(['Experiment', 'Pipeline']);
    for (const definition of crds.values()) {
      expect(definition.metadata.name).toBe(`${definition.spec.names.plural}.phoenix.dev`);
      expect(definition.spec.group).toBe('phoenix.dev');
      expect(definition.spec.scope).toBe('Namespaced');
      expect(definition.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([
        ['v1alpha1', true, true],
      ]);
      expect(definition.spec.versions[0]!.subresources).toEqual({ status: {} });
    }
  });

  it('validate as apiextensions.k8s.io/v1 CustomResourceDefinitions', async () => {
    for (const definition of crds.values()) await validateObject(definition);
  });

  it('have structural schemas: typed nodes, no additionalProperties: false beside properties', () => {
    for (const definition of crds.values()) {
      for (const [path, node] of schemaNodes(definition.spec.versions[0]!.schema.openAPIV3Schema)) {
        expect(node.type, `${definition.metadata.name} ${path} has a type`).toBeDefined();
        if (node.properties !== undefined) {
          expect(node.type, path).toBe('object');
          expect(node.additionalProperties, path).toBeUndefined();
        }
        for (const branch of node.anyOf ?? []) {
          // Inside anyOf the API server allows only value validations, not types.
          expect(branch.type, `${path} anyOf`).toBeUndefined();
          for (const property of Object.keys(branch.properties ?? {})) {
            expect(node.properties?.[property], `${path} anyOf ${property}`).toBeDefined();
          }
        }
      }
    }
  });

  it('print the applied version, phase, reduction %, broken queries and age', () => {
    for (const definition of crds.values()) {
      const version = definition.spec.versions[0]!;
      const columns = version.additionalPrinterColumns;
      for (const name of ['Applied', 'Phase', 'Reduction', 'Broken', 'Age']) {
        expect(columns.map((column) => column.name)).toContain(name);
      }
      const schema = version.schema.openAPIV3Schema;
      for (const column of columns) {
        if (column.jsonPath === '.metadata.creationTimestamp') continue;
        // Every column reads a field the schema declares, with the column's type.
        const node = column.jsonPath
          .split('.')
          .slice(1)
          .reduce<Schema | undefined>((parent, key) => parent?.properties?.[key], schema);
        expect(node, `${definition.metadata.name} ${column.jsonPath}`).toBeDefined();
        expect(node?.type, column.jsonPath).toBe(column.type);
      }
    }
  });
});

describe('example resources in deploy/examples/', () => {
  const examples = exampleResources();

  it('cover both kinds and both experiment modes', () => {
    expect(examples.map((example) => example.kind).sort()).toEqual([
      'Experiment',
      'Experiment',
      'Pipeline',
    ]);
    const modes = examples
      .filter((example) => example.kind === 'Experiment')
      .map((example) => (example['spec'] as { mode: string }).mode);
    expect(modes.sort()).toEqual(['shadow', 'split']);
  });

  for (const example of exampleResources()) {
    it(`${example.kind}/${example.metadata.name} passes its CRD's schema`, () => {
      expect(example.apiVersion).toBe('phoenix.dev/v1alpha1');
      expect(errorsOf(example)).toEqual([]);
    });
  }

  it('carry pipeline configs that Phoenix itself accepts', () => {
    for (const example of examples) {
      const spec = example['spec'] as { config?: string; candidate?: string };
      const text = spec.config ?? spec.candidate;
      expect(text, example.metadata.name).toBeDefined();
      const config = parsePipelineConfig(text!, `${example.metadata.name}.yaml`);
      expect(compilePipeline(config).ruleCount).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('bad resources are refused', () => {
  const examples = exampleResources();
  const pipeline = examples.find((example) => example.kind === 'Pipeline')!;
  const split = examples.find(
    (example) => (example['spec'] as { mode?: string }).mode === 'split',
  )!;
  const shadow = examples.find(
    (example) => (example['spec'] as { mode?: string }).mode === 'shadow',
  )!;

  function withSpec(base: K8sObject, change: (spec: Record<string, unknown>) => void): K8sObject {
    const copy = structuredClone(base);
    change(copy['spec'] as Record<string, unknown>);
    return copy;
  }

  const cases: ReadonlyArray<{ name: string; resource: K8sObject; error: RegExp }> = [
    {
      name: 'a Pipeline without config',
      resource: withSpec(pipeline, (spec) => delete spec['config']),
      error: /^\/spec must have required property 'config'$/,
    },
    {
      name: 'a Pipeline with an empty config',
      resource: withSpec(pipeline, (spec) => (spec['config'] = '')),
      error: /^\/spec\/config must NOT have fewer than 1 characters$/,
    },
    {
      name: 'a Pipeline with a misspelled field',
      resource: withSpec(pipeline, (spec) => (spec['confg'] = 'relabel_configs: []')),
      error: /^\/spec must NOT have additional properties$/,
    },
    {
      name: 'an unknown mode',
      resource: withSpec(shadow, (spec) => (spec['mode'] = 'canary')),
      error: /^\/spec\/mode must be equal to one of the allowed values$/,
    },
    {
      name: 'a fraction above 1',
      resource: withSpec(split, (spec) => (spec['fraction'] = 1.5)),
      error: /^\/spec\/fraction must be <= 1$/,
    },
    {
      name: 'a negative fraction',
      resource: withSpec(split, (spec) => (spec['fraction'] = -0.1)),
      error: /^\/spec\/fraction must be >= 0$/,
    },
    {
      name: 'split without a fraction',
      resource: withSpec(split, (spec) => delete spec['fraction']),
      error: /^\/spec must have required property 'fraction'$/,
    },
    {
      name: 'no candidate',
      resource: withSpec(shadow, (spec) => delete spec['candidate']),
      error: /^\/spec must have required property 'candidate'$/,
    },
    {
      name: 'a baseline that is not a resource name',
      resource: withSpec(shadow, (spec) => (spec['baselinePipeline'] = 'Default_Pipeline')),
      error: /^\/spec\/baselinePipeline must match pattern/,
    },
    {
      name: 'a duration in words',
      resource: withSpec(shadow, (spec) => (spec['duration'] = '2 hours')),
      error: /^\/spec\/duration must match pattern/,
    },
    {
      name: 'a shadow upstream that is not http(s)',
      resource: withSpec(shadow, (spec) => (spec['shadowUpstream'] = 'ftp://shadow/write')),
      error: /^\/spec\/shadowUpstream must match pattern/,
    },
    {
      name: 'a negative broken-query budget',
      resource: withSpec(shadow, (spec) => {
        (spec['guardrails'] as Record<string, unknown>)['maxBrokenQueries'] = -1;
      }),
      error: /^\/spec\/guardrails\/maxBrokenQueries must be >= 0$/,
    },
    {
      name: 'a reduction over 100%',
      resource: withSpec(shadow, (spec) => {
        (spec['guardrails'] as Record<string, unknown>)['minReductionPercent'] = 120;
      }),
      error: /^\/spec\/guardrails\/minReductionPercent must be <= 100$/,
    },
    {
      name: 'auto as a string',
      resource: withSpec(shadow, (spec) => (spec['auto'] = 'yes')),
      error: /^\/spec\/auto must be boolean$/,
    },
    {
      name: 'a rules reference without a ConfigMap',
      resource: withSpec(shadow, (spec) => {
        (spec['queries'] as Record<string, unknown>)['rules'] = [{ key: 'rules.yaml' }];
      }),
      error: /^\/spec\/queries\/rules\/0 must have required property 'configMap'$/,
    },
  ];

  for (const { name, resource, error } of cases) {
    it(name, () => {
      const errors = errorsOf(resource);
      expect(errors.length, `${name} was accepted`).toBeGreaterThan(0);
      expect(
        errors.some((line) => error.test(line)),
        errors.join('\n'),
      ).toBe(true);
    });
  }
});
