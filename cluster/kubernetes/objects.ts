import { constants as osConstants } from 'node:os';

// The fields of Pods, EndpointSlices and Deployments the adapter reads. Lists come through
// client-node's typed API (timestamps as Date), watch events as raw JSON (timestamps as strings):
// both shapes are accepted.

type Time = Date | string | undefined;

export interface Meta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: Time;
  ownerReferences?: { kind?: string; name?: string }[];
}

export interface ContainerStatus {
  name: string;
  state?: { terminated?: { exitCode?: number; signal?: number; finishedAt?: Time; reason?: string } };
}

export interface PodObject {
  metadata?: Meta;
  spec?: { terminationGracePeriodSeconds?: number };
  status?: {
    podIP?: string;
    phase?: string;
    conditions?: { type?: string; status?: string }[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

export interface EndpointSliceObject {
  metadata?: Meta;
  endpoints?: {
    addresses?: string[];
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
    targetRef?: { kind?: string; name?: string };
  }[];
}

export interface DeploymentObject {
  metadata?: Meta;
  spec?: { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: { type?: string; status?: string; reason?: string }[];
  };
}

export function toDate(t: Time): Date | undefined {
  if (t === undefined || t === null) return undefined;
  const d = t instanceof Date ? t : new Date(t);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function isPodReady(p: PodObject): boolean {
  return (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Whether a Deployment's selector (matchLabels) picks a pod. */
export function selects(d: DeploymentObject, p: PodObject): boolean {
  const sel = d.spec?.selector?.matchLabels;
  if (!sel || Object.keys(sel).length === 0) return false;
  const labels = p.metadata?.labels ?? {};
  return Object.entries(sel).every(([k, v]) => labels[k] === v);
}

/**
 * Where a pod stands in the EndpointSlices: `routed` while any slice sends it new traffic (a nil
 * `ready` means true), `terminating` when every slice listing it has it not-ready or terminating,
 * `absent` when no slice lists it.
 */
export function endpointStateOf(
  podName: string,
  slices: readonly EndpointSliceObject[],
): 'routed' | 'terminating' | 'absent' {
  let listed = false;
  for (const s of slices) {
    for (const e of s.endpoints ?? []) {
      if (e.targetRef?.kind !== undefined && e.targetRef.kind !== 'Pod') continue;
      if (e.targetRef?.name !== podName) continue;
      listed = true;
      if (e.conditions?.ready !== false && e.conditions?.terminating !== true) return 'routed';
    }
  }
  return listed ? 'terminating' : 'absent';
}

/** How a container's run ended, as a `container-exited` event reports it. */
export interface ContainerExit {
  readonly exitCode: number | null;
  /** The signal's name (`SIGKILL`), `signal N` for one Node does not name, null when none. */
  readonly signal: string | null;
  readonly killedAtGrace: boolean;
}

/**
 * A terminated container's exit. `deadline` is the pod's deletionTimestamp (the grace deadline);
 * an exit 137 (SIGKILL) finished within `toleranceMs` (ms) of it is the kubelet's kill at grace.
 */
export function containerExitOf(
  t: NonNullable<NonNullable<ContainerStatus['state']>['terminated']>,
  deadline: Date | undefined,
  toleranceMs: number,
): ContainerExit {
  const finishedAt = toDate(t.finishedAt);
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
    finishedAt.getTime() >= deadline.getTime() - toleranceMs;
  return { exitCode, signal, killedAtGrace };
}
