import type { WebSocket } from 'ws';

// A price feed on a real `ws` server (plugged into startScenarioApp's onSocket): after a
// `{"type":"subscribe"}` each user gets one push per tick, numbered per user across connections.
// The feed keeps its own count of what it sent to each user and of the ticks a subscribed user
// missed while it had no open socket, so a test can check the probe's figures against the app's.

export type ResumeMode = 'none' | 'after' | 'inclusive';

export interface FeedOptions {
  readonly tickMs: number;
  /** Closes (1001) connection n (counted from 1 per feed) once it carried this many pushes; none: undefined. */
  readonly closeAfter?: (connection: number) => number | undefined;
  /**
   * `none`: a resume message is ignored (the user just resubscribes); `after`: pushes after the
   * given sequence number are replayed; `inclusive`: the given one too (a duplicate, an app bug).
   */
  readonly resume: ResumeMode;
}

interface Subscriber {
  seq: number;
  socket: WebSocket | undefined;
  sent: number;
  missed: number;
  /** Ticks missed since the last push sent: a gap the user has not seen yet. */
  unseen: number;
  /** Every push by sequence number, for replays. */
  readonly log: Map<number, string>;
}

export interface Feed {
  onSocket(ws: WebSocket, info: { connection: number; user: string | undefined }): void;
  /** Stops ticking at the first tick at which every subscriber has seen each gap it had. */
  settle(): Promise<void>;
  readonly sent: number;
  /** Ticks produced for a subscriber with no open socket and never replayed. */
  readonly missed: number;
  readonly replayed: number;
  readonly closed: number;
  readonly subscribers: number;
}

export function createFeed(options: FeedOptions): Feed {
  const users = new Map<string, Subscriber>();
  let closed = 0;
  let replayed = 0;
  let settled: (() => void) | undefined;
  const send = (s: Subscriber, seq: number): void => {
    s.socket!.send(s.log.get(seq)!);
    s.sent += 1;
  };
  const timer = setInterval(() => {
    if (settled && [...users.values()].every((s) => s.unseen === 0 && s.socket)) {
      clearInterval(timer);
      settled();
      return;
    }
    for (const [user, s] of users) {
      s.seq += 1;
      s.log.set(s.seq, JSON.stringify({ type: 'quote', user, data: { seq: s.seq, bid: 100 + (s.seq % 7) } }));
      if (s.socket) {
        send(s, s.seq);
        s.unseen = 0;
      } else {
        s.missed += 1;
        s.unseen += 1;
      }
    }
  }, options.tickMs);
  timer.unref();

  return {
    onSocket(ws, { connection, user }) {
      if (!user) return ws.close(1008, 'no session');
      let pushes = 0;
      const limit = options.closeAfter?.(connection);
      ws.on('message', (raw) => {
        const msg = JSON.parse(raw.toString()) as { type?: string; after?: string };
        const s = users.get(user) ?? {
          seq: 0,
          socket: undefined,
          sent: 0,
          missed: 0,
          unseen: 0,
          log: new Map(),
        };
        users.set(user, s);
        s.socket = ws;
        if (msg.type === 'resume' && options.resume !== 'none') {
          const from = Number(msg.after) + (options.resume === 'inclusive' ? 0 : 1);
          for (let seq = from; seq <= s.seq; seq += 1) {
            // A replayed tick was missed while away: it is delivered now, so not missed after all.
            if (seq > Number(msg.after)) s.missed -= 1;
            replayed += 1;
            send(s, seq);
          }
          s.unseen = 0;
        }
      });
      const origSend = ws.send.bind(ws);
      ws.send = ((data: string) => {
        origSend(data);
        pushes += 1;
        if (limit !== undefined && pushes === limit) {
          const s = users.get(user);
          if (s?.socket === ws) s.socket = undefined;
          closed += 1;
          ws.close(1001, 'going away');
        }
      }) as typeof ws.send;
      ws.on('close', () => {
        const s = users.get(user);
        if (s?.socket === ws) s.socket = undefined;
      });
    },
    settle() {
      return new Promise((resolve) => {
        settled = resolve;
      });
    },
    get sent() {
      return [...users.values()].reduce((n, s) => n + s.sent, 0);
    },
    get missed() {
      return [...users.values()].reduce((n, s) => n + s.missed, 0);
    },
    get replayed() {
      return replayed;
    },
    get closed() {
      return closed;
    },
    get subscribers() {
      return users.size;
    },
  };
}
