import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createH2Server, connect as h2Connect, type ServerHttp2Session } from 'node:http2';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { connect as natsConnect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, startRedisServer } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';
import type { AppStarter, AppUnderTest } from './harness.js';
import { Conn, useFidelity } from './harness.js';

// Traffic that is not HTTP/1.x goes through the agent byte for byte: HTTP/2 with prior knowledge
// (relayed frame by frame and counted per stream) and TLS (as TCP) are recognised by their first
// bytes on the `http` port; on a `tcp` port every
// connection is tunnelled from its accept, so protocols whose server speaks first (NATS) work.

const fx = useFidelity();
const TCP = { DRAINWATCH_PROTOCOL: 'tcp' };

function serverApp(make: () => Server): AppStarter {
  return async () => {
    const server = make();
    const sockets = new Set<Socket>();
    server.on('connection', (s: Socket) => {
      // A client's reset must not crash the app (as it would not crash a real one).
      s.on('error', () => undefined);
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
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
    } satisfies AppUnderTest;
  };
}

// An h2c app (HTTP/2 without TLS) answering by path; sessions are tracked so close() ends them.
function h2cApp(): AppStarter {
  return async () => {
    const server = createH2Server();
    const sessions = new Set<ServerHttp2Session>();
    server.on('session', (s) => {
      sessions.add(s);
      s.once('close', () => sessions.delete(s));
    });
    server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        stream.respond({ ':status': headers[':path'] === '/missing' ? 404 : 200, 'x-app': 'h2c' });
        stream.end(`${headers[':method']} ${headers[':path']} ${body}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return {
      port,
      close: () =>
        new Promise<void>((resolve) => {
          for (const s of sessions) s.destroy();
          server.close(() => resolve());
        }),
    };
  };
}

async function h2Requests(port: number): Promise<unknown[]> {
  const session = h2Connect(`http://127.0.0.1:${port}`);
  try {
    const one = (method: string, path: string, body?: string) =>
      new Promise<unknown>((resolve, reject) => {
        const req = session.request({ ':method': method, ':path': path });
        const chunks: Buffer[] = [];
        let head: Record<string, unknown> = {};
        req.on('response', (h) => {
          head = { status: h[':status'], app: h['x-app'] };
        });
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => resolve({ ...head, body: Buffer.concat(chunks).toString() }));
        req.on('error', reject);
        req.end(body);
      });
    // Concurrent streams on one connection, as HTTP/2 multiplexes them.
    return await Promise.all([one('GET', '/a'), one('POST', '/b', 'payload'), one('GET', '/missing')]);
  } finally {
    session.close();
  }
}

describe('fidelity: HTTP/2 prior knowledge (h2c)', () => {
  it('on the http port: the preface is recognised and the connection relayed, same responses', async () => {
    const { direct } = await fx.compare(h2cApp(), h2Requests, {
      after: async (agent) => {
        // The connection is counted with the tunnelled ones (closed by the client), each stream as a
        // request (test/fidelity/h2.test.ts has the HTTP/2 cases).
        let text = '';
        await pollUntil(
          async () => {
            text = await agent.registry.getSingleMetricAsString(
              'drainwatch_agent_tcp_connections_closed_total',
            );
            return /closed_by="client",phase="serving"} 1\n/.test(`${text}\n`);
          },
          { timeoutMs: 5000, what: 'the tunnel counted as closed by the client' },
        ).catch((err: Error) => {
          throw new Error(`${err.message}; the metric read ${text}`);
        });
        await pollUntil(() => agent.agent.state().requests.requests.serving === 3, {
          timeoutMs: 5000,
          what: 'three streams counted',
        });
      },
    });
    expect(direct).toEqual([
      { status: 200, app: 'h2c', body: 'GET /a ' },
      { status: 200, app: 'h2c', body: 'POST /b payload' },
      { status: 404, app: 'h2c', body: 'GET /missing ' },
    ]);
  });

  it('on a tcp port: the same responses', async () => {
    await fx.compare(h2cApp(), h2Requests, { env: TCP });
  });
});

describe('fidelity: TLS passes opaque', () => {
  let dir: string;
  let key: Buffer;
  let cert: Buffer;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'drainwatch-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
      ].concat(['-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]),
      { stdio: 'ignore' },
    );
    key = readFileSync(join(dir, 'key.pem'));
    cert = readFileSync(join(dir, 'cert.pem'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a TLS handshake and an HTTP/1.1 exchange inside it: same certificate, same bytes', async () => {
    const app = serverApp(() =>
      createTlsServer({ key, cert, ALPNProtocols: ['http/1.1'] }, (s) => {
        s.once('data', (req: Buffer) => {
          const line = req.toString('latin1').split('\r\n')[0];
          s.end(`HTTP/1.1 200 OK\r\ncontent-length: ${line!.length}\r\nconnection: close\r\n\r\n${line}`);
        });
      }),
    );
    const { direct } = await fx.compare(app, async (port) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: cert,
        ALPNProtocols: ['http/1.1'],
      });
      await new Promise<void>((resolve, reject) => {
        s.once('secureConnect', resolve);
        s.once('error', reject);
      });
      const fingerprint = s.getPeerCertificate().fingerprint256;
      const alpn = s.alpnProtocol;
      s.write('GET /secret HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      await new Promise((resolve) => s.once('end', resolve));
      s.destroy();
      return { fingerprint, alpn, reply: Buffer.concat(chunks).toString('latin1') };
    });
    expect(direct.reply).toContain('GET /secret HTTP/1.1');
  });
});

describe('fidelity: server-first and binary protocols on a tcp port', () => {
  it('a server that speaks first is heard before the client writes', async () => {
    const app = serverApp(() => createNetServer((s) => s.end('220 hello from the app\r\n')));
    const { direct } = await fx.compare(
      app,
      async (port) => {
        const conn = await Conn.open(port);
        await conn.ended();
        conn.destroy();
        return conn.received.toString('latin1');
      },
      { env: TCP },
    );
    expect(direct).toBe('220 hello from the app\r\n');
  });

  it('NATS (nats-server, @nats-io/transport-node): INFO first, then pub/sub and request/reply', async () => {
    const app: AppStarter = async () => {
      const s = await startNatsServer();
      return { port: s.port, close: () => s.stop() };
    };
    const { direct } = await fx.compare(
      app,
      async (port) => {
        const nc = await natsConnect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 5000 });
        try {
          const got: string[] = [];
          const sub = nc.subscribe('fidelity.>', { max: 2 });
          const done = (async () => {
            for await (const m of sub) got.push(`${m.subject}:${m.string()}`);
          })();
          nc.subscribe('svc.echo', {
            callback: (_e, m) => {
              m.respond(`echo ${m.string()}`);
            },
          });
          nc.publish('fidelity.a', 'one');
          nc.publish('fidelity.b', 'two');
          await done;
          const reply = await nc.request('svc.echo', 'ping', { timeout: 5000 });
          await nc.flush();
          return { got, reply: reply.string() };
        } finally {
          await nc.close();
        }
      },
      { env: TCP },
    );
    expect(direct).toEqual({ got: ['fidelity.a:one', 'fidelity.b:two'], reply: 'echo ping' });
  });

  it('Redis (redis-server, ioredis): commands, a pipeline and pub/sub', async () => {
    const app: AppStarter = async () => {
      const s = await startRedisServer();
      return { port: s.port, close: () => s.stop() };
    };
    const { direct } = await fx.compare(
      app,
      async (port) => {
        const opts = { host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 } as const;
        const r = new Redis(opts);
        const sub = new Redis(opts);
        try {
          await r.connect();
          await sub.connect();
          const set = await r.set('k', 'v');
          const get = await r.get('k');
          const pipeline = await r
            .pipeline()
            .incr('n')
            .incr('n')
            .lpush('l', 'a', 'b')
            .lrange('l', 0, -1)
            .exec();
          const message = new Promise<string>((resolve) =>
            sub.once('message', (_c, m: string) => resolve(m)),
          );
          await sub.subscribe('news');
          await r.publish('news', 'hello');
          return { set, get, pipeline, message: await message };
        } finally {
          r.disconnect();
          sub.disconnect();
        }
      },
      { env: TCP },
    );
    expect(direct).toMatchObject({ set: 'OK', get: 'v', message: 'hello' });
  });
});
