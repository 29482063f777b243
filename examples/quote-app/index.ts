export { createQuoteApp, type QuoteApp } from './app.js';
export {
  QUOTE_DEFAULTS,
  type QuoteAppConfig,
  readQuoteConfig,
  SESSION_STORES,
  type SessionStoreKind,
  WS_CLOSE_MODES,
  type WsCloseMode,
} from './config.js';
export { QuoteConfigError, SessionStoreError } from './errors.js';
export { createMemorySessionStore, createRedisSessionStore, type SessionStore } from './sessions.js';
