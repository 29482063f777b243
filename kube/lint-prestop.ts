import { AGENT_SETTINGS, parsePrestopPolicy, prestopPolicySeconds } from '../contract/index.js';
import { parseDurationMs } from '../lib/values.js';
import { ADMIN_PORT_NAME, AGENT_PRESTOP_MIN_SECONDS, type LintOptions } from './config.js';
import type { ContainerSpec, LifecycleHandler } from './pod-spec.js';
import { readPreStop } from './prestop.js';

// How long a preStop holds SIGTERM back, as lint reads it: the shared reader (prestop.ts) for
// exec and sleep handlers, the agent's policy for an httpGet to the agent's /prestop.

export interface PreStopTime {
  /** The longest it can take, in seconds (0 when unknown or failing at once). */
  readonly seconds: number;
  /**
   * The shortest it is sure to take, in seconds: the agent's adaptive wait may end at its minimum
   * (DRAINWATCH_PRESTOP_MIN); undefined when the duration cannot be bounded.
   */
  readonly floorSeconds: number | undefined;
  /** Why the duration cannot be bounded. */
  readonly unknown?: string;
  /** sleep operands that make the preStop fail at once. */
  readonly invalidSleeps: readonly string[];
}

function isAgentPreStop(h: LifecycleHandler, agent: ContainerSpec | undefined): boolean {
  if (!agent || !h.httpGet || h.httpGet.path !== '/prestop') return false;
  const adminPort = agent.ports?.find((p) => p.name === ADMIN_PORT_NAME)?.containerPort;
  return h.httpGet.port === adminPort || h.httpGet.port === ADMIN_PORT_NAME;
}

/** The agent's policy as a manifest sets it; one the agent would refuse counts as adaptive. */
function agentPolicyOf(text: string): ReturnType<typeof parsePrestopPolicy> {
  try {
    return parsePrestopPolicy(AGENT_SETTINGS.prestop.env, text);
  } catch {
    return { mode: 'adaptive' };
  }
}

/** The agent's DRAINWATCH_PRESTOP_MIN as the manifest sets it, in seconds (its default if unset or invalid). */
function agentPreStopMinSeconds(agent: ContainerSpec | undefined): number {
  const env = AGENT_SETTINGS.prestopMin.env;
  const text = agent?.env?.find((v) => v.name === env)?.value;
  if (text === undefined) return AGENT_PRESTOP_MIN_SECONDS;
  try {
    return parseDurationMs(env, text, 's') / 1000;
  } catch {
    return AGENT_PRESTOP_MIN_SECONDS;
  }
}

/** How long the container's preStop `h` holds SIGTERM back; `agent` is the pod's drainwatch agent. */
export function preStopTime(
  h: LifecycleHandler,
  agent: ContainerSpec | undefined,
  o: LintOptions,
): PreStopTime {
  if (isAgentPreStop(h, agent)) {
    const env = AGENT_SETTINGS.prestop;
    const policy = agentPolicyOf(agent?.env?.find((v) => v.name === env.env)?.value ?? env.default);
    return {
      seconds: prestopPolicySeconds(policy, o.agentPreStopMaxSeconds),
      floorSeconds: policy.mode === 'fixed' ? policy.seconds : agentPreStopMinSeconds(agent),
      invalidSleeps: [],
    };
  }
  const r = readPreStop(h);
  if (!r) return { seconds: 0, floorSeconds: 0, invalidSleeps: [] };
  // A sleep that fails makes the whole hook fail at once.
  const floor = r.invalidSleeps.length > 0 ? 0 : r.seconds;
  return {
    seconds: r.seconds ?? 0,
    floorSeconds: floor,
    ...(r.unknown !== undefined ? { unknown: r.unknown } : {}),
    invalidSleeps: r.invalidSleeps,
  };
}
