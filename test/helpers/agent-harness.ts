import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import {
  type Agent,
  type AgentConfig,
  type AgentDeps,
  createAgent,
  loadAgentConfig,
} from '../../agent/index.js';
import { type AnyEvent, requestsOfBatch } from '../../contract/index.js';
import { decodeEvent } from '../../contract/validate.js';
import { ensureStream } from '../../lib/jetstream.js';
import { pollUntil } from '../../lib/wait.js';
import { type TestNamespace, testNamespace } from './servers.js';

// A real upstream app (HTTP + WebSocket on one port), an agent in front of it, and a reader of the
// JetStream stream the agent publishes to. Every part is a real server on loopback.

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface UpstreamApp {
  readonly server: Server;
  readonly wss: WebSocketServer;
  readonly port: number;
  /** Replaces the request handler (default: 200 "ok"). */
  setHandler(h: Handler): void;
  /** Stops accepting new connections; open ones stay (like an app that got SIGTERM). */
  stopListening(): Promise<void>;
  /** Destroys every open socket at once, like a killed process (FIN/RST, no close frames). */
  kill(): void;
  close(): Promise<void>;
}

export async function startUpstreamApp(port = 0): Promise<UpstreamApp> {
  let handler: Handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  };
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => handler(req, res));
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actualPort = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    server,
    wss,
    port: actualPort,
    setHandler(h) {
      handler = h;
    },
    stopListening() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        // server.close() only resolves when every connection ended; resolve on unbind instead.
        setImmediate(resolve);
      });
    },
    kill() {
      for (const s of sockets) s.destroy();
    },
    close() {
      closed ??= (async () => {
        for (const c of wss.clients) c.terminate();
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
      })();
      return closed;
    },
  };
}

export interface AgentUnderTest {
  readonly agent: Agent;
  readonly config: AgentConfig;
  readonly registry: Registry;
  readonly ns: TestNamespace;
  readonly trafficUrl: string;
  readonly adminUrl: string;
  readonly trafficPort: number;
}

export async function startAgentUnderTest(options: {
  upstreamPort: number;
  natsUrl: string;
  env?: Record<string, string>;
  deps?: AgentDeps;
  ns?: TestNamespace;
}): Promise<AgentUnderTest> {
  const ns = options.ns ?? testNamespace();
  const config = loadAgentConfig(
    {},
    {
      DRAINWATCH_LISTEN: '127.0.0.1:0',
      DRAINWATCH_ADMIN: '127.0.0.1:0',
      DRAINWATCH_UPSTREAM: `127.0.0.1:${options.upstreamPort}`,
      NATS_URL: options.natsUrl,
      POD_NAME: 'web-7d9f8b6c5d-x2x9q',
      POD_NAMESPACE: 'shop',
      DRAINWATCH_SUBJECT_ROOT: ns.subjectRoot,
      ...options.env,
    },
  );
  const registry = new Registry();
  const agent = createAgent(config, { registry, ...options.deps });
  const { listen, admin } = await agent.start();
  return {
    agent,
    config,
    registry,
    ns,
    trafficUrl: `http://127.0.0.1:${listen.port}`,
    adminUrl: `http://127.0.0.1:${admin.port}`,
    trafficPort: listen.port,
  };
}

export async function createTestStream(nc: NatsConnection, ns: TestNamespace): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, { name: ns.streamName, root: ns.subjectRoot, maxAgeSeconds: 3600 });
}

/** Every message stored in the stream, in stream order, as the event it carries (batches as they are). */
export async function readMessages(nc: NatsConnection, ns: TestNamespace): Promise<AnyEvent[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(ns.streamName);
  const out: AnyEvent[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(ns.streamName, { seq });
    if (msg) out.push(decodeEvent(msg.data));
  }
  return out;
}

/**
 * Every event stored in the stream, in stream order, as the collector's readers see them: a
 * `request.batch` as its `request` events (sharing the batch's seq). readMessages gives the messages.
 */
export async function readStream(nc: NatsConnection, ns: TestNamespace): Promise<AnyEvent[]> {
  return (await readMessages(nc, ns)).flatMap((e) => (e.kind === 'request.batch' ? requestsOfBatch(e) : [e]));
}

/**
 * The seqs of the messages behind `events` (readStream's view): a batch's request events share
 * their message's seq, so runs of one seq count once. For checks that the stream holds every
 * message the agent made, once and in order.
 */
export function messageSeqs(events: readonly AnyEvent[]): number[] {
  const out: number[] = [];
  events.forEach((e, i) => {
    const prev = events[i - 1];
    if (!(prev && prev.seq === e.seq && prev.instance === e.instance)) out.push(e.seq);
  });
  return out;
}

/** Polls the stream until `check` accepts its events. */
export async function waitForEvents(
  nc: NatsConnection,
  ns: TestNamespace,
  check: (events: AnyEvent[]) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<AnyEvent[]> {
  let last: AnyEvent[] = [];
  try {
    return await pollUntil(
      async () => {
        last = await readStream(nc, ns);
        return check(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 100, what },
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}; stream held: ${last.map((e) => `${e.seq}:${e.kind}`).join(', ')}`,
    );
  }
}
