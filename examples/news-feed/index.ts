export { readSentFigures, type SentFigures } from '../feed-ledger.js';
export { createNewsFeedApp, type NewsFeedApp } from './app.js';
export { NEWS_FEED_MODES, type NewsFeedConfig, type NewsFeedMode, readNewsFeedConfig } from './config.js';
export { eventAt, HISTORY_TTL_S, historyKey } from './events.js';
export { createNewsLedger, type NewsLedger } from './ledger.js';
export { createNewsStreams, type NewsStreams } from './streams.js';
