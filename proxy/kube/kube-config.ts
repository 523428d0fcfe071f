/**
 * Where the operator finds the Kubernetes API and its credentials, resolved once from the
 * command line: a kubeconfig file, a bare API URL (`kubectl proxy`, tests), or the usual
 * defaults (`$KUBECONFIG`, `~/.kube/config`, then the pod's service account).
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeConnectionOptions {
  /** A kubeconfig file; its current context is used. */
  readonly kubeconfigPath?: string;
  /** An API server URL used with no credentials but `bearerToken`. */
  readonly apiUrl?: string;
  /** Bearer token sent with `apiUrl`. */
  readonly bearerToken?: string;
}

/** A {@link KubeConfig} for `options`; throws with the reason when a file cannot be used. */
export function resolveKubeConfig(options: KubeConnectionOptions): KubeConfig {
  const config = new KubeConfig();
  if (options.kubeconfigPath !== undefined && options.apiUrl !== undefined) {
    throw new Error('give --kubeconfig or --kube-api-url, not both');
  }
  if (options.apiUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(options.apiUrl);
    } catch {
      throw new Error(`--kube-api-url ${JSON.stringify(options.apiUrl)} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`--kube-api-url ${JSON.stringify(options.apiUrl)} must be http or https`);
    }
    config.loadFromClusterAndUser(
      {
        name: 'phoenix',
        server: options.apiUrl.replace(/\/+$/, ''),
        // client-node refuses plain http unless TLS verification is off; for https it stays on.
        skipTLSVerify: url.protocol === 'http:',
      },
      {
        name: 'phoenix',
        ...(options.bearerToken === undefined ? {} : { token: options.bearerToken }),
      },
    );
    return config;
  }
  if (options.kubeconfigPath !== undefined) {
    try {
      config.loadFromFile(options.kubeconfigPath);
    } catch (error) {
      throw new Error(
        `cannot load --kubeconfig ${options.kubeconfigPath}: ${(error as Error).message}`,
      );
    }
  } else {
    config.loadFromDefault();
  }
  if (config.getCurrentCluster() === null) {
    throw new Error('the kubeconfig has no current cluster');
  }
  return config;
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The namespace of the pod the process runs in, or `default` outside a cluster. */
export function defaultNamespace(): string {
  try {
    const namespace = readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
    if (namespace !== '') return namespace;
  } catch {
    // Not in a pod: fall through to the conventional default.
  }
  return 'default';
}
