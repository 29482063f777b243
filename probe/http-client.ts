import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import type { ProbeError } from '../contract/events.js';

// One keep-alive connection per session, as a browser tab would hold: behind an L4 balancer the
// connection, not the request, picks the pod. node:http tells per request whether the socket was
// reused (`req.reusedSocket`), which the agent-side correlation needs.

export type TransportError = Extract<ProbeError, 'refused' | 'reset' | 'timeout' | 'other'>;

export interface HttpResult {
  readonly status?: number;
  readonly error?: TransportError;
  readonly detail?: string;
  readonly pod?: string;
  readonly connection: 'new' | 'reused';
  readonly headers?: IncomingHttpHeaders;
  readonly body?: string;
  readonly durationMs: number;
}

export interface HttpRequestOptions {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly timeoutMs: number;
  /** Keep the body text (login, identity); traffic bodies are read and discarded. */
  readonly wantBody: boolean;
}

export type SessionAgent = HttpAgent;

export function createSessionAgent(target: URL): SessionAgent {
  const options = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1, scheduling: 'lifo' as const };
  return target.protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options);
}

const MAX_BODY = 64 * 1024;

export function classifyTransportError(err: NodeJS.ErrnoException): TransportError {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
    case 'HPE_INVALID_EOF_STATE':
      return 'reset';
    case 'ETIMEDOUT':
    case 'PROBE_TIMEOUT':
      return 'timeout';
    default:
      return 'other';
  }
}

export function sendRequest(
  target: URL,
  agent: SessionAgent,
  options: HttpRequestOptions,
): Promise<HttpResult> {
  const started = performance.now();
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let done = false;
    let reused = false;
    const finish = (r: Omit<HttpResult, 'durationMs' | 'connection'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...r, connection: reused ? 'reused' : 'new', durationMs: performance.now() - started });
    };
    const req = send({
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: options.method,
      path: options.path,
      headers: options.headers,
      agent,
    });
    const timer = setTimeout(() => {
      const err: NodeJS.ErrnoException = new Error(`no response within ${options.timeoutMs} ms`);
      err.code = 'PROBE_TIMEOUT';
      req.destroy(err);
    }, options.timeoutMs);
    timer.unref();
    req.once('socket', () => {
      reused = req.reusedSocket;
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      finish({ error: classifyTransportError(err), detail: err.code ?? err.message });
    });
    req.once('response', (res) => {
      const pod = res.headers['x-drainwatch-pod'];
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (options.wantBody && size < MAX_BODY) {
          chunks.push(chunk);
          size += chunk.length;
        }
      });
      res.once('end', () => {
        finish({
          status: res.statusCode ?? 0,
          headers: res.headers,
          ...(typeof pod === 'string' ? { pod: pod.slice(0, 256) } : {}),
          ...(options.wantBody ? { body: Buffer.concat(chunks).toString('utf8') } : {}),
        });
      });
      // A body cut mid-way is a reset the client saw, whatever the status line said.
      res.once('error', (err: NodeJS.ErrnoException) => {
        finish({
          error: classifyTransportError(err),
          detail: err.code ?? err.message,
          status: res.statusCode,
        });
      });
      res.once('aborted', () => {
        finish({ error: 'reset', detail: 'response aborted', status: res.statusCode });
      });
    });
    req.end(options.body);
  });
}
