export {
  createQuoteGrpcApp,
  loadQuoteProto,
  type QuoteGrpcApp,
  type QuoteGrpcConfig,
  quoteProtoPath,
  STREAM_MODES,
  type StreamMode,
} from './app.js';
export { readQuoteGrpcConfig } from './config.js';
export { QuoteProtoMissingError } from './errors.js';
