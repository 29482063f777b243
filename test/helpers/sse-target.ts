import type { IncomingMessage, ServerResponse } from 'node:http';
import { createTickFeed } from './tick-feed.js';

// A Server-Sent Events price feed (plugged into startScenarioApp's routes): each logged-in user's
// stream gets one event per tick, `id:` numbered per user across connections. The feed counts what
// it wrote to each user and the ticks a user missed with no stream open, so a test checks the
// probe's figures against the app's own. `Last-Event-ID` is honoured when `resume` is on.

export interface SseFeedOptions {
  readonly tickMs: number;
  /** Replay the events after `Last-Event-ID` on reconnect. */
  readonly resume: boolean;
  /** How stream n (from 1 per feed) ends once it carried this many events; undefined: it stays. */
  readonly endAfter?: (stream: number) => { events: number; how: 'end' | 'destroy' } | undefined;
}

export interface SseFeed {
  route(req: IncomingMessage, res: ServerResponse, user: string): void;
  settle(): Promise<void>;
  readonly sent: number;
  readonly missed: number;
  readonly replayed: number;
  readonly ended: { end: number; destroy: number };
  readonly lastEventIds: string[];
}

export function createSseFeed(options: SseFeedOptions): SseFeed {
  const ended = { end: 0, destroy: 0 };
  const lastEventIds: string[] = [];
  let streams = 0;
  let replayed = 0;
  const feed = createTickFeed<ServerResponse>({
    tickMs: options.tickMs,
    format: (user, seq) => `id: ${seq}\ndata: ${JSON.stringify({ user, bid: 100 + (seq % 7) })}\n\n`,
    deliver: (s, push) => {
      const res = s.conn!;
      res.write(push);
      const r = res as ServerResponse & { stream: number; written: number };
      r.written = (r.written ?? 0) + 1;
      const rule = options.endAfter?.(r.stream);
      if (rule && r.written === rule.events) {
        s.conn = undefined;
        ended[rule.how] += 1;
        // Cut once the last event left: the connection breaks without the body's last chunk.
        if (rule.how === 'end') res.end();
        else res.write('', () => res.socket?.destroy());
      }
    },
  });

  return {
    route(req, res, user) {
      streams += 1;
      Object.assign(res, { stream: streams, written: 0 });
      const last = req.headers['last-event-id'];
      if (typeof last === 'string') lastEventIds.push(last);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write('retry: 50\n\n');
      const s = feed.userOf(user);
      s.conn = res;
      res.on('close', () => {
        if (s.conn === res) s.conn = undefined;
      });
      if (options.resume && typeof last === 'string') {
        for (let seq = Number(last) + 1; seq <= s.seq && s.conn === res; seq += 1) {
          s.missed -= 1;
          replayed += 1;
          feed.push(s, seq);
        }
        s.unseen = 0;
      }
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
    ended,
    lastEventIds,
  };
}
