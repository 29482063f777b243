import type { WorkloadRef } from '../cluster/adapter.js';
import type { ReportSource } from './report-sources.js';

// The session-persistence threshold a rollout is judged by: a fixed one, or what this workload's
// past rollouts met (`--gate-from-history p95`).

export interface GatePlan {
  /** A fixed session-persistence threshold (0..1), unless fromHistory applies. */
  readonly threshold: number;
  /** `pNN`: the threshold NN% of the workload's past rollouts met (at least minHistory of them). */
  readonly fromHistory?: string;
  /** Past rollouts needed before the history gate applies (else the fixed threshold does). */
  readonly minHistory?: number;
}

/** `pNN` with NN in 0..99(.x). */
export const HISTORY_PERCENTILE = /^p(\d{1,2}(?:\.\d+)?)$/;

/**
 * The threshold that `pNN` of past scores met: p95 → the 5th percentile (nearest rank), so a
 * rollout fails when it is worse than 95% of the workload's history.
 */
export function historyThreshold(scores: readonly number[], percentile: string): number {
  const p = Number(HISTORY_PERCENTILE.exec(percentile)?.[1]);
  const sorted = [...scores].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(((100 - p) / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** The threshold, and where it came from in the words of verify's flags. */
export async function resolveThreshold(
  plan: GatePlan,
  reports: ReportSource,
  workload: WorkloadRef,
  rolloutId: string,
): Promise<{ readonly threshold: number; readonly source: string }> {
  const fixed = { threshold: plan.threshold, source: `--gate ${plan.threshold}` };
  if (!plan.fromHistory) return fixed;
  const minHistory = Math.max(1, plan.minHistory ?? 1);
  const past = await reports.pastScores(workload.namespace, workload.name, rolloutId);
  if (past.length >= minHistory)
    return {
      threshold: historyThreshold(past, plan.fromHistory),
      source: `${plan.fromHistory} of ${past.length} past rollouts`,
    };
  return {
    ...fixed,
    source: `--gate ${plan.threshold} (only ${past.length} past rollout(s), ${minHistory} needed for ${plan.fromHistory})`,
  };
}
