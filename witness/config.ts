import type { Scenario } from '../probe/index.js';
import { VerifyConfigError } from './errors.js';
import { HISTORY_PERCENTILE } from './gate.js';

// The settings of `drainwatch verify`, apart from the run (verify.ts), so the CLI can read the
// defaults without loading the probes and the collector.

export interface VerifyConfig {
  readonly namespace: string;
  readonly deployment: string;
  readonly target: string;
  readonly sessions: number;
  readonly websockets?: number | string;
  readonly scenario?: Scenario;
  /** A fixed session-persistence threshold, unless gateFromHistory is set. */
  readonly gate: number;
  /** `p95`: the threshold 95% of this workload's past rollouts met (at least minHistory of them). */
  readonly gateFromHistory?: string;
  readonly baselineMs: number;
  readonly tailMs: number;
  readonly rolloutTimeoutMs: number;
  readonly subjectRoot: string;
  /** Past rollouts needed before the history gate applies (else the fixed gate does). */
  readonly minHistory: number;
  /** How long to wait for the collector's report after the rollout. */
  readonly reportTimeoutMs: number;
}

/**
 * Probe event-loop lag (ms) beyond which verify's run is inconclusive: its figures judge the
 * machine, not the rollout, and the gate neither passes nor fails (exit 4). The rehearsal uses
 * the same 500 ms (rehearse/run.ts).
 */
export const VERIFY_PROBE_LAG_MS = 500;

/** `drainwatch verify` defaults (durations in ms). */
export const DEFAULT_VERIFY_CONFIG = {
  sessions: 50,
  gate: 1,
  baselineMs: 10_000,
  tailMs: 10_000,
  rolloutTimeoutMs: 10 * 60_000,
  subjectRoot: 'drainwatch',
  minHistory: 5,
  reportTimeoutMs: 60_000,
} as const;

/** Throws VerifyConfigError naming the flag of the first bad setting. */
export function checkVerifyConfig(c: VerifyConfig): void {
  if (!c.namespace) throw new VerifyConfigError('--namespace is required');
  if (!c.deployment) throw new VerifyConfigError('--deployment is required');
  if (!c.target) throw new VerifyConfigError('--target is required');
  if (c.gateFromHistory !== undefined && !HISTORY_PERCENTILE.test(c.gateFromHistory))
    throw new VerifyConfigError(
      `--gate-from-history: expected a percentile like p95, got ${JSON.stringify(c.gateFromHistory)}`,
    );
  if (!(c.gate >= 0 && c.gate <= 1)) throw new VerifyConfigError(`--gate: expected 0..1, got ${c.gate}`);
}
