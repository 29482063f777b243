import { constants as osConstants } from 'node:os';
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type {
  ClusterAdapter,
  ClusterEvent,
  PodRef,
  PodStatus,
  RolloutOptions,
  RolloutResult,
  WorkloadRef,
} from '../adapter.js';
import {
  type Clock,
  checkAdapterOptions,
  DEFAULT_KUBERNETES_ADAPTER_OPTIONS,
  type KubernetesAdapterOptions,
  SYSTEM_CLOCK,
} from './config.js';
import { KubernetesUnavailableError, RolloutPatchError, WorkloadNotFoundError } from './errors.js';
import {
  type ContainerStatus,
  type DeploymentObject,
  type EndpointSliceObject,
  endpointStateOf,
  isPodReady,
  type PodObject,
  selects,
  toDate,
} from './objects.js';
import { createResourceWatch, type ResourceWatch } from './resource-watch.js';

// The `kubernetes` cluster adapter: list+watch of Pods, EndpointSlices (discovery.k8s.io/v1) and
// Deployments in one namespace (namespaced RBAC: get/list/watch; patch deployments for restarts),
// turned into drainwatch's ClusterEvents. Endpoint propagation is measured from the moment the
// adapter sees a pod's deletionTimestamp (the timestamp itself is the grace deadline, not the
// deletion request) to the moment every EndpointSlice listing the pod stops routing to it.

export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

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

interface PodState {
  ready: boolean;
  terminatingSince?: Date;
  propagationPending: boolean;
  endpointsTerminating: boolean;
  /** Container exits already reported (`name@finishedAt`). */
  readonly exits: Set<string>;
}

type K8s<T> = T & KubernetesObject;

export function createKubernetesAdapter(options: KubernetesAdapterOptions): KubernetesAdapter {
  checkAdapterOptions(options);
  const { kubeConfig, namespace } = options;
  const clock: Clock = options.clock ?? SYSTEM_CLOCK;
  const tolerance =
    options.killedAtGraceToleranceMs ?? DEFAULT_KUBERNETES_ADAPTER_OPTIONS.killedAtGraceToleranceMs;
  const retry = {
    retryMinMs: options.watchRetryMinMs ?? DEFAULT_KUBERNETES_ADAPTER_OPTIONS.watchRetryMinMs,
    retryMaxMs: options.watchRetryMaxMs ?? DEFAULT_KUBERNETES_ADAPTER_OPTIONS.watchRetryMaxMs,
  };
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
  const apps = kubeConfig.makeApiClient(AppsV1Api);

  const listeners = new Set<(e: ClusterEvent) => void>();
  const changeWaiters = new Set<() => void>();
  const podStates = new Map<string, PodState>();
  /** Pods that some EndpointSlice has listed: only those have a propagation to measure. */
  const listedPods = new Set<string>();
  const progressSeen = new Map<string, string>();

  const emit = (e: ClusterEvent): void => {
    for (const l of [...listeners]) {
      try {
        l(e);
      } catch {
        // A listener's failure is its own; the others still get the event.
      }
    }
  };
  const changed = (): void => {
    for (const w of [...changeWaiters]) w();
  };

  const deployments = createResourceWatch<K8s<DeploymentObject>>(
    kubeConfig,
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    namespace,
    () => apps.listNamespacedDeployment({ namespace }) as never,
    { onChange: (type, d) => onDeployment(type, d) },
    retry,
  );
  const slices = createResourceWatch<K8s<EndpointSliceObject>>(
    kubeConfig,
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
    namespace,
    () => discovery.listNamespacedEndpointSlice({ namespace }) as never,
    { onChange: () => onSlices() },
    retry,
  );
  const pods = createResourceWatch<K8s<PodObject>>(
    kubeConfig,
    `/api/v1/namespaces/${namespace}/pods`,
    namespace,
    () => core.listNamespacedPod({ namespace }) as never,
    { onChange: (type, p) => onPod(type, p) },
    retry,
  );
  const watches: ResourceWatch<KubernetesObject>[] = [deployments, slices, pods] as never;

  function workloadOf(p: PodObject): string {
    const owner = deployments.list().find((d) => selects(d, p));
    if (owner?.metadata?.name) return owner.metadata.name;
    const rs = p.metadata?.ownerReferences?.find((o) => o.kind === 'ReplicaSet')?.name;
    if (rs) return rs.replace(/-[a-z0-9]+$/, '');
    return (
      p.metadata?.labels?.['app.kubernetes.io/name'] ?? p.metadata?.labels?.['app'] ?? p.metadata?.name ?? ''
    );
  }

  function refOf(p: PodObject): PodRef {
    return { namespace, workload: workloadOf(p), name: p.metadata?.name ?? '' };
  }

  function onPod(type: 'add' | 'update' | 'delete', p: PodObject): void {
    const name = p.metadata?.name;
    if (!name) return;
    const at = clock.now();
    let state = podStates.get(name);
    if (!state) {
      state = { ready: false, propagationPending: false, endpointsTerminating: false, exits: new Set() };
      podStates.set(name, state);
      if (type !== 'delete') emit({ type: 'pod-added', pod: refOf(p), at });
    }
    const ready = isPodReady(p) && !p.metadata?.deletionTimestamp;
    if (ready && !state.ready) emit({ type: 'pod-ready', pod: refOf(p), at });
    state.ready = ready;
    if (p.metadata?.deletionTimestamp && !state.terminatingSince) {
      state.terminatingSince = at;
      state.propagationPending = true;
      emit({ type: 'pod-terminating', pod: refOf(p), at });
    }
    reportExits(p, state, at);
    if (state.propagationPending) checkPropagation(name, state, at);
    if (type === 'delete') {
      emit({ type: 'pod-deleted', pod: refOf(p), at });
      podStates.delete(name);
      listedPods.delete(name);
    }
    changed();
  }

  function reportExits(p: PodObject, state: PodState, at: Date): void {
    const statuses: ContainerStatus[] = [
      ...(p.status?.initContainerStatuses ?? []),
      ...(p.status?.containerStatuses ?? []),
    ];
    const deadline = toDate(p.metadata?.deletionTimestamp);
    for (const c of statuses) {
      const t = c.state?.terminated;
      if (!t) continue;
      const finishedAt = toDate(t.finishedAt);
      const key = `${c.name}@${finishedAt?.getTime() ?? ''}`;
      if (state.exits.has(key)) continue;
      state.exits.add(key);
      const exitCode = t.exitCode ?? null;
      const signalNumber = t.signal ?? (exitCode !== null && exitCode > 128 ? exitCode - 128 : undefined);
      const signal =
        signalNumber === undefined
          ? null
          : (Object.entries(osConstants.signals).find(([, n]) => n === signalNumber)?.[0] ??
            `signal ${signalNumber}`);
      // SIGKILL (137) within the wire's one-second precision of the grace deadline: the kubelet's kill.
      const killedAtGrace =
        exitCode === 137 &&
        deadline !== undefined &&
        finishedAt !== undefined &&
        finishedAt.getTime() >= deadline.getTime() - tolerance;
      emit({
        type: 'container-exited',
        pod: refOf(p),
        container: c.name,
        exitCode,
        signal,
        killedAtGrace,
        at,
      });
    }
  }

  function onSlices(): void {
    const all = slices.list();
    for (const s of all)
      for (const e of s.endpoints ?? []) if (e.targetRef?.name) listedPods.add(e.targetRef.name);
    const at = clock.now();
    for (const [name, state] of podStates) if (state.propagationPending) checkPropagation(name, state, at);
    changed();
  }

  function checkPropagation(name: string, state: PodState, at: Date): void {
    const where = endpointStateOf(name, slices.list());
    if (where === 'routed') return;
    state.propagationPending = false;
    state.endpointsTerminating = true;
    if (!listedPods.has(name) || !state.terminatingSince) return;
    const pod = pods.get(name);
    emit({
      type: 'endpoints-terminating',
      pod: pod ? refOf(pod) : { namespace, workload: '', name },
      at,
      propagationMs: Math.max(0, at.getTime() - state.terminatingSince.getTime()),
    });
  }

  function onDeployment(type: 'add' | 'update' | 'delete', d: DeploymentObject): void {
    const name = d.metadata?.name ?? '';
    if (type === 'delete') {
      progressSeen.delete(name);
    } else {
      const updated = d.status?.updatedReplicas ?? 0;
      const ready = d.status?.readyReplicas ?? 0;
      const desired = d.spec?.replicas ?? 1;
      const key = `${updated}/${ready}/${desired}`;
      if (progressSeen.get(name) !== key) {
        progressSeen.set(name, key);
        emit({
          type: 'rollout-progress',
          workload: { namespace, name },
          updated,
          ready,
          desired,
          at: clock.now(),
        });
      }
    }
    changed();
  }

  function podsOfWorkload(name: string): PodObject[] {
    const d = deployments.get(name);
    return pods.list().filter((p) => (d ? selects(d, p) : workloadOf(p) === name));
  }

  function statusOf(p: PodObject): PodStatus {
    const name = p.metadata?.name ?? '';
    const state = podStates.get(name);
    const terminating = !!p.metadata?.deletionTimestamp;
    const phase = terminating
      ? 'terminating'
      : p.status?.phase === 'Running'
        ? 'running'
        : p.status?.phase === 'Pending'
          ? 'pending'
          : 'gone';
    return {
      ...refOf(p),
      ...(p.status?.podIP ? { ip: p.status.podIP } : {}),
      ready: isPodReady(p) && !terminating,
      ...(state?.terminatingSince ? { terminatingSince: state.terminatingSince } : {}),
      endpointsTerminating:
        terminating && (state?.endpointsTerminating ?? endpointStateOf(name, slices.list()) !== 'routed'),
      phase,
    };
  }

  /** Resolves with the first non-undefined value of `check`, re-evaluated after each watch event. */
  function waitFor<T>(
    check: () => T | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<T | 'timeout' | 'aborted'> {
    return new Promise((resolve) => {
      const finish = (v: T | 'timeout' | 'aborted') => {
        changeWaiters.delete(onChange);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const onChange = () => {
        const v = check();
        if (v !== undefined) finish(v);
      };
      const onAbort = () => finish('aborted');
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      timer.unref();
      if (signal?.aborted) return finish('aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
      changeWaiters.add(onChange);
      onChange();
    });
  }

  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  const adapter: KubernetesAdapter = {
    kind: 'kubernetes',
    start() {
      starting ??= (async () => {
        try {
          // Deployments first (pods are attributed to them), slices before pods (propagation).
          await deployments.start();
          await slices.start();
          await pods.start();
        } catch (err) {
          await Promise.all(watches.map((w) => w.stop()));
          throw new KubernetesUnavailableError(
            `cannot list and watch in namespace ${namespace} at ${kubeConfig.getCurrentCluster()?.server}: ${(err as Error)?.message ?? err}`,
            { cause: err },
          );
        }
      })();
      return starting;
    },
    stop() {
      stopping ??= (async () => {
        await Promise.all(watches.map((w) => w.stop()));
        for (const w of [...changeWaiters]) changeWaiters.delete(w);
        listeners.clear();
      })();
      return stopping;
    },
    async pods(workload: WorkloadRef) {
      if (workload.namespace !== namespace) return [];
      return podsOfWorkload(workload.name).map(statusOf);
    },
    watch(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    async rolloutRestart(workload: WorkloadRef, o: RolloutOptions): Promise<RolloutResult> {
      await adapter.start();
      const startedAt = clock.now();
      const oldPods = new Set(
        podsOfWorkload(workload.name)
          .filter((p) => !p.metadata?.deletionTimestamp)
          .map((p) => p.metadata?.name ?? ''),
      );
      let generation: number;
      try {
        const patched = await apps.patchNamespacedDeployment(
          {
            name: workload.name,
            namespace: workload.namespace,
            body: {
              spec: {
                template: {
                  metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: startedAt.toISOString() } },
                },
              },
            },
          },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
        );
        generation = patched.metadata?.generation ?? 0;
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code === 404)
          throw new WorkloadNotFoundError(`Deployment ${workload.namespace}/${workload.name} not found`);
        throw new RolloutPatchError(
          `cannot patch Deployment ${workload.namespace}/${workload.name}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      const outcome = await waitFor<'complete' | 'failed'>(
        () => {
          const d = deployments.get(workload.name);
          const s = d?.status;
          if (!d || !s) return undefined;
          if (
            (s.conditions ?? []).some(
              (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
            )
          )
            return 'failed';
          const desired = d.spec?.replicas ?? 1;
          // kubectl rollout status's test, plus: every old pod is gone (its drain is over).
          const done =
            (s.observedGeneration ?? 0) >= generation &&
            (s.updatedReplicas ?? 0) === desired &&
            (s.replicas ?? 0) === desired &&
            (s.availableReplicas ?? 0) === desired &&
            [...oldPods].every((n) => !pods.get(n));
          return done ? 'complete' : undefined;
        },
        o.timeoutMs,
        o.signal,
      );
      const replaced = [...oldPods].filter((n) => !pods.get(n)).length;
      return {
        rolloutId: o.rolloutId,
        workload,
        startedAt,
        finishedAt: clock.now(),
        outcome: outcome === 'timeout' ? 'failed' : outcome,
        podsReplaced: replaced,
      };
    },
    stats: () => ({
      watchReopens: watches.reduce((n, w) => n + w.stats.reopened, 0),
      watchConnects: watches.reduce((n, w) => n + w.stats.connects, 0),
    }),
  };
  return adapter;
}
