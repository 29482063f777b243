import type { Agent, IncomingMessage } from 'node:http';

// How the entry point treats its connections to the pods, after what real balancers do (nginx's
// upstream module, which ingress-nginx runs): idle keep-alive connections are closed before the
// pod would close them, a request is read whole before it is sent (nginx's
// `proxy_request_buffering on`), and a request that failed before any byte of an answer came back
// is sent again under `proxy_next_upstream error`'s rules.

/** nginx's `keepalive_timeout` for upstream connections (ngx_http_upstream_module default, 60 s). */
export const UPSTREAM_IDLE_MAX_MS = 60_000;

/**
 * How long the entry point keeps an idle connection to a pod: nginx's 60 s, capped at half the
 * pod's own idle timeout so the entry point always closes first, with room for a stalled event
 * loop. Without a known pod timeout, half of Node's default server keepAliveTimeout (5 s).
 */
export function upstreamIdleMs(podKeepAliveTimeoutMs: number | undefined): number {
  const pod = podKeepAliveTimeoutMs ?? NODE_DEFAULT_KEEPALIVE_MS;
  return Math.max(100, Math.min(UPSTREAM_IDLE_MAX_MS, Math.floor(pod / 2)));
}

/** Node's http.Server keepAliveTimeout default: what an app behind a plain forwarder closes at. */
export const NODE_DEFAULT_KEEPALIVE_MS = 5000;

/** nginx's `client_max_body_size` default (1 MiB): a larger body is refused with 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Methods nginx sends again after an error (it never repeats POST, LOCK or PATCH by default). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export function isIdempotent(method: string | undefined): boolean {
  return IDEMPOTENT.has((method ?? 'GET').toUpperCase());
}

/** The error kinds the entry point names in `x-drainwatch-entry-error`. */
export type UpstreamErrorKind = 'refused' | 'reset' | 'other';

export function errorKind(err: unknown): UpstreamErrorKind {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  return 'other';
}

/**
 * What to do with a request whose upstream attempt failed before any response byte:
 * - `next-endpoint`: the connection was refused, nothing reached the pod; any method may go to
 *   another endpoint (nginx: an error "while establishing a connection").
 * - `fresh-connection`: a kept-alive connection the pod had already closed; an idempotent request
 *   is sent once more on a new connection to the same pod (nginx does not count a failure on a
 *   cached connection as a try; Node documents the same retry with `request.reusedSocket`).
 * - `fail`: answer 502.
 */
export function retryDecision(
  err: unknown,
  attempt: {
    readonly reusedSocket: boolean;
    readonly method: string | undefined;
    readonly freshRetried: boolean;
  },
): 'next-endpoint' | 'fresh-connection' | 'fail' {
  const kind = errorKind(err);
  if (kind === 'refused') return 'next-endpoint';
  if (kind === 'reset' && attempt.reusedSocket && !attempt.freshRetried && isIdempotent(attempt.method))
    return 'fresh-connection';
  return 'fail';
}

/** Reads a request body whole; undefined when it is above MAX_BODY_BYTES (the rest is drained). */
export function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      if (!tooLarge) chunks.push(c);
    });
    req.once('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** One pod as the entry point sees it. */
export interface Endpoint {
  readonly pod: string;
  readonly port: number;
  readonly agent: Agent;
  routable: boolean;
  /** HTTP requests in flight. */
  active: number;
  openWebsockets: number;
  requests: number;
  websockets: number;
  failed: number;
  /** Changes are applied in the order they were made, even when a later one draws a shorter delay. */
  lastApplied: number;
}
