import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/wait.js';
import { createProbeRun, type ProbeRun, parseScenario } from '../../probe/index.js';
import { createFeed, type ResumeMode } from '../helpers/feed-target.js';
import { type ScenarioApp, type SessionStore, startScenarioApp } from '../helpers/probe-targets.js';

// The scenario's WebSocket patterns against real `ws` servers that speak them. The expected
// figures come from what the server did (its own counts), never from the probe.

const FAST = { wsPingIntervalMs: 40, wsReconnectMinMs: 20, wsReconnectMaxMs: 80, rampMs: 0 } as const;

describe('probe WebSocket patterns', () => {
  let app: ScenarioApp | undefined;
  let run: ProbeRun | undefined;
  afterEach(async () => {
    await run?.stop().catch(() => undefined);
    await app?.stop();
    app = undefined;
    run = undefined;
  });
  const store = (): SessionStore => new Map();

  it('echo: matches each echo to its message; an altered echo leaves the message lost', async () => {
    const s = store();
    let altered = 0;
    app = await startScenarioApp({
      pod: 'echo-1',
      writeTo: [s],
      readFrom: s,
      onSocket: (ws) =>
        ws.on('message', (raw) => {
          const text = raw.toString();
          // Every fifth message comes back changed: no longer the echo of what was sent.
          if ((JSON.parse(text) as { id: string }).id.endsWith('5')) {
            altered += 1;
            ws.send(text.replace('{', '{"x":1,'));
          } else ws.send(text);
        }),
    });
    const scenario = parseScenario({
      websocket: { pattern: 'echo', message: { id: '{{id}}', who: '{{user}}' } },
    });
    run = createProbeRun({
      target: app.url,
      sessions: 2,
      websockets: 2,
      wsAckTimeoutMs: 300,
      scenario,
      ...FAST,
    });
    await run.start();
    await pollUntil(() => run!.snapshot().websockets.messagesAcked >= 20 && altered >= 2, {
      timeoutMs: 60_000,
      what: 'twenty echoes and two altered ones',
    });
    const ws = (await run.stop()).websockets;
    expect(ws.messagesAcked + ws.messagesLost).toBe(ws.messagesSent);
    expect(ws.messagesLost).toBe(altered);
  });

  it('request: a message template with {{id}} and {{user}}, the reply matched by a dotted path', async () => {
    const s = store();
    const wrongUser: string[] = [];
    let replies = 0;
    app = await startScenarioApp({
      pod: 'req-1',
      writeTo: [s],
      readFrom: s,
      onSocket: (ws, { user }) =>
        ws.on('message', (raw) => {
          const msg = JSON.parse(raw.toString()) as { op: string; ref: string; who: string };
          if (msg.who !== user) wrongUser.push(msg.who);
          replies += 1;
          ws.send(JSON.stringify({ ok: true, data: { ref: msg.ref, price: 101 } }));
        }),
    });
    const scenario = parseScenario({
      websocket: {
        pattern: 'request',
        message: { op: 'quote', ref: '{{id}}', who: '{{user}}' },
        replyId: 'data.ref',
      },
    });
    run = createProbeRun({
      target: app.url,
      sessions: 3,
      websockets: 3,
      wsAckTimeoutMs: 5000,
      scenario,
      ...FAST,
    });
    await run.start();
    await pollUntil(() => run!.snapshot().websockets.messagesAcked >= 20, {
      timeoutMs: 60_000,
      what: '20 replies',
    });
    const ws = (await run.stop()).websockets;
    expect(wrongUser).toEqual([]);
    expect(ws.messagesLost).toBe(0);
    expect(ws.messagesAcked).toBe(ws.messagesSent);
    expect(ws.messagesSent).toBe(replies);
  });

  it('hold: sends nothing and counts the closes it did not ask for', async () => {
    const s = store();
    let received = 0;
    app = await startScenarioApp({
      pod: 'hold-1',
      writeTo: [s],
      readFrom: s,
      onSocket: (ws, { connection }) => {
        ws.on('message', () => {
          received += 1;
        });
        if (connection <= 2) setTimeout(() => ws.close(1001, 'going away'), 50).unref();
      },
    });
    const scenario = parseScenario({ websocket: { pattern: 'hold' } });
    run = createProbeRun({
      target: app.url,
      sessions: 2,
      websockets: 2,
      wsAckTimeoutMs: 5000,
      scenario,
      ...FAST,
    });
    await run.start();
    await pollUntil(() => run!.snapshot().websockets.connections >= 4, {
      timeoutMs: 60_000,
      what: '4 connections',
    });
    const ws = (await run.stop()).websockets;
    expect(received).toBe(0);
    expect(ws.messagesSent).toBe(0);
    expect(ws.closesByCode).toEqual({ '1001': 2 });
  });

  const subscribe = async (resume: ResumeMode, withResume: boolean) => {
    const s = store();
    // Connections 1-3 (one per session) are closed after 5 pushes; later ones stay.
    const feed = createFeed({ tickMs: 25, resume, closeAfter: (c) => (c <= 3 ? 5 : undefined) });
    app = await startScenarioApp({ pod: 'feed-1', writeTo: [s], readFrom: s, onSocket: feed.onSocket });
    const scenario = parseScenario({
      websocket: {
        pattern: 'subscribe',
        subscribe: { type: 'subscribe', user: '{{user}}' },
        sequence: 'data.seq',
        ...(withResume ? { resume: { type: 'resume', after: '{{lastId}}' } } : {}),
      },
    });
    // A slow first reconnect, so the feed ticks while each session is away.
    run = createProbeRun({
      target: app.url,
      sessions: 3,
      websockets: 3,
      wsAckTimeoutMs: 5000,
      scenario,
      ...FAST,
      wsReconnectMinMs: 150,
      wsReconnectMaxMs: 300,
    });
    await run.start();
    await pollUntil(() => feed.closed >= 3 && app!.wsConnections >= 6, {
      timeoutMs: 60_000,
      what: 'three closed connections and their reconnects',
    });
    await feed.settle();
    await pollUntil(() => run!.snapshot().websockets.messagesReceived >= feed.sent, {
      timeoutMs: 30_000,
      what: 'every push sent to arrive',
    });
    const ws = (await run.stop()).websockets;
    expect(ws.messagesReceived).toBe(feed.sent);
    expect(ws.closesByCode).toEqual({ '1001': 3 });
    expect(ws.messagesSent).toBe(0);
    return { ws, feed };
  };

  it('subscribe: the gaps across reconnects are the ticks the app itself counted as missed', async () => {
    const { ws, feed } = await subscribe('none', false);
    expect(feed.missed).toBeGreaterThanOrEqual(3);
    expect(ws.messagesLost).toBe(feed.missed);
    expect(ws.messagesDuplicated).toBe(0);
  });

  it('subscribe with resume: {{lastId}} gets the missed pushes replayed, nothing lost or duplicated', async () => {
    const { ws, feed } = await subscribe('after', true);
    expect(feed.replayed).toBeGreaterThanOrEqual(3);
    expect(feed.missed).toBe(0);
    expect(ws.messagesLost).toBe(0);
    expect(ws.messagesDuplicated).toBe(0);
  });

  it('subscribe with a resume that replays the last id too: one duplicate per reconnect', async () => {
    const { ws, feed } = await subscribe('inclusive', true);
    expect(feed.missed).toBe(0);
    expect(ws.messagesLost).toBe(0);
    expect(ws.messagesDuplicated).toBe(3);
  });
});
