import { io, type Socket } from 'socket.io-client';
import type { Cause } from '../contract/index.js';
import { delay } from '../lib/wait.js';
import { bump, type ProbeContext, recordPush } from './context.js';
import { afterPendingIo } from './loop-lag.js';
import { fieldAt, fillPlaceholders, type SocketIoScenario } from './scenario.js';
import type { ProbeSocket, ProbeSocketOptions } from './websocket.js';
import { createSequenceTracker, render } from './ws-patterns.js';

// A session's Socket.IO connection through `socket.io-client`: an event emitted every
// wsPingIntervalMs whose acknowledgement callback is the correlation. A message is lost, once, when
// the connection it was emitted on disconnected before its ack, or no ack came within the ack
// timeout. Disconnect reasons are the client's own (`transport close`, `ping timeout`,
// `io server disconnect`, `transport error`); a long-polling request answered 400 (Engine.IO's
// "Session ID unknown": the request reached a replica that does not hold the session) is
// attributed to `no-session-affinity`, and ends the session's connection for that cause.
// With `push`, the server's pushes go through the `subscribe` pattern's sequence tracker: a
// reconnect that resumes nowhere (no connection-state recovery, no replay after `auth`'s
// `{{lastId}}`) shows as a gap of the pushes missed.

/** Engine.IO answers a poll for a session it does not hold with HTTP 400 (engine.io server.ts). */
function causeOf(description: unknown): Cause | undefined {
  const status = (description as { description?: unknown } | undefined)?.description;
  return status === 400 ? 'no-session-affinity' : undefined;
}

export function createProbeSocketIo(
  ctx: ProbeContext,
  sio: SocketIoScenario,
  options: ProbeSocketOptions,
): ProbeSocket {
  const { config, counters } = ctx;
  const base = { runId: config.runId, sessionId: options.sessionId, transport: 'socket.io' as const };
  const pending = new Map<string, { conn: number; lost: boolean }>();
  let socket: Socket | undefined;
  let conn = 0;
  let msgSeq = 0;
  let timer: NodeJS.Timeout | undefined;
  let draining = false;
  let counted = false;
  let isOpen = false;
  const sequence = sio.push ? createSequenceTracker(sio.push.sequence) : undefined;
  const now = (): string => new Date(ctx.clock.now()).toISOString();
  const connectionId = (): string => `${options.sessionId}.i${conn}`;

  const lose = (id: string): void => {
    const p = pending.get(id);
    if (!p || p.lost) return;
    p.lost = true;
    counters.messagesLost += 1;
    ctx.emit('probe.websocket', {
      ...base,
      connectionId: connectionId(),
      event: 'message-lost',
      messageId: id,
      at: now(),
    });
  };

  const emit = (): void => {
    if (draining || !socket?.connected) return;
    msgSeq += 1;
    const id = `${options.sessionId}.m${msgSeq}`;
    pending.set(id, { conn, lost: false });
    counters.messagesSent += 1;
    const payload = JSON.parse(render(sio.message, { id, user: options.user })) as unknown;
    socket.timeout(config.wsAckTimeoutMs).emit(sio.event!, payload, (err: Error | null) => {
      const p = pending.get(id);
      if (!p) return;
      if (err) lose(id);
      else if (!p.lost) counters.messagesAcked += 1;
      pending.delete(id);
    });
  };

  // Read at every (re)connect: the session's cookies change (a new affinity cookie after its pod left).
  const headers = (): Record<string, string> => ({
    'x-drainwatch-probe': options.sessionId,
    ...options.credentials(sio.path),
  });

  const closed = (reason: string, cause: Cause | undefined): void => {
    bump(counters.disconnectReasons, reason);
    if (cause) bump(counters.disconnectCauses, cause);
    ctx.emit('probe.websocket', {
      ...base,
      connectionId: connectionId(),
      event: 'closed',
      reason,
      ...(cause ? { cause } : {}),
      at: now(),
    });
  };

  function open(): Socket {
    const url = new URL(sio.namespace, config.target);
    const s = io(url.href, {
      path: sio.path,
      transports: sio.transports,
      extraHeaders: headers(),
      reconnectionDelay: config.wsReconnectMinMs,
      reconnectionDelayMax: config.wsReconnectMaxMs,
      timeout: config.requestTimeoutMs,
      ...(sio.auth
        ? {
            auth: (cb: (data: object) => void) =>
              cb(fillPlaceholders(sio.auth!, { user: options.user, lastId: sequence?.lastId ?? '' })),
          }
        : {}),
    });
    s.io.on('reconnect_attempt', () => {
      s.io.opts.extraHeaders = headers();
    });
    if (sio.push && sequence) {
      const path = sio.push.sequence;
      s.on(sio.push.event, (payload: unknown) => {
        const verdict = sequence.pushValue(fieldAt(payload, path));
        if (verdict)
          recordPush(ctx, base, connectionId(), verdict, { previousPod: undefined, pod: undefined });
      });
    }
    s.on('connect', () => {
      conn += 1;
      isOpen = true;
      counters.wsConnections += 1;
      counters.wsOpen += 1;
      ctx.emit('probe.websocket', { ...base, connectionId: connectionId(), event: 'opened', at: now() });
    });
    s.on('connect_error', (err) => {
      counters.wsConnectFailures += 1;
      // A refused poll during the connect is a session lost for its cause; other failures retry.
      const cause = causeOf(err);
      if (cause) closed('connect_error', cause);
    });
    s.on('disconnect', (reason, description) => {
      // The client reports a disconnect also for a connect that failed (already counted above).
      if (!isOpen) return;
      isOpen = false;
      counters.wsOpen -= 1;
      // What was emitted on this connection and not acknowledged did not get through on it.
      for (const [id, p] of pending) if (p.conn === conn) lose(id);
      if (reason === 'io client disconnect') return;
      // The client does not reconnect after the server's own disconnect; an app calls connect().
      if (reason === 'io server disconnect' && !draining)
        setTimeout(() => {
          if (draining) return;
          s.io.opts.extraHeaders = headers();
          s.connect();
        }, config.wsReconnectMinMs).unref();
      closed(reason, causeOf(description));
    });
    return s;
  }

  return {
    ensure() {
      if (!counted) {
        counted = true;
        counters.wsSessions += 1;
      }
      if (socket) return;
      socket = open();
      if (sio.event === null) return;
      // Written once what already arrived was read, a disconnect above all (loop-lag.ts afterPendingIo).
      timer = setInterval(() => afterPendingIo(emit), config.wsPingIntervalMs);
      timer.unref();
    },
    sweep: () => undefined,
    async stop() {
      draining = true;
      if (timer) clearInterval(timer);
      const deadline = Date.now() + config.wsAckTimeoutMs + 1000;
      while ([...pending.values()].some((p) => !p.lost) && Date.now() < deadline) await delay(20);
      socket?.disconnect();
    },
  };
}
