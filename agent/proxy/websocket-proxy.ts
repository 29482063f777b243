import { type Socket, connect as tcpConnect } from 'node:net';
import type { HostPort } from '../../lib/values.js';
import type { RequestRecord, Traffic, WebSocketRecord } from '../traffic.js';
import type { UpgradeRequest } from './client-connection.js';
import { endSocket } from './end-socket.js';
import { POD_HEADER, upstreamRequest } from './forwarding.js';
import type { SwitchedConnection } from './h2-relays.js';
import type { UpstreamConnections } from './upstream-pool.js';
import { type CloseInfo, createFrameReader, type FrameReader } from './websocket-frames.js';

// WebSocket (and any other Upgrade) pass-through: the request head is replayed on a raw TCP
// connection to the app, then bytes flow both ways untouched. An `Upgrade: h2c` the app accepts
// goes on to the HTTP/2 relay at its 101; one it refuses stays here, a tunnel like any other. Two passive frame readers watch the
// streams for close frames; nothing is re-framed, so permessage-deflate and extensions pass as-is.

export interface WebSocketProxyOptions {
  readonly upstream: HostPort;
  readonly pod: string;
  readonly traffic: Traffic;
  readonly connections: UpstreamConnections;
  /** The app answered `101` with `Upgrade: h2c`: the connection is HTTP/2 from here (h2-relays.ts). */
  readonly onH2cSwitch?: (switched: SwitchedConnection) => void;
}

export interface WebSocketProxy {
  handleUpgrade(request: UpgradeRequest): void;
  /** Destroys every tunnelled connection (the agent is stopping). */
  destroyAll(): void;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_RESPONSE_HEAD = 64 * 1024;
const EMPTY = Buffer.alloc(0);

interface TunnelContext {
  readonly pod: string;
  readonly traffic: Traffic;
  readonly tunnels: Set<Tunnel>;
  readonly onH2cSwitch: ((switched: SwitchedConnection) => void) | undefined;
}

const HTTP_VERSION = Buffer.from('HTTP/', 'latin1');
/** The first bytes of the app's answer could start an HTTP/1.x status line. */
function mayBeHttp1(b: Buffer): boolean {
  const n = Math.min(b.length, HTTP_VERSION.length);
  return b.compare(HTTP_VERSION, 0, n, 0, n) === 0;
}
const H2C_UPGRADE = /^upgrade:[ \t]*h2c[ \t]*$/im;

const kTunnel = Symbol('drainwatch.tunnel');
type TunnelSocket = Socket & { [kTunnel]?: Tunnel };

// One object per tunnel and no closures: socket events reach it through shared handlers that
// find it on the socket, so a thousand open WebSockets cost little more than their sockets.
class Tunnel {
  private responseHead: Buffer | undefined = EMPTY;
  private ws: WebSocketRecord | undefined;
  private readonly fromClient: FrameReader;
  private fromApp: FrameReader | undefined;
  private closedBy: 'client' | 'app' | 'none' = 'none';
  private closeCode: number | undefined;
  private connected = false;
  private clientEnded = false;
  private finished = false;
  private pendingFromClient: Buffer | undefined;

  constructor(
    private readonly ctx: TunnelContext,
    readonly client: TunnelSocket,
    readonly app: TunnelSocket,
    private readonly record: RequestRecord,
    private readonly url: string,
    private readonly probeId: string | undefined,
    private headForApp: string | undefined,
    rest: Buffer,
  ) {
    // The client may send frames right behind its handshake, before the app answered: its reader
    // starts with the first byte after the request head.
    this.fromClient = createFrameReader({
      expectMasked: true,
      onClose: (info) => this.closed('client', info),
    });
    if (rest.length > 0) {
      this.fromClient.push(rest);
      this.pendingFromClient = rest;
    }
  }

  private closed(by: 'client' | 'app', info: CloseInfo): void {
    if (this.closedBy !== 'none') return;
    this.closedBy = by;
    // Codes outside 1000-4999 cannot be sent on the wire (RFC 6455 §7.4): the frame was garbage.
    this.closeCode =
      info.code !== undefined && info.code >= 1000 && info.code <= 4999 ? info.code : undefined;
  }

  appConnected(): void {
    this.connected = true;
    const app = this.app;
    app.write(this.headForApp!, 'latin1');
    this.headForApp = undefined;
    if (this.pendingFromClient !== undefined) app.write(this.pendingFromClient);
    this.pendingFromClient = undefined;
    // Ends are forwarded by clientEnd, also when the client ended before the app answered.
    if (this.clientEnded) app.end();
    else this.client.resume();
  }

  clientData(chunk: Buffer): void {
    this.fromClient.push(chunk);
    if (!this.app.write(chunk)) this.client.pause();
  }

  appData(chunk: Buffer): void {
    const client = this.client;
    if (this.responseHead === undefined) {
      this.fromApp?.push(chunk);
      if (!client.write(chunk)) this.app.pause();
      return;
    }
    const buffered = this.responseHead.length === 0 ? chunk : Buffer.concat([this.responseHead, chunk]);
    if (!mayBeHttp1(buffered)) {
      // Not an HTTP/1.x answer (an HTTP/2-only server's SETTINGS and GOAWAY): passed on as it came.
      this.responseHead = undefined;
      this.ctx.traffic.end(this.record, 'http-error');
      if (!client.write(buffered)) this.app.pause();
      return;
    }
    const end = buffered.indexOf(HEAD_END);
    if (end < 0) {
      this.responseHead = buffered;
      if (buffered.length > MAX_RESPONSE_HEAD) this.app.destroy();
      return;
    }
    const headText = buffered.subarray(0, end).toString('latin1');
    const rest = buffered.subarray(end + 4);
    this.responseHead = undefined;
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headText)?.[1] ?? 0);
    const traffic = this.ctx.traffic;
    // The pod header lets a client learn which pod holds its socket; all later bytes are untouched.
    client.write(`${headText}\r\n${POD_HEADER}: ${this.ctx.pod}\r\n\r\n`, 'latin1');
    if (status === 101 && this.ctx.onH2cSwitch !== undefined && H2C_UPGRADE.test(headText)) {
      this.switchToH2(rest);
      return;
    }
    if (status === 101) {
      traffic.end(this.record, 'ok', 101);
      this.ws = traffic.websocketOpened({ url: this.url, probeId: this.probeId });
      this.fromApp = createFrameReader({ expectMasked: false, onClose: (info) => this.closed('app', info) });
      if (rest.length > 0) this.fromApp.push(rest);
    } else {
      traffic.end(
        this.record,
        status >= 500 ? 'http-error' : 'ok',
        status >= 100 && status <= 599 ? status : undefined,
      );
    }
    if (rest.length > 0 && !client.write(rest)) this.app.pause();
  }

  /**
   * The app accepted `Upgrade: h2c`: from its 101 on both sockets belong to an HTTP/2 relay, which
   * counts the upgrade request as stream 1 and every later stream. This tunnel's handlers go quiet.
   */
  private switchToH2(rest: Buffer): void {
    this.finished = true;
    this.ctx.tunnels.delete(this);
    this.client[kTunnel] = undefined;
    this.app[kTunnel] = undefined;
    this.ctx.onH2cSwitch!({ client: this.client, app: this.app, record: this.record, rest });
  }

  /** The app ended before its answer's head was whole: what it sent reaches the client first. */
  flushPartialHead(): void {
    if (this.responseHead === undefined || this.responseHead.length === 0) return;
    this.client.write(this.responseHead);
    this.responseHead = undefined;
  }

  appError(err: NodeJS.ErrnoException): void {
    if (this.connected) {
      // The app's connection failed (a reset: a pod dying right after its 1001, data it left
      // unread): the client gets a reset too, as from the bare pod, not our FIN (tcp-tunnel.ts alike).
      if (!this.client.destroyed) this.client.resetAndDestroy();
      return;
    }
    if (this.record.done) return;
    const outcome = err.code === 'ECONNREFUSED' ? 'upstream-refused' : 'upstream-reset';
    this.ctx.traffic.end(this.record, outcome, 502);
    if (this.client.writable) {
      this.client.end(
        `HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n${POD_HEADER}: ${this.ctx.pod}\r\n\r\n`,
      );
    }
  }

  appClosed(): void {
    const client = this.client;
    if (!client.destroyed) endSocket(client);
    this.finish();
  }

  clientEnd(): void {
    this.clientEnded = true;
    if (this.connected) this.app.end();
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.ctx.tunnels.delete(this);
    const traffic = this.ctx.traffic;
    if (this.ws) {
      traffic.websocketClosed(this.ws, {
        code: this.closeCode,
        closedBy: this.closedBy,
        closeFrame: this.closedBy !== 'none',
        framesFromClient: this.fromClient.frames,
        framesFromApp: this.fromApp?.frames ?? 0,
      });
    } else if (!this.record.done) {
      // Ended before the app answered the handshake.
      traffic.end(this.record, this.connected ? 'upstream-reset' : 'client-aborted');
    }
  }
}

function onAppConnect(this: TunnelSocket): void {
  this[kTunnel]?.appConnected();
}
function onAppData(this: TunnelSocket, chunk: Buffer): void {
  this[kTunnel]?.appData(chunk);
}
function onAppDrain(this: TunnelSocket): void {
  this[kTunnel]?.client.resume();
}
function onAppError(this: TunnelSocket, err: NodeJS.ErrnoException): void {
  this[kTunnel]?.appError(err);
}
function onAppEnd(this: TunnelSocket): void {
  const tunnel = this[kTunnel];
  tunnel?.flushPartialHead();
  tunnel?.client.end();
}
function onAppClose(this: TunnelSocket): void {
  this[kTunnel]?.appClosed();
}
function onClientData(this: TunnelSocket, chunk: Buffer): void {
  this[kTunnel]?.clientData(chunk);
}
function onClientDrain(this: TunnelSocket): void {
  this[kTunnel]?.app.resume();
}
function onClientError(this: TunnelSocket): void {
  // The client's reset reaches the app as a reset, as it would without the agent.
  const app = this[kTunnel]?.app;
  if (app !== undefined && !app.destroyed) app.resetAndDestroy();
}
function onClientEnd(this: TunnelSocket): void {
  this[kTunnel]?.clientEnd();
}
function onClientClose(this: TunnelSocket): void {
  const tunnel = this[kTunnel];
  if (tunnel === undefined) return;
  tunnel.app.destroy();
  tunnel.finish();
}

export function createWebSocketProxy(options: WebSocketProxyOptions): WebSocketProxy {
  const { upstream, pod, traffic, connections } = options;
  const ctx: TunnelContext = { pod, traffic, tunnels: new Set(), onH2cSwitch: options.onH2cSwitch };

  return {
    handleUpgrade({ head, socket, rest, reused }) {
      const client = socket as TunnelSocket;
      // Upgrade and Connection are hop-by-hop for plain HTTP but are the handshake itself here.
      const forApp = upstreamRequest(head, client.remoteAddress ?? '', pod, true);
      const record = traffic.begin({
        method: head.method,
        url: head.url,
        probeId: forApp.probeId,
        healthCheck: forApp.healthCheck,
        reused,
      });
      // The client may already be flowing and may even have sent its FIN: hold its bytes (and its
      // end) until the app connection exists.
      client.pause();
      const app: TunnelSocket = tcpConnect({ host: upstream.host, port: upstream.port, noDelay: true });
      connections.track(app);
      const tunnel = new Tunnel(ctx, client, app, record, head.url, forApp.probeId, forApp.text, rest);
      ctx.tunnels.add(tunnel);
      client[kTunnel] = tunnel;
      app[kTunnel] = tunnel;
      app.once('connect', onAppConnect);
      app.on('data', onAppData);
      app.on('drain', onAppDrain);
      app.on('error', onAppError);
      app.on('end', onAppEnd);
      app.on('close', onAppClose);
      client.on('data', onClientData);
      client.on('drain', onClientDrain);
      client.on('error', onClientError);
      client.on('end', onClientEnd);
      client.on('close', onClientClose);
    },
    destroyAll() {
      for (const t of ctx.tunnels) {
        t.client.destroy();
        t.app.destroy();
      }
    },
  };
}
