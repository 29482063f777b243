#!/usr/bin/env node
import { runFeedMain } from '../feed-main.js';
import { createNewsFeedApp } from './app.js';
import { readNewsFeedConfig } from './config.js';

// `FEED_MODE=naive|fixed REDIS_URL=… PORT=… node dist/examples/news-feed/main.js`
// Exit codes: 0 after a graceful shutdown (fixed), 2 for a bad switch, 3 when it cannot start;
// naive dies by the SIGTERM itself with its streams open, cut mid-body (the flaw on purpose). Only
// the ledger, which is not the app's behaviour but the test's independent count, is let finish
// first (a few ms) so that it holds every event the kernel took before the exit.

await runFeedMain('news-feed', readNewsFeedConfig, createNewsFeedApp, { haltBeforeNaiveExit: true });
