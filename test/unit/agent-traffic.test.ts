import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createAgentMetrics } from '../../agent/metrics.js';
import { createTraffic } from '../../agent/traffic.js';
import type { EventKind } from '../../contract/index.js';
import { dataSchemas, type EventData } from '../../contract/validate.js';

// The agent builds its events without validating them (contract/event-builder.ts), so what it takes
// from the wire must already fit the schemas: these are checked here against the zod schemas.

function setup() {
  const events: Array<{ kind: EventKind; data: unknown }> = [];
  const traffic = createTraffic({
    clock: { now: () => 1_700_000_000_000 },
    metrics: createAgentMetrics(new Registry()),
    emit: <K extends EventKind>(kind: K, data: EventData<K>) => {
      events.push({ kind, data });
    },
    idPrefix: 'abcd1234',
  });
  const valid = () => events.map((e) => dataSchemas[e.kind].safeParse(e.data).success);
  return { traffic, events, valid };
}

describe('agent traffic events fit the contract', () => {
  it('keeps an HTTP status in 100-599 and leaves out one outside it', () => {
    const { traffic, events, valid } = setup();
    for (const status of [502, 999, 42]) {
      const r = traffic.begin({ method: 'GET', url: '/x', probeId: 'p', reused: false });
      traffic.end(r, 'http-error', status);
    }
    expect(events.map((e) => (e.data as { status?: number }).status)).toEqual([502, undefined, undefined]);
    expect(valid()).toEqual([true, true, true]);
  });

  it('keeps a close code in 0-4999 and leaves out one outside it, still counting it in the drain summary', () => {
    const { traffic, events, valid } = setup();
    for (const code of [1001, 65535]) {
      const ws = traffic.websocketOpened({ url: '/ws', probeId: undefined });
      traffic.websocketClosed(ws, {
        code,
        closedBy: 'client',
        closeFrame: true,
        framesFromClient: 1,
        framesFromApp: 1,
      });
    }
    const closed = events.filter((e) => e.kind === 'websocket.closed');
    expect(closed.map((e) => (e.data as { code?: number }).code)).toEqual([1001, undefined]);
    expect(valid().every(Boolean)).toBe(true);
    expect(traffic.drainCounts().websocketCloses).toEqual({ '1001': 1, '65535': 1 });
  });

  it('cuts long methods and routes to the schema limits', () => {
    const { traffic, events, valid } = setup();
    const r = traffic.begin({
      method: 'M'.repeat(40),
      url: `/${'a'.repeat(1000)}?q=1`,
      probeId: 'p',
      reused: true,
    });
    traffic.end(r, 'ok', 200);
    expect(events).toHaveLength(1);
    expect(valid()).toEqual([true]);
  });

  // Issue #15 point 1: readiness checks of a booting app failed by the dozen and were reported as
  // users' failures ("agent-side failed serving N").
  it('counts kubelet health checks apart: never in requests, failures or in-flight at SIGTERM', () => {
    const { traffic, events, valid } = setup();
    for (let i = 0; i < 3; i++) {
      const r = traffic.begin({
        method: 'GET',
        url: '/ready',
        probeId: undefined,
        healthCheck: true,
        reused: false,
      });
      traffic.end(r, 'upstream-refused');
    }
    const user = traffic.begin({ method: 'GET', url: '/', probeId: undefined, reused: false });
    const check = traffic.begin({
      method: 'GET',
      url: '/ready',
      probeId: undefined,
      healthCheck: true,
      reused: false,
    });
    traffic.setPhase('draining');
    traffic.end(check, 'upstream-reset');
    traffic.end(user, 'upstream-reset');
    const interval = traffic.takeInterval();
    expect(interval.healthChecks).toBe(4);
    expect(interval.healthChecksFailed).toBe(4);
    expect(interval.failed).toEqual({ serving: 1, prestop: 0, draining: 0, exited: 0 });
    expect(interval.requests.serving).toBe(1);
    expect(traffic.drainCounts()).toMatchObject({ inFlightAtSigterm: 1, inFlightCut: 1 });
    const marked = events.filter((e) => (e.data as { healthCheck?: boolean }).healthCheck === true);
    expect(marked).toHaveLength(4);
    expect(valid().every(Boolean)).toBe(true);
  });
});
