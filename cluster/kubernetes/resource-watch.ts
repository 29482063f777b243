import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';
import { delay } from '../../lib/wait.js';

// One list+watch of a namespaced resource on client-node's ListWatch, made resilient. ListWatch
// already relists after "410 Gone" (HTTP 410 or an ERROR event with code 410) and resumes from the
// last resourceVersion when the server ends a stream; but when the stream breaks (a reset, an
// aborted response) or a list fails, it only reports the error and stops. This re-opens it with
// exponential back-off, resuming from the last resourceVersion it saw.

/** Asks for BOOKMARK events, so a resumed watch starts from a recent resourceVersion. */
class BookmarkWatch extends Watch {
  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true }, callback, done);
  }
}

export interface ResourceWatchHandlers<T> {
  readonly onChange: (type: 'add' | 'update' | 'delete', object: T) => void;
  /** Every failure that caused a re-open (for logs and the adapter's stats). */
  readonly onError?: (err: unknown) => void;
}

export interface ResourceWatchOptions {
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
}

export interface ResourceWatch<T> {
  /** Lists and opens the watch; rejects when the first list fails. */
  start(): Promise<void>;
  stop(): Promise<void>;
  list(): readonly T[];
  get(name: string): T | undefined;
  readonly stats: { readonly reopened: number; readonly connects: number };
}

export function createResourceWatch<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  namespace: string,
  listFn: () => Promise<KubernetesListObject<T>>,
  handlers: ResourceWatchHandlers<T>,
  options: ResourceWatchOptions,
): ResourceWatch<T> {
  const informer = new ListWatch<T>(path, new BookmarkWatch(kubeConfig), listFn, false);
  let stopped = false;
  let backoff = options.retryMinMs;
  let firstError: unknown;
  let starting = true;
  const stats = { reopened: 0, connects: 0 };
  const abort = new AbortController();

  informer.on('add', (o) => {
    backoff = options.retryMinMs;
    handlers.onChange('add', o);
  });
  informer.on('update', (o) => {
    backoff = options.retryMinMs;
    handlers.onChange('update', o);
  });
  informer.on('delete', (o) => handlers.onChange('delete', o));
  informer.on('connect', () => {
    stats.connects++;
  });
  informer.on('error', (err) => {
    if (stopped) return;
    if (starting) {
      firstError ??= err ?? new Error('watch failed');
      return;
    }
    handlers.onError?.(err);
    const wait = backoff;
    backoff = Math.min(backoff * 2, options.retryMaxMs);
    delay(wait, abort.signal)
      .then(() => {
        if (stopped) return;
        stats.reopened++;
        return informer.start();
      })
      .catch(() => undefined);
  });

  return {
    async start() {
      stopped = false;
      starting = true;
      await informer.start();
      starting = false;
      if (firstError !== undefined) {
        const err = firstError;
        firstError = undefined;
        stopped = true;
        await informer.stop();
        throw err;
      }
    },
    async stop() {
      stopped = true;
      abort.abort();
      await informer.stop();
    },
    list: () => informer.list(namespace),
    get: (name) => informer.get(name, namespace),
    stats,
  };
}
