// The agent's raw HTTP/1.1 and WebSocket reverse proxy (llhttp through Node's internal parser,
// pooled keep-alive connections to the app, passive WebSocket frame reading), and the TCP tunnel
// for traffic that is not HTTP/1.x.
export { POD_HEADER, PROBE_HEADER } from './forwarding.js';
export { H2_ERROR, MAX_STREAM_ID } from './h2-frames.js';
export { createH2Relays, type H2Relays } from './h2-relays.js';
export { createHpackDecoder, type HpackDecoder, HpackError } from './hpack.js';
export { HttpParseError } from './http-parser.js';
export {
  checkParserBinding,
  loadParserBinding,
  NodeHttpParserChangedError,
  type ParserBinding,
} from './llhttp-binding.js';
export { sniffProtocol } from './protocol-sniff.js';
export { createTcpTunnels, type TcpTunnels } from './tcp-tunnel.js';
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
