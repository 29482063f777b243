import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { Server as SocketIoServer } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyEvent } from '../../contract/index.js';
import { pollUntil } from '../../lib/wait.js';
import {
  type AgentUnderTest,
  createTestStream,
  startAgentUnderTest,
  waitForEvents,
} from '../helpers/agent-harness.js';
import { natsClient, startTestServers, type TestServers } from '../helpers/servers.js';

// A real socket.io server behind the real agent, driven by the real socket.io-client. Each
// Engine.IO long-polling request (the handshake, every held GET, every POST) is an HTTP request
// and must be one `request` event; an upgrade to WebSocket is its handshake (a request answered 101)
// and one WebSocket (opened, closed). The app counts what it received; the agent's figures are
// checked against that count.

interface AppCounts {
  /** HTTP requests (not upgrades) the app received, by probe id. */
  readonly requests: Map<string, number>;
  /** Upgrade requests the app received, by probe id. */
  readonly upgrades: Map<string, number>;
  acks: number;
}

function bumpFor(map: Map<string, number>, id: string | string[] | undefined): void {
  if (typeof id === 'string') map.set(id, (map.get(id) ?? 0) + 1);
}

let servers: TestServers;
let nc: NatsConnection;
let http: Server;
let sio: SocketIoServer;
let a: AgentUnderTest;
const counts: AppCounts = { requests: new Map(), upgrades: new Map(), acks: 0 };

beforeAll(async () => {
  servers = await startTestServers();
  nc = await natsClient(servers.nats);
  http = createServer();
  sio = new SocketIoServer(http, { pingInterval: 1000, pingTimeout: 2000 });
  // Counted before Engine.IO sees them; added after it, which removes the request listeners it finds.
  http.prependListener('request', (req) => bumpFor(counts.requests, req.headers['x-drainwatch-probe']));
  http.prependListener('upgrade', (req) => bumpFor(counts.upgrades, req.headers['x-drainwatch-probe']));
  sio.on('connection', (socket) => {
    socket.on('ping', (msg: unknown, ack: (reply: unknown) => void) => {
      counts.acks += 1;
      ack(msg);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  a = await startAgentUnderTest({
    upstreamPort: (http.address() as AddressInfo).port,
    natsUrl: servers.nats.url,
  });
  await createTestStream(nc, a.ns);
});

afterAll(async () => {
  await a?.agent.stop({ immediate: true });
  sio?.close();
  await nc?.close();
  await servers?.stop();
});

/** Connects through the agent, exchanges `acks` acknowledged emits, then disconnects. */
async function exchange(
  probeId: string,
  transports: ('polling' | 'websocket')[],
  acks: number,
): Promise<Socket> {
  const socket = io(a.trafficUrl, {
    transports,
    extraHeaders: { 'x-drainwatch-probe': probeId },
    reconnection: false,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  for (let i = 0; i < acks; i++) await socket.timeout(5000).emitWithAck('ping', { i });
  return socket;
}

async function inFlight(): Promise<number> {
  const metric = await a.registry.getSingleMetric('drainwatch_agent_requests_in_flight')?.get();
  return metric?.values[0]?.value ?? 0;
}

const requestsOf = (events: AnyEvent[], probeId: string) =>
  events.flatMap((e) => (e.kind === 'request' && e.data.probeId === probeId ? [e.data] : []));
const wsOf = (events: AnyEvent[], kind: 'websocket.opened' | 'websocket.closed', probeId: string) =>
  events.filter((e) => e.kind === kind && e.data.probeId === probeId);

describe('agent: Socket.IO through the agent', () => {
  it('long-polling: every poll and post is one request event, the held poll is in flight, no WebSocket', async () => {
    const socket = await exchange('sio-poll', ['polling'], 10);
    // Idle, the client keeps one GET held at the app until the next ping: a request in flight.
    await pollUntil(async () => (await inFlight()) >= 1, {
      timeoutMs: 10_000,
      what: 'a held poll in flight',
    });
    socket.disconnect();
    await pollUntil(async () => (await inFlight()) === 0, {
      timeoutMs: 10_000,
      what: 'no request in flight',
    });
    const received = counts.requests.get('sio-poll') ?? 0;
    // Handshake, the CONNECT post, ten emits and their acks: well above ten polling requests.
    expect(received).toBeGreaterThanOrEqual(10);
    const events = await waitForEvents(
      nc,
      a.ns,
      (evs) => requestsOf(evs, 'sio-poll').length >= received,
      'a request event per polling request',
    );
    const requests = requestsOf(events, 'sio-poll');
    expect(requests).toHaveLength(received);
    for (const r of requests) {
      expect(r.route.startsWith('/socket.io/'), r.route).toBe(true);
      expect(['GET', 'POST']).toContain(r.method);
    }
    // The disconnect may abort the last held GET; every other one was answered 200.
    expect(requests.filter((r) => r.outcome !== 'ok').length).toBeLessThanOrEqual(1);
    expect(requests.filter((r) => r.connection === 'new').length).toBeGreaterThanOrEqual(1);
    expect(counts.upgrades.get('sio-poll') ?? 0).toBe(0);
    expect(wsOf(events, 'websocket.opened', 'sio-poll')).toHaveLength(0);
  });

  it('polling then upgrade: the polls are request events, the upgrade one WebSocket closed by the client', async () => {
    const socket = await exchange('sio-up', ['polling', 'websocket'], 10);
    await pollUntil(() => socket.io.engine.transport.name === 'websocket', {
      timeoutMs: 10_000,
      what: 'the upgrade to WebSocket',
    });
    for (let i = 0; i < 5; i++) await socket.timeout(5000).emitWithAck('ping', { i });
    socket.disconnect();
    const events = await waitForEvents(
      nc,
      a.ns,
      (evs) =>
        wsOf(evs, 'websocket.closed', 'sio-up').length >= 1 &&
        requestsOf(evs, 'sio-up').length >= (counts.requests.get('sio-up') ?? 0) + 1,
      'the WebSocket closed and a request event per poll',
    );
    expect(counts.upgrades.get('sio-up')).toBe(1);
    const opened = wsOf(events, 'websocket.opened', 'sio-up');
    expect(opened).toHaveLength(1);
    expect(opened[0]!.kind === 'websocket.opened' && opened[0]!.data.route.startsWith('/socket.io/')).toBe(
      true,
    );
    const closed = wsOf(events, 'websocket.closed', 'sio-up')[0]!;
    if (closed.kind !== 'websocket.closed') throw new Error('unreachable');
    expect(closed.data.closedBy).toBe('client');
    // Engine.IO closes without a status code: a close frame, empty (1005 at the other side).
    expect(closed.data.closeFrame).toBe(true);
    // The five acks after the upgrade at least, and Engine.IO's pings.
    expect(closed.data.framesFromApp).toBeGreaterThanOrEqual(5);
    // The handshake is a request too (answered 101), as for every WebSocket through the agent.
    const requests = requestsOf(events, 'sio-up');
    const list = requests.map((r) => `${r.method} ${r.route} ${r.outcome} ${r.status}`).join('\n');
    expect(requests, list).toHaveLength((counts.requests.get('sio-up') ?? 0) + 1);
    expect(
      requests.filter((r) => r.status === 101),
      list,
    ).toHaveLength(1);
    expect(
      requests.filter((r) => r.outcome !== 'ok'),
      list,
    ).toHaveLength(0);
  });

  it('the app’s disconnect (a DISCONNECT packet, then the client closes): one WebSocket closed with a close frame', async () => {
    const socket = await exchange('sio-srv', ['websocket'], 3);
    const gone = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
    for (const s of sio.of('/').sockets.values()) s.disconnect();
    expect(await gone).toBe('io server disconnect');
    const events = await waitForEvents(
      nc,
      a.ns,
      (evs) => wsOf(evs, 'websocket.closed', 'sio-srv').length >= 1,
      'the WebSocket closed',
    );
    const closed = wsOf(events, 'websocket.closed', 'sio-srv')[0]!;
    if (closed.kind !== 'websocket.closed') throw new Error('unreachable');
    expect(closed.data, JSON.stringify(closed.data)).toMatchObject({ closeFrame: true });
  });
});
