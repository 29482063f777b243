#!/usr/bin/env node
import { runFeedMain } from '../feed-main.js';
import { createPriceFeedApp } from './app.js';
import { readPriceFeedConfig } from './config.js';

// `FEED_MODE=naive|fixed REDIS_URL=… PORT=… node dist/examples/price-feed/main.js`
// Exit codes: 0 after a graceful shutdown (fixed), 2 for a bad switch, 3 when it cannot start;
// naive dies at SIGTERM at once (Node's default action), sockets without a close frame.

await runFeedMain('price-feed', readPriceFeedConfig, createPriceFeedApp);
