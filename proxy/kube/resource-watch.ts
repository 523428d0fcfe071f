/**
 * A client-node informer (`makeInformer`: list, then watch from the list's
 * `resourceVersion`, kept in a local cache) that does not give up. The informer itself
 * resumes a watch the server closed, and lists again after 410 Gone; but on any other
 * failure (API server unreachable, 5xx, 403 on list) it reports an error and stops. This
 * restarts it after a backoff that doubles up to a ceiling, resuming from the last
 * `resourceVersion` it saw, so a relist happens only when the server says it must.
 */
import {
  ApiException,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
} from '@kubernetes/client-node';
import { backoffDelayMs } from '../control/backoff.js';
import { logEvent } from '../server/log.js';

export interface ResourceWatchOptions<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** The collection's API path, e.g. `/apis/phoenix.dev/v1alpha1/namespaces/ns/pipelines`. */
  readonly path: string;
  /** Lists the collection (with the same selector as the watch). */
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string;
  /** Names the watch in log lines. */
  readonly description: string;
  /** Called for every object added, changed or (with `deleted`) removed. */
  readonly onChange: (object: T, deleted: boolean) => void;
  /** First restart delay; default 500 ms. */
  readonly retryMinMs?: number;
  /** Longest restart delay; default 30 000 ms. */
  readonly retryMaxMs?: number;
}

/** A running watch: its cache, and a promise of the first complete list. */
export interface ResourceWatch<T extends KubernetesObject> {
  /** Resolves once the cache holds a complete list (after retries, if the first failed). */
  readonly synced: Promise<void>;
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  stop(): Promise<void>;
}

/** Starts watching; never throws on API failures, which are logged and retried. */
export function watchResource<T extends KubernetesObject>(
  options: ResourceWatchOptions<T>,
): ResourceWatch<T> {
  const informer = makeInformer<T>(
    options.kubeConfig,
    options.path,
    options.list,
    options.labelSelector,
  );
  const retryMinMs = options.retryMinMs ?? 500;
  const retryMaxMs = options.retryMaxMs ?? 30_000;
  let stopped = false;
  let failedSinceStart = false;
  let attempt = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let markSynced: () => void = () => {};
  const synced = new Promise<void>((resolve) => {
    markSynced = resolve;
  });

  informer.on('add', (object) => options.onChange(object, false));
  informer.on('update', (object) => options.onChange(object, false));
  informer.on('delete', (object) => options.onChange(object, true));
  const fail = (error: unknown): void => {
    // Stopping aborts the open watch, which the informer reports as an error too.
    if (stopped || restartTimer !== undefined) return;
    failedSinceStart = true;
    const delayMs = backoffDelayMs(attempt, retryMinMs, retryMaxMs);
    attempt += 1;
    logEvent('warn', 'kube_watch_failed', {
      watch: options.description,
      message: describeKubeError(error),
      retryInMs: delayMs,
    });
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      void run();
    }, delayMs);
  };
  informer.on('error', fail);

  const run = async (): Promise<void> => {
    if (stopped) return;
    failedSinceStart = false;
    try {
      await informer.start();
    } catch (error) {
      fail(error);
    }
    // A stop during the list lets the informer open its watch anyway: close it again.
    if (stopped) {
      await informer.stop();
      return;
    }
    // start() resolves once the list is in the cache and the watch is open, or after the
    // error handler above has already scheduled the next attempt.
    if (!failedSinceStart) {
      attempt = 0;
      markSynced();
    }
  };
  void run();

  return {
    synced,
    get: (name, namespace) => informer.get(name, namespace),
    list: (namespace) => informer.list(namespace),
    stop: async () => {
      stopped = true;
      if (restartTimer !== undefined) clearTimeout(restartTimer);
      await informer.stop();
    },
  };
}

/**
 * A short reason for a failed Kubernetes call: the HTTP status and the `Status` message
 * the API server sent, or the network error and its cause.
 */
export function describeKubeError(error: unknown): string {
  if (error instanceof ApiException) {
    return `HTTP ${error.code}: ${statusMessage(error.body) ?? 'no message'}`;
  }
  if (!(error instanceof Error)) return String(error);
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  if (typeof statusCode === 'number') return `HTTP ${statusCode}: ${error.message}`;
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message.split('\n')[0]}${cause}`;
}

function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body === '' ? undefined : body;
    }
  }
  if (parsed !== null && typeof parsed === 'object' && 'message' in parsed) {
    return String((parsed as { message: unknown }).message);
  }
  return undefined;
}
