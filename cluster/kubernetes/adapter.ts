import { AppsV1Api, CoreV1Api, DiscoveryV1Api, type KubernetesObject } from '@kubernetes/client-node';
import type { ClusterAdapter, ClusterEvent, RolloutOptions, RolloutResult, WorkloadRef } from '../adapter.js';
import { createChangeWaiters } from './change-waiters.js';
import { type ClusterState, createClusterState } from './cluster-state.js';
import {
  type Clock,
  checkAdapterOptions,
  DEFAULT_KUBERNETES_ADAPTER_OPTIONS,
  type KubernetesAdapterOptions,
  SYSTEM_CLOCK,
} from './config.js';
import { KubernetesUnavailableError } from './errors.js';
import type { DeploymentObject, EndpointSliceObject, PodObject } from './objects.js';
import { createResourceWatch, type ResourceWatch, type ResourceWatchOptions } from './resource-watch.js';
import { patchRestartedAt, restartOutcome } from './rollout-restart.js';

// The `kubernetes` cluster adapter: list+watch of Pods, EndpointSlices (discovery.k8s.io/v1) and
// Deployments in one namespace (namespaced RBAC: get/list/watch; patch deployments for restarts),
// turned into drainwatch's ClusterEvents (cluster-state.ts) and rollout restarts
// (rollout-restart.ts).

export interface KubernetesAdapterStats {
  /** Watches re-opened after a failure (dropped stream, failed list). */
  readonly watchReopens: number;
  /** (Re)connections of all watches, the first ones included. */
  readonly watchConnects: number;
}

export interface KubernetesAdapter extends ClusterAdapter {
  readonly kind: 'kubernetes';
  stats(): KubernetesAdapterStats;
}

type K8s<T> = T & KubernetesObject;

interface Watches {
  readonly deployments: ResourceWatch<K8s<DeploymentObject>>;
  readonly slices: ResourceWatch<K8s<EndpointSliceObject>>;
  readonly pods: ResourceWatch<K8s<PodObject>>;
  /** All three, in the order they start: deployments, slices, pods. */
  readonly all: readonly ResourceWatch<KubernetesObject>[];
}

/** The three list+watches of the namespace, their events routed to `state()` (made after them). */
function createWatches(
  options: KubernetesAdapterOptions,
  apps: AppsV1Api,
  state: () => ClusterState,
): Watches {
  const { kubeConfig, namespace } = options;
  const retry: ResourceWatchOptions = {
    retryMinMs: options.watchRetryMinMs ?? DEFAULT_KUBERNETES_ADAPTER_OPTIONS.watchRetryMinMs,
    retryMaxMs: options.watchRetryMaxMs ?? DEFAULT_KUBERNETES_ADAPTER_OPTIONS.watchRetryMaxMs,
  };
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
  const deployments = createResourceWatch<K8s<DeploymentObject>>(
    kubeConfig,
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    namespace,
    () => apps.listNamespacedDeployment({ namespace }) as never,
    { onChange: (type, d) => state().onDeployment(type, d) },
    retry,
  );
  const slices = createResourceWatch<K8s<EndpointSliceObject>>(
    kubeConfig,
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
    namespace,
    () => discovery.listNamespacedEndpointSlice({ namespace }) as never,
    { onChange: () => state().onSlices() },
    retry,
  );
  const pods = createResourceWatch<K8s<PodObject>>(
    kubeConfig,
    `/api/v1/namespaces/${namespace}/pods`,
    namespace,
    () => core.listNamespacedPod({ namespace }) as never,
    { onChange: (type, p) => state().onPod(type, p) },
    retry,
  );
  return { deployments, slices, pods, all: [deployments, slices, pods] as never };
}

/** Starts the watches in order; on a failure stops them all and throws KubernetesUnavailableError. */
async function startWatches(w: Watches, options: KubernetesAdapterOptions): Promise<void> {
  try {
    // Deployments first (pods are attributed to them), slices before pods (propagation).
    await w.deployments.start();
    await w.slices.start();
    await w.pods.start();
  } catch (err) {
    await Promise.all(w.all.map((x) => x.stop()));
    throw new KubernetesUnavailableError(
      `cannot list and watch in namespace ${options.namespace} at ${options.kubeConfig.getCurrentCluster()?.server}: ${(err as Error)?.message ?? err}`,
      { cause: err },
    );
  }
}

interface Listeners {
  /** Gives `e` to every listener; one that throws does not keep it from the others. */
  emit(e: ClusterEvent): void;
  /** Adds a listener; returns its removal. */
  add(listener: (e: ClusterEvent) => void): () => void;
  clear(): void;
}

function createListeners(): Listeners {
  const listeners = new Set<(e: ClusterEvent) => void>();
  return {
    emit(e) {
      for (const l of [...listeners]) {
        try {
          l(e);
        } catch {
          // A listener's failure is its own; the others still get the event.
        }
      }
    },
    add(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    clear: () => listeners.clear(),
  };
}

export function createKubernetesAdapter(options: KubernetesAdapterOptions): KubernetesAdapter {
  checkAdapterOptions(options);
  const { kubeConfig, namespace } = options;
  const clock: Clock = options.clock ?? SYSTEM_CLOCK;
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const listeners = createListeners();
  const waiters = createChangeWaiters();
  const watches = createWatches(options, apps, () => state);
  const state = createClusterState({
    namespace,
    clock,
    killedAtGraceToleranceMs:
      options.killedAtGraceToleranceMs ?? DEFAULT_KUBERNETES_ADAPTER_OPTIONS.killedAtGraceToleranceMs,
    deployments: watches.deployments,
    slices: watches.slices,
    pods: watches.pods,
    emit: listeners.emit,
    changed: waiters.changed,
  });
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  const adapter: KubernetesAdapter = {
    kind: 'kubernetes',
    start() {
      starting ??= startWatches(watches, options);
      return starting;
    },
    stop() {
      stopping ??= (async () => {
        await Promise.all(watches.all.map((w) => w.stop()));
        waiters.clear();
        listeners.clear();
      })();
      return stopping;
    },
    async pods(workload: WorkloadRef) {
      if (workload.namespace !== namespace) return [];
      return state.podsOfWorkload(workload.name).map(state.statusOf);
    },
    watch(listener) {
      return listeners.add(listener);
    },
    async rolloutRestart(workload: WorkloadRef, o: RolloutOptions): Promise<RolloutResult> {
      await adapter.start();
      const startedAt = clock.now();
      const oldPods = new Set(
        state
          .podsOfWorkload(workload.name)
          .filter((p) => !p.metadata?.deletionTimestamp)
          .map((p) => p.metadata?.name ?? ''),
      );
      const generation = await patchRestartedAt(apps, workload, startedAt);
      const gone = (n: string) => !watches.pods.get(n);
      const outcome = await waiters.waitFor(
        () => restartOutcome(watches.deployments.get(workload.name), generation, oldPods, gone),
        o.timeoutMs,
        o.signal,
      );
      return {
        rolloutId: o.rolloutId,
        workload,
        startedAt,
        finishedAt: clock.now(),
        outcome: outcome === 'timeout' ? 'failed' : outcome,
        podsReplaced: [...oldPods].filter(gone).length,
      };
    },
    stats: () => ({
      watchReopens: watches.all.reduce((n, w) => n + w.stats.reopened, 0),
      watchConnects: watches.all.reduce((n, w) => n + w.stats.connects, 0),
    }),
  };
  return adapter;
}
