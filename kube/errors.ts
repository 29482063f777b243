// Every way inject and lint fail, one class each with a stable `code`. A bad manifest or option
// is the caller's to fix (exit 2).

export type KubeErrorCode =
  | 'config-kube'
  | 'usage-manifest-parse'
  | 'usage-manifest-invalid'
  | 'usage-manifest-read'
  | 'usage-agent-port-conflict';

export abstract class KubeError extends Error {
  abstract readonly code: KubeErrorCode;
  readonly exitCode = 2 as const;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An inject/lint option out of range (names the setting). */
export class KubeConfigError extends KubeError {
  readonly code = 'config-kube' as const;
}

/** The input is not YAML, or not a sequence of Kubernetes objects. */
export class ManifestParseError extends KubeError {
  readonly code = 'usage-manifest-parse' as const;
  readonly source: string;
  readonly line: number;
  constructor(source: string, line: number, message: string) {
    super(`${source}:${line}: ${message}`);
    this.source = source;
    this.line = line;
  }
}

/** An object (in the input or produced by inject) that the Kubernetes schema rejects. */
export class ManifestInvalidError extends KubeError {
  readonly code = 'usage-manifest-invalid' as const;
  readonly object: string;
  constructor(object: string, message: string) {
    super(`${object}: ${message}`);
    this.object = object;
  }
}

/** A manifest file that cannot be read. */
export class ManifestReadError extends KubeError {
  readonly code = 'usage-manifest-read' as const;
}

/** A pod whose containers already use a port the agent would listen on (inject refuses it). */
export class AgentPortConflictError extends KubeError {
  readonly code = 'usage-agent-port-conflict' as const;
}
