import type { RequestOutcome } from '../../contract/index.js';
import { POD_HEADER } from './forwarding.js';
import { HttpParseError } from './http-parser.js';
import type { UpstreamConnection } from './upstream-pool.js';

// What becomes of a request whose app connection failed before the response was whole: the
// outcome it is recorded with, the 502 its client hears, and whether it may be sent again.

// RFC 9110 §9.2.2. Only these may be sent again after a stale connection failed: the app may have
// acted on the first copy, and "a proxy MUST NOT automatically retry non-idempotent requests"
// (RFC 9112 §9.3.1); a bodyless POST is still a POST.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * A pooled connection the app had closed while idle (it carried a response before): the request
 * most likely never reached the app, so a bodyless idempotent one may be sent again once
 * (RFC 9112 §9.3.1). A response the agent could not parse is never resent.
 */
export function mayResend(
  method: string,
  hasBody: boolean,
  error: NodeJS.ErrnoException | undefined,
  up: UpstreamConnection | undefined,
): boolean {
  return (
    !(error instanceof HttpParseError) &&
    !hasBody &&
    IDEMPOTENT.has(method) &&
    up !== undefined &&
    up.responses > 0
  );
}

/** The outcome a request is recorded with when its app connection failed with `err`. */
export function outcomeOfUpstreamError(err: NodeJS.ErrnoException | undefined): RequestOutcome {
  if (err instanceof HttpParseError) return 'upstream-invalid';
  const code = err?.code ?? '';
  if (code === 'ECONNREFUSED') return 'upstream-refused';
  if (code === 'ETIMEDOUT') return 'upstream-timeout';
  return 'upstream-reset';
}

const BAD_GATEWAY_BODY: Partial<Record<RequestOutcome, string>> = {
  'upstream-refused': 'drainwatch: upstream refused the connection\n',
  'upstream-invalid': 'drainwatch: upstream sent a response the agent cannot relay\n',
};

/** The whole 502 response (head and body, latin1) the client hears for `outcome`. */
export function badGateway(outcome: RequestOutcome, pod: string, close: boolean): string {
  const body = BAD_GATEWAY_BODY[outcome] ?? 'drainwatch: upstream failed\n';
  return (
    'HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n${POD_HEADER}: ${pod}\r\n` +
    `${close ? 'connection: close\r\n' : ''}\r\n${body}`
  );
}
