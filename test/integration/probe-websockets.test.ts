import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AnyEvent } from '../../contract/index.js';
import { decodeEvent } from '../../contract/validate.js';
import { ensureStream } from '../../lib/jetstream.js';
import { type RunningServer, startNatsServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { createProbeRun } from '../../probe/index.js';
import { type ScenarioApp, type SessionStore, startScenarioApp } from '../helpers/probe-targets.js';
import { natsClient, testNamespace } from '../helpers/servers.js';

// Real WebSocket servers that misbehave on purpose: one kills connections without a close frame,
// one never acknowledges some pings. The expected counts come from what the server did.

describe('probe WebSockets', () => {
  let app: ScenarioApp | undefined;
  let nats: RunningServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await natsClient(nats);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  const store = (): SessionStore => new Map();

  it('counts 1006 for each connection dropped without a close frame, its unacked messages lost, and their re-sends apart', async () => {
    const ns = testNamespace();
    await ensureStream(await jetstreamManager(nc), { name: ns.streamName, root: ns.subjectRoot });
    const s = store();
    app = await startScenarioApp({
      pod: 'ws-1',
      writeTo: [s],
      readFrom: s,
      // The first three connections die on their second ping; later ones behave.
      onPing: ({ connection, nth }) => (connection <= 3 && nth === 2 ? 'terminate' : 'ack'),
    });
    const run = createProbeRun(
      {
        target: app.url,
        sessions: 2,
        websockets: 1,
        wsPingIntervalMs: 50,
        wsAckTimeoutMs: 10_000,
        wsReconnectMinMs: 20,
        wsReconnectMaxMs: 100,
        rampMs: 0,
        subjectRoot: ns.subjectRoot,
      },
      { nats: nc },
    );
    await run.start();
    await pollUntil(
      () => {
        const ws = run.snapshot().websockets;
        return (
          ws.connections >= 4 &&
          ws.messagesAcked + ws.messagesLost >= ws.messagesSent - 1 &&
          ws.messagesAcked >= 10
        );
      },
      { timeoutMs: 60_000, what: 'a fourth WebSocket connection exchanging acks' },
    );
    const summary = await run.stop();
    const ws = summary.websockets;
    expect(app.terminated).toBe(3);
    expect(ws.closesByCode).toEqual({ '1006': 3 });
    expect(ws.sessions).toBe(1);
    // Each killed connection took at least its unacked second ping with it: lost, once, though
    // its re-send on the next connection was acknowledged. Re-sends are counted apart.
    expect(ws.messagesLost).toBeGreaterThanOrEqual(3);
    expect(ws.resent).toBe(ws.messagesLost);
    expect(ws.messagesAcked + ws.messagesLost).toBe(ws.messagesSent);

    const events: AnyEvent[] = [];
    const consumer = await jetstream(nc).consumers.get(ns.streamName);
    while (events.length < summary.eventsPublished) {
      for await (const m of await consumer.fetch({ max_messages: 500, expires: 2000 })) {
        events.push(decodeEvent(m.data));
        m.ack();
      }
    }
    const wsEvents = events.flatMap((e) => (e.kind === 'probe.websocket' ? [e.data] : []));
    const closed = wsEvents.filter((d) => d.event === 'closed');
    expect(closed).toHaveLength(3);
    for (const d of closed) {
      expect(d.code).toBe(1006);
      expect(d.pod).toBe('ws-1');
    }
    expect(wsEvents.filter((d) => d.event === 'opened')).toHaveLength(ws.connections);
    const lost = wsEvents.filter((d) => d.event === 'message-lost');
    expect(lost).toHaveLength(ws.messagesLost);
    expect(new Set(lost.map((d) => d.messageId)).size).toBe(ws.messagesLost);
    expect(wsEvents.filter((d) => d.event === 'message-resent')).toHaveLength(ws.resent);
    expect(new Set(wsEvents.map((d) => d.connectionId)).size).toBe(ws.connections);
  });

  it('declares a message lost when its ack never comes within the timeout', async () => {
    const s = store();
    let pings = 0;
    app = await startScenarioApp({
      pod: 'ws-2',
      writeTo: [s],
      readFrom: s,
      onPing: () => {
        pings += 1;
        return pings % 4 === 0 ? 'drop' : 'ack';
      },
    });
    const run = createProbeRun({
      target: app.url,
      sessions: 3,
      websockets: 3,
      wsPingIntervalMs: 40,
      wsAckTimeoutMs: 400,
      rampMs: 0,
    });
    await run.start();
    await pollUntil(() => run.snapshot().websockets.messagesLost >= 5, {
      timeoutMs: 60_000,
      what: 'five lost messages',
    });
    const summary = await run.stop();
    const ws = summary.websockets;
    // stop() waits for every outstanding ack, so each sent message ended acked or lost.
    expect(ws.messagesAcked + ws.messagesLost).toBe(ws.messagesSent);
    expect(ws.messagesLost).toBe(app.dropped.size);
    expect(ws.closesByCode).toEqual({});
    expect(ws.connections).toBe(3);
  });
});
