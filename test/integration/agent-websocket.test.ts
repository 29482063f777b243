import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRng,
  type GeneratedStream,
  invalidStream,
  randomChunks,
  validStream,
} from '../helpers/agent-frames.js';
import {
  type AgentUnderTest,
  createTestStream,
  startAgentUnderTest,
  waitForEvents,
} from '../helpers/agent-harness.js';
import { natsClient, startTestServers, type TestServers } from '../helpers/servers.js';

// A raw TCP "app" that answers the upgrade and then sends and records bytes exactly, so the test
// compares what each side sent with what the other side received, byte for byte.

interface Exchange {
  readonly appToClient: Buffer;
  /** How many bytes the client sends after its head: the app half-closes once it has them all. */
  readonly clientToAppLength: number;
}

const exchanges = new Map<string, Exchange>();
const appReceived = new Map<string, Promise<Buffer>>();
let appServer: Server;
let appPort: number;

function indexOfHeadEnd(b: Buffer): number {
  const i = b.indexOf('\r\n\r\n');
  return i < 0 ? -1 : i + 4;
}

async function writeChunks(sock: Socket, chunks: Buffer[]): Promise<void> {
  for (const [i, c] of chunks.entries()) {
    if (!sock.write(c)) await new Promise((r) => sock.once('drain', r));
    // Yield now and then so chunks reach the wire as separate TCP segments.
    if (i % 7 === 0) await new Promise((r) => setImmediate(r));
  }
}

function startRawApp(): Promise<void> {
  appServer = createServer((sock) => {
    let head = Buffer.alloc(0);
    let body: Buffer[] | undefined;
    let resolveBody: (b: Buffer) => void = () => undefined;
    const done = new Promise<Buffer>((r) => {
      resolveBody = r;
    });
    let got = 0;
    let expected = Number.POSITIVE_INFINITY;
    let sending: Promise<void> = Promise.resolve();
    const maybeEnd = (): void => {
      if (got < expected) return;
      // Everything arrived: answer with our FIN once our own stream is out.
      resolveBody(Buffer.concat(body ?? []));
      void sending.then(() => sock.end());
    };
    sock.on('data', (chunk: Buffer) => {
      if (body) {
        body.push(chunk);
        got += chunk.length;
        maybeEnd();
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = indexOfHeadEnd(head);
      if (end < 0) return;
      const text = head.subarray(0, end).toString('latin1');
      const id = /x-drainwatch-probe: (\S+)/i.exec(text)?.[1] ?? '';
      body = [head.subarray(end)];
      got = body[0]!.length;
      appReceived.set(id, done);
      const ex = exchanges.get(id)!;
      expected = ex.clientToAppLength;
      const rng = createRng(id.length * 31 + Number(id.split('-')[1]));
      const chunks = randomChunks(rng, ex.appToClient);
      // The first stream bytes ride in the same write as the 101 head.
      const first = Buffer.concat([
        Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
        chunks[0] ?? Buffer.alloc(0),
      ]);
      sending = writeChunks(sock, [first, ...chunks.slice(1)]);
      maybeEnd();
    });
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) =>
    appServer.listen(0, '127.0.0.1', () => {
      appPort = (appServer.address() as AddressInfo).port;
      resolve();
    }),
  );
}

/** Opens a raw upgrade through the agent, sends the client stream, returns what the client received. */
async function clientSession(
  port: number,
  id: string,
  clientToApp: Buffer,
  rngSeed: number,
  expectFromApp: number,
): Promise<{ head: string; received: Buffer }> {
  const rng = createRng(rngSeed);
  const sock = tcpConnect({ host: '127.0.0.1', port });
  await new Promise((r) => sock.once('connect', r));
  const chunks = randomChunks(rng, clientToApp);
  const reqHead =
    `GET /fuzz/${id} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
    `Sec-WebSocket-Extensions: permessage-deflate\r\nx-drainwatch-probe: ${id}\r\n\r\n`;
  const parts: Buffer[] = [];
  let total = 0;
  let headBytes = Buffer.alloc(0);
  let headLength = -1;
  let finSent = false;
  let sent = false;
  // The client half-closes only once it has both sent everything and received everything.
  const maybeFin = (): void => {
    if (headLength >= 0 && total - headLength >= expectFromApp && sent && !finSent) {
      finSent = true;
      sock.end();
    }
  };
  const ended = new Promise<void>((resolve) => {
    sock.on('data', (c: Buffer) => {
      parts.push(c);
      total += c.length;
      if (headLength < 0) {
        headBytes = Buffer.concat([headBytes, c]);
        headLength = indexOfHeadEnd(headBytes);
      }
      maybeFin();
    });
    sock.on('end', () => resolve());
    sock.on('close', () => resolve());
  });
  sock.on('error', () => undefined);
  // Client bytes may follow the head in the same packet (the agent's `head` buffer).
  await writeChunks(sock, [
    Buffer.concat([Buffer.from(reqHead), chunks[0] ?? Buffer.alloc(0)]),
    ...chunks.slice(1),
  ]);
  sent = true;
  maybeFin();
  await ended;
  const all = Buffer.concat(parts);
  const end = indexOfHeadEnd(all);
  return { head: all.subarray(0, end).toString('latin1'), received: all.subarray(end) };
}

const SESSIONS = 40;
let servers: TestServers;
let nc: NatsConnection;
let a: AgentUnderTest;

beforeAll(async () => {
  servers = await startTestServers();
  nc = await natsClient(servers.nats);
  await startRawApp();
  a = await startAgentUnderTest({ upstreamPort: appPort, natsUrl: servers.nats.url });
  await createTestStream(nc, a.ns);
});

afterAll(async () => {
  await a?.agent.stop({ immediate: true });
  await new Promise((r) => appServer?.close(r));
  await nc?.close();
  await servers?.stop();
});

describe('agent WebSocket pass-through', () => {
  it('fuzz: random valid and invalid frame streams come out byte-identical, close frames are attributed', async () => {
    const expectations = new Map<string, { closedBy: string; code: number | undefined }>();
    for (let seed = 1; seed <= SESSIONS; seed++) {
      const id = `fuzz-${seed}`;
      const rng = createRng(seed * 104_729);
      const valid = rng.next() < 0.6;
      // In valid runs exactly one side (chosen at random) ends with a close frame.
      const closer = rng.next() < 0.5 ? 'client' : 'app';
      const fromClient: GeneratedStream = valid
        ? validStream(rng, true, closer === 'client')
        : invalidStream(rng, true);
      const fromApp: GeneratedStream = valid
        ? validStream(rng, false, closer === 'app')
        : invalidStream(rng, false);
      exchanges.set(id, { appToClient: fromApp.bytes, clientToAppLength: fromClient.bytes.length });
      const { head, received } = await clientSession(
        a.trafficPort,
        id,
        fromClient.bytes,
        seed,
        fromApp.bytes.length,
      );
      expect(head, id).toMatch(/^HTTP\/1\.1 101 /);
      expect(head, id).toContain('x-drainwatch-pod: web-7d9f8b6c5d-x2x9q\r\n');
      const atApp = await appReceived.get(id)!;
      expect(atApp.equals(fromClient.bytes), `${id}: client→app bytes differ`).toBe(true);
      expect(received.equals(fromApp.bytes), `${id}: app→client bytes differ`).toBe(true);
      if (valid) {
        const code = closer === 'client' ? fromClient.closeCode : fromApp.closeCode;
        expectations.set(id, { closedBy: closer, code });
      }
    }
    const events = await waitForEvents(
      nc,
      a.ns,
      (evs) =>
        evs.filter((e) => e.kind === 'websocket.closed' && e.data.probeId?.startsWith('fuzz-')).length ===
        SESSIONS,
      'a websocket.closed event per session',
    );
    for (const e of events) {
      if (e.kind !== 'websocket.closed') continue;
      const want = expectations.get(e.data.probeId ?? '');
      if (!want) continue;
      expect({ closedBy: e.data.closedBy, code: e.data.code }, e.data.probeId).toEqual(want);
      expect(e.data.closeFrame).toBe(true);
    }
    expect(expectations.size).toBeGreaterThan(5);
    // Still serving after all that.
    expect(a.agent.state().websockets).toBe(0);
  });
});
