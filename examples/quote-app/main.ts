#!/usr/bin/env node
import { createRedis } from '../../lib/redis.js';
import { createQuoteApp } from './app.js';
import { readQuoteConfig } from './config.js';
import { createMemorySessionStore, createRedisSessionStore, type SessionStore } from './sessions.js';

// `node dist/examples/quote-app/main.js [--sessions redis] [--graceful off] [--ws-close none]`
// Exit codes: 0 after a graceful shutdown, 2 for a bad switch, 3 when it cannot start.

let config: ReturnType<typeof readQuoteConfig>;
try {
  config = readQuoteConfig(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`quote-app: ${(err as Error).message}\n`);
  process.exit(2);
}

let sessions: SessionStore;
let closeRedis: () => Promise<void> = async () => {};
if (config.sessions === 'redis') {
  const redis = createRedis(config.redisUrl!, { prefix: config.redisPrefix });
  redis.on('error', () => {});
  await redis.connect().catch(() => {});
  sessions = createRedisSessionStore(redis, config.sessionTtlSeconds);
  closeRedis = async () => {
    await redis.quit().catch(() => redis.disconnect());
  };
} else {
  sessions = createMemorySessionStore();
}

const app = createQuoteApp(config, sessions);
try {
  const addr = await app.start();
  process.stdout.write(
    `quote-app listening on ${addr.host}:${addr.port} sessions=${config.sessions} graceful=${config.graceful ? 'on' : 'off'} ws-close=${config.wsClose}\n`,
  );
} catch (err) {
  process.stderr.write(`quote-app: cannot listen: ${(err as Error).message}\n`);
  process.exit(3);
}

// With graceful shutdown off, SIGTERM keeps Node's default action: the process dies at once,
// cutting whatever was in flight. That is the flaw, on purpose.
if (config.graceful) {
  const onSignal = (): void => {
    void app
      .shutdown()
      .then(closeRedis)
      .then(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
