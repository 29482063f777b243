import type { Redis } from 'ioredis';
import { createRedis } from '../lib/redis.js';

// The process around the realtime example feeds (price-feed, news-feed, chat-feed): read the
// switches, reach Redis, listen, and take SIGTERM as the flaw switch says.
// Exit codes: 0 after a graceful shutdown (fixed), 2 for a bad switch, 3 when it cannot start.

interface FeedConfig {
  readonly mode: 'naive' | 'fixed';
  readonly redisUrl: string;
  readonly redisPrefix: string;
}

interface FeedApp {
  start(): Promise<{ host: string; port: number }>;
  shutdown(): Promise<void>;
  /** What must finish before a naive process dies by the signal (the feed's ledger). */
  halt?(): Promise<void>;
}

interface FeedMainOptions {
  /** naive: let `app.halt()` finish, then die by the same signal (default: Node's default action). */
  readonly haltBeforeNaiveExit?: boolean;
}

/**
 * Runs one feed as a process. In `naive` mode Node's default SIGTERM action stays: the process dies
 * at once, sockets without a close frame (the flaw on purpose); with `haltBeforeNaiveExit`,
 * `app.halt()` finishes first and the process then dies by the same signal.
 */
export async function runFeedMain<C extends FeedConfig>(
  name: string,
  readConfig: (env: NodeJS.ProcessEnv) => C,
  createApp: (config: C, redis: Redis) => FeedApp,
  options: FeedMainOptions = {},
): Promise<void> {
  let config: C;
  try {
    config = readConfig(process.env);
  } catch (err) {
    process.stderr.write(`${name}: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const redis = createRedis(config.redisUrl, { prefix: config.redisPrefix });
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (err) {
    process.stderr.write(`${name}: cannot reach Redis: ${(err as Error).message}\n`);
    process.exit(3);
  }
  const app = createApp(config, redis);
  try {
    const addr = await app.start();
    process.stdout.write(`${name} listening on ${addr.host}:${addr.port} mode=${config.mode}\n`);
  } catch (err) {
    process.stderr.write(`${name}: cannot listen: ${(err as Error).message}\n`);
    process.exit(3);
  }
  const halt = options.haltBeforeNaiveExit ? app.halt?.bind(app) : undefined;
  const onSignal =
    config.mode === 'fixed'
      ? (): void => {
          void app
            .shutdown()
            .then(() => redis.quit())
            .finally(() => process.exit(0));
        }
      : halt
        ? (signal: NodeJS.Signals): void => {
            void halt().finally(() => process.kill(process.pid, signal));
          }
        : undefined;
  if (!onSignal) return;
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
