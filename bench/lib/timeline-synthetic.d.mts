import type { ReportFacts } from '../../collector/index.js';

export interface SyntheticOptions {
  readonly pods?: number;
  readonly requests?: number;
  readonly seconds?: number;
  readonly sessions?: number;
  readonly seed?: number;
}

/** A synthetic rollout's stored facts: see timeline-synthetic.mjs. */
export function syntheticFacts(options?: SyntheticOptions): ReportFacts;
