// The seam between drainwatch and whatever runs the pods. `local` (rehearsals: pods are local
// processes) and `kubernetes` (@kubernetes/client-node) implement the same interface, so `rehearse`
// and `verify` share the code that follows a rollout and feeds the collector: `witness/`.

export interface WorkloadRef {
  readonly namespace: string;
  /** The Deployment (or local workload) name. */
  readonly name: string;
}

export interface PodRef {
  readonly namespace: string;
  readonly workload: string;
  readonly name: string;
}

export interface PodStatus extends PodRef {
  readonly ip?: string;
  readonly ready: boolean;
  /** Set once the pod is being deleted (Kubernetes `deletionTimestamp`). */
  readonly terminatingSince?: Date;
  /** Whether every endpoint list that routes to it has stopped routing new traffic to it. */
  readonly endpointsTerminating: boolean;
  readonly phase: 'pending' | 'running' | 'terminating' | 'gone';
}

export type ClusterEvent =
  | { readonly type: 'pod-added'; readonly pod: PodRef; readonly at: Date }
  | { readonly type: 'pod-ready'; readonly pod: PodRef; readonly at: Date }
  | { readonly type: 'pod-terminating'; readonly pod: PodRef; readonly at: Date }
  | {
      /** Every endpoint list of the pod's Services marks it terminating (or no longer lists it). */
      readonly type: 'endpoints-terminating';
      readonly pod: PodRef;
      readonly at: Date;
      /** From pod-terminating to this moment. */
      readonly propagationMs: number;
    }
  | {
      readonly type: 'container-exited';
      readonly pod: PodRef;
      readonly container: string;
      readonly exitCode: number | null;
      readonly signal: string | null;
      /** SIGKILLed at terminationGracePeriodSeconds (exit code 137 at the grace period). */
      readonly killedAtGrace: boolean;
      readonly at: Date;
    }
  | { readonly type: 'pod-deleted'; readonly pod: PodRef; readonly at: Date }
  | {
      readonly type: 'rollout-progress';
      readonly workload: WorkloadRef;
      readonly updated: number;
      readonly ready: number;
      readonly desired: number;
      readonly at: Date;
    };

export interface RolloutResult {
  readonly rolloutId: string;
  readonly workload: WorkloadRef;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly outcome: 'complete' | 'failed' | 'aborted';
  readonly podsReplaced: number;
}

export interface RolloutOptions {
  readonly rolloutId: string;
  /** Gives up (outcome 'failed') after this long. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface ClusterAdapter {
  readonly kind: 'local' | 'kubernetes';
  start(): Promise<void>;
  /** Repeated calls return the same promise. */
  stop(): Promise<void>;
  /** Current pods of a workload. */
  pods(workload: WorkloadRef): Promise<readonly PodStatus[]>;
  /** Subscribes to cluster events; returns the unsubscribe function. */
  watch(listener: (event: ClusterEvent) => void): () => void;
  /** Triggers a rolling restart and follows it to completion (or failure, timeout, abort). */
  rolloutRestart(workload: WorkloadRef, options: RolloutOptions): Promise<RolloutResult>;
}
