#!/usr/bin/env node
import { createRedis } from '../../lib/redis.js';
import { createNewsFeedApp } from './app.js';
import { readNewsFeedConfig } from './config.js';

// `FEED_MODE=naive|fixed REDIS_URL=… PORT=… node dist/examples/news-feed/main.js`
// Exit codes: 0 after a graceful shutdown (fixed), 2 for a bad switch, 3 when it cannot start;
// naive dies by the SIGTERM itself.

let config: ReturnType<typeof readNewsFeedConfig>;
try {
  config = readNewsFeedConfig(process.env);
} catch (err) {
  process.stderr.write(`news-feed: ${(err as Error).message}\n`);
  process.exit(2);
}

const redis = createRedis(config.redisUrl, { prefix: config.redisPrefix });
redis.on('error', () => {});
try {
  await redis.connect();
} catch (err) {
  process.stderr.write(`news-feed: cannot reach Redis: ${(err as Error).message}\n`);
  process.exit(3);
}
const app = createNewsFeedApp(config, redis);
try {
  const addr = await app.start();
  process.stdout.write(`news-feed listening on ${addr.host}:${addr.port} mode=${config.mode}\n`);
} catch (err) {
  process.stderr.write(`news-feed: cannot listen: ${(err as Error).message}\n`);
  process.exit(3);
}

if (config.mode === 'fixed') {
  const onSignal = (): void => {
    void app
      .shutdown()
      .then(() => redis.quit())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
} else {
  // naive dies by the signal with its streams open: they are cut mid-body, the flaw on purpose.
  // Only the ledger, which is not the app's behaviour but the test's independent count, is let
  // finish first (a few ms) so that it holds every event the kernel took before the exit.
  const onSignal = (signal: NodeJS.Signals): void => {
    void app.halt().finally(() => process.kill(process.pid, signal));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
