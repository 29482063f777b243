import type { PrestopEndReason } from '../contract/index.js';
import type { AgentConfig, PrestopWait } from './config.js';
import type { CancelTimer, Clock, Scheduler } from './time.js';

// The preStop wait: how long the app keeps serving after termination started, so that every
// proxy in front of the pod has stopped routing to it before the app gets SIGTERM.

export interface PrestopLimits {
  readonly policy: PrestopWait;
  readonly minMs: number;
  readonly quietMs: number;
  readonly maxMs: number;
}

/** How a preStop wait ended, as the hook's HTTP response and AgentState report it. */
export interface PrestopResult {
  readonly mode: 'adaptive' | 'fixed';
  readonly reason: PrestopEndReason;
  readonly durationMs: number;
}

/** The limits the agent's settings give (DRAINWATCH_PRESTOP, _PRESTOP_MIN, _QUIET, _MAX). */
export function prestopLimitsOf(
  config: Pick<AgentConfig, 'prestop' | 'prestopMinMs' | 'prestopQuietMs' | 'prestopMaxMs'>,
): PrestopLimits {
  return {
    policy: config.prestop,
    minMs: config.prestopMinMs,
    quietMs: config.prestopQuietMs,
    maxMs: config.prestopMaxMs,
  };
}

export type PrestopDecision = { readonly done: PrestopEndReason } | { readonly wakeAt: number };

/**
 * Pure: given when the wait started, the last arrival and whether endpoints already say
 * "terminating", either ends the wait (with its reason) or says when to look again.
 */
export function decidePrestop(
  limits: PrestopLimits,
  state: { startedAt: number; lastArrivalAt: number; endpointsTerminating: boolean },
  now: number,
): PrestopDecision {
  const elapsed = now - state.startedAt;
  if (limits.policy.mode === 'fixed') {
    return elapsed >= limits.policy.fixedMs
      ? { done: 'fixed-elapsed' }
      : { wakeAt: state.startedAt + limits.policy.fixedMs };
  }
  if (elapsed >= limits.maxMs) return { done: 'max' };
  const minAt = state.startedAt + limits.minMs;
  if (now >= minAt) {
    if (state.endpointsTerminating) return { done: 'endpoints-terminating' };
    if (now - state.lastArrivalAt >= limits.quietMs) return { done: 'quiet' };
  }
  const quietAt = Math.max(minAt, state.lastArrivalAt + limits.quietMs);
  return { wakeAt: Math.min(state.startedAt + limits.maxMs, quietAt) };
}

export interface PrestopWaitOptions {
  readonly limits: PrestopLimits;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly lastArrivalAt: () => number;
  /** The Kubernetes adapter's seam: resolves when the pod's endpoints are marked terminating. */
  readonly endpointsTerminating?: (signal: AbortSignal) => Promise<void>;
  /** Ends the wait early: the app exited, or the agent is stopping. */
  readonly interrupt: Promise<PrestopEndReason>;
}

/** Waits as the policy says; resolves with why it ended. */
export function waitPrestop(options: PrestopWaitOptions): Promise<PrestopEndReason> {
  const { limits, clock, scheduler } = options;
  const startedAt = clock.now();
  const abort = new AbortController();
  let endpointsTerminating = false;
  let cancelTimer: CancelTimer | undefined;

  return new Promise<PrestopEndReason>((resolve) => {
    let done = false;
    const finish = (reason: PrestopEndReason): void => {
      if (done) return;
      done = true;
      cancelTimer?.();
      abort.abort();
      resolve(reason);
    };
    const evaluate = (): void => {
      if (done) return;
      cancelTimer?.();
      const d = decidePrestop(
        limits,
        { startedAt, lastArrivalAt: options.lastArrivalAt(), endpointsTerminating },
        clock.now(),
      );
      if ('done' in d) {
        finish(d.done);
        return;
      }
      // The quiet window may move as requests arrive; waking at its earliest end and re-checking
      // keeps the resolution at one timer tick without polling.
      cancelTimer = scheduler.setTimeout(evaluate, Math.max(1, d.wakeAt - clock.now()));
    };
    options.interrupt.then(finish, () => undefined);
    if (limits.policy.mode === 'adaptive' && options.endpointsTerminating) {
      options.endpointsTerminating(abort.signal).then(
        () => {
          endpointsTerminating = true;
          evaluate();
        },
        () => undefined,
      );
    }
    evaluate();
  });
}
