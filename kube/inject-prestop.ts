import { type PrestopPolicy, prestopPolicySeconds } from '../contract/index.js';
import type { InjectOptions } from './config.js';
import { parsePreStopPolicy } from './config.js';
import type { ContainerSpec } from './pod-spec.js';
import { readPreStop } from './prestop.js';

// Inject's preStop and grace-period plan for the app container, from the shared preStop reader
// (prestop.ts): a preStop that only sleeps, for a known time, becomes the agent's `fixed:` policy;
// any other is kept, and the time it can be read to take is budgeted in the grace period.

export interface PreStopPlan {
  readonly prestop: PrestopPolicy;
  /** The app container's own preStop stays (the agent's hook is not set). */
  readonly keepsOwnPreStop: boolean;
  /** The app container had a preStop that is being replaced. */
  readonly replacesPreStop: boolean;
  /** terminationGracePeriodSeconds after inject (whole seconds). */
  readonly grace: number;
  /** Set terminationGracePeriodSeconds (absent, or too short). */
  readonly setGrace: boolean;
}

/**
 * Plans the preStop and grace period; pushes warnings (a kept preStop, one that fails at once, a
 * raised grace period, an unbounded preStop). `current` is the pod's terminationGracePeriodSeconds,
 * `drainBudget` seconds.
 */
export function planPreStop(
  ref: string,
  appContainer: ContainerSpec,
  current: number | undefined,
  drainBudget: number,
  options: InjectOptions,
  warnings: string[],
): PreStopPlan {
  const existing = appContainer.lifecycle?.preStop;
  // The shared reader (prestop.ts): a preStop that only sleeps, for a known time, is replaced by the
  // agent's fixed policy of that time; any other is kept and its known time budgeted.
  const reading = existing ? readPreStop(existing) : undefined;
  const sleepSeconds =
    reading?.onlySleeps && reading.seconds !== undefined && reading.invalidSleeps.length === 0
      ? reading.seconds
      : undefined;
  const failsAtOnce = reading?.onlySleeps === true && reading.invalidSleeps.length > 0;
  const keepsOwnPreStop = existing !== undefined && sleepSeconds === undefined && !failsAtOnce;
  if (keepsOwnPreStop) {
    warnings.push(
      `${ref}: container ${appContainer.name} keeps its own preStop (${Object.keys(existing).join(', ')}); ` +
        `end it with a call to http://127.0.0.1:${options.adminPort}/prestop so SIGTERM waits for the agent`,
    );
  }
  if (failsAtOnce) {
    warnings.push(
      `${ref}: container ${appContainer.name}'s preStop fails at once (sleep rejects ${reading!.invalidSleeps.map((x) => JSON.stringify(x)).join(', ')}); replaced by the agent's preStop`,
    );
  }

  const asked = parsePreStopPolicy(options.preStop);
  const prestop: PrestopPolicy =
    asked.mode !== 'auto'
      ? asked
      : sleepSeconds !== undefined
        ? { mode: 'fixed', seconds: sleepSeconds }
        : { mode: 'adaptive' };
  // A kept preStop runs before the agent's (its end calls /prestop), so both count.
  const ownSeconds = keepsOwnPreStop ? (reading?.seconds ?? 0) : 0;
  const preStopSeconds = ownSeconds + prestopPolicySeconds(prestop, options.preStopMaxSeconds);
  // terminationGracePeriodSeconds is whole seconds.
  const required = Math.ceil(preStopSeconds + drainBudget);
  let grace = current ?? Math.max(options.defaultGraceSeconds, required);
  const setGrace = current === undefined || current < required;
  if (current !== undefined && current < required) {
    warnings.push(
      `${ref}: terminationGracePeriodSeconds raised from ${current} to ${required} (preStop ${preStopSeconds} s + drain ${drainBudget} s)`,
    );
    grace = required;
  }
  if (keepsOwnPreStop && reading?.unknown !== undefined) {
    warnings.push(
      `${ref}: container ${appContainer.name}'s preStop runs for an unknown duration (${reading.unknown}); ` +
        `terminationGracePeriodSeconds ${grace} covers only the agent's preStop and the drain: raise it by the longest that preStop can run`,
    );
  }
  return {
    prestop,
    keepsOwnPreStop,
    replacesPreStop: existing !== undefined && !keepsOwnPreStop,
    grace,
    setGrace,
  };
}
