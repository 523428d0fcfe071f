/**
 * The two patch formats the Kubernetes API takes for custom resources, as the loopback API
 * server applies them: JSON merge patch (RFC 7386, `application/merge-patch+json`) and JSON
 * patch (RFC 6902, `application/json-patch+json`). Both work on plain JSON values and
 * return a new value; the input is never changed.
 */

/** A patch that cannot be applied; the API server answers it with 422 Invalid. */
export class PatchError extends Error {
  override readonly name = 'PatchError';
}

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** RFC 7386: objects merge key by key, `null` removes a key, anything else replaces. */
export function applyMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, Json> = isObject(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

/** One RFC 6902 operation. */
export interface JsonPatchOperation {
  readonly op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  readonly path: string;
  readonly value?: Json;
  readonly from?: string;
}

/** Splits a JSON pointer (RFC 6901) into unescaped reference tokens. */
function pointerTokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/'))
    throw new PatchError(`path ${JSON.stringify(pointer)} must start with /`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function arrayIndex(container: Json[], token: string, forInsert: boolean): number {
  if (forInsert && token === '-') return container.length;
  if (!/^(0|[1-9]\d*)$/.test(token))
    throw new PatchError(`${JSON.stringify(token)} is not an array index`);
  const index = Number(token);
  const limit = forInsert ? container.length : container.length - 1;
  if (index > limit) throw new PatchError(`array index ${index} is out of range`);
  return index;
}

/** The parent container of `pointer` in `document` and the last token. */
function locate(document: Json, pointer: string): { parent: Json; last: string } {
  const tokens = pointerTokens(pointer);
  const last = tokens.pop();
  if (last === undefined) throw new PatchError('the whole document cannot be the target');
  let parent = document;
  for (const token of tokens) {
    if (Array.isArray(parent)) parent = parent[arrayIndex(parent, token, false)];
    else if (isObject(parent) && token in parent) parent = parent[token];
    else throw new PatchError(`path ${JSON.stringify(pointer)} does not exist`);
  }
  return { parent, last };
}

function read(document: Json, pointer: string): Json {
  if (pointer === '') return document;
  const { parent, last } = locate(document, pointer);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, last, false)];
  if (isObject(parent) && last in parent) return parent[last];
  throw new PatchError(`path ${JSON.stringify(pointer)} does not exist`);
}

function add(document: Json, pointer: string, value: Json): void {
  const { parent, last } = locate(document, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true), 0, value);
  else if (isObject(parent)) parent[last] = value;
  else throw new PatchError(`path ${JSON.stringify(pointer)} has no object or array parent`);
}

function remove(document: Json, pointer: string): Json {
  const removed = read(document, pointer);
  const { parent, last } = locate(document, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, false), 1);
  else delete (parent as Record<string, Json>)[last];
  return removed;
}

function deepEqual(left: Json, right: Json): boolean {
  return JSON.stringify(canonical(left)) === JSON.stringify(canonical(right));
}

function canonical(value: Json): Json {
  if (Array.isArray(value)) return value.map(canonical);
  if (isObject(value)) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical(value[key])]),
    );
  }
  return value;
}

/** RFC 6902: the operations in order; any failure (a failed `test` too) rejects the patch. */
export function applyJsonPatch(target: Json, operations: Json): Json {
  if (!Array.isArray(operations))
    throw new PatchError('a JSON patch must be an array of operations');
  const document = { root: structuredClone(target) };
  const rooted = (path: string) => `/root${path}`;
  for (const operation of operations as JsonPatchOperation[]) {
    if (!isObject(operation) || typeof operation.path !== 'string') {
      throw new PatchError('every operation needs an op and a path');
    }
    const path = rooted(operation.path);
    switch (operation.op) {
      case 'add':
        add(document, path, structuredClone(operation.value));
        break;
      case 'remove':
        remove(document, path);
        break;
      case 'replace':
        remove(document, path);
        add(document, path, structuredClone(operation.value));
        break;
      case 'move':
        add(document, path, remove(document, rooted(String(operation.from))));
        break;
      case 'copy':
        add(document, path, structuredClone(read(document, rooted(String(operation.from)))));
        break;
      case 'test':
        if (!deepEqual(read(document, path), operation.value)) {
          throw new PatchError(
            `test failed: ${operation.path} is not ${JSON.stringify(operation.value)}`,
          );
        }
        break;
      default:
        throw new PatchError(`unknown op ${JSON.stringify((operation as { op: unknown }).op)}`);
    }
  }
  return document.root;
}

/** Whether two JSON values are equal regardless of key order. */
export function jsonEqual(left: Json, right: Json): boolean {
  return deepEqual(left, right);
}
