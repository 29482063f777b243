import { parseChoice, parseDurationMs } from '../../lib/values.js';

// The chat feed's switches (docs/probe.md, "Example apps"): env only, one definition each.

export const CHAT_MODES = ['naive', 'fixed'] as const;
export type ChatMode = (typeof CHAT_MODES)[number];

export interface ChatFeedConfig {
  readonly host: string;
  /** 0 lets the kernel choose (tests). */
  readonly port: number;
  /**
   * naive: long-polling then upgrade (Socket.IO's default, stateful per pod: it needs session
   * affinity), in-memory adapter, the handshake's `serverOffset` ignored, SIGTERM ends the process
   * at once. fixed: WebSocket transport only (no affinity needed), what was missed replayed from
   * the shared Redis log after `auth.serverOffset`, SIGTERM flushes and disconnects each socket.
   */
  readonly mode: ChatMode;
  /** One message per tick; the tick number (wall clock / tickMs) is the message's `seq`. */
  readonly tickMs: number;
  readonly redisUrl: string;
  readonly redisPrefix: string;
}

export function readChatFeedConfig(env: NodeJS.ProcessEnv): ChatFeedConfig {
  if (!env.REDIS_URL)
    throw new Error('REDIS_URL: required (the message log and the sent counts live in Redis)');
  return {
    host: env.HOST ?? '127.0.0.1',
    port: Number(env.PORT ?? '8080'),
    mode: parseChoice('CHAT_MODE', env.CHAT_MODE ?? 'fixed', CHAT_MODES),
    tickMs: parseDurationMs('CHAT_TICK', env.CHAT_TICK ?? '100ms', 'ms'),
    redisUrl: env.REDIS_URL,
    redisPrefix: env.CHAT_REDIS_PREFIX ?? 'chat-feed:',
  };
}
