import { Counter, Gauge, type Registry } from 'prom-client';
import { AGENT_METRICS } from '../contract/index.js';

/** The agent's metrics, from the shared catalogue, registered on an injected registry. */
export interface AgentMetrics {
  readonly requests: Counter<'phase' | 'status_class'>;
  readonly inFlight: Gauge;
  readonly websockets: Gauge;
  readonly eventsPublished: Counter;
  readonly eventsBuffered: Gauge;
  readonly eventsDropped: Counter<'kind'>;
  readonly badRequests: Counter;
  readonly upstreamInvalid: Counter<'reason'>;
  readonly tcpOpen: Gauge;
  readonly tcpClosed: Counter<'closed_by' | 'phase'>;
  readonly h2Goaway: Counter<'sender' | 'code'>;
  readonly h2Streams: Counter<'phase' | 'outcome'>;
}

export function createAgentMetrics(registry: Registry): AgentMetrics {
  const m = AGENT_METRICS;
  return {
    requests: new Counter({
      name: m.requests.name,
      help: m.requests.help,
      labelNames: ['phase', 'status_class'] as const,
      registers: [registry],
    }),
    inFlight: new Gauge({ name: m.inFlight.name, help: m.inFlight.help, registers: [registry] }),
    websockets: new Gauge({ name: m.websockets.name, help: m.websockets.help, registers: [registry] }),
    eventsPublished: new Counter({
      name: m.eventsPublished.name,
      help: m.eventsPublished.help,
      registers: [registry],
    }),
    eventsBuffered: new Gauge({
      name: m.eventsBuffered.name,
      help: m.eventsBuffered.help,
      registers: [registry],
    }),
    eventsDropped: new Counter({
      name: m.eventsDropped.name,
      help: m.eventsDropped.help,
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    badRequests: new Counter({ name: m.badRequests.name, help: m.badRequests.help, registers: [registry] }),
    upstreamInvalid: new Counter({
      name: m.upstreamInvalid.name,
      help: m.upstreamInvalid.help,
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    tcpOpen: new Gauge({ name: m.tcpOpen.name, help: m.tcpOpen.help, registers: [registry] }),
    tcpClosed: new Counter({
      name: m.tcpClosed.name,
      help: m.tcpClosed.help,
      labelNames: ['closed_by', 'phase'] as const,
      registers: [registry],
    }),
    h2Goaway: new Counter({
      name: m.h2Goaway.name,
      help: m.h2Goaway.help,
      labelNames: ['sender', 'code'] as const,
      registers: [registry],
    }),
    h2Streams: new Counter({
      name: m.h2Streams.name,
      help: m.h2Streams.help,
      labelNames: ['phase', 'outcome'] as const,
      registers: [registry],
    }),
  };
}

export function statusClass(status: number | undefined): string {
  if (status === undefined) return 'error';
  return `${Math.floor(status / 100)}xx`;
}
