/**
 * Kubernetes RBAC as the API server applies it, for the deploy tests: the attributes of a
 * request (verb, API group, resource and subresource, namespace, name) and whether the
 * Roles and ClusterRoles bound to a ServiceAccount in a rendered manifest allow it. It
 * follows the documented rules of the RBAC authorizer: a RoleBinding grants its Role (or
 * a ClusterRole) in the binding's namespace only, a ClusterRoleBinding grants a ClusterRole
 * everywhere; `*` matches any group, resource or verb; `resourceNames` narrows a rule.
 * Aggregated ClusterRoles and non-resource URLs are not modelled.
 */
import type { K8sObject } from './k8s-objects.js';

/** What the authorizer decides on. */
export interface RequestAttributes {
  readonly verb: string;
  /** `""` for the core group. */
  readonly apiGroup: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
}

/**
 * The attributes of a resource request, as the API server derives them from the method and
 * path: GET of a collection is `list` (`watch` with `watch=true`), of an object `get`; POST
 * `create`, PUT `update`, PATCH `patch`, DELETE `delete` (`deletecollection` on a
 * collection).
 */
export function requestAttributes(method: string, path: string, watch: boolean): RequestAttributes {
  const segments = path.split('/').filter((segment) => segment !== '');
  let apiGroup: string;
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 3) {
    apiGroup = '';
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    apiGroup = segments[1]!;
    rest = segments.slice(3);
  } else {
    throw new Error(`not a resource request: ${method} ${path}`);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  if (resource === undefined) throw new Error(`no resource in ${path}`);
  const verbs: Record<string, string> = {
    POST: 'create',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: name === undefined ? 'deletecollection' : 'delete',
    GET: watch ? 'watch' : name === undefined ? 'list' : 'get',
  };
  const verb = verbs[method];
  if (verb === undefined) throw new Error(`no RBAC verb for ${method}`);
  return {
    verb,
    apiGroup,
    resource,
    ...(subresource === undefined ? {} : { subresource }),
    ...(namespace === undefined ? {} : { namespace }),
    ...(name === undefined ? {} : { name }),
  };
}

/** `get configmaps in phoenix`, `patch phoenix.dev pipelines/status in phoenix`. */
export function describeAttributes(attributes: RequestAttributes): string {
  const group = attributes.apiGroup === '' ? '' : `${attributes.apiGroup} `;
  const resource =
    attributes.subresource === undefined
      ? attributes.resource
      : `${attributes.resource}/${attributes.subresource}`;
  const where = attributes.namespace === undefined ? 'cluster-wide' : `in ${attributes.namespace}`;
  return `${attributes.verb} ${group}${resource} ${where}`;
}

export interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

interface Binding extends K8sObject {
  readonly roleRef: { readonly kind: string; readonly name: string };
  readonly subjects?: readonly { kind: string; name: string; namespace?: string }[];
}

/** A ServiceAccount: its name and namespace. */
export interface ServiceAccountRef {
  readonly name: string;
  readonly namespace: string;
}

/**
 * The rules that apply to `account` for a request in `namespace` (undefined: a
 * cluster-scoped request), from the bindings and roles among `objects`. Objects without
 * `metadata.namespace` are in `defaultNamespace`, as `helm install -n` puts them.
 */
export function rulesFor(
  objects: readonly K8sObject[],
  account: ServiceAccountRef,
  namespace: string | undefined,
  defaultNamespace: string,
): PolicyRule[] {
  const namespaceOf = (object: K8sObject) => object.metadata.namespace ?? defaultNamespace;
  const boundTo = (binding: Binding) =>
    (binding.subjects ?? []).some(
      (subject) =>
        subject.kind === 'ServiceAccount' &&
        subject.name === account.name &&
        (subject.namespace ?? namespaceOf(binding)) === account.namespace,
    );
  const roleRules = (kind: string, name: string, roleNamespace: string | undefined) => {
    const role = objects.find(
      (object) =>
        object.kind === kind &&
        object.metadata.name === name &&
        (kind === 'ClusterRole' || namespaceOf(object) === roleNamespace),
    );
    return ((role?.['rules'] as PolicyRule[] | undefined) ?? []).slice();
  };
  const rules: PolicyRule[] = [];
  for (const object of objects) {
    const binding = object as Binding;
    if (object.kind === 'ClusterRoleBinding' && boundTo(binding)) {
      rules.push(...roleRules('ClusterRole', binding.roleRef.name, undefined));
    }
    if (
      object.kind === 'RoleBinding' &&
      namespace !== undefined &&
      namespaceOf(object) === namespace &&
      boundTo(binding)
    ) {
      rules.push(...roleRules(binding.roleRef.kind, binding.roleRef.name, namespace));
    }
  }
  return rules;
}

/** Whether one of `rules` allows the request. */
export function allows(rules: readonly PolicyRule[], attributes: RequestAttributes): boolean {
  const resource =
    attributes.subresource === undefined
      ? attributes.resource
      : `${attributes.resource}/${attributes.subresource}`;
  return rules.some(
    (rule) =>
      (rule.apiGroups ?? []).some((group) => group === '*' || group === attributes.apiGroup) &&
      (rule.resources ?? []).some((candidate) => candidate === '*' || candidate === resource) &&
      rule.verbs.some((verb) => verb === '*' || verb === attributes.verb) &&
      (rule.resourceNames === undefined ||
        rule.resourceNames.length === 0 ||
        (attributes.name !== undefined && rule.resourceNames.includes(attributes.name))),
  );
}

/** The requests of `requests` that `account` may not make, described. */
export function deniedRequests(
  objects: readonly K8sObject[],
  account: ServiceAccountRef,
  requests: readonly RequestAttributes[],
  defaultNamespace: string,
): string[] {
  return requests
    .filter(
      (request) =>
        !allows(rulesFor(objects, account, request.namespace, defaultNamespace), request),
    )
    .map(describeAttributes);
}
