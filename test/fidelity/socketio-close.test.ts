import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import type { AnyEvent } from '../../contract/index.js';
import { type RunningServer, startRedisServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { createTestStream, waitForEvents } from '../helpers/agent-harness.js';
import { natsClient, type TestNamespace, testNamespace, uniqueTag } from '../helpers/servers.js';
import { type AppStarter, useFidelity } from './harness.js';

// The Socket.IO chat feed's fixed variant (examples/chat-feed) at SIGTERM, alone and behind the
// agent: it sends a DISCONNECT packet to each socket, the client closes the WebSocket (an empty
// close frame: Engine.IO never gives a code), the app's `ws` answers with its own, and the app
// exits 0 once every connection closed. Through the agent the client must see the same, whether
// the agent hears SIGTERM after the app exited (a native sidecar, as `rehearse` runs it) or with
// it (a classic sidecar, agent/sidecar-wait.ts), and the agent records each close's frame.
// Run `npm run build` first: the app is the compiled example.

const MAIN = fileURLToPath(new URL('../../dist/examples/chat-feed/main.js', import.meta.url));
const USERS = ['ana', 'ben', 'cy'];

const fx = useFidelity();
let redis: RunningServer;
let nc: NatsConnection;
beforeAll(async () => {
  redis = await startRedisServer();
  nc = await natsClient({ url: fx.natsUrl } as RunningServer);
});
afterAll(async () => {
  await nc?.close();
  await redis?.stop();
});

/** The app started last (each side gets a fresh one), for the script to signal. */
let current: ChildProcess | undefined;

const chatFeed: AppStarter = async () => {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      CHAT_MODE: 'fixed',
      HOST: '127.0.0.1',
      PORT: '0',
      REDIS_URL: redis.url,
      CHAT_REDIS_PREFIX: `${uniqueTag()}:`,
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  current = child;
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on [^\s:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`chat-feed exited ${code}: ${out}`)));
  });
  return {
    port,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
};

interface SeenClose {
  /** The client's Socket.IO disconnect reason. */
  reason?: string;
  /** The code of the WebSocket's close at the client: 1005 = the app's close frame had no code, 1006 = none came. */
  wsCode?: number;
}

/** Connects every user, sends the app SIGTERM (and `alsoAtSigterm`), returns what the clients saw. */
async function sigtermWithSockets(port: number, alsoAtSigterm?: () => void) {
  const seen: SeenClose[] = [];
  const sockets: Socket[] = [];
  try {
    for (const user of USERS) {
      const s = io(`http://127.0.0.1:${port}`, {
        transports: ['websocket'],
        extraHeaders: { cookie: `u=${user}` },
        reconnection: false,
        auth: { serverOffset: '' },
      });
      sockets.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('chat', () => resolve());
        s.once('connect_error', reject);
      });
      const close: SeenClose = {};
      seen.push(close);
      // The `ws` socket under Engine.IO: its close code tells whether a close frame came back.
      const raw = (s.io.engine.transport as unknown as { ws: WebSocket }).ws;
      raw.once('close', (code: number) => {
        close.wsCode = code;
      });
      s.once('disconnect', (reason) => {
        close.reason = reason;
      });
    }
    const app = current!;
    const exited = new Promise<number | null>((r) => app.once('exit', (code) => r(code)));
    app.kill('SIGTERM');
    alsoAtSigterm?.();
    const exitCode = await exited;
    await pollUntil(() => seen.every((c) => c.wsCode !== undefined), {
      timeoutMs: 5000,
      what: 'every WebSocket closed at the client',
    });
    return { exitCode, seen };
  } finally {
    for (const s of sockets) s.close();
  }
}

/** The agent's websocket.closed events: who closed, with a frame, which code (none: absent). */
async function agentCloses(ns: TestNamespace): Promise<string[]> {
  const closed = (evs: AnyEvent[]) => evs.flatMap((e) => (e.kind === 'websocket.closed' ? [e.data] : []));
  const events = await waitForEvents(nc, ns, (evs) => closed(evs).length >= USERS.length, 'the closes');
  return closed(events).map((d) => `${d.closedBy} frame=${d.closeFrame} code=${d.code ?? 'none'}`);
}

const CLEAN_AT_CLIENT = {
  exitCode: 0,
  seen: USERS.map(() => ({ reason: 'io server disconnect', wsCode: 1005 })),
};
const RECORDED = USERS.map(() => 'client frame=true code=none');

describe('fidelity: Socket.IO closes at SIGTERM (examples/chat-feed fixed)', () => {
  it('app SIGTERM alone: the client’s close frame and the app’s answer pass; the agent records the frame', async () => {
    const ns = testNamespace();
    await createTestStream(nc, ns);
    const { direct } = await fx.compare(chatFeed, (port) => sigtermWithSockets(port), { ns });
    expect(direct).toEqual(CLEAN_AT_CLIENT);
    expect(await agentCloses(ns)).toEqual(RECORDED);
  });

  it('classic sidecar: the agent’s SIGTERM with the app’s waits for the closes, the client sees the same', async () => {
    const ns = testNamespace();
    await createTestStream(nc, ns);
    const app = await chatFeed();
    let direct: Awaited<ReturnType<typeof sigtermWithSockets>>;
    try {
      direct = await sigtermWithSockets(app.port);
    } finally {
      await app.close();
    }
    const viaAgent = await fx.viaAgent(
      chatFeed,
      (port, agent) => sigtermWithSockets(port, () => void agent.agent.stop()),
      { ns },
    );
    expect(viaAgent, 'through the agent vs the app alone').toEqual(direct);
    expect(direct).toEqual(CLEAN_AT_CLIENT);
    expect(await agentCloses(ns)).toEqual(RECORDED);
  });
});
