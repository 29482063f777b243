import type { RawData, WebSocket } from 'ws';

// The price feed's correlated sockets, for the probe's `echo` and `request` patterns
// (docs/probe.md, "Example apps for the realtime patterns"): `/echo` sends back each message as it
// came, `/rpc` answers `{"type":"request","id":…}` with `{"type":"reply","data":{"id":…,…}}`. Each
// answer goes out `replyDelayMs` after its message arrived (the app's work), so at any moment a
// socket usually owes one: what a naive exit loses, and what a drain must send before its close.

/** The paths upgraded to reply sockets. */
export const REPLY_PATHS = ['/echo', '/rpc'] as const;
export type ReplyPath = (typeof REPLY_PATHS)[number];

export function isReplyPath(path: string): path is ReplyPath {
  return (REPLY_PATHS as readonly string[]).includes(path);
}

export interface ReplySocketsOptions {
  /** Delay of every echo and reply after its message arrived, in ms. */
  readonly replyDelayMs: number;
  /** The current quote, as JSON text (what `/rpc` answers with). */
  readonly quote: () => string;
}

export interface ReplySockets {
  /** Serves a socket upgraded on `path` for the logged-in `user`. */
  accept(ws: WebSocket, path: ReplyPath, user: string): void;
  /**
   * fixed: each socket answers every message it received and closes with 1001 right after an
   * answer that leaves it owing none, or after DRAIN_IDLE_MS without a message. Resolves once every
   * socket closed; repeated calls return the same promise.
   */
  drain(): Promise<void>;
}

/**
 * No data frame may follow a close frame (RFC 6455 §5.5.1), so a message the client sends while
 * the server's close is on its way is never answered. Right after an answer is when a client with
 * one message in flight at a time is least likely to be sending: the drain closes then, and waits
 * this long (ms) for a socket that sends nothing.
 */
export const DRAIN_IDLE_MS = 2000;

interface Owed {
  /** Answers not yet written to the socket. */
  count: number;
}

/** `/rpc`'s answer to one message: the reply carrying the request's id, or an error without one. */
function rpcAnswer(text: string, user: string, quote: () => string): string {
  let msg: { type?: unknown; id?: unknown } | undefined;
  try {
    msg = JSON.parse(text) as typeof msg;
  } catch {
    msg = undefined;
  }
  const id = msg?.id;
  if (msg?.type !== 'request' || (typeof id !== 'string' && typeof id !== 'number'))
    return JSON.stringify({ type: 'error', error: 'expected {"type":"request","id":<string|number>}' });
  return JSON.stringify({ type: 'reply', data: { id, user, quote: JSON.parse(quote()) as unknown } });
}

export function createReplySockets(options: ReplySocketsOptions): ReplySockets {
  const sockets = new Map<WebSocket, Owed>();
  let draining = false;
  let drained: Promise<void> | undefined;

  const closeIfSettled = (ws: WebSocket, owed: Owed): void => {
    if (draining && owed.count === 0 && ws.readyState === ws.OPEN) ws.close(1001, 'shutting down');
  };
  return {
    accept(ws, path, user) {
      const owed: Owed = { count: 0 };
      sockets.set(ws, owed);
      ws.on('message', (data: RawData, isBinary: boolean) => {
        owed.count += 1;
        const timer = setTimeout(() => {
          owed.count -= 1;
          if (ws.readyState !== ws.OPEN) return;
          // Written before any close frame: ws sends its frames in the order they were queued.
          if (path === '/echo') ws.send(data, { binary: isBinary });
          else ws.send(rpcAnswer(data.toString(), user, options.quote));
          closeIfSettled(ws, owed);
        }, options.replyDelayMs);
        timer.unref();
      });
      ws.once('close', () => sockets.delete(ws));
      ws.on('error', () => {});
    },
    drain() {
      drained ??= (async () => {
        draining = true;
        const closed = [...sockets.keys()].map(
          (ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())),
        );
        // Not closed at once: a message may be on its way (see DRAIN_IDLE_MS). The next answer
        // closes each socket; one that sends nothing is closed by this timer.
        const timer = setTimeout(() => {
          for (const [ws, owed] of sockets) closeIfSettled(ws, owed);
        }, DRAIN_IDLE_MS);
        timer.unref();
        await Promise.all(closed);
      })();
      return drained;
    },
  };
}
