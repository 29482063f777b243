/** One step of a pod's script: [offset ms, kind, data(now)]. */
export type ScriptStep = readonly [number, string, (now: number) => unknown];

export interface ScriptRecord {
  readonly due: number;
  readonly data: (now: number) => unknown;
}

/** A message the simulated agent publishes: see scale-batches.mjs. */
export interface ScriptMessage {
  readonly due: number;
  readonly kind: string;
  readonly data?: (now: number) => unknown;
  readonly recordDue?: number;
  readonly records?: readonly ScriptRecord[];
}

export function podMessages(
  steps: readonly ScriptStep[],
  options: { readonly batchMs: number },
): ScriptMessage[];

export function observationsOf(message: ScriptMessage): number;
