import type { ClusterEvent, PodRef, PodStatus } from '../adapter.js';
import type { Clock } from './config.js';
import {
  type ContainerStatus,
  containerExitOf,
  type DeploymentObject,
  type EndpointSliceObject,
  endpointStateOf,
  isPodReady,
  type PodObject,
  selects,
  toDate,
} from './objects.js';

// What the adapter knows of its namespace from the watches, and the ClusterEvents it emits as
// that changes. Endpoint propagation is measured from the moment the adapter sees a pod's
// deletionTimestamp (the timestamp itself is the grace deadline, not the deletion request) to the
// moment every EndpointSlice listing the pod stops routing to it.

/** The watched objects of one kind, as the adapter's list+watch holds them. */
export interface WatchedObjects<T> {
  list(): readonly T[];
  get(name: string): T | undefined;
}

export interface ClusterStateOptions {
  readonly namespace: string;
  readonly clock: Clock;
  /** How close (ms) to the grace deadline an exit 137 counts as the kubelet's kill. */
  readonly killedAtGraceToleranceMs: number;
  readonly deployments: WatchedObjects<DeploymentObject>;
  readonly slices: WatchedObjects<EndpointSliceObject>;
  readonly pods: WatchedObjects<PodObject>;
  /** Delivers one event to the adapter's listeners. */
  readonly emit: (e: ClusterEvent) => void;
  /** Called after every watch event was applied (the adapter's waits check again). */
  readonly changed: () => void;
}

export interface ClusterState {
  onPod(type: 'add' | 'update' | 'delete', p: PodObject): void;
  onSlices(): void;
  onDeployment(type: 'add' | 'update' | 'delete', d: DeploymentObject): void;
  /** The pods of a Deployment (by its selector), or of a workload name when no Deployment has it. */
  podsOfWorkload(name: string): PodObject[];
  statusOf(p: PodObject): PodStatus;
}

interface PodState {
  ready: boolean;
  terminatingSince?: Date;
  propagationPending: boolean;
  endpointsTerminating: boolean;
  /** Container exits already reported (`name@finishedAt`). */
  readonly exits: Set<string>;
}

interface State extends ClusterStateOptions {
  readonly podStates: Map<string, PodState>;
  /** Pods that some EndpointSlice has listed: only those have a propagation to measure. */
  readonly listedPods: Set<string>;
  /** Each Deployment's last reported `updated/ready/desired`. */
  readonly progressSeen: Map<string, string>;
}

export function createClusterState(options: ClusterStateOptions): ClusterState {
  const s: State = { ...options, podStates: new Map(), listedPods: new Set(), progressSeen: new Map() };
  return {
    onPod: (type, p) => onPod(s, type, p),
    onSlices: () => onSlices(s),
    onDeployment: (type, d) => onDeployment(s, type, d),
    podsOfWorkload: (name) => podsOfWorkload(s, name),
    statusOf: (p) => statusOf(s, p),
  };
}

function workloadOf(s: State, p: PodObject): string {
  const owner = s.deployments.list().find((d) => selects(d, p));
  if (owner?.metadata?.name) return owner.metadata.name;
  const rs = p.metadata?.ownerReferences?.find((o) => o.kind === 'ReplicaSet')?.name;
  if (rs) return rs.replace(/-[a-z0-9]+$/, '');
  return (
    p.metadata?.labels?.['app.kubernetes.io/name'] ?? p.metadata?.labels?.['app'] ?? p.metadata?.name ?? ''
  );
}

function refOf(s: State, p: PodObject): PodRef {
  return { namespace: s.namespace, workload: workloadOf(s, p), name: p.metadata?.name ?? '' };
}

function onPod(s: State, type: 'add' | 'update' | 'delete', p: PodObject): void {
  const name = p.metadata?.name;
  if (!name) return;
  const at = s.clock.now();
  let state = s.podStates.get(name);
  if (!state) {
    state = { ready: false, propagationPending: false, endpointsTerminating: false, exits: new Set() };
    s.podStates.set(name, state);
    if (type !== 'delete') s.emit({ type: 'pod-added', pod: refOf(s, p), at });
  }
  const ready = isPodReady(p) && !p.metadata?.deletionTimestamp;
  if (ready && !state.ready) s.emit({ type: 'pod-ready', pod: refOf(s, p), at });
  state.ready = ready;
  if (p.metadata?.deletionTimestamp && !state.terminatingSince) {
    state.terminatingSince = at;
    state.propagationPending = true;
    s.emit({ type: 'pod-terminating', pod: refOf(s, p), at });
  }
  reportExits(s, p, state, at);
  if (state.propagationPending) checkPropagation(s, name, state, at);
  if (type === 'delete') {
    s.emit({ type: 'pod-deleted', pod: refOf(s, p), at });
    s.podStates.delete(name);
    s.listedPods.delete(name);
  }
  s.changed();
}

function reportExits(s: State, p: PodObject, state: PodState, at: Date): void {
  const statuses: ContainerStatus[] = [
    ...(p.status?.initContainerStatuses ?? []),
    ...(p.status?.containerStatuses ?? []),
  ];
  const deadline = toDate(p.metadata?.deletionTimestamp);
  for (const c of statuses) {
    const t = c.state?.terminated;
    if (!t) continue;
    const key = `${c.name}@${toDate(t.finishedAt)?.getTime() ?? ''}`;
    if (state.exits.has(key)) continue;
    state.exits.add(key);
    const { exitCode, signal, killedAtGrace } = containerExitOf(t, deadline, s.killedAtGraceToleranceMs);
    s.emit({
      type: 'container-exited',
      pod: refOf(s, p),
      container: c.name,
      exitCode,
      signal,
      killedAtGrace,
      at,
    });
  }
}

function onSlices(s: State): void {
  const all = s.slices.list();
  for (const slice of all)
    for (const e of slice.endpoints ?? []) if (e.targetRef?.name) s.listedPods.add(e.targetRef.name);
  const at = s.clock.now();
  for (const [name, state] of s.podStates) if (state.propagationPending) checkPropagation(s, name, state, at);
  s.changed();
}

function checkPropagation(s: State, name: string, state: PodState, at: Date): void {
  const where = endpointStateOf(name, s.slices.list());
  if (where === 'routed') return;
  state.propagationPending = false;
  state.endpointsTerminating = true;
  if (!s.listedPods.has(name) || !state.terminatingSince) return;
  const pod = s.pods.get(name);
  s.emit({
    type: 'endpoints-terminating',
    pod: pod ? refOf(s, pod) : { namespace: s.namespace, workload: '', name },
    at,
    propagationMs: Math.max(0, at.getTime() - state.terminatingSince.getTime()),
  });
}

function onDeployment(s: State, type: 'add' | 'update' | 'delete', d: DeploymentObject): void {
  const name = d.metadata?.name ?? '';
  if (type === 'delete') {
    s.progressSeen.delete(name);
  } else {
    const updated = d.status?.updatedReplicas ?? 0;
    const ready = d.status?.readyReplicas ?? 0;
    const desired = d.spec?.replicas ?? 1;
    const key = `${updated}/${ready}/${desired}`;
    if (s.progressSeen.get(name) !== key) {
      s.progressSeen.set(name, key);
      s.emit({
        type: 'rollout-progress',
        workload: { namespace: s.namespace, name },
        updated,
        ready,
        desired,
        at: s.clock.now(),
      });
    }
  }
  s.changed();
}

function podsOfWorkload(s: State, name: string): PodObject[] {
  const d = s.deployments.get(name);
  return s.pods.list().filter((p) => (d ? selects(d, p) : workloadOf(s, p) === name));
}

function statusOf(s: State, p: PodObject): PodStatus {
  const name = p.metadata?.name ?? '';
  const state = s.podStates.get(name);
  const terminating = !!p.metadata?.deletionTimestamp;
  const phase = terminating
    ? 'terminating'
    : p.status?.phase === 'Running'
      ? 'running'
      : p.status?.phase === 'Pending'
        ? 'pending'
        : 'gone';
  return {
    ...refOf(s, p),
    ...(p.status?.podIP ? { ip: p.status.podIP } : {}),
    ready: isPodReady(p) && !terminating,
    ...(state?.terminatingSince ? { terminatingSince: state.terminatingSince } : {}),
    endpointsTerminating:
      terminating && (state?.endpointsTerminating ?? endpointStateOf(name, s.slices.list()) !== 'routed'),
    phase,
  };
}
