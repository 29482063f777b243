import { fieldAt, fillPlaceholders, type WebSocketScenario } from './scenario.js';

// The WebSocket patterns of the scenario (docs/probe.md, "WebSocket patterns"): how a message is
// written and how a reply is recognised (ping, echo, request), how a subscription's pushes are
// checked for gaps and duplicates (subscribe). `hold` needs neither.

/** Writes a message carrying a correlation id and recognises the frame that answers it. */
export interface Correlator {
  encode(id: string): string;
  /** The correlation id a received frame answers; undefined when it answers none. */
  match(text: string): string | undefined;
}

type Template = string | Record<string, unknown>;

/** A template as sent: a string as is, an object as JSON; `{{name}}` of `vars` filled in. */
export function render(template: Template, vars: Readonly<Record<string, string>>): string {
  return typeof template === 'string'
    ? fillPlaceholders(template, vars)
    : JSON.stringify(fillPlaceholders(template, vars));
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The echo pattern's default message. */
export const ECHO_MESSAGE = { id: '{{id}}' } as const;

/**
 * The correlator of the scenario's pattern; undefined for `subscribe` and `hold`, which send no
 * correlated messages. `idPrefix` starts every correlation id of the session (`<session>.m`).
 */
export function correlatorFor(ws: WebSocketScenario, user: string, idPrefix: string): Correlator | undefined {
  const pattern = ws.pattern ?? 'ping';
  if (pattern === 'ping') {
    return {
      encode: (id) => JSON.stringify({ type: 'ping', id }),
      match(text) {
        const msg = parse(text) as { type?: unknown; id?: unknown } | undefined;
        return msg?.type === 'ack' && typeof msg.id === 'string' ? msg.id : undefined;
      },
    };
  }
  if (pattern === 'echo') {
    const template = ws.message ?? ECHO_MESSAGE;
    const encode = (id: string): string => render(template, { id, user });
    // The echo is the message itself: the id is found in the text, then the whole text must match.
    const idPattern = new RegExp(`${idPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\d+`);
    return {
      encode,
      match(text) {
        const id = idPattern.exec(text)?.[0];
        return id !== undefined && encode(id) === text ? id : undefined;
      },
    };
  }
  if (pattern === 'request') {
    const template = ws.message!;
    const replyId = ws.replyId!;
    return {
      encode: (id) => render(template, { id, user }),
      match(text) {
        const v = fieldAt(parse(text), replyId);
        return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
      },
    };
  }
  return undefined;
}

/** The message that opens a subscription on a new connection: `resume` once a push was seen. */
export function subscribeMessage(ws: WebSocketScenario, user: string, lastId: string | undefined): string {
  if (ws.resume !== undefined && lastId !== undefined) return render(ws.resume, { user, lastId });
  return render(ws.subscribe!, { user });
}

/** What one push means for its session's sequence. */
export type PushVerdict =
  | { readonly kind: 'first' | 'next'; readonly seq: number }
  | { readonly kind: 'gap'; readonly seq: number; readonly missed: number }
  | { readonly kind: 'duplicate'; readonly seq: number };

export interface SequenceTracker {
  /** Classifies a received frame; undefined when it carries no sequence number (not a push). */
  push(text: string): PushVerdict | undefined;
  /** Classifies a sequence number given as is (an SSE event id); undefined when not an integer. */
  pushValue(raw: unknown): PushVerdict | undefined;
  /** The highest sequence number seen, as `{{lastId}}` is filled. */
  readonly lastId: string | undefined;
}

/**
 * Tracks one session's pushes across its connections. The sequence is the session's (the app
 * numbers what it sends to that subscriber, whatever connection carries it) and arrives in order
 * on a connection, so a number at or below the highest seen is a duplicate and a jump past the
 * next one is a gap of the numbers skipped. The first push only sets where counting starts.
 */
export function createSequenceTracker(path: string): SequenceTracker {
  let last: number | undefined;
  return {
    push(text) {
      return this.pushValue(fieldAt(parse(text), path));
    },
    pushValue(raw) {
      const seq = typeof raw === 'string' && /^\d{1,15}$/.test(raw) ? Number(raw) : raw;
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) return undefined;
      if (last === undefined) {
        last = seq;
        return { kind: 'first', seq };
      }
      if (seq <= last) return { kind: 'duplicate', seq };
      const missed = seq - last - 1;
      last = seq;
      return missed > 0 ? { kind: 'gap', seq, missed } : { kind: 'next', seq };
    },
    get lastId() {
      return last === undefined ? undefined : String(last);
    },
  };
}
