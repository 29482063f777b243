import { performance } from 'node:perf_hooks';
import { Client } from 'undici';
import type { ProbeError } from '../contract/index.js';

// One undici Client (one keep-alive connection) per session, as a browser tab would hold: behind
// an L4 balancer the connection, not the request, picks the pod. A session sends one request at a
// time, so a 'connect' between two responses means this request opened a new connection.

export type TransportError = Extract<ProbeError, 'refused' | 'reset' | 'timeout' | 'other'>;

export interface HttpResult {
  readonly status?: number;
  readonly error?: TransportError;
  readonly detail?: string;
  readonly pod?: string;
  readonly connection: 'new' | 'reused';
  readonly setCookie?: string[];
  readonly body?: string;
  readonly durationMs: number;
}

export interface HttpRequestOptions {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  /** Keep the body text (login, identity); traffic bodies are read and discarded. */
  readonly wantBody: boolean;
}

export interface SessionClient {
  send(options: HttpRequestOptions): Promise<HttpResult>;
  close(): Promise<void>;
}

export function classifyTransportError(err: { code?: string; cause?: unknown }): TransportError {
  const code = err.code ?? (err.cause as { code?: string } | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return 'reset';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'timeout';
    default:
      return 'other';
  }
}

/** `timeoutMs` bounds connecting, waiting for the headers, and each gap in the body. */
export function createSessionClient(target: URL, timeoutMs: number): SessionClient {
  const client = new Client(target.origin, {
    pipelining: 1,
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    // Keep the connection as long as the server's Keep-Alive hint allows, as browsers do.
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
  });
  let connected = false;
  client.on('connect', () => {
    connected = true;
  });
  return {
    async send(options) {
      const started = performance.now();
      connected = false;
      const connection = (): 'new' | 'reused' => (connected ? 'new' : 'reused');
      // Headers received before the body broke: the status and pod stay in the result, so a
      // failure with neither means no response header came back at all (the collector's
      // stale-keepalive rule relies on it).
      let head: { status: number; pod?: string } | undefined;
      try {
        const res = await client.request({
          path: options.path,
          method: options.method as 'GET',
          headers: options.headers,
          ...(options.body !== undefined ? { body: options.body } : {}),
        });
        const pod = res.headers['x-drainwatch-pod'];
        head = { status: res.statusCode, ...(typeof pod === 'string' ? { pod: pod.slice(0, 256) } : {}) };
        let body: string | undefined;
        if (options.wantBody) body = await res.body.text();
        else await res.body.dump();
        const setCookie = res.headers['set-cookie'];
        return {
          ...head,
          ...(setCookie ? { setCookie: typeof setCookie === 'string' ? [setCookie] : setCookie } : {}),
          ...(body !== undefined ? { body } : {}),
          connection: connection(),
          durationMs: performance.now() - started,
        };
      } catch (err) {
        const e = err as { code?: string; message?: string };
        return {
          ...head,
          error: classifyTransportError(e),
          detail: e.code ?? e.message ?? String(err),
          connection: connection(),
          durationMs: performance.now() - started,
        };
      }
    },
    close() {
      return client.destroy();
    },
  };
}
