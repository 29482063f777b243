import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/wait.js';
import { createTestStream, startAgentUnderTest, waitForEvents } from '../helpers/agent-harness.js';
import { testNamespace } from '../helpers/servers.js';
import { Conn, GET, useFidelity } from './harness.js';

// The agent's traffic port follows the app's listening state. A new connection to a bare pod whose
// app stopped listening is refused, and a balancer retries a refused connect on another endpoint
// (it never retries a 502, nor a POST): through the agent the connect must be refused too once
// nothing is in flight, and accepted again when the app listens again (a container restart).

const fx = useFidelity();

/** A Node http app that can stop listening (open connections stay) and listen again on its port. */
interface RestartableApp {
  readonly port: number;
  stopListening(): Promise<void>;
  listenAgain(): Promise<void>;
  close(): Promise<void>;
}

async function restartableApp(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<RestartableApp> {
  const server: Server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    stopListening: async () => {
      // Unbinds at once; close()'s callback waits for the connections, which may stay open.
      server.close();
      server.closeIdleConnections();
    },
    listenAgain: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        if (server.listening) server.close(() => resolve());
        else resolve();
      }),
  };
}

const ok = (_req: IncomingMessage, res: ServerResponse): void => {
  res.end('ok');
};

/** What one new connection with one GET gets: a status line, or the connect refused. */
async function getOnce(port: number, path = '/'): Promise<string> {
  let conn: Conn;
  try {
    conn = await Conn.open(port);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? 'connect refused' : 'connect failed';
  }
  try {
    await conn.write(GET(path, 'Connection: close\r\n'));
    return (await conn.response())?.statusLine ?? 'closed without a response';
  } finally {
    conn.destroy();
  }
}

describe('fidelity: the agent listens when the app listens', () => {
  it('app stops listening: the connect is refused; app listens again: served again', async () => {
    const script = async (
      port: number,
      app: RestartableApp,
      settle: (listening: boolean) => Promise<void>,
    ) => {
      const seen = [await getOnce(port)];
      await app.stopListening();
      await settle(false);
      seen.push(await getOnce(port));
      await app.listenAgain();
      await settle(true);
      seen.push(await getOnce(port));
      return seen;
    };
    const bare = await restartableApp(ok);
    let direct: string[];
    try {
      direct = await script(bare.port, bare, async () => undefined);
    } finally {
      await bare.close();
    }
    expect(direct).toEqual(['200 OK', 'connect refused', '200 OK']);

    const app = await restartableApp(ok);
    const a = await startAgentUnderTest({
      upstreamPort: app.port,
      natsUrl: fx.natsUrl,
      env: { DRAINWATCH_GRACE_SECONDS: '5' },
    });
    try {
      // The agent learns the app's state by polling its port: wait until it has seen the change.
      const settle = (listening: boolean) =>
        pollUntil(
          () => {
            const s = a.agent.state();
            return s.upstreamListening === listening && s.accepting === listening;
          },
          {
            timeoutMs: 10_000,
            intervalMs: 5,
            what: `the agent to see the app ${listening ? 'listen' : 'stop'}`,
          },
        ).then(() => undefined);
      await settle(true);
      const viaAgent = await script(a.trafficPort, app, settle);
      expect(viaAgent, 'through the agent vs the app alone').toEqual(direct);
      // And again: a pod whose agent re-opened once must follow every later change too.
      expect(await script(a.trafficPort, app, settle)).toEqual(direct);
    } finally {
      await a.agent.stop({ immediate: true });
      await app.close();
    }
  });

  it('while a request is in flight a new connection is still accepted (502); refused once it ended', async () => {
    let release: (() => void) | undefined;
    const app = await restartableApp((req, res) => {
      if (req.url === '/slow') release = () => res.end('slow done');
      else res.end('ok');
    });
    const ns = testNamespace();
    const nc = await connect({ servers: fx.natsUrl });
    await createTestStream(nc, ns);
    const a = await startAgentUnderTest({
      upstreamPort: app.port,
      natsUrl: fx.natsUrl,
      ns,
      env: { DRAINWATCH_GRACE_SECONDS: '5' },
    });
    try {
      await pollUntil(() => a.agent.state().upstreamListening, { timeoutMs: 10_000, what: 'the app seen' });
      const slow = await Conn.open(a.trafficPort);
      await slow.write(GET('/slow'));
      await pollUntil(() => release !== undefined, { timeoutMs: 5000, what: 'the slow request at the app' });
      await app.stopListening();
      await pollUntil(() => !a.agent.state().upstreamListening, { timeoutMs: 10_000, what: 'the stop seen' });
      // Documented window: the agent still accepts while it holds a request; the app refuses the
      // agent's new connection, so the request is answered 502 and recorded as upstream-refused.
      expect(a.agent.state().accepting).toBe(true);
      expect(await getOnce(a.trafficPort, '/during')).toBe('502 Bad Gateway');
      release!();
      expect((await slow.response())?.body).toBe('slow done');
      slow.destroy();
      await pollUntil(() => !a.agent.state().accepting, {
        timeoutMs: 5000,
        what: 'the agent to stop accepting',
      });
      expect(await getOnce(a.trafficPort, '/after')).toBe('connect refused');

      // The events explain the client failures of the window: the app stopped listening at T (with
      // one request in flight), the 502 was a late arrival, and from T' new connects were refused.
      const events = await waitForEvents(
        nc,
        ns,
        (es) => es.some((e) => e.kind === 'agent.listener'),
        'the agent.listener event',
      );
      const kinds = events.map((e) => e.kind).filter((k) => k !== 'traffic.summary');
      expect(kinds.indexOf('app.stopped-listening')).toBeLessThan(kinds.indexOf('agent.listener'));
      expect(events.find((e) => e.kind === 'app.stopped-listening')?.data).toMatchObject({ inFlight: 1 });
      expect(events.find((e) => e.kind === 'agent.listener')?.data).toMatchObject({
        accepting: false,
        appListening: false,
        inFlight: 0,
      });
      const during = events.find((e) => e.kind === 'request' && e.data.route === '/during');
      expect(during?.data).toMatchObject({ outcome: 'upstream-refused', status: 502, lateArrival: true });
    } finally {
      await a.agent.stop({ immediate: true });
      await app.close();
      await nc.close();
    }
  });
});
