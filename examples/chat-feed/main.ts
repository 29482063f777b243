#!/usr/bin/env node
import { createRedis } from '../../lib/redis.js';
import { createChatFeedApp } from './app.js';
import { readChatFeedConfig } from './config.js';

// `CHAT_MODE=naive|fixed REDIS_URL=… PORT=… node dist/examples/chat-feed/main.js`
// Exit codes: 0 after a graceful shutdown (fixed), 2 for a bad switch, 3 when it cannot start.

let config: ReturnType<typeof readChatFeedConfig>;
try {
  config = readChatFeedConfig(process.env);
} catch (err) {
  process.stderr.write(`chat-feed: ${(err as Error).message}\n`);
  process.exit(2);
}

const redis = createRedis(config.redisUrl, { prefix: config.redisPrefix });
redis.on('error', () => {});
try {
  await redis.connect();
} catch (err) {
  process.stderr.write(`chat-feed: cannot reach Redis: ${(err as Error).message}\n`);
  process.exit(3);
}
const app = createChatFeedApp(config, redis);
try {
  const addr = await app.start();
  process.stdout.write(`chat-feed listening on ${addr.host}:${addr.port} mode=${config.mode}\n`);
} catch (err) {
  process.stderr.write(`chat-feed: cannot listen: ${(err as Error).message}\n`);
  process.exit(3);
}

// naive keeps Node's default SIGTERM action: the process dies at once, sockets without a close
// frame. That is the flaw, on purpose.
if (config.mode === 'fixed') {
  const onSignal = (): void => {
    void app
      .shutdown()
      .then(() => redis.quit())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
