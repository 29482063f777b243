import { type Socket, connect as tcpConnect } from 'node:net';
import type { HostPort } from './config.js';
import { POD_HEADER, upstreamRequest } from './forwarding.js';
import type { UpgradeRequest } from './http-proxy.js';
import type { Traffic } from './traffic.js';
import type { UpstreamConnections } from './upstream-pool.js';
import { createFrameReader, type FrameReader } from './websocket-frames.js';

// WebSocket (and any other Upgrade) pass-through: the request head is replayed on a raw TCP
// connection to the app, then bytes flow both ways untouched. Two passive frame readers watch the
// streams for close frames; nothing is re-framed, so permessage-deflate and extensions pass as-is.

export interface WebSocketProxyOptions {
  readonly upstream: HostPort;
  readonly pod: string;
  readonly traffic: Traffic;
  readonly connections: UpstreamConnections;
}

export interface WebSocketProxy {
  handleUpgrade(request: UpgradeRequest): void;
  /** Destroys every tunnelled connection (the agent is stopping). */
  destroyAll(): void;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_RESPONSE_HEAD = 64 * 1024;

export function createWebSocketProxy(options: WebSocketProxyOptions): WebSocketProxy {
  const { upstream, pod, traffic, connections } = options;
  const tunnels = new Set<{ client: Socket; app: Socket }>();

  return {
    handleUpgrade({ head: req, socket: client, rest: head, reused }) {
      // Upgrade and Connection are hop-by-hop for plain HTTP but are the handshake itself here.
      const forApp = upstreamRequest(req, client.remoteAddress ?? '', pod, true);
      const probeId = forApp.probeId;
      const record = traffic.begin({ method: req.method, url: req.url, probeId, reused });
      // The client may already be flowing and may even have sent its FIN: hold its bytes (and its
      // end) until the app connection exists, then let pipe() deliver them in order.
      client.pause();
      const app = tcpConnect({ host: upstream.host, port: upstream.port });
      app.setNoDelay(true);
      connections.track(app);
      const tunnel = { client, app };
      tunnels.add(tunnel);
      let responseHead: Buffer | undefined = Buffer.alloc(0);
      let ws: ReturnType<typeof traffic.websocketOpened> | undefined;
      let fromApp: FrameReader | undefined;
      let closedBy: 'client' | 'app' | 'none' = 'none';
      let closeCode: number | undefined;
      let connected = false;
      let clientEnded = false;
      let finished = false;

      const finish = (): void => {
        if (finished) return;
        finished = true;
        tunnels.delete(tunnel);
        if (ws) {
          traffic.websocketClosed(ws, {
            code: closeCode,
            closedBy,
            closeFrame: closedBy !== 'none',
            framesFromClient: fromClient.frames,
            framesFromApp: fromApp?.frames ?? 0,
          });
        } else if (!record.done) {
          // Ended before the app answered the handshake.
          traffic.end(record, connected ? 'upstream-reset' : 'client-aborted');
        }
      };

      const onClose = (by: 'client' | 'app') => (info: { code?: number }) => {
        if (closedBy !== 'none') return;
        closedBy = by;
        // Codes outside 1000-4999 cannot be sent on the wire (RFC 6455 §7.4): the frame was garbage.
        closeCode = info.code !== undefined && info.code >= 1000 && info.code <= 4999 ? info.code : undefined;
      };
      // The client may send frames right behind its handshake, before the app answered: its reader
      // starts with the first byte after the request head.
      const fromClient = createFrameReader({ expectMasked: true, onClose: onClose('client') });
      if (head.length > 0) fromClient.push(head);

      app.once('connect', () => {
        connected = true;
        app.write(forApp.text, 'latin1');
        if (head.length > 0) app.write(head);
        if (clientEnded) {
          app.end();
          return;
        }
        // Ends are forwarded by the 'end' handlers below, also when the client ended early.
        client.on('data', (c: Buffer) => fromClient.push(c));
        client.pipe(app, { end: false });
      });

      app.on('data', (chunk: Buffer) => {
        if (responseHead === undefined) {
          fromApp?.push(chunk);
          if (!client.write(chunk)) app.pause();
          return;
        }
        responseHead = Buffer.concat([responseHead, chunk]);
        const end = responseHead.indexOf(HEAD_END);
        if (end < 0) {
          if (responseHead.length > MAX_RESPONSE_HEAD) app.destroy();
          return;
        }
        const headText = responseHead.subarray(0, end).toString('latin1');
        const rest = responseHead.subarray(end + 4);
        responseHead = undefined;
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headText)?.[1] ?? 0);
        // The pod header lets a client learn which pod holds its socket; all later bytes are untouched.
        client.write(`${headText}\r\n${POD_HEADER}: ${pod}\r\n\r\n`);
        if (status === 101) {
          traffic.end(record, 'ok', 101);
          ws = traffic.websocketOpened({ url: req.url, probeId });
          fromApp = createFrameReader({ expectMasked: false, onClose: onClose('app') });
          if (rest.length > 0) fromApp.push(rest);
        } else {
          traffic.end(
            record,
            status >= 500 ? 'http-error' : 'ok',
            status >= 100 && status <= 599 ? status : undefined,
          );
        }
        if (rest.length > 0 && !client.write(rest)) app.pause();
      });
      client.on('drain', () => app.resume());

      app.on('error', (err: NodeJS.ErrnoException) => {
        if (!connected && !record.done) {
          const outcome = err.code === 'ECONNREFUSED' ? 'upstream-refused' : 'upstream-reset';
          traffic.end(record, outcome, 502);
          if (client.writable) {
            client.end(
              `HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n${POD_HEADER}: ${pod}\r\n\r\n`,
            );
          }
        }
      });
      app.on('end', () => client.end());
      app.on('close', () => {
        if (!client.destroyed) {
          client.end();
          // A client that never answers our FIN must not hold the socket forever.
          setTimeout(() => client.destroy(), 5000).unref();
        }
        finish();
      });
      client.on('error', () => app.destroy());
      client.on('end', () => {
        clientEnded = true;
        if (connected) app.end();
      });
      client.on('close', () => {
        app.destroy();
        finish();
      });
    },
    destroyAll() {
      for (const t of tunnels) {
        t.client.destroy();
        t.app.destroy();
      }
    },
  };
}
