import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { AFFINITY_COOKIE, forwardedHeaders } from './forwarding.js';
import { type Endpoint, errorKind } from './upstream.js';

// WebSocket upgrades through the entry point: one new connection to the pod per handshake, the
// pod's answer passed back as it came, then bytes both ways until either side ends.

export interface UpgradeContext {
  /** Endpoints routed to right now. */
  routable(): readonly Endpoint[];
  /** Whether a handshake moved to another endpoint gets the affinity cookie of its new pod. */
  readonly cookieOnRetry: boolean;
  /** Counts an upstream error and whether the handshake went to another endpoint. */
  upstreamError(kind: string, retried: boolean): void;
}

export function proxyUpgrade(
  ctx: UpgradeContext,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
  ep: Endpoint,
  setCookie: boolean,
  tried: Set<string> = new Set(),
): void {
  tried.add(ep.pod);
  ep.openWebsockets++;
  ep.websockets++;
  let released = false;
  const release = (): void => {
    if (!released) {
      released = true;
      ep.openWebsockets--;
    }
  };
  socket.once('close', release);
  const upstream = httpRequest({
    host: '127.0.0.1',
    port: ep.port,
    method: req.method,
    path: req.url,
    headers: forwardedHeaders(req, true),
    agent: false,
  });
  upstream.on('upgrade', (ures, usocket, uhead) => {
    const lines = [`HTTP/1.1 ${ures.statusCode} ${ures.statusMessage ?? 'Switching Protocols'}`];
    for (let i = 0; i < ures.rawHeaders.length; i += 2)
      lines.push(`${ures.rawHeaders[i]}: ${ures.rawHeaders[i + 1]}`);
    if (setCookie) lines.push(`Set-Cookie: ${AFFINITY_COOKIE}=${ep.pod}; Path=/; HttpOnly`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (uhead.length) socket.write(uhead);
    if (head.length) usocket.write(head);
    usocket.on('error', () => socket.destroy());
    socket.on('error', () => usocket.destroy());
    // A FIN from either side is passed on as a FIN: a pod that dies without a close frame
    // looks to the client exactly as it would through a real load balancer.
    usocket.pipe(socket);
    socket.pipe(usocket);
    usocket.once('close', () => socket.destroy());
    socket.once('close', () => usocket.destroy());
  });
  upstream.on('response', (ures) => {
    socket.write(`HTTP/1.1 ${ures.statusCode} ${ures.statusMessage ?? ''}\r\nconnection: close\r\n\r\n`);
    ures.pipe(socket);
  });
  upstream.on('error', (err) => {
    ep.failed++;
    release();
    socket.off('close', release);
    // A refused connect reached no pod: another endpoint gets the handshake, as for a request.
    const next =
      errorKind(err) === 'refused' && !socket.destroyed
        ? ctx.routable().find((e) => !tried.has(e.pod))
        : undefined;
    ctx.upstreamError(errorKind(err), next !== undefined);
    if (next) {
      proxyUpgrade(ctx, req, socket, head, next, ctx.cookieOnRetry, tried);
      return;
    }
    socket.end(
      `HTTP/1.1 502 Bad Gateway\r\nx-drainwatch-entry-error: ${errorKind(err)}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
    );
  });
  upstream.end();
}
