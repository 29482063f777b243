import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

// The admin port: the preStop hook, the app-exit report of a parent that spawned the app, health,
// metrics and state. None of its connections is traffic.

/** The body of POST /lifecycle/app-exited; every field may be left out. */
export interface AppExitedReport {
  readonly code?: number | null;
  readonly signal?: string | null;
  readonly killedAtGrace?: boolean;
}

const MAX_SIGNAL = 32;

/**
 * Checks a parsed app-exited body by hand (the agent does not load zod): an object whose `code` is
 * an integer or null, `signal` a string of at most 32 characters or null, `killedAtGrace` a
 * boolean, each optional. Other fields are ignored. Throws an Error naming the field at fault.
 */
export function parseAppExitedReport(body: unknown): AppExitedReport {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new Error('the body must be a JSON object');
  }
  const { code, signal, killedAtGrace } = body as Record<string, unknown>;
  if (code !== undefined && code !== null && !Number.isSafeInteger(code)) {
    throw new Error('code: expected an integer or null');
  }
  if (signal !== undefined && signal !== null && (typeof signal !== 'string' || signal.length > MAX_SIGNAL)) {
    throw new Error(`signal: expected a string of at most ${MAX_SIGNAL} characters or null`);
  }
  if (killedAtGrace !== undefined && typeof killedAtGrace !== 'boolean') {
    throw new Error('killedAtGrace: expected a boolean');
  }
  return {
    ...(code !== undefined ? { code: code as number | null } : {}),
    ...(signal !== undefined ? { signal: signal as string | null } : {}),
    ...(killedAtGrace !== undefined ? { killedAtGrace } : {}),
  };
}

export interface AdminHandlers {
  readonly registry: Registry;
  prestop(): Promise<unknown>;
  appExited(report: AppExitedReport): void;
  ready(): boolean;
  state(): unknown;
}

const MAX_BODY = 4096;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`body over ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function route(h: AdminHandlers, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const method = req.method ?? 'GET';
  if (path === '/prestop' && (method === 'GET' || method === 'POST')) {
    json(res, 200, await h.prestop());
    return;
  }
  if (path === '/lifecycle/app-exited' && method === 'POST') {
    let parsed: AppExitedReport;
    try {
      const text = await readBody(req);
      parsed = parseAppExitedReport(text.trim() === '' ? {} : JSON.parse(text));
    } catch (err) {
      json(res, 400, { error: `expected JSON {code, signal, killedAtGrace}: ${(err as Error).message}` });
      return;
    }
    h.appExited(parsed);
    json(res, 200, { ok: true });
    return;
  }
  if (method !== 'GET') {
    json(res, 405, { error: 'method not allowed' });
    return;
  }
  switch (path) {
    case '/healthz':
      json(res, 200, { ok: true });
      return;
    case '/readyz': {
      const ready = h.ready();
      json(res, ready ? 200 : 503, { ready });
      return;
    }
    case '/metrics': {
      const body = await h.registry.metrics();
      res.writeHead(200, { 'content-type': h.registry.contentType });
      res.end(body);
      return;
    }
    case '/state':
      json(res, 200, h.state());
      return;
    default:
      json(res, 404, { error: 'not found' });
  }
}

export function createAdminServer(handlers: AdminHandlers): Server {
  return createServer((req, res) => {
    route(handlers, req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: (err as Error).message });
      else res.destroy();
    });
  });
}
