// Failure modes of the local cluster adapter, each with a stable code.

/** A bad setting of the local cluster (exit 2 from the CLI), naming it. */
export class LocalClusterConfigError extends Error {
  readonly code = 'config-local-cluster';
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'LocalClusterConfigError';
  }
}

/** A pod's app exited, or never answered its readiness check, before it became ready. */
export class PodStartError extends Error {
  readonly code = 'pod-start-failed';
  constructor(pod: string, detail: string) {
    super(`pod ${pod} did not become ready: ${detail}`);
    this.name = 'PodStartError';
  }
}

/** A sidecar process could not be started or did not report its ports. */
export class SidecarStartError extends Error {
  readonly code = 'sidecar-start-failed';
  constructor(pod: string, detail: string) {
    super(`sidecar of pod ${pod} did not start: ${detail}`);
    this.name = 'SidecarStartError';
  }
}

/** The workload asked for is not the one this local cluster runs. */
export class UnknownWorkloadError extends Error {
  readonly code = 'unknown-workload';
  constructor(namespace: string, name: string) {
    super(`no local workload ${namespace}/${name}`);
    this.name = 'UnknownWorkloadError';
  }
}

/** The entry point's balancer process (nginx, HAProxy) did not start, or refused its config. */
export class EntryStartError extends Error {
  readonly code = 'entry-start-failed';
  constructor(what: string, detail: string) {
    super(`${what} did not start: ${detail}`);
    this.name = 'EntryStartError';
  }
}

/** The entry point's balancer did not apply an endpoint change (reload failed, runtime API refused). */
export class EntryApplyError extends Error {
  readonly code = 'entry-apply-failed';
  constructor(what: string, detail: string) {
    super(`${what} did not apply an endpoint change: ${detail}`);
    this.name = 'EntryApplyError';
  }
}
