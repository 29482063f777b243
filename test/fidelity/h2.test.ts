import { createHash } from 'node:crypto';
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  createServer as createH2Server,
  constants as H2,
  connect as h2Connect,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/wait.js';
import { type AgentUnderTest, createTestStream, waitForEvents } from '../helpers/agent-harness.js';
import { testNamespace } from '../helpers/servers.js';
import { type AppStarter, agentTotals, useFidelity } from './harness.js';

// HTTP/2 cleartext (prior knowledge) through the agent's frame relay: what a client sees of the
// app alone and through the agent must be the same (status, headers, body, trailers, RST_STREAM
// codes, GOAWAY, large bodies under flow control, a dying app), while the agent counts each stream.

const fx = useFidelity();

type StreamHandler = (
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  session: ServerHttp2Session,
  /** Closes every socket of the app at once, as its process exiting would (no GOAWAY). */
  exit: () => void,
) => void;

/** A node:http2 app (h2c); close() destroys its sessions. */
function h2App(onStream: StreamHandler): AppStarter {
  return async () => {
    const server = createH2Server();
    const sessions = new Set<ServerHttp2Session>();
    const sockets = new Set<Socket>();
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    server.on('session', (s) => {
      sessions.add(s);
      s.on('error', () => undefined);
      s.once('close', () => sessions.delete(s));
    });
    server.on('stream', (stream, headers) => {
      stream.on('error', () => undefined);
      onStream(stream, headers, stream.session as ServerHttp2Session, () => {
        for (const s of sockets) s.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return {
      port,
      close: () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    };
  };
}

/** What one stream showed the client. */
interface Seen {
  status?: number | undefined;
  headers?: Record<string, unknown>;
  body?: string;
  trailers?: Record<string, unknown>;
  rstCode?: number;
  error?: string;
}

const NOT_COMPARED = new Set(['date']);
function plain(h: IncomingHttpHeaders): Record<string, unknown> {
  return Object.fromEntries(Object.entries(h).filter(([k]) => !NOT_COMPARED.has(k) && k !== ':status'));
}
function digest(b: Buffer): string {
  return b.length > 256
    ? `${b.length} bytes sha256:${createHash('sha256').update(b).digest('hex')}`
    : b.toString();
}

/** Runs one request on `session` and records what came back; never rejects. */
function call(
  session: ClientHttp2Session,
  headers: Record<string, string>,
  body?: Buffer | string,
  onStream?: (s: ClientHttp2Stream) => void,
): Promise<Seen> {
  return new Promise((resolve) => {
    const seen: Seen = {};
    const chunks: Buffer[] = [];
    let req: ClientHttp2Stream;
    try {
      req = session.request({ ':method': 'POST', ...headers });
    } catch (err) {
      resolve({ error: (err as NodeJS.ErrnoException).code ?? 'throw' });
      return;
    }
    onStream?.(req);
    req.on('response', (h) => {
      seen.status = h[':status'];
      seen.headers = plain(h);
    });
    req.on('trailers', (t) => {
      seen.trailers = plain(t);
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err: NodeJS.ErrnoException) => {
      seen.error = err.code ?? 'error';
    });
    req.on('close', () => {
      seen.body = digest(Buffer.concat(chunks));
      if (req.rstCode !== undefined && req.rstCode !== H2.NGHTTP2_NO_ERROR) seen.rstCode = req.rstCode;
      resolve(seen);
    });
    req.end(body);
  });
}

function openSession(port: number): { session: ClientHttp2Session; goaways: number[][]; errors: string[] } {
  const session = h2Connect(`http://127.0.0.1:${port}`);
  const goaways: number[][] = [];
  const errors: string[] = [];
  session.on('goaway', (code: number, last: number) => goaways.push([code, last]));
  // A refused and a reset connection differ only below HTTP/2 (the agent can only reset): both
  // are "the connection failed" to an HTTP/2 client.
  session.on('error', (err: NodeJS.ErrnoException) =>
    errors.push(
      err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' ? 'connection-failed' : (err.code ?? '?'),
    ),
  );
  return { session, goaways, errors };
}

const GRPC_HEADERS = { ':path': '/quote.Quotes/Get', 'content-type': 'application/grpc', te: 'trailers' };

// A gRPC-shaped unary answer: headers, a body, and trailers carrying the status.
const unaryApp = h2App((stream, headers) => {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => {
    stream.respond(
      { ':status': 200, 'content-type': 'application/grpc', 'x-app': 'h2' },
      { waitForTrailers: true },
    );
    stream.on('wantTrailers', () => {
      const fail = headers[':path'] === '/quote.Quotes/Fail';
      stream.sendTrailers({ 'grpc-status': fail ? '14' : '0', 'grpc-message': fail ? 'unavailable' : '' });
    });
    stream.end(`${headers[':path']} ${Buffer.concat(chunks).length}`);
  });
});

describe('fidelity: HTTP/2 (h2c prior knowledge) through the frame relay', () => {
  it('unary calls with trailers, concurrent on one connection: same, and each stream counted', async () => {
    const script = async (port: number) => {
      const { session, goaways, errors } = openSession(port);
      try {
        const calls = await Promise.all([
          call(session, GRPC_HEADERS, 'abc'),
          call(session, { ...GRPC_HEADERS, ':path': '/quote.Quotes/Fail' }, 'x'),
          call(session, { ...GRPC_HEADERS, 'x-long': 'v'.repeat(5000) }, ''),
        ]);
        return { calls, goaways, errors };
      } finally {
        session.close();
      }
    };
    const { direct, agent } = await fx.compare(unaryApp, script);
    expect(direct.calls[0]).toMatchObject({
      status: 200,
      trailers: { 'grpc-status': '0' },
      body: '/quote.Quotes/Get 3',
    });
    expect(direct.calls[1]).toMatchObject({ trailers: { 'grpc-status': '14' } });
    // UNAVAILABLE from the app is the app's failure: counted as failed, like a 5xx.
    expect(await agentTotals(agent, 3)).toEqual({ requests: 3, failed: 1 });
  });

  it('RST_STREAM from the app mid-response: the same code reaches the client, the stream is counted cut', async () => {
    const app = h2App((stream) => {
      stream.respond({ ':status': 200 });
      stream.write('partial', () => stream.destroy(new Error('the app failed mid-response')));
    });
    const ns = testNamespace();
    const nc = await connect({ servers: fx.natsUrl });
    try {
      await createTestStream(nc, ns);
      const script = async (port: number) => {
        const { session } = openSession(port);
        try {
          return await call(session, GRPC_HEADERS, 'q');
        } finally {
          session.close();
        }
      };
      const { direct } = await fx.compare(app, script, {
        ns,
        after: async () => {
          const events = await waitForEvents(
            nc,
            ns,
            (es) => es.some((e) => e.kind === 'request'),
            'the stream',
          );
          const req = events.find((e) => e.kind === 'request')!;
          expect(req.data).toMatchObject({
            method: 'POST',
            route: '/quote.Quotes/Get',
            outcome: 'upstream-reset',
            rstCode: H2.NGHTTP2_INTERNAL_ERROR,
            protocol: 'h2',
          });
        },
      });
      expect(direct).toMatchObject({ status: 200, rstCode: H2.NGHTTP2_INTERNAL_ERROR });
    } finally {
      await nc.close();
    }
  });

  it('GOAWAY from the app (graceful, two-step as grpc-go sends it): the same frames reach the client', async () => {
    const app = h2App((stream, _headers, session) => {
      stream.respond({ ':status': 200 });
      if (stream.id === 1) {
        // The app shuts down as GracefulStop does: GOAWAY(2^31-1), then the real last stream id.
        session.goaway(H2.NGHTTP2_NO_ERROR, 2 ** 31 - 1);
        setTimeout(() => {
          session.goaway(H2.NGHTTP2_NO_ERROR, 1);
          stream.end('first');
        }, 50).unref();
      } else stream.end('other');
    });
    const script = async (port: number) => {
      const { session, goaways, errors } = openSession(port);
      try {
        const first = await call(session, GRPC_HEADERS, 'a');
        const late = await call(session, GRPC_HEADERS, 'b');
        await pollUntil(() => session.closed || session.destroyed, {
          timeoutMs: 5000,
          what: 'the session to close',
        });
        return { first, late, goaways, errors };
      } finally {
        session.destroy();
      }
    };
    const { direct } = await fx.compare(app, script);
    expect(direct.first).toMatchObject({ status: 200, body: 'first' });
    // (Node's server sends a third as it closes.)
    expect(direct.goaways.slice(0, 2)).toEqual([
      [0, 2 ** 31 - 1],
      [0, 1],
    ]);
  });

  it('flow control: an 8 MB upload and a 12 MB download on one stream, byte for byte', async () => {
    const app = h2App((stream) => {
      const hash = createHash('sha256');
      let n = 0;
      stream.on('data', (c: Buffer) => {
        hash.update(c);
        n += c.length;
      });
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'x-upload': `${n} ${hash.digest('hex')}` });
        const chunk = Buffer.alloc(64 * 1024);
        let sent = 0;
        const more = () => {
          while (sent < 12 * 1024 * 1024) {
            chunk.fill(sent % 251);
            sent += chunk.length;
            if (!stream.write(Buffer.from(chunk))) {
              stream.once('drain', more);
              return;
            }
          }
          stream.end();
        };
        more();
      });
    });
    const upload = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < upload.length; i += 4096) upload.fill(i % 253, i, i + 4096);
    const script = async (port: number) => {
      const { session } = openSession(port);
      try {
        return await call(session, { ':path': '/big' }, upload);
      } finally {
        session.close();
      }
    };
    const { direct, agent } = await fx.compare(app, script);
    expect(direct.headers?.['x-upload']).toMatch(/^8388608 /);
    expect(direct.body).toMatch(/^12582912 bytes/);
    expect(await agentTotals(agent, 1)).toEqual({ requests: 1, failed: 0 });
  });

  it('the app exits mid-stream: the client sees the same failure, the agent counts the stream cut', async () => {
    const app = h2App((stream, _headers, _session, exit) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      // A server-streaming call cut by the process exiting: its socket is gone, no GOAWAY.
      stream.write('message 1', exit);
    });
    const script = async (port: number) => {
      const { session, goaways, errors } = openSession(port);
      try {
        const seen = await call(session, GRPC_HEADERS, 'stream');
        await pollUntil(() => session.destroyed, { timeoutMs: 5000, what: 'the session to end' });
        return { seen, goaways, errors };
      } finally {
        session.destroy();
      }
    };
    const { direct, agent } = await fx.compare(app, script);
    expect(direct.seen.body).toBe('message 1');
    expect(direct.goaways).toEqual([]);
    expect(await agentTotals(agent, 1)).toEqual({ requests: 1, failed: 1 });
  });

  it('the app refuses the connection: the client sees its connection fail, streams that arrived count as refused', async () => {
    const refusing: AppStarter = async () => {
      const started = await unaryApp();
      await started.close();
      return started;
    };
    const script = async (port: number) => {
      const { session, errors } = openSession(port);
      try {
        const seen = await call(session, GRPC_HEADERS, 'x');
        await pollUntil(() => session.destroyed, { timeoutMs: 5000, what: 'the session to end' });
        // The bare app refuses the connect, the agent (which accepted it) can only reset it: for
        // the stream both are a connection that failed before any response.
        const failed = seen.error === 'ERR_HTTP2_STREAM_CANCEL' || seen.error === 'ECONNRESET';
        return { seen: { error: failed ? 'connection-failed' : seen.error, status: seen.status }, errors };
      } finally {
        session.destroy();
      }
    };
    const { direct } = await fx.compare(refusing, script, {
      after: async (agent) => {
        // The client's HEADERS may or may not have reached the agent before the refusal came back.
        await pollUntil(() => agent.agent.state().inFlight === 0, {
          timeoutMs: 5000,
          what: 'no stream open',
        });
        const { requests, failed } = agent.agent.state().requests;
        expect(failed.serving).toBe(requests.serving);
      },
    });
    expect(direct.errors).toEqual(['connection-failed']);
  });
});

describe('agent drain of HTTP/2: the graceful two-step GOAWAY', () => {
  it('an open stream finishes; the client gets GOAWAY(2^31-1), then GOAWAY(last id) after a PING', async () => {
    let release: () => void = () => undefined;
    const app = h2App((stream) => {
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.write('first message');
      release = () => stream.end('last message');
    });
    await fx.viaAgent(app, async (port, agent: AgentUnderTest) => {
      const { session, goaways, errors } = openSession(port);
      try {
        const pending = call(session, GRPC_HEADERS, 'stream');
        await pollUntil(() => agent.agent.state().inFlight === 1, {
          timeoutMs: 5000,
          what: 'the stream open',
        });
        void fetch(`${agent.adminUrl}/prestop`).catch(() => undefined);
        await pollUntil(() => goaways.length >= 2, { timeoutMs: 5000, what: 'two GOAWAY frames' });
        // (A third may follow: the app's own, once the client's GOAWAY reached it.)
        expect(goaways.slice(0, 2)).toEqual([
          [0, 2 ** 31 - 1],
          [0, 1],
        ]);
        release();
        const seen = await pending;
        expect(seen).toMatchObject({ status: 200, trailers: { 'grpc-status': '0' } });
        expect(seen.body).toBe('first messagelast message');
        // The connection closes once its last stream is done; the app never saw the agent's PING ACK
        // (it would have answered with a GOAWAY PROTOCOL_ERROR).
        await pollUntil(() => session.destroyed, { timeoutMs: 5000, what: 'the session to close' });
        expect(errors).toEqual([]);
      } finally {
        session.destroy();
      }
      expect(await agentTotals(agent, 1)).toEqual({ requests: 1, failed: 0 });
      expect(agent.agent.state().requests.requests.serving).toBe(1);
      const metric = await agent.registry.getSingleMetricAsString('drainwatch_agent_h2_goaway_total');
      expect(metric).toMatch(/sender="agent",code="0"} 2/);
    });
  });
});

describe('agent drain of HTTP/2: a connection opened during the preStop', () => {
  it('is served without GOAWAY while the preStop waits, and gets the two-step GOAWAY when it ends', async () => {
    const app = unaryApp;
    // A fixed preStop long enough for a connection and a call while it waits (the entry point still
    // routes new connections to the pod while its endpoint removal propagates).
    const env = { DRAINWATCH_PRESTOP: 'fixed:4', DRAINWATCH_GRACE_SECONDS: '8' };
    await fx.viaAgent(
      app,
      async (port, agent: AgentUnderTest) => {
        const before = openSession(port);
        let during: ReturnType<typeof openSession> | undefined;
        try {
          expect(await call(before.session, GRPC_HEADERS, 'before')).toMatchObject({ status: 200 });
          const prestop = fetch(`${agent.adminUrl}/prestop`).then((r) => r.json());
          // The connection open at the preStop gets its GOAWAY at once.
          // (An idle node:http2 client closes at the first one, before the PING's answer.)
          await pollUntil(() => before.goaways.length >= 1, {
            timeoutMs: 5000,
            what: 'GOAWAY to the open one',
          });
          expect(before.goaways[0]).toEqual([0, 2 ** 31 - 1]);
          expect(agent.agent.state().phase).toBe('prestop');
          during = openSession(port);
          const seen = await call(during.session, GRPC_HEADERS, 'during');
          expect(seen).toMatchObject({ status: 200, trailers: { 'grpc-status': '0' } });
          // A second call on the same connection: it was not told to go away.
          expect(await call(during.session, GRPC_HEADERS, 'again')).toMatchObject({ status: 200 });
          expect(agent.agent.state().phase, 'the preStop outlasted the calls').toBe('prestop');
          expect(during.goaways).toEqual([]);
          await prestop;
          const d = during;
          await pollUntil(() => d.goaways.length >= 1, { timeoutMs: 5000, what: 'GOAWAY at the drain' });
          expect(d.goaways[0]).toEqual([0, 2 ** 31 - 1]);
          await pollUntil(() => d.session.destroyed, { timeoutMs: 5000, what: 'the session to close' });
          expect([...before.errors, ...d.errors]).toEqual([]);
        } finally {
          before.session.destroy();
          during?.session.destroy();
        }
        expect(await agentTotals(agent, 3)).toEqual({ requests: 3, failed: 0 });
        expect(agent.agent.state().requests.requests.prestop).toBe(2);
      },
      { env },
    );
  });

  it('its calls do not hold the adaptive preStop open: the quiet window ends it, not the maximum', async () => {
    // Per-connection balancing sends a held connection's calls whatever the endpoints say: only
    // its opening is an arrival for the quiet window.
    const env = {
      DRAINWATCH_PRESTOP: 'adaptive',
      DRAINWATCH_PRESTOP_MIN: '1s',
      DRAINWATCH_PRESTOP_QUIET: '1s',
      DRAINWATCH_PRESTOP_MAX: '6s',
      DRAINWATCH_GRACE_SECONDS: '8',
    };
    await fx.viaAgent(
      unaryApp,
      async (port, agent: AgentUnderTest) => {
        let result: { reason?: string } | undefined;
        const prestop = fetch(`${agent.adminUrl}/prestop`)
          .then((r) => r.json() as Promise<{ reason?: string }>)
          .then((r) => {
            result = r;
          });
        await pollUntil(() => agent.agent.state().phase === 'prestop', { timeoutMs: 5000, what: 'prestop' });
        const during = openSession(port);
        try {
          const statuses: (number | undefined)[] = [];
          // A call every 100 ms on the held connection until it is told GOAWAY.
          while (result === undefined && during.goaways.length === 0) {
            statuses.push((await call(during.session, GRPC_HEADERS, 'during')).status);
            await new Promise((r) => setTimeout(r, 100).unref());
          }
          await prestop;
          expect(result?.reason).toBe('quiet');
          expect(statuses.length).toBeGreaterThan(0);
          expect(statuses.every((s) => s === 200 || s === undefined)).toBe(true);
          await pollUntil(() => during.goaways.length >= 1, { timeoutMs: 5000, what: 'GOAWAY at the drain' });
        } finally {
          during.session.destroy();
        }
      },
      { env },
    );
  });
});
