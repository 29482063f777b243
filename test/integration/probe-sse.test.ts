import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/wait.js';
import { createProbeRun, type ProbeRun, parseScenario } from '../../probe/index.js';
import { type ScenarioApp, startScenarioApp } from '../helpers/probe-targets.js';
import { createSseFeed, type SseFeedOptions } from '../helpers/sse-target.js';

// Server-Sent Events sessions through the real `eventsource` client against a real HTTP server
// that numbers each user's events. Expected figures come from the feed's own counts.

describe('probe SSE sessions', () => {
  let app: ScenarioApp | undefined;
  let run: ProbeRun | undefined;
  afterEach(async () => {
    await run?.stop().catch(() => undefined);
    await app?.stop();
    app = undefined;
    run = undefined;
  });

  const rehearse = async (options: SseFeedOptions) => {
    const feed = createSseFeed(options);
    const store = new Map<string, string>();
    app = await startScenarioApp({
      pod: 'sse-1',
      writeTo: [store],
      readFrom: store,
      routes: { '/events': feed.route },
    });
    const scenario = parseScenario({ sse: { path: '/events' } });
    expect(scenario.websocket).toBeNull();
    run = createProbeRun({ target: app.url, sessions: 3, websockets: 3, rampMs: 0, scenario });
    await run.start();
    await pollUntil(
      () => feed.ended.end + feed.ended.destroy >= 3 && run!.snapshot().websockets.connections >= 6,
      {
        timeoutMs: 60_000,
        what: 'three ended streams and their reconnects',
      },
    );
    await feed.settle();
    await pollUntil(() => run!.snapshot().websockets.messagesReceived >= feed.sent, {
      timeoutMs: 30_000,
      what: 'every event written to arrive',
    });
    const ws = (await run.stop()).websockets;
    expect(ws.messagesReceived).toBe(feed.sent);
    expect(ws.messagesSent).toBe(0);
    expect(ws.closesByCode).toEqual({});
    // EventSource reconnected with the id of the last event it had.
    expect(feed.lastEventIds.length).toBeGreaterThanOrEqual(3);
    return { ws, feed };
  };

  it('counts the ids skipped across a reconnect as lost, exactly the ticks the app missed; clean ends', async () => {
    const { ws, feed } = await rehearse({
      tickMs: 25,
      resume: false,
      endAfter: (n) => (n <= 3 ? { events: 5, how: 'end' } : undefined),
    });
    expect(feed.missed).toBeGreaterThanOrEqual(1);
    expect(ws.messagesLost).toBe(feed.missed);
    expect(ws.messagesDuplicated).toBe(0);
    expect(ws.streamEnds).toEqual({ 'server-closed': 3 });
  });

  it('with Last-Event-ID honoured nothing is lost or duplicated; streams cut mid-body are `cut`', async () => {
    const { ws, feed } = await rehearse({
      tickMs: 25,
      resume: true,
      endAfter: (n) => (n <= 3 ? { events: 5, how: 'destroy' } : undefined),
    });
    expect(feed.missed).toBe(0);
    expect(ws.messagesLost).toBe(0);
    expect(ws.messagesDuplicated).toBe(0);
    expect(ws.streamEnds).toEqual({ cut: 3 });
  });
});
