// Every way the kubernetes adapter fails, one class each with a stable `code`.

export type KubernetesAdapterErrorCode =
  | 'kube-unavailable'
  | 'kube-workload-not-found'
  | 'kube-rollout-patch-failed'
  | 'config-kubernetes';

export abstract class KubernetesAdapterError extends Error {
  abstract readonly code: KubernetesAdapterErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The API server could not be reached, or refused the initial list of a watched resource. */
export class KubernetesUnavailableError extends KubernetesAdapterError {
  readonly code = 'kube-unavailable' as const;
  readonly exitCode = 3;
}

/** The Deployment to restart does not exist in the namespace. */
export class WorkloadNotFoundError extends KubernetesAdapterError {
  readonly code = 'kube-workload-not-found' as const;
  readonly exitCode = 2;
}

/** The restart patch was refused (RBAC: `patch deployments` is needed for verify). */
export class RolloutPatchError extends KubernetesAdapterError {
  readonly code = 'kube-rollout-patch-failed' as const;
  readonly exitCode = 3;
}

/** A bad adapter option (names the setting). */
export class KubernetesConfigError extends KubernetesAdapterError {
  readonly code = 'config-kubernetes' as const;
  readonly exitCode = 2;
}
