export { readSentFigures, type SentFigures } from '../feed-ledger.js';
export { createPriceFeedApp, type PriceFeedApp } from './app.js';
export { FEED_MODES, type FeedMode, type PriceFeedConfig, readPriceFeedConfig } from './config.js';
export { LOG_TTL_S, logKey, recordSent } from './ledger.js';
export {
  createReplySockets,
  isReplyPath,
  REPLY_PATHS,
  type ReplyPath,
  type ReplySockets,
  type ReplySocketsOptions,
} from './replies.js';
