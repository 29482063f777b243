export { createPriceFeedApp, type PriceFeedApp } from './app.js';
export { FEED_MODES, type FeedMode, type PriceFeedConfig, readPriceFeedConfig } from './config.js';
export { LOG_TTL_S, logKey, readSentFigures, recordSent, type SentFigures } from './ledger.js';
export {
  createReplySockets,
  isReplyPath,
  REPLY_PATHS,
  type ReplyPath,
  type ReplySockets,
  type ReplySocketsOptions,
} from './replies.js';
