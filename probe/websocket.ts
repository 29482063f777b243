import WebSocket from 'ws';
import { delay } from '../lib/wait.js';
import { bump, type ProbeContext, recordPush } from './context.js';
import { afterPendingIo } from './loop-lag.js';
import { correlatorFor, createSequenceTracker, subscribeMessage } from './ws-patterns.js';

// A session's WebSocket: pings carrying correlation ids, acks matched by id, reconnect with backoff
// and re-send of whatever is unacknowledged. A message is lost, once, by correlation id, when the
// connection it was sent on ended before any pod acknowledged it, or when no ack came within the
// ack timeout. A re-send after reconnecting is counted apart (`resent`): a later ack of it does not
// take the loss back, since the user's message did not get through on the connection it was sent on.
// The scenario's pattern (ws-patterns.ts) decides what a message and its reply look like; a
// `subscribe` session sends no correlated messages but checks its pushes' sequence for gaps (lost)
// and duplicates, across reconnects; `hold` only connects and counts closes.

export interface ProbeSocket {
  /** Connects unless already connected or connecting. */
  ensure(): void;
  /** Declares lost every message whose ack is overdue at `now`. */
  sweep(now: number): void;
  /** Stops pinging, waits for outstanding acks (bounded by the ack timeout), then closes with 1000. */
  stop(): Promise<void>;
}

interface Pending {
  readonly firstSentAt: number;
  pod: string | undefined;
  /** Already counted lost; kept only to be re-sent after a reconnect. */
  lost: boolean;
}

export interface ProbeSocketOptions {
  readonly sessionId: string;
  /** The session's user, as `{{user}}` is filled in the pattern's messages. */
  readonly user: string;
  /** Cookie/Authorization headers of the session's current login. */
  readonly credentials: (path: string) => Record<string, string>;
}

export function createProbeSocket(ctx: ProbeContext, options: ProbeSocketOptions): ProbeSocket {
  const { config, counters } = ctx;
  const scenario = config.scenario.websocket ?? { path: '/ws' };
  const path = scenario.path;
  const correlator = correlatorFor(scenario, options.user, `${options.sessionId}.m`);
  const sequence = scenario.pattern === 'subscribe' ? createSequenceTracker(scenario.sequence!) : undefined;
  /** The pod of the connection the session's latest push came on: where a gap after it began. */
  let pushPod: string | undefined;
  const url = new URL(path, config.target);
  url.protocol = config.target.protocol === 'https:' ? 'wss:' : 'ws:';
  const pending = new Map<string, Pending>();
  let ws: WebSocket | undefined;
  let pod: string | undefined;
  let connSeq = 0;
  let msgSeq = 0;
  let attempt = 0;
  let pingTimer: NodeJS.Timeout | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  /** No new pings once the run stops; reconnects go on so outstanding messages get their chance. */
  let draining = false;
  let closed = false;
  let counted = false;

  const base = {
    runId: config.runId,
    sessionId: options.sessionId,
  };

  const send = (socket: WebSocket, id: string): void => {
    socket.send(correlator!.encode(id));
  };

  const sendPing = (): void => {
    if (draining || !correlator || !ws || ws.readyState !== WebSocket.OPEN) return;
    msgSeq += 1;
    const id = `${options.sessionId}.m${msgSeq}`;
    pending.set(id, { firstSentAt: ctx.clock.now(), pod, lost: false });
    counters.messagesSent += 1;
    send(ws, id);
  };
  // A user's next message is written after what already arrived is read (a close frame above all):
  // its timer may be due in the same loop turn as that I/O (loop-lag.ts afterPendingIo).
  const ping = (): void => afterPendingIo(sendPing);

  const scheduleReconnect = (): void => {
    if (closed || reconnectTimer) return;
    const backoff = Math.min(config.wsReconnectMaxMs, config.wsReconnectMinMs * 2 ** attempt);
    attempt = Math.min(attempt + 1, 20);
    reconnectTimer = setTimeout(
      () => {
        reconnectTimer = undefined;
        connect();
      },
      backoff * (0.5 + Math.random()),
    );
    reconnectTimer.unref();
  };

  function connect(): void {
    if (closed || ws) return;
    connSeq += 1;
    const connectionId = `${options.sessionId}.w${connSeq}`;
    const socket = new WebSocket(url, {
      headers: { 'x-drainwatch-probe': connectionId, ...options.credentials(path) },
      handshakeTimeout: config.requestTimeoutMs,
      perMessageDeflate: false,
    });
    ws = socket;
    let opened = false;
    let connPod: string | undefined;
    socket.on('upgrade', (res) => {
      const p = res.headers['x-drainwatch-pod'];
      connPod = typeof p === 'string' ? p.slice(0, 256) : undefined;
    });
    socket.on('open', () => {
      opened = true;
      attempt = 0;
      pod = connPod;
      counters.wsConnections += 1;
      counters.wsOpen += 1;
      ctx.emit('probe.websocket', {
        ...base,
        connectionId,
        event: 'opened',
        ...(pod ? { pod } : {}),
        at: new Date(ctx.clock.now()).toISOString(),
      });
      resendPending(socket, connectionId);
      if (sequence) socket.send(subscribeMessage(scenario, options.user, sequence.lastId));
      if (!correlator) return;
      // The first message at a random point of the interval: sessions that opened together would
      // otherwise write in step with each other and with their requests (whose last one sets when
      // an adaptive preStop ends), so every SIGTERM would find them at the same point of their
      // exchange and the messages in flight at it would not be a fair sample.
      pingTimer = setTimeout(() => {
        ping();
        pingTimer = setInterval(ping, config.wsPingIntervalMs);
        pingTimer.unref();
      }, Math.random() * config.wsPingIntervalMs);
      pingTimer.unref();
    });
    socket.on('message', (data) => {
      const text = data.toString();
      if (sequence) return onPush(text, connectionId, connPod);
      const id = correlator?.match(text);
      const p = id === undefined ? undefined : pending.get(id);
      if (!p) return;
      pending.delete(id!);
      if (!p.lost) counters.messagesAcked += 1;
    });
    // 'error' always precedes 'close' here; the close carries what the probe records.
    socket.on('error', () => undefined);
    socket.on('close', (code) => {
      if (ws === socket) ws = undefined;
      if (pingTimer) clearInterval(pingTimer);
      pingTimer = undefined;
      // The connection is gone: what it carried and no pod acknowledged is lost, whatever a
      // re-send on the next connection brings.
      if (opened) loseAll(connectionId, connPod);
      if (!opened) {
        counters.wsConnectFailures += 1;
      } else {
        counters.wsOpen -= 1;
        if (!closed) {
          // ws reports 1006 itself when the connection ended without a close frame.
          bump(counters.closesByCode, String(code));
          ctx.emit('probe.websocket', {
            ...base,
            connectionId,
            event: 'closed',
            code,
            ...(connPod ? { pod: connPod } : {}),
            at: new Date(ctx.clock.now()).toISOString(),
          });
        }
      }
      scheduleReconnect();
    });
  }

  function resendPending(socket: WebSocket, connectionId: string): void {
    for (const [id, p] of pending) {
      p.pod = pod;
      counters.resent += 1;
      send(socket, id);
      ctx.emit('probe.websocket', {
        ...base,
        connectionId,
        event: 'message-resent',
        messageId: id,
        ...(pod ? { pod } : {}),
        at: new Date(ctx.clock.now()).toISOString(),
      });
    }
  }

  function onPush(text: string, connectionId: string, connPod: string | undefined): void {
    const verdict = sequence!.push(text);
    if (!verdict) return;
    const previousPod = pushPod;
    pushPod = connPod;
    recordPush(ctx, base, connectionId, verdict, { previousPod, pod: connPod });
  }

  const lose = (id: string, p: Pending, connectionId: string, at: number): void => {
    p.lost = true;
    counters.messagesLost += 1;
    ctx.emit('probe.websocket', {
      ...base,
      connectionId,
      event: 'message-lost',
      messageId: id,
      ...(p.pod ? { pod: p.pod } : {}),
      at: new Date(at).toISOString(),
    });
  };

  function loseAll(connectionId: string, connPod: string | undefined): void {
    const now = ctx.clock.now();
    for (const [id, p] of pending) {
      if (p.lost) continue;
      p.pod ??= connPod;
      lose(id, p, connectionId, now);
    }
  }

  function sweep(now: number): void {
    const overdue: string[] = [];
    for (const [id, p] of pending) if (now - p.firstSentAt >= config.wsAckTimeoutMs) overdue.push(id);
    if (overdue.length === 0) return;
    // Timers run before I/O in a loop turn: after a stall, acks already received would be read only
    // after this sweep. Deciding once pending I/O was read lets them land first.
    afterPendingIo(() => {
      for (const id of overdue) {
        const p = pending.get(id);
        if (!p) continue;
        pending.delete(id);
        // A message already lost with its connection is not counted again; it stops being re-sent.
        if (!p.lost) lose(id, p, `${options.sessionId}.w${connSeq}`, now);
      }
    });
  }

  return {
    ensure() {
      if (!counted) {
        counted = true;
        counters.wsSessions += 1;
      }
      if (!ws && !reconnectTimer) connect();
    },
    sweep,
    async stop() {
      draining = true;
      if (pingTimer) clearInterval(pingTimer);
      const deadline = Date.now() + config.wsAckTimeoutMs + 1000;
      const unsettled = (): boolean => [...pending.values()].some((p) => !p.lost);
      while (unsettled() && Date.now() < deadline) {
        sweep(ctx.clock.now());
        if (unsettled()) await delay(20);
      }
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      const socket = ws;
      if (!socket) return;
      const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      else socket.close(1000, 'probe finished');
      const timer = setTimeout(() => socket.terminate(), 2000);
      timer.unref();
      await gone;
      clearTimeout(timer);
    },
  };
}
