import type { NatsConnection } from '@nats-io/transport-node';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIFECYCLE_KINDS } from '../../contract/index.js';
import { pollUntil } from '../../lib/wait.js';
import {
  createTestStream,
  messageSeqs,
  startAgentUnderTest,
  startUpstreamApp,
  type UpstreamApp,
  waitForEvents,
} from '../helpers/agent-harness.js';
import { natsClient, startTestServers, type TestServers, testNamespace } from '../helpers/servers.js';

let servers: TestServers;
let app: UpstreamApp;

beforeAll(async () => {
  servers = await startTestServers();
  app = await startUpstreamApp();
});

afterAll(async () => {
  await app?.close();
  await servers?.stop();
});

describe('agent publishing through a NATS outage', () => {
  it('buffers through a NATS restart during the termination and delivers every lifecycle event once, in order', async () => {
    const ns = testNamespace();
    let nc: NatsConnection = await natsClient(servers.nats);
    await createTestStream(nc, ns);
    await nc.close();
    // The agent connects on its own (no injected connection): it must reconnect by itself.
    const a = await startAgentUnderTest({
      upstreamPort: app.port,
      natsUrl: servers.nats.url,
      ns,
      env: { DRAINWATCH_PRESTOP: 'fixed:0.3', DRAINWATCH_SUMMARY_INTERVAL: '200ms' },
    });
    try {
      await pollUntil(() => a.agent.state().events.published >= 1, {
        timeoutMs: 15_000,
        what: 'agent.started published',
      });

      await servers.nats.pause();
      // Traffic keeps flowing while NATS is down, and is not slowed by it.
      for (let i = 0; i < 20; i++) {
        const res = await request(`${a.trafficUrl}/during-outage`, {
          headers: { 'x-drainwatch-probe': `o-${i}` },
        });
        expect(res.statusCode).toBe(200);
        await res.body.text();
      }
      const prestop = await request(`${a.adminUrl}/prestop`);
      expect(prestop.statusCode).toBe(200);
      await prestop.body.text();
      await app.stopListening();
      await pollUntil(() => !a.agent.state().upstreamListening, {
        timeoutMs: 10_000,
        what: 'port closed seen',
      });
      const exited = await request(`${a.adminUrl}/lifecycle/app-exited`, {
        method: 'POST',
        body: JSON.stringify({ code: 143, signal: 'SIGTERM', killedAtGrace: false }),
      });
      await exited.body.text();
      expect(a.agent.state().events.buffered).toBeGreaterThan(0);

      await servers.nats.resume();
      await pollUntil(() => a.agent.state().events.buffered === 0, {
        timeoutMs: 30_000,
        what: 'the buffer to drain after NATS came back',
      });
      await a.agent.stop();

      nc = await natsClient(servers.nats);
      try {
        const events = await waitForEvents(
          nc,
          ns,
          (evs) => evs.some((e) => e.kind === 'drain.summary'),
          'drain summary',
        );
        const seqs = messageSeqs(events);
        expect(seqs).toEqual(seqs.map((_, i) => i + 1));
        expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
        const lifecycle = events.filter((e) => LIFECYCLE_KINDS.has(e.kind)).map((e) => e.kind);
        // The agent's listener closes once the app stopped listening and nothing is in flight: when
        // (and whether, before the agent itself stops) depends on the probes, so it is left out of
        // the fixed order; it can only follow the app's stop.
        const listenerAt = lifecycle.indexOf('agent.listener');
        expect(listenerAt === -1 || listenerAt > lifecycle.indexOf('app.stopped-listening')).toBe(true);
        expect(lifecycle.filter((k) => k !== 'agent.listener')).toEqual([
          'agent.started',
          'prestop.started',
          'prestop.finished',
          'app.stopped-listening',
          'app.exited',
          'sigterm',
          'drain.summary',
        ]);
        const probes = events.filter((e) => e.kind === 'request' && e.data.probeId?.startsWith('o-'));
        expect(probes).toHaveLength(20);
        expect(events.find((e) => e.kind === 'app.exited')?.data).toMatchObject({
          code: 143,
          signal: 'SIGTERM',
        });
      } finally {
        await nc.close();
      }
    } finally {
      await a.agent.stop({ immediate: true });
    }
  });

  it('starts while NATS is down, serves traffic, and delivers once NATS appears', async () => {
    const ns = testNamespace();
    const app2 = await startUpstreamApp();
    await servers.nats.pause();
    const a = await startAgentUnderTest({ upstreamPort: app2.port, natsUrl: servers.nats.url, ns });
    try {
      const res = await request(`${a.trafficUrl}/while-nats-is-down`);
      expect(res.statusCode).toBe(200);
      await res.body.text();
      expect(a.agent.state().events.buffered).toBe(1);
      await servers.nats.resume();
      const nc = await natsClient(servers.nats);
      try {
        await createTestStream(nc, ns);
        const events = await waitForEvents(nc, ns, (evs) => evs.length >= 1, 'agent.started');
        expect(events[0]?.kind).toBe('agent.started');
      } finally {
        await nc.close();
      }
    } finally {
      await a.agent.stop({ immediate: true });
      await app2.close();
    }
  });

  it('with a full buffer drops traffic events, keeps every lifecycle event, and counts the drops', async () => {
    const ns = testNamespace();
    const app3 = await startUpstreamApp();
    let nc: NatsConnection = await natsClient(servers.nats);
    await createTestStream(nc, ns);
    await nc.close();
    const a = await startAgentUnderTest({
      upstreamPort: app3.port,
      natsUrl: servers.nats.url,
      ns,
      // One message per record, so the requests overflow the buffer (batching is tested elsewhere).
      env: { DRAINWATCH_BUFFER_SIZE: '5', DRAINWATCH_PRESTOP: 'fixed:0.1', DRAINWATCH_REQUEST_BATCH: '0' },
    });
    try {
      await pollUntil(() => a.agent.state().events.published >= 1, {
        timeoutMs: 15_000,
        what: 'agent.started published',
      });
      await servers.nats.pause();
      for (let i = 0; i < 30; i++) {
        const res = await request(`${a.trafficUrl}/flood`, { headers: { 'x-drainwatch-probe': `f-${i}` } });
        await res.body.text();
      }
      const pre = await request(`${a.adminUrl}/prestop`);
      await pre.body.text();
      const exited = await request(`${a.adminUrl}/lifecycle/app-exited`, {
        method: 'POST',
        body: '{"code":0}',
      });
      await exited.body.text();
      expect(a.agent.state().events.dropped).toBeGreaterThanOrEqual(25);
      const metrics = await a.registry.getSingleMetricAsString('drainwatch_agent_events_dropped_total');
      expect(metrics).toMatch(/drainwatch_agent_events_dropped_total\{kind="request"\} \d+/);
      await servers.nats.resume();
      await pollUntil(() => a.agent.state().events.buffered === 0, {
        timeoutMs: 30_000,
        what: 'buffer drained',
      });
      await a.agent.stop();
      nc = await natsClient(servers.nats);
      try {
        const events = await waitForEvents(
          nc,
          ns,
          (evs) => evs.some((e) => e.kind === 'drain.summary'),
          'drain summary',
        );
        expect(events.filter((e) => LIFECYCLE_KINDS.has(e.kind)).map((e) => e.kind)).toEqual([
          'agent.started',
          'prestop.started',
          'prestop.finished',
          'app.exited',
          'sigterm',
          'drain.summary',
        ]);
        // Seqs still rise; the drops show as gaps the collector can count.
        const seqs = messageSeqs(events);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
        expect(seqs.at(-1)! - seqs.length).toBeGreaterThanOrEqual(25);
        const drain = events.find((e) => e.kind === 'drain.summary');
        expect(drain?.kind === 'drain.summary' && drain.data.eventsDropped).toBeGreaterThanOrEqual(25);
      } finally {
        await nc.close();
      }
    } finally {
      await a.agent.stop({ immediate: true });
      await app3.close();
    }
  });
});
