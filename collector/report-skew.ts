import type { PodAnswers } from './report-requests.js';
import type { ReportFacts } from './report-types.js';

// Traffic skew during a rollout: pods come and go, so comparing request counts would make a pod
// that became ready a second ago look starved. Each pod's probe request RATE is taken over the
// time it served: from the first probe request it answered to the start of its termination
// (preStop or SIGTERM) — or, when no termination of it is known, to the last request it answered.

/** A pod that served for less than this (ms) is left out: its rate says nothing yet. */
export const MIN_SERVING_MS = 2000;

/**
 * Probe requests per second of each pod over the time it served (pods served ≥ MIN_SERVING_MS):
 * from its first answer to the start of its termination in the window, else to its last answer.
 */
export function servingRates(
  perPod: ReadonlyMap<string, PodAnswers>,
  facts: Pick<ReportFacts, 'terminations'>,
): Map<string, number> {
  // Terminations in this window only: a pod name may have terminated in an earlier rollout too.
  const termStarts = new Map<string, number>();
  for (const t of facts.terminations)
    termStarts.set(t.pod, Math.min(termStarts.get(t.pod) ?? t.startMs, t.startMs));
  const rates = new Map<string, number>();
  for (const [pod, a] of perPod) {
    const termStart = termStarts.get(pod);
    const end = termStart !== undefined && termStart > a.firstMs ? termStart : a.lastMs;
    const servedMs = end - a.firstMs;
    if (servedMs >= MIN_SERVING_MS) rates.set(pod, a.count / (servedMs / 1000));
  }
  return rates;
}

/** Busiest ÷ quietest of `perPod` (rates); else the probes' own figure; null without either. */
export function trafficSkew(perPod: ReadonlyMap<string, number>, summarySkew: number | null): number | null {
  const values = [...perPod.values()];
  if (values.length >= 2) return Math.max(...values) / Math.min(...values);
  return summarySkew;
}
