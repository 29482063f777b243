// The agent's raw HTTP/1.1 and WebSocket reverse proxy (llhttp through Node's internal parser,
// pooled keep-alive connections to the app, passive WebSocket frame reading).
export { POD_HEADER, PROBE_HEADER } from './forwarding.js';
export { HttpParseError } from './http-parser.js';
export {
  checkParserBinding,
  loadParserBinding,
  NodeHttpParserChangedError,
  type ParserBinding,
} from './llhttp-binding.js';
export {
  createTrafficServer,
  type TrafficServer,
  type TrafficServerOptions,
} from './traffic-server.js';
export type { UpstreamConnections } from './upstream-pool.js';
export {
  type CloseInfo,
  createFrameReader,
  type FrameHeader,
  type FrameReader,
  type FrameReaderOptions,
  OPCODES,
} from './websocket-frames.js';
