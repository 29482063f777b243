import type { IncomingMessage, ServerResponse } from 'node:http';

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

interface Subscriber {
  seq: number;
  res: ServerResponse | undefined;
  sent: number;
  missed: number;
  unseen: number;
  readonly log: Map<number, string>;
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
  const users = new Map<string, Subscriber>();
  const ended = { end: 0, destroy: 0 };
  const lastEventIds: string[] = [];
  let streams = 0;
  let replayed = 0;
  let settled: (() => void) | undefined;
  const timer = setInterval(() => {
    if (settled && [...users.values()].every((s) => s.unseen === 0 && s.res)) {
      clearInterval(timer);
      settled();
      return;
    }
    for (const [user, s] of users) {
      s.seq += 1;
      s.log.set(s.seq, `id: ${s.seq}\ndata: ${JSON.stringify({ user, bid: 100 + (s.seq % 7) })}\n\n`);
      if (s.res) {
        write(s, s.seq);
        s.unseen = 0;
      } else {
        s.missed += 1;
        s.unseen += 1;
      }
    }
  }, options.tickMs);
  timer.unref();
  const write = (s: Subscriber, seq: number): void => {
    const res = s.res!;
    res.write(s.log.get(seq)!);
    s.sent += 1;
    const stream = (res as ServerResponse & { stream: number; written: number }).stream;
    const r = res as ServerResponse & { written: number };
    r.written = (r.written ?? 0) + 1;
    const rule = options.endAfter?.(stream);
    if (rule && r.written === rule.events) {
      s.res = undefined;
      ended[rule.how] += 1;
      // Cut once the last event left: the connection breaks without the body's last chunk.
      if (rule.how === 'end') res.end();
      else res.write('', () => res.socket?.destroy());
    }
  };

  return {
    route(req, res, user) {
      streams += 1;
      Object.assign(res, { stream: streams, written: 0 });
      const last = req.headers['last-event-id'];
      if (typeof last === 'string') lastEventIds.push(last);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write('retry: 50\n\n');
      const s = users.get(user) ?? { seq: 0, res: undefined, sent: 0, missed: 0, unseen: 0, log: new Map() };
      users.set(user, s);
      s.res = res;
      res.on('close', () => {
        if (s.res === res) s.res = undefined;
      });
      if (options.resume && typeof last === 'string') {
        for (let seq = Number(last) + 1; seq <= s.seq && s.res === res; seq += 1) {
          s.missed -= 1;
          replayed += 1;
          write(s, seq);
        }
        s.unseen = 0;
      }
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
    ended,
    lastEventIds,
  };
}
