import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Registry } from 'prom-client';
import type { Phase } from '../contract/index.js';
import type { Logger } from '../lib/log.js';
import type { PrestopResult } from './prestop.js';
import type { PublisherStats } from './publisher.js';
import type { Clock } from './time.js';
import type { Traffic } from './traffic.js';

// The agent's public shapes: what createAgent (agent.ts) takes and what it returns.

export interface AgentDeps {
  /** Where /metrics registers; a fresh registry by default. */
  readonly registry?: Registry;
  /** A connection to publish on; without it the agent connects to config.natsUrl and reconnects forever. */
  readonly nats?: NatsConnection;
  readonly clock?: Clock;
  /** The Kubernetes adapter's seam: resolves once the pod's endpoints are marked terminating. */
  readonly endpointsTerminating?: (signal: AbortSignal) => Promise<void>;
  /** Reported in agent.started and on the trace. */
  readonly version?: string;
  /** Start, NATS down/up, buffer high-water and drops, phases, the final flush; silent by default. */
  readonly log?: Logger;
}

export interface AgentState {
  readonly phase: Phase;
  readonly pod: string;
  readonly namespace: string;
  readonly workload: string;
  readonly inFlight: number;
  readonly websockets: number;
  readonly upstreamListening: boolean;
  /** The agent's traffic listener accepts (it closes while the app does not listen). */
  readonly accepting: boolean;
  readonly appExited: boolean;
  readonly prestop: PrestopResult | null;
  readonly requests: ReturnType<Traffic['totals']>;
  readonly events: PublisherStats;
}

export interface AgentStopOptions {
  /**
   * Skip the classic-sidecar wait for the app to stop listening (tests, a second signal).
   * The final flush still runs.
   */
  readonly immediate?: boolean;
}

export interface Agent {
  start(): Promise<{ listen: AddressInfo; admin: AddressInfo }>;
  /**
   * SIGTERM semantics: waits for the app if it still runs, then flushes until every event is
   * acknowledged or the pod's grace deadline is 1 s away (final-flush.ts), and closes.
   */
  stop(options?: AgentStopOptions): Promise<void>;
  state(): AgentState;
}
