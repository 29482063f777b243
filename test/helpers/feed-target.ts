import type { WebSocket } from 'ws';
import { createTickFeed } from './tick-feed.js';

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
  let closed = 0;
  let replayed = 0;
  const feed = createTickFeed<WebSocket>({
    tickMs: options.tickMs,
    format: (user, seq) => JSON.stringify({ type: 'quote', user, data: { seq, bid: 100 + (seq % 7) } }),
    deliver: (s, push) => s.conn!.send(push),
  });

  return {
    onSocket(ws, { connection, user }) {
      if (!user) return ws.close(1008, 'no session');
      let pushes = 0;
      const limit = options.closeAfter?.(connection);
      ws.on('message', (raw) => {
        const msg = JSON.parse(raw.toString()) as { type?: string; after?: string };
        const s = feed.userOf(user);
        s.conn = ws;
        if (msg.type === 'resume' && options.resume !== 'none') {
          const from = Number(msg.after) + (options.resume === 'inclusive' ? 0 : 1);
          for (let seq = from; seq <= s.seq; seq += 1) {
            // A replayed tick was missed while away: it is delivered now, so not missed after all.
            if (seq > Number(msg.after)) s.missed -= 1;
            replayed += 1;
            feed.push(s, seq);
          }
          s.unseen = 0;
        }
      });
      const origSend = ws.send.bind(ws);
      ws.send = ((data: string) => {
        origSend(data);
        pushes += 1;
        if (limit !== undefined && pushes === limit) {
          const s = feed.find(user);
          if (s?.conn === ws) s.conn = undefined;
          closed += 1;
          ws.close(1001, 'going away');
        }
      }) as typeof ws.send;
      ws.on('close', () => {
        const s = feed.find(user);
        if (s?.conn === ws) s.conn = undefined;
      });
    },
    settle: () => feed.settle(),
    get sent() {
      return feed.sent;
    },
    get missed() {
      return feed.missed;
    },
    get replayed() {
      return replayed;
    },
    get closed() {
      return closed;
    },
    get subscribers() {
      return feed.users;
    },
  };
}
