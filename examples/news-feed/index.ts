export { createNewsFeedApp, HISTORY_TTL_S, historyKey, type NewsFeedApp } from './app.js';
export { NEWS_FEED_MODES, type NewsFeedConfig, type NewsFeedMode, readNewsFeedConfig } from './config.js';
export { createNewsLedger, type NewsLedger, type NewsSentFigures, readNewsSentFigures } from './ledger.js';
