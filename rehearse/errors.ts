// Failure modes of a rehearsal, each with a stable code.

/** A bad option of `rehearse` (exit 2), naming the setting. */
export class RehearseConfigError extends Error {
  readonly code = 'config-rehearse';
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'RehearseConfigError';
  }
}

/** nats-server or redis-server could not be started or reached (exit 3). */
export class DependencyUnavailableError extends Error {
  readonly code = 'dependency-unavailable';
  readonly exitCode = 3;
  constructor(what: string, detail: string) {
    super(`${what}: ${detail}`);
    this.name = 'DependencyUnavailableError';
  }
}

/** A rollout of the rehearsal did not complete (a pod never became ready, or the timeout passed). */
export class RolloutFailedError extends Error {
  readonly code = 'rollout-failed';
  readonly exitCode = 3;
  constructor(label: string, outcome: string) {
    super(`the ${label} rollout ended ${outcome}`);
    this.name = 'RolloutFailedError';
  }
}
