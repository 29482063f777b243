import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, type Socket, connect as tcpConnect } from 'node:net';
import express, { type Express } from 'express';
import { afterAll, beforeAll, expect } from 'vitest';
import { WebSocketServer } from 'ws';
import { type RunningServer, startNatsServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import { type AgentUnderTest, startAgentUnderTest } from '../helpers/agent-harness.js';
import { parseResponse } from '../helpers/raw-http.js';
import type { TestNamespace } from '../helpers/servers.js';

// Differential fidelity: the same client script runs against the app on its own port and through
// an agent in front of it, and both runs must see the same thing: status lines, end-to-end headers,
// body bytes, and what became of the connection. Apps are real servers on loopback (Node http,
// Express, ws, Python's http.server).

// ---- apps -------------------------------------------------------------------------------------

export interface AppUnderTest {
  readonly port: number;
  close(): Promise<void>;
}
export type AppStarter = () => Promise<AppUnderTest>;

function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return sockets;
}

async function listen(server: Server): Promise<AppUnderTest> {
  const sockets = trackSockets(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A Node `http` server; `configure` may set its timeouts or add listeners. */
export function nodeApp(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  configure?: (server: Server) => void,
): AppStarter {
  return () => {
    const server = createServer(handler);
    configure?.(server);
    return listen(server);
  };
}

export function expressApp(setup: (app: Express) => void): AppStarter {
  return () => {
    const app = express();
    setup(app);
    return listen(createServer(app));
  };
}

/** A `ws` server echoing messages; `onConnection` may replace that. */
export function wsApp(onConnection?: (ws: import('ws').WebSocket, req: IncomingMessage) => void): AppStarter {
  return () => {
    const server = createServer((_req, res) => res.end('no upgrade'));
    const wss = new WebSocketServer({ server });
    wss.on(
      'connection',
      onConnection ?? ((ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))),
    );
    return listen(server);
  };
}

/**
 * Python's http.server (HTTP/1.1, ThreadingHTTPServer) with `handlerBody` as the methods of its
 * BaseHTTPRequestHandler subclass, indented by four spaces.
 */
export function pythonApp(handlerBody: string): AppStarter {
  const source = [
    'import http.server, sys',
    'class H(http.server.BaseHTTPRequestHandler):',
    "    protocol_version = 'HTTP/1.1'",
    '    def log_message(self, *a): pass',
    handlerBody,
    "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)",
    "print('listening', s.server_address[1], flush=True)",
    's.serve_forever()',
  ].join('\n');
  return async () => {
    const child: ChildProcess = spawn('python3', ['-c', source], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`python app exited ${code}: ${err}`)));
    });
    return {
      port,
      close: async () => {
        if (child.exitCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      },
    };
  };
}

// ---- what a client sees ---------------------------------------------------------------------------

/** How the connection ended up after the script: the server closed it (FIN), reset it, or kept it. */
export type Fate = 'fin' | 'reset' | 'kept-alive' | 'open';

export interface SeenResponse {
  readonly statusLine: string;
  /** End-to-end headers, names lower-cased, in order: hop-by-hop, Date and x-drainwatch-* left out. */
  readonly headers: readonly [string, string][];
  /** The body as latin1 text, or its length and sha256 when longer than 256 bytes. */
  readonly body: string;
}

// Headers that legitimately differ between two hops or two moments.
const NOT_COMPARED = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'date',
]);

function seen(r: ReturnType<typeof parseResponse>): SeenResponse {
  const res = r!.response;
  const body =
    res.body.length > 256
      ? `${res.body.length} bytes sha256:${createHash('sha256').update(res.body).digest('hex')}`
      : res.body.toString('latin1');
  return {
    statusLine: res.statusLine.replace(/^HTTP\/1\.[01] /, ''),
    headers: res.headers
      .map(([n, v]): [string, string] => [n.toLowerCase(), v])
      .filter(([n]) => !NOT_COMPARED.has(n) && !n.startsWith('x-drainwatch-')),
    body,
  };
}

/** A raw client connection whose reads and end are recorded, for scripts. */
export class Conn {
  private parts: Buffer[] = [];
  /** The server's FIN arrived (before any reset). */
  fin = false;
  reset = false;
  closed = false;
  connectError: string | undefined;

  constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.parts.push(c);
    });
    socket.on('end', () => {
      if (!this.reset) this.fin = true;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') this.connectError = err.code;
      else if (!this.fin) this.reset = true;
    });
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static open(port: number): Promise<Conn> {
    const socket = tcpConnect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const conn = new Conn(socket);
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(conn));
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) {
        resolve();
        return;
      }
      if (typeof data === 'string') this.socket.write(data, 'latin1', () => resolve());
      else this.socket.write(data, () => resolve());
    });
  }

  /** Our FIN: the request is complete and nothing more will be sent. */
  halfClose(): void {
    this.socket.end();
  }

  /** Bytes received and not yet read as a response (joined lazily: big bodies come in many reads). */
  private get buf(): Buffer {
    if (this.parts.length !== 1) this.parts = [Buffer.concat(this.parts)];
    return this.parts[0]!;
  }

  private set buf(b: Buffer) {
    this.parts = [b];
  }

  get received(): Buffer {
    return this.buf;
  }

  /** The next whole response, or undefined when the connection ended without one. */
  async response(options: { noBody?: boolean; timeoutMs?: number } = {}): Promise<SeenResponse | undefined> {
    const r = await pollUntil(
      () => {
        const ended = this.fin || this.closed;
        if (ended && this.buf.length === 0) return { value: undefined };
        const parsed = parseResponse(this.buf, ended, options.noBody ?? false);
        if (parsed !== undefined) {
          this.buf = this.buf.subarray(parsed.used);
          return { value: seen(parsed) };
        }
        return undefined;
      },
      { timeoutMs: options.timeoutMs ?? 10_000, intervalMs: 2, what: 'a response or the end' },
    );
    return r.value;
  }

  /** Responses until `n` arrived or the connection ended. */
  async responses(n: number, options: { noBody?: boolean } = {}): Promise<SeenResponse[]> {
    const out: SeenResponse[] = [];
    for (let i = 0; i < n; i += 1) {
      const r = await this.response(options);
      if (r === undefined) break;
      out.push(r);
    }
    return out;
  }

  /** Waits until the server closed (FIN or reset). */
  async ended(timeoutMs = 10_000): Promise<Fate> {
    await pollUntil(() => this.fin || this.reset || this.closed, {
      timeoutMs,
      intervalMs: 2,
      what: 'the server to close the connection',
    });
    return this.reset ? 'reset' : 'fin';
  }

  /**
   * What became of the connection after the last response: closed by the server, or still
   * serving (another request on it is answered: the probe is `GET /` unless given).
   */
  async fate(probe = 'GET / HTTP/1.1\r\nHost: fidelity\r\n\r\n'): Promise<Fate> {
    if (this.fin || this.reset) return this.reset ? 'reset' : 'fin';
    await this.write(probe);
    const r = await this.response().catch(() => undefined);
    if (r !== undefined) return 'kept-alive';
    return this.reset ? 'reset' : 'fin';
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface Exchange {
  readonly responses: readonly SeenResponse[];
  readonly fate: Fate;
  /** Anything the server sent after the responses, before it closed. */
  readonly extra: string;
}

/**
 * The most common script: write `bytes` (in the pieces given), optionally half-close, read up to
 * `expect` responses, then learn the connection's fate (`closes: true` waits for the server's close
 * instead of probing with another request).
 */
export function exchange(
  bytes: string | Buffer | readonly (string | Buffer)[],
  options: { expect?: number; noBody?: boolean; halfClose?: boolean; closes?: boolean } = {},
): (port: number) => Promise<Exchange> {
  return async (port) => {
    const conn = await Conn.open(port);
    try {
      for (const piece of Array.isArray(bytes) ? bytes : [bytes]) await conn.write(piece as string | Buffer);
      if (options.halfClose) conn.halfClose();
      const responses = await conn.responses(options.expect ?? 1, { noBody: options.noBody ?? false });
      const fate = options.closes || options.halfClose ? await conn.ended() : await conn.fate();
      return { responses, fate, extra: conn.received.toString('latin1') };
    } finally {
      conn.destroy();
    }
  };
}

// ---- the comparison ----------------------------------------------------------------------------

export interface Compared<T> {
  readonly direct: T;
  readonly viaAgent: T;
  readonly agent: AgentUnderTest;
}

export interface Fidelity {
  /**
   * Starts the app (twice: a fresh one for each side, so state does not leak), an agent in front
   * of the second, runs `script` against each, and asserts both saw the same thing.
   */
  compare<T>(
    app: AppStarter,
    script: (port: number) => Promise<T>,
    options?: {
      env?: Record<string, string>;
      after?: (agent: AgentUnderTest) => Promise<void>;
      /** The agent publishes into this namespace (to read its events). */
      ns?: TestNamespace;
    },
  ): Promise<Compared<T>>;
  /** Runs `script` through an agent only (for what differs on purpose, e.g. the drain). */
  viaAgent<T>(
    app: AppStarter,
    script: (port: number, agent: AgentUnderTest) => Promise<T>,
    options?: { env?: Record<string, string>; ns?: TestNamespace },
  ): Promise<T>;
  /** The suite's NATS server (for reading the agent's events). */
  readonly natsUrl: string;
}

/** Registers the suite's NATS server (one per file) and returns the comparison helpers. */
export function useFidelity(): Fidelity {
  let nats: RunningServer | undefined;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  const withAgent = async <T>(
    app: AppStarter,
    env: Record<string, string> | undefined,
    run: (agent: AgentUnderTest) => Promise<T>,
    ns?: TestNamespace,
  ): Promise<T> => {
    const upstream = await app();
    const agent = await startAgentUnderTest({
      upstreamPort: upstream.port,
      natsUrl: nats!.url,
      env: { DRAINWATCH_GRACE_SECONDS: '5', ...env },
      ...(ns ? { ns } : {}),
    });
    try {
      return await run(agent);
    } finally {
      await agent.agent.stop({ immediate: true });
      await upstream.close();
    }
  };

  return {
    async compare(app, script, options = {}) {
      const upstream = await app();
      let direct: Awaited<ReturnType<typeof script>>;
      try {
        direct = await script(upstream.port);
      } finally {
        await upstream.close();
      }
      return withAgent(
        app,
        options.env,
        async (agent) => {
          const viaAgent = await script(agent.trafficPort);
          expect(viaAgent, 'through the agent vs the app alone').toEqual(direct);
          await options.after?.(agent);
          return { direct, viaAgent, agent };
        },
        options.ns,
      );
    },
    viaAgent(app, script, options = {}) {
      return withAgent(app, options.env, (agent) => script(agent.trafficPort, agent), options.ns);
    },
    get natsUrl() {
      return nats!.url;
    },
  };
}

/** Waits until the agent has recorded `n` requests, and returns its totals (ok vs failed). */
export async function agentTotals(
  agent: AgentUnderTest,
  n: number,
): Promise<{ requests: number; failed: number }> {
  return pollUntil(
    () => {
      const t = agent.agent.state().requests;
      const requests = Object.values(t.requests).reduce((a, b) => a + b, 0);
      const failed = Object.values(t.failed).reduce((a, b) => a + b, 0);
      return requests >= n ? { requests, failed } : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 5, what: `the agent to record ${n} requests` },
  );
}

export const GET = (path = '/', extra = ''): string =>
  `GET ${path} HTTP/1.1\r\nHost: fidelity\r\n${extra}\r\n`;
