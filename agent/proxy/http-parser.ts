import { loadParserBinding, type NativeParseError, type NativeParser } from './llhttp-binding.js';

// HTTP/1.1 message parsing for the proxy, on llhttp through the binding Node's own `http` module
// uses. Why not `http.createServer` + a client: their IncomingMessage/ServerResponse streams cost
// more than the proxying itself (the agent reached 0.3× nginx's throughput with them); with the
// parser alone the agent forwards heads it rewrote and body bytes as they come. Why not a parser of
// our own: llhttp is what Node and undici trust against request smuggling (conflicting
// Content-Length, Transfer-Encoding tricks, bare CR/LF), and it is already in the process.
// `_http_common` is an internal module; the shape used here has been stable since Node 12,
// llhttp-binding.ts checks it at start-up, and test/unit/agent-http-parser.test.ts fails loudly
// if a Node upgrade changes its behaviour.

// Loaded and shape-checked on first use, not on import (every CLI command imports the agent's
// modules; only a running agent parses): the agent's start() loads it before listening.
const binding = loadParserBinding;

/** What llhttp reports once a message's head is complete. */
export interface MessageHead {
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** Name, value, name, value… as received (names keep their case). */
  readonly rawHeaders: string[];
  /** Requests only. */
  readonly method: string;
  readonly url: string;
  /** Responses only. */
  readonly status: number;
  readonly statusText: string;
  readonly upgrade: boolean;
  readonly keepAlive: boolean;
}

export interface MessageHandlers {
  /** Return true to tell the parser the message has no body (a response to HEAD). */
  onHead(head: MessageHead): boolean;
  onBody(chunk: Buffer): void;
  onComplete(): void;
}

export class HttpParseError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpParseError';
  }
}

export interface MessageParser {
  /** Bytes consumed; fewer than given after an Upgrade head (the rest belongs to the new protocol). */
  execute(chunk: Buffer): number;
  /** The peer closed: completes a message delimited by the close, or throws if one was cut. */
  finish(): void;
  close(): void;
}

// Node keeps at most this many header pairs per message; so do we.
const MAX_HEADER_PAIRS = 2000;

// llhttp calls back with `this` set to the native parser: the handlers and the batching state
// ride on it, so a parser costs no closures (the agent holds one per open connection).
interface ParserState {
  handlers: MessageHandlers;
  pendingHeaders: string[] | undefined;
  pendingUrl: string;
}
const kState = Symbol('drainwatch.parserState');
type StatefulParser = NativeParser & { [kState]: ParserState };

// llhttp hands over headers in batches when a head spans reads or has many lines.
function onHeaders(this: StatefulParser, headers: string[], url: string): void {
  const state = this[kState];
  state.pendingHeaders ??= [];
  if (state.pendingHeaders.length < MAX_HEADER_PAIRS * 2) state.pendingHeaders.push(...headers);
  state.pendingUrl += url;
}

function onHeadersComplete(
  this: StatefulParser,
  versionMajor: number,
  versionMinor: number,
  headers: string[] | undefined,
  method: number | undefined,
  url: string | undefined,
  status: number | undefined,
  statusText: string | undefined,
  upgrade: boolean,
  keepAlive: boolean,
): number {
  const state = this[kState];
  let raw = headers;
  if (raw === undefined) {
    raw = state.pendingHeaders ?? [];
    state.pendingHeaders = undefined;
  }
  let target = url;
  if (target === undefined) {
    target = state.pendingUrl;
    state.pendingUrl = '';
  }
  const skipBody = state.handlers.onHead({
    versionMajor,
    versionMinor,
    rawHeaders: raw,
    method: method === undefined ? '' : (binding().methods[method] ?? ''),
    url: target,
    status: status ?? 0,
    statusText: statusText ?? '',
    upgrade,
    keepAlive,
  });
  return skipBody ? 1 : 0;
}

function onBody(this: StatefulParser, chunk: Buffer): void {
  this[kState].handlers.onBody(chunk);
}

function onMessageComplete(this: StatefulParser): void {
  const state = this[kState];
  // A chunked message's trailers arrive through kOnHeaders just before this; nobody reads them,
  // and left here they would be prepended to the next head that takes the batching path (on a
  // pooled app connection, another client's response).
  state.pendingHeaders = undefined;
  state.pendingUrl = '';
  state.handlers.onComplete();
}

function fail(err: NativeParseError): never {
  throw new HttpParseError(err.code ?? 'HPE_UNKNOWN', err.message);
}

class LlhttpParser implements MessageParser {
  private readonly parser: StatefulParser;

  constructor(type: number, handlers: MessageHandlers, maxHeaderBytes: number) {
    const { HTTPParser } = binding();
    const parser = new HTTPParser() as StatefulParser;
    // 0: Node's own limit (--max-http-header-size, 16 KiB), what the app's Node server applies too.
    parser.initialize(type, {}, maxHeaderBytes, HTTPParser.kLenientNone);
    parser[kState] = { handlers, pendingHeaders: undefined, pendingUrl: '' };
    parser[HTTPParser.kOnHeaders] = onHeaders;
    parser[HTTPParser.kOnHeadersComplete] = onHeadersComplete;
    parser[HTTPParser.kOnBody] = onBody;
    parser[HTTPParser.kOnMessageComplete] = onMessageComplete;
    this.parser = parser;
  }

  execute(chunk: Buffer): number {
    const r = this.parser.execute(chunk);
    return typeof r === 'number' ? r : fail(r);
  }

  finish(): void {
    const r = this.parser.finish();
    if (r !== undefined) fail(r);
  }

  close(): void {
    this.parser.close();
  }
}

/** Request heads are held to Node's limit (16 KiB by default): the bare Node app's 431 is ours too. */
export function createRequestParser(handlers: MessageHandlers): MessageParser {
  return new LlhttpParser(binding().HTTPParser.REQUEST, handlers, 0);
}

/**
 * `maxHeaderBytes`: the largest response head (status line and headers, bytes) accepted; 0 means
 * Node's default (16 KiB). A larger head fails with HttpParseError code HPE_HEADER_OVERFLOW.
 */
export function createResponseParser(handlers: MessageHandlers, maxHeaderBytes = 0): MessageParser {
  return new LlhttpParser(binding().HTTPParser.RESPONSE, handlers, maxHeaderBytes);
}
