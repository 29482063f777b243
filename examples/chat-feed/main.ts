#!/usr/bin/env node
import { runFeedMain } from '../feed-main.js';
import { createChatFeedApp } from './app.js';
import { readChatFeedConfig } from './config.js';

// `CHAT_MODE=naive|fixed REDIS_URL=… PORT=… node dist/examples/chat-feed/main.js`
// Exit codes: 0 after a graceful shutdown (fixed), 2 for a bad switch, 3 when it cannot start;
// naive dies at SIGTERM at once (Node's default action), sockets without a close frame.

await runFeedMain('chat-feed', readChatFeedConfig, createChatFeedApp);
