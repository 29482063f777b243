import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

// The headers the entry point passes on, drops or adds, as a reverse proxy does.

/** The affinity cookie, named as ingress-nginx names it by default, so probes recognise it. */
export const AFFINITY_COOKIE = 'INGRESSCOOKIE';

/** Headers of one connection (RFC 9110 §7.6.1), never forwarded (an upgrade keeps its own). */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The client address the balancer hashes: a forwarded one when the client sent it (probes on one host), else the peer. */
export function clientAddress(req: IncomingMessage): string {
  const fwd = req.headers['x-forwarded-for'];
  const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(',')[0]?.trim();
  return first || req.socket.remoteAddress || '';
}

export function forwardedHeaders(req: IncomingMessage, keepUpgrade: boolean): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (!keepUpgrade && HOP_BY_HOP.has(k)) continue;
    headers[k] = v;
  }
  const peer = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${prior}, ${peer}` : peer;
  headers['x-forwarded-proto'] = 'http';
  if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
  return headers;
}
