export { readSentFigures, type SentFigures } from '../feed-ledger.js';
export { type ChatFeedApp, createChatFeedApp } from './app.js';
export { CHAT_MODES, type ChatFeedConfig, type ChatMode, readChatFeedConfig } from './config.js';
