import type { MessageHead } from './http-parser.js';

// How message heads change on their way through the agent: hop-by-hop headers stay behind,
// x-forwarded-* and the pod header are added, framing is restated for the next hop. Heads are
// built as one string so each message leaves in one write.

export const POD_HEADER = 'x-drainwatch-pod';
export const PROBE_HEADER = 'x-drainwatch-probe';

const MAX_PROBE_ID = 256;

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, not to the message. The agent
// states framing itself (Transfer-Encoding) and its own connection handling.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
// Connection tokens every client sends that name no header.
const PLAIN_CONNECTION_TOKENS = new Set(['keep-alive', 'close', 'upgrade']);
// Headers a Connection header lists that are the upgrade handshake itself, kept when the agent
// passes an upgrade on: without HTTP2-Settings a server must refuse `Upgrade: h2c` (RFC 7540 §3.2.1).
const HANDSHAKE_HEADERS = new Set(['http2-settings']);
// Content-Length frames the body the agent forwards as it is: dropped because `Connection:
// Content-Length` listed it, the next hop would read the body as the next message (a request
// smuggled past the agent to the app; a client left reading a response up to a close that never
// comes). Transfer-Encoding is restated by the agent itself, from what llhttp framed.
const FRAMING_NEVER_LISTED = new Set(['content-length', 'transfer-encoding']);

/** Names a Connection header listed as hop-by-hop and present in the message (rare: usually none). */
function listedHopByHop(
  raw: readonly string[],
  connectionValues: string[],
  tunnel: boolean,
): Set<string> | undefined {
  let names: Set<string> | undefined;
  for (const value of connectionValues) {
    for (const token of value.split(',')) {
      const t = token.trim().toLowerCase();
      if (t === '' || PLAIN_CONNECTION_TOKENS.has(t) || FRAMING_NEVER_LISTED.has(t)) continue;
      if (tunnel && HANDSHAKE_HEADERS.has(t)) continue;
      names ??= new Set();
      names.add(t);
    }
  }
  if (names === undefined) return undefined;
  // Only names actually present matter; an empty set means nothing to drop.
  const present = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (names.has(lower)) present.add(lower);
  }
  return present.size > 0 ? present : undefined;
}

/**
 * The kubelet's probes send `User-Agent: kube-probe/<major>.<minor>` (Kubernetes docs, "Configure
 * Liveness, Readiness and Startup Probes"); the local cluster's readiness check sends the same.
 */
export function isHealthCheckAgent(userAgent: string): boolean {
  return userAgent.startsWith('kube-probe/');
}

export interface UpstreamRequest {
  /** The head to write to the app, ending with the blank line. */
  readonly text: string;
  readonly probeId: string | undefined;
  /** A kubelet health or readiness check (`User-Agent: kube-probe/…`): counted apart from user traffic. */
  readonly healthCheck: boolean;
  /** The client's body is chunked: the agent re-chunks what llhttp decoded. */
  readonly chunked: boolean;
  readonly hasBody: boolean;
}

/**
 * The request head for the app. `tunnel` keeps Connection and Upgrade (a WebSocket handshake is
 * made of them), and HTTP2-Settings (an `Upgrade: h2c` handshake's).
 */
export function upstreamRequest(
  head: MessageHead,
  clientAddress: string,
  pod: string,
  tunnel: boolean,
): UpstreamRequest {
  return buildUpstreamRequest(head, clientAddress, pod, tunnel, undefined);
}

// `listed`: names a Connection header made hop-by-hop. Rare, so the first pass does not look for
// them; when it finds some it starts again, leaving them out entirely: their values feed neither
// x-forwarded-* nor the probe id.
function buildUpstreamRequest(
  head: MessageHead,
  clientAddress: string,
  pod: string,
  tunnel: boolean,
  listed: Set<string> | undefined,
): UpstreamRequest {
  const raw = head.rawHeaders;
  let text = `${head.method} ${head.url} HTTP/1.1\r\n`;
  let xff: string | undefined;
  let proto: string | undefined;
  let forwardedHost: string | undefined;
  let host: string | undefined;
  let probeId: string | undefined;
  let healthCheck = false;
  let chunked = false;
  let contentLength = false;
  let connection: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (listed?.has(lower)) continue;
    switch (lower) {
      case 'host':
        host ??= value;
        break;
      case 'content-length':
        contentLength = true;
        break;
      case 'user-agent':
        healthCheck ||= isHealthCheckAgent(value);
        break;
      case PROBE_HEADER:
        if (value !== '') probeId ??= value.length > MAX_PROBE_ID ? value.slice(0, MAX_PROBE_ID) : value;
        break;
      case 'x-forwarded-for':
        xff = xff === undefined ? value : `${xff}, ${value}`;
        continue;
      case 'x-forwarded-proto':
        proto ??= value;
        continue;
      case 'x-forwarded-host':
        forwardedHost ??= value;
        continue;
      case POD_HEADER:
        continue;
      case 'transfer-encoding':
        // llhttp accepted it, so chunked is the final coding; anything else was rejected.
        chunked = true;
        continue;
      case 'connection':
        connection = connection === undefined ? [value] : [...connection, value];
        if (tunnel) break;
        continue;
      case 'upgrade':
        if (tunnel) break;
        continue;
      default:
        if (HOP_BY_HOP.has(lower)) continue;
    }
    text += `${name}: ${value}\r\n`;
  }
  if (listed === undefined && connection !== undefined) {
    const names = listedHopByHop(raw, connection, tunnel);
    if (names !== undefined) return buildUpstreamRequest(head, clientAddress, pod, tunnel, names);
  }
  // HTTP/1.0 let a client leave Host out; the app hears HTTP/1.1, which requires it, empty when
  // there is no authority (RFC 9112 §3.2). Without one a Node app answers 400.
  if (host === undefined && head.versionMajor === 1 && head.versionMinor === 0) text += 'host: \r\n';
  // An ingress in front of the pod knows the original scheme and host better than we do.
  text += `x-forwarded-for: ${xff === undefined ? clientAddress : `${xff}, ${clientAddress}`}\r\n`;
  text += `x-forwarded-proto: ${proto ?? 'http'}\r\n`;
  const fwdHost = forwardedHost ?? host;
  if (fwdHost !== undefined) text += `x-forwarded-host: ${fwdHost}\r\n`;
  text += `${POD_HEADER}: ${pod}\r\n`;
  if (chunked) text += 'transfer-encoding: chunked\r\n';
  return { text: `${text}\r\n`, probeId, healthCheck, chunked, hasBody: chunked || contentLength };
}

/** How the response body travels to the client. */
export enum BodyFraming {
  /** No body: HEAD, 1xx, 204, 304. */
  None = 0,
  /** Content-Length, copied: body bytes pass as they are. */
  Length = 1,
  /** Chunked to the client (the app sent chunked or ended the body by closing). */
  Chunked = 2,
  /** The body ends when the agent closes the connection (an HTTP/1.0 client). */
  Close = 3,
}

export interface ClientResponse {
  readonly text: string;
  readonly framing: BodyFraming;
}

/** The app's response headers the client gets, as head lines, and what framing needs of them. */
function responseHeaders(
  raw: readonly string[],
  listed: Set<string> | undefined,
): { lines: string; contentLength: boolean; connection: string[] | undefined } {
  let lines = '';
  let contentLength = false;
  let connection: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (lower === 'content-length') contentLength = true;
    else if (lower === 'connection') connection = connection === undefined ? [value] : [...connection, value];
    if (HOP_BY_HOP.has(lower) || lower === POD_HEADER || listed?.has(lower)) continue;
    lines += `${name}: ${value}\r\n`;
  }
  return { lines, contentLength, connection };
}

/**
 * The response head for the client. `keepAlive` is what the agent decided for the client
 * connection; `http10` clients cannot take chunked bodies.
 */
export function clientResponse(
  head: MessageHead,
  pod: string,
  noBody: boolean,
  keepAlive: boolean,
  http10: boolean,
): ClientResponse {
  const raw = head.rawHeaders;
  let kept = responseHeaders(raw, undefined);
  // A Connection header naming other headers (rare): go again, leaving those out.
  const listed = kept.connection === undefined ? undefined : listedHopByHop(raw, kept.connection, false);
  if (listed !== undefined) kept = responseHeaders(raw, listed);
  let text = `HTTP/1.1 ${head.status} ${head.statusText}\r\n${kept.lines}${POD_HEADER}: ${pod}\r\n`;
  let framing: BodyFraming;
  if (noBody) framing = BodyFraming.None;
  else if (kept.contentLength) framing = BodyFraming.Length;
  else if (http10) framing = BodyFraming.Close;
  else {
    framing = BodyFraming.Chunked;
    text += 'transfer-encoding: chunked\r\n';
  }
  if (!keepAlive || framing === BodyFraming.Close) text += 'connection: close\r\n';
  else if (http10) text += 'connection: keep-alive\r\n';
  return { text: `${text}\r\n`, framing };
}

/** An interim (1xx) response, relayed as the app sent it. */
export function interimResponse(head: MessageHead): string {
  const raw = head.rawHeaders;
  let text = `HTTP/1.1 ${head.status} ${head.statusText}\r\n`;
  for (let i = 0; i < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${text}\r\n`;
}
