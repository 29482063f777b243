import { Server as SocketIoServer } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/wait.js';
import { createProbeRun, type ProbeRun, parseScenario } from '../../probe/index.js';
import {
  type Balancer,
  roundRobin,
  type ScenarioApp,
  type SessionStore,
  startBalancer,
  startScenarioApp,
} from '../helpers/probe-targets.js';

// Socket.IO sessions through the real socket.io-client against real socket.io servers: the
// acknowledgement is the correlation, disconnect reasons are the client's, and long-polling
// behind a balancer without affinity meets Engine.IO's 400 "Session ID unknown".

function cookieSid(header: string | undefined): string | undefined {
  return /(?:^|;\s*)sid=([^;]+)/.exec(header ?? '')?.[1];
}

interface Replica {
  app: ScenarioApp;
  io: SocketIoServer;
  acks: number;
}

async function replica(
  pod: string,
  store: SessionStore,
  onConnect?: (n: number, socket: { disconnect(close: boolean): void }) => void,
) {
  const r = { acks: 0 } as Replica;
  let connections = 0;
  r.app = await startScenarioApp({
    pod,
    writeTo: [store],
    readFrom: store,
    attach: (server) => {
      r.io = new SocketIoServer(server, { pingInterval: 2000, pingTimeout: 2000 });
      r.io.use((socket, next) => {
        const sid = cookieSid(socket.request.headers.cookie);
        next(sid && store.has(sid) ? undefined : new Error('not logged in'));
      });
      r.io.on('connection', (socket) => {
        connections += 1;
        socket.on('ping', (msg: { id: string }, ack: (reply: unknown) => void) => {
          r.acks += 1;
          ack({ id: msg.id });
        });
        onConnect?.(connections, socket);
      });
    },
  });
  return r;
}

interface Feed {
  app: ScenarioApp;
  io: SocketIoServer;
  /** Sequence numbers broadcast while the probe's socket was connected, and while it was not. */
  whileConnected: number[];
  whileAway: number[];
  stop(): void;
}

/** One replica broadcasting `chat` {seq} every 20 ms; `cut()` drops the probe's transport. */
async function feedReplica(store: SessionStore, recovery: boolean): Promise<Feed> {
  const f = { whileConnected: [], whileAway: [] } as unknown as Feed;
  let seq = 0;
  f.app = await startScenarioApp({
    pod: 'sio-feed',
    writeTo: [store],
    readFrom: store,
    attach: (server) => {
      f.io = new SocketIoServer(server, {
        transports: ['websocket'],
        ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 10_000 } } : {}),
      });
    },
  });
  const timer = setInterval(() => {
    seq += 1;
    (f.io.of('/').sockets.size > 0 ? f.whileConnected : f.whileAway).push(seq);
    f.io.emit('chat', { seq });
  }, 20);
  timer.unref();
  f.stop = () => clearInterval(timer);
  return f;
}

describe('probe Socket.IO sessions', () => {
  const replicas: Replica[] = [];
  let balancer: Balancer | undefined;
  let run: ProbeRun | undefined;
  afterEach(async () => {
    await run?.stop().catch(() => undefined);
    for (const r of replicas.splice(0)) {
      r.io.close();
      await r.app.stop();
    }
    await balancer?.stop();
    balancer = undefined;
    run = undefined;
  });

  it('acks correlate each emit; the server’s disconnect is recorded by reason, its unacked emits lost', async () => {
    const store: SessionStore = new Map();
    // The first connection is dropped by the server after its third ack.
    const r = await replica('sio-1', store, (n, socket) => {
      if (n === 1) setTimeout(() => socket.disconnect(true), 300).unref();
    });
    replicas.push(r);
    const scenario = parseScenario({ socketio: { transports: ['websocket'] } });
    run = createProbeRun({
      target: r.app.url,
      sessions: 2,
      websockets: 2,
      rampMs: 0,
      wsPingIntervalMs: 40,
      wsAckTimeoutMs: 2000,
      wsReconnectMinMs: 20,
      wsReconnectMaxMs: 80,
      scenario,
    });
    await run.start();
    await pollUntil(() => run!.snapshot().websockets.connections >= 3 && r.acks >= 30, {
      timeoutMs: 60_000,
      what: 'a reconnect after the server’s disconnect and 30 acks',
    });
    const ws = (await run.stop()).websockets;
    expect(ws.disconnectReasons).toEqual({ 'io server disconnect': 1 });
    expect(ws.messagesAcked + ws.messagesLost).toBe(ws.messagesSent);
    expect(ws.messagesAcked).toBe(r.acks);
  });

  it('long-polling round-robin over two replicas: 400 "Session ID unknown" attributed to no-session-affinity', async () => {
    const store: SessionStore = new Map();
    replicas.push(await replica('sio-a', store), await replica('sio-b', store));
    balancer = await startBalancer(
      replicas.map((r) => r.app.url),
      roundRobin(2),
    );
    const scenario = parseScenario({ socketio: { transports: ['polling'] } });
    run = createProbeRun({
      target: balancer.url,
      sessions: 2,
      websockets: 2,
      rampMs: 0,
      wsPingIntervalMs: 100,
      wsAckTimeoutMs: 2000,
      wsReconnectMinMs: 50,
      wsReconnectMaxMs: 200,
      scenario,
    });
    await run.start();
    await pollUntil(() => (run!.snapshot().websockets.disconnectCauses['no-session-affinity'] ?? 0) >= 2, {
      timeoutMs: 60_000,
      what: 'two polls refused as Session ID unknown',
    });
    const ws = (await run.stop()).websockets;
    expect(Object.keys(ws.disconnectCauses)).toEqual(['no-session-affinity']);
  });

  it('long-polling to one replica: acks flow and no poll is refused', async () => {
    const store: SessionStore = new Map();
    const r = await replica('sio-one', store);
    replicas.push(r);
    balancer = await startBalancer([r.app.url], roundRobin(1));
    const scenario = parseScenario({ socketio: { transports: ['polling'] } });
    run = createProbeRun({
      target: balancer.url,
      sessions: 2,
      websockets: 2,
      rampMs: 0,
      wsPingIntervalMs: 50,
      scenario,
    });
    await run.start();
    await pollUntil(() => r.acks >= 20, { timeoutMs: 60_000, what: '20 acks over long-polling' });
    const ws = (await run.stop()).websockets;
    expect(ws.disconnectCauses).toEqual({});
    expect(ws.disconnectReasons).toEqual({});
    expect(ws.messagesLost).toBe(0);
    expect(ws.messagesAcked).toBe(r.acks);
  });

  for (const recovery of [false, true]) {
    it(`push: pushes missed across a reconnect are lost ${recovery ? 'none, with' : 'as counted by the server, without'} connection-state recovery`, async () => {
      const store: SessionStore = new Map();
      const feed = await feedReplica(store, recovery);
      const scenario = parseScenario({
        socketio: { transports: ['websocket'], event: null, push: { event: 'chat', sequence: 'seq' } },
      });
      try {
        run = createProbeRun({
          target: feed.app.url,
          sessions: 1,
          websockets: 1,
          rampMs: 0,
          wsReconnectMinMs: 300,
          wsReconnectMaxMs: 300,
          scenario,
        });
        await run.start();
        await pollUntil(() => run!.snapshot().websockets.messagesReceived >= 10, {
          timeoutMs: 30_000,
          what: 'ten pushes',
        });
        // The server drops the transport (reason `forced close`, recoverable); the client reconnects.
        for (const socket of feed.io.of('/').sockets.values()) socket.conn.close();
        await pollUntil(
          () => run!.snapshot().websockets.connections >= 2 && feed.io.of('/').sockets.size > 0,
          {
            timeoutMs: 30_000,
            what: 'a reconnect',
          },
        );
        const atReconnect = run.snapshot().websockets.messagesReceived;
        await pollUntil(() => run!.snapshot().websockets.messagesReceived >= atReconnect + 5, {
          timeoutMs: 30_000,
          what: 'pushes after the reconnect',
        });
        feed.stop();
        // Every push from the probe's first to the last broadcast is either received or in a gap.
        const span = Math.max(...feed.whileConnected, ...feed.whileAway) - feed.whileConnected[0]! + 1;
        await pollUntil(
          () => {
            const w = run!.snapshot().websockets;
            return w.messagesReceived + w.messagesLost >= span;
          },
          { timeoutMs: 30_000, what: 'the last push' },
        );
        const ws = (await run.stop()).websockets;
        expect(ws.disconnectReasons).toEqual({ 'transport close': 1 });
        expect(feed.whileAway.length).toBeGreaterThan(0);
        expect(ws.messagesDuplicated).toBe(0);
        // Pushes broadcast before the probe's first push are not its to miss.
        if (recovery) expect(ws.messagesLost).toBe(0);
        else expect(ws.messagesLost).toBe(feed.whileAway.filter((n) => n > feed.whileConnected[0]!).length);
      } finally {
        feed.stop();
        await run?.stop().catch(() => undefined);
        run = undefined;
        feed.io.close();
        await feed.app.stop();
      }
    });
  }
});
