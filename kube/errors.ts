// Every way inject, lint and verify fail, one class each with a stable `code`. A bad manifest or
// option is the caller's to fix (exit 2); a service that does not serve is a runtime failure (3).

export type KubeErrorCode =
  | 'config-kube'
  | 'usage-manifest-parse'
  | 'usage-manifest-invalid'
  | 'usage-manifest-read'
  | 'config-verify'
  | 'verify-no-pods'
  | 'verify-baseline'
  | 'verify-report-missing';

export abstract class KubeError extends Error {
  abstract readonly code: KubeErrorCode;
  readonly exitCode: 2 | 3 = 2;
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

/** A bad or missing verify setting (names it). */
export class VerifyConfigError extends KubeError {
  readonly code = 'config-verify' as const;
}

/** The Deployment to verify has no pods (or does not exist) in the namespace. */
export class VerifyNoPodsError extends KubeError {
  readonly code = 'verify-no-pods' as const;
}

/** The probes got no traffic through the target during the baseline. */
export class VerifyBaselineError extends KubeError {
  readonly code = 'verify-baseline' as const;
  override readonly exitCode = 3;
}

/** The collector produced no closed report for the rollout in time. */
export class VerifyReportMissingError extends KubeError {
  readonly code = 'verify-report-missing' as const;
  override readonly exitCode = 3;
}
