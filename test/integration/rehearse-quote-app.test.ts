import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningServer } from '../../lib/servers.js';
import { startRedisServer } from '../../lib/servers.js';
import { startQuoteApp } from '../helpers/rehearse-process.js';
import { uniqueTag } from '../helpers/servers.js';

// The example app as a real process: its endpoints, and each flaw switch doing what it claims.

async function login(port: number, user: string): Promise<string> {
  const r = await request(`http://127.0.0.1:${port}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
  });
  expect(r.statusCode).toBe(200);
  const cookie = String(r.headers['set-cookie']).split(';')[0]!;
  await r.body.dump();
  return cookie;
}

async function whoami(port: number, cookie?: string): Promise<{ status: number; body: unknown }> {
  const r = await request(`http://127.0.0.1:${port}/whoami`, { headers: cookie ? { cookie } : {} });
  return { status: r.statusCode, body: await r.body.json() };
}

function openWs(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function closeOf(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

describe('quote-app', () => {
  let redis: RunningServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('serves login, whoami, quotes, health and a ping-acknowledging price feed', async () => {
    const app = await startQuoteApp({ QUOTE_SESSIONS: 'memory' });
    try {
      expect((await whoami(app.port)).status).toBe(401);
      const cookie = await login(app.port, 'alice');
      expect(await whoami(app.port, cookie)).toEqual({ status: 200, body: { user: 'alice' } });
      const anonymous = await request(`http://127.0.0.1:${app.port}/api/quote`);
      expect(anonymous.statusCode).toBe(401);
      await anonymous.body.dump();
      const q = await request(`http://127.0.0.1:${app.port}/api/quote`, { headers: { cookie } });
      expect(q.statusCode).toBe(200);
      expect(await q.body.json()).toMatchObject({ symbol: 'ACME', bid: expect.any(Number) });
      expect((await request(`http://127.0.0.1:${app.port}/healthz`)).statusCode).toBe(200);

      const ws = await openWs(app.port);
      const messages: Array<{ type: string; id?: unknown }> = [];
      ws.on('message', (m) => messages.push(JSON.parse(m.toString())));
      ws.send(JSON.stringify({ type: 'ping', id: 'c-1' }));
      const { pollUntil } = await import('../../lib/wait.js');
      await pollUntil(() => messages.some((m) => m.type === 'ack' && m.id === 'c-1'), {
        timeoutMs: 10_000,
        what: 'ack of ping c-1',
      });
      await pollUntil(() => messages.some((m) => m.type === 'price'), { timeoutMs: 10_000, what: 'a price' });
      ws.close();
    } finally {
      app.child.kill('SIGKILL');
    }
  });

  it('memory sessions are per process; redis sessions are shared by every replica', async () => {
    const prefix = `${uniqueTag()}:`;
    const env = { QUOTE_SESSIONS: 'redis', REDIS_URL: redis.url, QUOTE_REDIS_PREFIX: prefix };
    const [r1, r2, m1, m2] = await Promise.all([
      startQuoteApp(env),
      startQuoteApp(env),
      startQuoteApp({ QUOTE_SESSIONS: 'memory' }),
      startQuoteApp({ QUOTE_SESSIONS: 'memory' }),
    ]);
    try {
      const rc = await login(r1.port, 'bob');
      expect(await whoami(r2.port, rc)).toEqual({ status: 200, body: { user: 'bob' } });
      const mc = await login(m1.port, 'carol');
      expect((await whoami(m1.port, mc)).status).toBe(200);
      expect((await whoami(m2.port, mc)).status).toBe(401);
    } finally {
      for (const a of [r1, r2, m1, m2]) a.child.kill('SIGKILL');
    }
  });

  it('graceful on: SIGTERM finishes the in-flight request, closes WebSockets with 1001 and exits 0', async () => {
    const app = await startQuoteApp({ QUOTE_GRACEFUL: 'on', QUOTE_WORK_MS: '800' });
    const cookie = await login(app.port, 'dave');
    const ws = await openWs(app.port);
    const closed = closeOf(ws);
    const inFlight = request(`http://127.0.0.1:${app.port}/api/quote`, { headers: { cookie } });
    // The request must be running in the app before SIGTERM; /healthz answering proves the app
    // has read the earlier request on its single event loop.
    await request(`http://127.0.0.1:${app.port}/healthz`).then((r) => r.body.dump());
    app.child.kill('SIGTERM');
    const r = await inFlight;
    expect(r.statusCode).toBe(200);
    expect(r.headers.connection).toBe('close');
    await r.body.dump();
    expect(await closed).toBe(1001);
    expect(await app.exited).toEqual({ code: 0, signal: null });
  });

  it('graceful off: SIGTERM cuts the in-flight request and the process dies by the signal', async () => {
    const app = await startQuoteApp({ QUOTE_GRACEFUL: 'off', QUOTE_WORK_MS: '2000' });
    const cookie = await login(app.port, 'erin');
    const inFlight = request(`http://127.0.0.1:${app.port}/api/quote`, { headers: { cookie } }).then(
      (r) => r.statusCode,
      (err: Error) => err,
    );
    await request(`http://127.0.0.1:${app.port}/healthz`).then((r) => r.body.dump());
    app.child.kill('SIGTERM');
    expect(await inFlight).toBeInstanceOf(Error);
    expect(await app.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('ws-close none: a graceful shutdown still drops WebSockets without a close frame (1006)', async () => {
    const app = await startQuoteApp({ QUOTE_GRACEFUL: 'on', QUOTE_WS_CLOSE: 'none' });
    const ws = await openWs(app.port);
    const closed = closeOf(ws);
    app.child.kill('SIGTERM');
    expect(await closed).toBe(1006);
    expect((await app.exited).code).toBe(0);
  });

  it('a bad switch exits 2 with one line naming it', async () => {
    const { spawnSync } = await import('node:child_process');
    const { QUOTE_APP_MAIN } = await import('../helpers/rehearse-process.js');
    const r = spawnSync(process.execPath, [QUOTE_APP_MAIN], {
      env: { ...process.env, QUOTE_SESSIONS: 'redis', REDIS_URL: '' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('QUOTE_SESSIONS');
  });
});
