import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyEvent } from '../../contract/index.js';
import { pollUntil } from '../../lib/wait.js';
import { createProbeRun, parseScenario } from '../../probe/index.js';
import {
  type AgentUnderTest,
  createTestStream,
  readStream,
  startAgentUnderTest,
} from '../helpers/agent-harness.js';
import { type ScenarioApp, startScenarioApp } from '../helpers/probe-targets.js';
import { natsClient, startTestServers, type TestServers } from '../helpers/servers.js';
import { createSseFeed } from '../helpers/sse-target.js';

// Server-Sent Events streams of real probe sessions (the `eventsource` client) through the real
// agent in front of an app that ends some streams properly and cuts others mid-body. An SSE stream
// is one long HTTP request: the agent must count it once as a request (in flight while it lasts,
// with the outcome of its end), never as a WebSocket.

async function metric(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return m.reduce((n, v) => n + v.value, 0);
}

type RequestData = { probeId?: string; route: string; method: string; status?: number; outcome: string };

function requestsOf(events: readonly AnyEvent[]): RequestData[] {
  return events.filter((e) => e.kind === 'request').map((e) => e.data as RequestData);
}

describe('agent: SSE streams land in the per-request and per-connection figures', () => {
  let servers: TestServers;
  let nc: NatsConnection;
  let app: ScenarioApp;
  let a: AgentUnderTest;
  // The probe id of stream n (from 1) at index n - 1: the order the feed numbers its streams.
  const probeIds: string[] = [];
  const feed = createSseFeed({
    tickMs: 25,
    resume: true,
    endAfter: (n) =>
      n <= 3 ? { events: 5, how: 'end' } : n <= 6 ? { events: 5, how: 'destroy' } : undefined,
  });

  beforeAll(async () => {
    servers = await startTestServers();
    nc = await natsClient(servers.nats);
    const store = new Map<string, string>();
    app = await startScenarioApp({
      pod: 'sse-1',
      writeTo: [store],
      readFrom: store,
      routes: {
        '/events': (req: IncomingMessage, res: ServerResponse, user: string) => {
          probeIds.push(String(req.headers['x-drainwatch-probe']));
          feed.route(req, res, user);
        },
      },
    });
    a = await startAgentUnderTest({ upstreamPort: app.port, natsUrl: servers.nats.url });
    await createTestStream(nc, a.ns);
  });

  afterAll(async () => {
    await a?.agent.stop({ immediate: true });
    await app?.stop();
    await nc?.close();
    await servers?.stop();
  });

  it('one request per stream with its end’s outcome, in flight while open, no WebSocket', async () => {
    const scenario = parseScenario({ sse: { path: '/events' } });
    const run = createProbeRun({ target: a.trafficUrl, sessions: 3, websockets: 3, rampMs: 0, scenario });
    await run.start();
    let summary: Awaited<ReturnType<typeof run.stop>> | undefined;
    try {
      // Six streams ended (three properly, three cut) and the three that replaced them are open.
      await pollUntil(() => probeIds.length >= 9 && run.snapshot().websockets.open === 3, {
        timeoutMs: 60_000,
        what: 'six ended streams and three open ones',
      });
      // The open streams are requests in flight (with, at times, a probe's short request).
      await pollUntil(async () => (await metric(a.registry, 'drainwatch_agent_requests_in_flight')) >= 3, {
        timeoutMs: 10_000,
        what: 'the open streams in flight at the agent',
      });
      expect(await metric(a.registry, 'drainwatch_agent_websockets_open')).toBe(0);
      summary = await run.stop();
    } finally {
      await run.stop();
    }
    // Through the agent a proper end stays a proper end and a cut a cut (the witness changes nothing).
    expect(summary.websockets.streamEnds).toEqual({ 'server-closed': 3, cut: 3 });
    // The probe's stop aborts the open streams: the agent sees their clients go.
    await pollUntil(async () => (await metric(a.registry, 'drainwatch_agent_requests_in_flight')) === 0, {
      timeoutMs: 10_000,
      what: 'no request in flight once the probe stopped',
    });
    expect(probeIds).toHaveLength(9);
    const events = await pollUntil(
      async () => {
        const all = await readStream(nc, a.ns);
        return requestsOf(all).filter((r) => r.route === '/events').length >= 9 ? all : undefined;
      },
      { timeoutMs: 20_000, what: 'a request event for every stream' },
    );
    const streams = requestsOf(events).filter((r) => r.route === '/events');
    const byProbe = new Map(streams.map((r) => [r.probeId, r]));
    expect(streams).toHaveLength(9);
    expect(byProbe.size).toBe(9);
    for (const [i, id] of probeIds.entries()) {
      const r = byProbe.get(id);
      expect(r, id).toMatchObject({ method: 'GET', status: 200 });
      const expected = i < 3 ? 'ok' : i < 6 ? 'upstream-reset' : 'client-aborted';
      expect(r?.outcome, `stream ${i + 1} (${id})`).toBe(expected);
    }
    expect(events.filter((e) => e.kind === 'websocket.opened')).toEqual([]);
    // Each request counted once: every probe request (streams included) has its event.
    expect(await metric(a.registry, 'drainwatch_agent_requests_total')).toBe(requestsOf(events).length);
  }, 90_000);
});
