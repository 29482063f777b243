// Every way a probe run can refuse to start, one class each with a stable `code`. The CLI maps
// `config-*` codes to exit 2 and anything carrying `exitCode: 3` to exit 3.

/** A scenario file that is missing, not YAML, or fails validation; `field` names the culprit. */
export class ScenarioError extends Error {
  readonly code = 'config-scenario';
  readonly exitCode = 2;
  readonly field: string;
  constructor(field: string, message: string) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'ScenarioError';
    this.field = field;
  }
}

/** A probe setting out of range or contradicting another one. */
export class ProbeConfigError extends Error {
  readonly code = 'config-probe';
  readonly exitCode = 2;
  readonly setting: string;
  /** What is wrong, without the setting's name. */
  readonly detail: string;
  constructor(setting: string, message: string) {
    super(`${setting}: ${message}`);
    this.name = 'ProbeConfigError';
    this.setting = setting;
    this.detail = message;
  }
}

/** The target did not accept a TCP connection when the run started. */
export class TargetUnreachableError extends Error {
  readonly code = 'target-unreachable';
  readonly exitCode = 3;
  readonly address: string;
  constructor(address: string, detail: string) {
    super(`target ${address} is unreachable: ${detail}`);
    this.name = 'TargetUnreachableError';
    this.address = address;
  }
}

/** start() called twice, or after stop(). */
export class ProbeStateError extends Error {
  readonly code = 'probe-state';
  constructor(message: string) {
    super(message);
    this.name = 'ProbeStateError';
  }
}

/** The scenario's gRPC proto cannot be read, or does not define its service and methods. */
export class GrpcProtoError extends Error {
  readonly code = 'config-grpc-proto';
  readonly exitCode = 2;
  constructor(message: string) {
    super(`scenario.grpc: ${message}`);
    this.name = 'GrpcProtoError';
  }
}
