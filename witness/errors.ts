// Every way witnessing a rollout fails, one class each with a stable `code`. A bad setting is the
// caller's to fix (exit 2); a service that does not serve, or a collector that reports nothing,
// is a runtime failure (3). The codes keep the `verify` names they had before rehearse shared
// this code: scripts match on them.

export type WitnessErrorCode =
  | 'config-verify'
  | 'verify-no-pods'
  | 'verify-baseline'
  | 'verify-report-missing';

export abstract class WitnessError extends Error {
  abstract readonly code: WitnessErrorCode;
  readonly exitCode: 2 | 3 = 2;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A bad or missing verify setting (names it). */
export class VerifyConfigError extends WitnessError {
  readonly code = 'config-verify' as const;
}

/** The workload to restart has no pods (or does not exist) in the namespace. */
export class VerifyNoPodsError extends WitnessError {
  readonly code = 'verify-no-pods' as const;
}

/** The probes got no traffic through the target during the baseline. */
export class VerifyBaselineError extends WitnessError {
  readonly code = 'verify-baseline' as const;
  override readonly exitCode = 3;
}

/** The collector produced no closed report for the rollout in time. */
export class VerifyReportMissingError extends WitnessError {
  readonly code = 'verify-report-missing' as const;
  override readonly exitCode = 3;
}
