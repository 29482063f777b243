import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import {
  AFFINITY_COOKIE,
  type BalanceStrategy,
  createEntrypoint,
  createRng,
  type Entrypoint,
} from '../../cluster/local/index.js';
import { freePort } from '../../lib/servers.js';
import { pollUntil } from '../../lib/wait.js';

// The entry point against real upstream HTTP/WebSocket servers on loopback.

interface Upstream {
  readonly name: string;
  readonly port: number;
  readonly seen: Array<Record<string, string | string[] | undefined>>;
  server: Server;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upstream(name: string, slowMs = 0): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    const wait = req.url?.startsWith('/slow') ? slowMs : 0;
    setTimeout(() => {
      res.setHeader('x-served-by', name);
      res.end(name);
    }, wait).unref();
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`${name}:${m.toString()}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const up = { name, port: (server.address() as AddressInfo).port, seen, server };
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return up;
}

async function entry(balance: BalanceStrategy, propagationMs = 0): Promise<{ ep: Entrypoint; url: string }> {
  const ep = createEntrypoint({
    balance,
    propagation: { minMs: propagationMs, maxMs: propagationMs },
    rng: createRng(1),
  });
  const { url } = await ep.start();
  cleanups.push(() => ep.stop());
  return { ep, url };
}

async function get(url: string, headers: Record<string, string> = {}) {
  const r = await request(url, { headers });
  const body = await r.body.text();
  return { status: r.statusCode, body, headers: r.headers };
}

describe('entry point', () => {
  it('routes to an endpoint only after the propagation delay, round-robin once it is there', async () => {
    const ups = await Promise.all(['a', 'b', 'c'].map((n) => upstream(n)));
    const { ep, url } = await entry('round-robin', 400);
    for (const u of ups) ep.addEndpoint(u.name, u.port);
    expect(ep.routable()).toEqual([]);
    expect((await get(`${url}/`)).status).toBe(503);
    await pollUntil(() => ep.routable().length === 3, {
      timeoutMs: 10_000,
      what: 'three routable endpoints',
    });
    const served: string[] = [];
    for (let i = 0; i < 30; i++) served.push((await get(`${url}/`)).body);
    for (const n of ['a', 'b', 'c']) expect(served.filter((s) => s === n)).toHaveLength(10);
    expect(ep.counts().get('a')?.requests).toBe(10);
  });

  it('keeps routing to a terminating endpoint until the change propagates, then stops', async () => {
    const [a, b] = await Promise.all([upstream('a'), upstream('b')]);
    const { ep, url } = await entry('round-robin', 500);
    ep.addEndpoint('a', a.port);
    ep.addEndpoint('b', b.port);
    await pollUntil(() => ep.routable().length === 2, { timeoutMs: 10_000 });
    const propagated = ep.markTerminating('a');
    // Right after the change, the old view still holds: a is routed to.
    const before = await Promise.all(Array.from({ length: 4 }, () => get(`${url}/`)));
    expect(before.map((r) => r.body)).toContain('a');
    expect(await propagated).toBe(500);
    const after = await Promise.all(Array.from({ length: 6 }, () => get(`${url}/`)));
    expect(new Set(after.map((r) => r.body))).toEqual(new Set(['b']));
  });

  it('a dead upstream answers 502 naming the failure; no endpoint at all answers 503', async () => {
    const { ep, url } = await entry('round-robin');
    expect((await get(`${url}/`)).headers['x-drainwatch-entry-error']).toBe('no-endpoints');
    ep.addEndpoint('gone', await freePort());
    await pollUntil(() => ep.routable().length === 1, { timeoutMs: 5000 });
    const r = await get(`${url}/`);
    expect(r.status).toBe(502);
    expect(r.headers['x-drainwatch-entry-error']).toBe('refused');
  });

  it('sends a request whose connect was refused to another endpoint, as nginx does', async () => {
    const b = await upstream('b');
    const { ep, url } = await entry('round-robin');
    ep.addEndpoint('gone', await freePort());
    ep.addEndpoint('b', b.port);
    await pollUntil(() => ep.routable().length === 2, { timeoutMs: 5000 });
    // Round-robin sends every other request to the dead endpoint first; none of them fails.
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        i % 2
          ? get(`${url}/`)
          : request(`${url}/post`, { method: 'POST', body: 'x' }).then(async (r) => ({
              status: r.statusCode,
              body: await r.body.text(),
            })),
      ),
    );
    expect(answers.map((r) => `${r.status} ${r.body}`)).toEqual(Array(6).fill('200 b'));
    expect(ep.counts().get('gone')?.failed).toBeGreaterThan(0);
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
    const opened = await new Promise<boolean>((resolve) => {
      ws.once('open', () => resolve(true));
      ws.once('error', () => resolve(false));
    });
    ws.terminate();
    expect(opened).toBe(true);
  });

  it('closes an idle connection to a pod before the pod would', async () => {
    const a = await upstream('a');
    a.server.keepAliveTimeout = 60_000;
    const { ep, url } = await entry('round-robin');
    // The pod says it keeps idle connections 400 ms (it really keeps them a minute): the entry
    // point must be the one that closes, at half that.
    ep.addEndpoint('a', a.port, 400);
    await pollUntil(() => ep.routable().length === 1, { timeoutMs: 5000 });
    expect((await get(`${url}/`)).body).toBe('a');
    const open = (): Promise<number> =>
      new Promise((resolve) => a.server.getConnections((_e, n) => resolve(n)));
    expect(await open()).toBe(1);
    await pollUntil(async () => (await open()) === 0, {
      timeoutMs: 20_000,
      what: 'the idle connection closed',
    });
  });

  it('sets x-forwarded-* and hashes the client address under client-ip', async () => {
    const ups = await Promise.all(['a', 'b', 'c'].map((n) => upstream(n)));
    const { ep, url } = await entry('client-ip');
    for (const u of ups) ep.addEndpoint(u.name, u.port);
    await pollUntil(() => ep.routable().length === 3, { timeoutMs: 5000 });
    const pods = new Map<string, Set<string>>();
    for (let client = 0; client < 12; client++) {
      const ip = `10.0.0.${client}`;
      for (let i = 0; i < 3; i++) {
        const r = await get(`${url}/`, { 'x-forwarded-for': ip });
        pods.set(ip, (pods.get(ip) ?? new Set()).add(r.body));
      }
    }
    // Each client lands on one pod every time; the clients as a whole use more than one pod.
    for (const s of pods.values()) expect(s.size).toBe(1);
    expect(new Set([...pods.values()].map((s) => [...s][0])).size).toBeGreaterThan(1);
    const h = ups
      .flatMap((u) => u.seen)
      .find((s) => s['x-forwarded-for']?.toString().startsWith('10.0.0.0'))!;
    expect(h['x-forwarded-for']).toBe('10.0.0.0, 127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('cookie affinity pins a client to its pod, and re-pins when that pod stops being routable', async () => {
    const ups = await Promise.all(['a', 'b', 'c'].map((n) => upstream(n)));
    const { ep, url } = await entry('cookie');
    for (const u of ups) ep.addEndpoint(u.name, u.port);
    await pollUntil(() => ep.routable().length === 3, { timeoutMs: 5000 });
    const first = await get(`${url}/`);
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;
    expect(cookie).toBe(`${AFFINITY_COOKIE}=${first.body}`);
    for (let i = 0; i < 10; i++) expect((await get(`${url}/`, { cookie })).body).toBe(first.body);
    await ep.markTerminating(first.body);
    const moved = await get(`${url}/`, { cookie });
    expect(moved.body).not.toBe(first.body);
    expect(String(moved.headers['set-cookie'])).toContain(`${AFFINITY_COOKIE}=${moved.body}`);
  });

  it('least-connections sends new requests away from a pod busy with a slow one', async () => {
    const [a, b] = await Promise.all([upstream('a', 3000), upstream('b', 3000)]);
    const { ep, url } = await entry('least-connections');
    ep.addEndpoint('a', a.port);
    ep.addEndpoint('b', b.port);
    await pollUntil(() => ep.routable().length === 2, { timeoutMs: 5000 });
    const slow = get(`${url}/slow`);
    await pollUntil(
      () => (ep.counts().get('a')?.requests ?? 0) + (ep.counts().get('b')?.requests ?? 0) === 1,
      {
        timeoutMs: 5000,
      },
    );
    const busy = (ep.counts().get('a')?.requests ?? 0) === 1 ? 'a' : 'b';
    for (let i = 0; i < 6; i++) expect((await get(`${url}/`)).body).not.toBe(busy);
    expect((await slow).body).toBe(busy);
  });

  it('proxies WebSocket upgrades both ways', async () => {
    const a = await upstream('a');
    const { ep, url } = await entry('round-robin');
    ep.addEndpoint('a', a.port);
    await pollUntil(() => ep.routable().length === 1, { timeoutMs: 5000 });
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const reply = new Promise<string>((r) => ws.once('message', (m) => r(m.toString())));
    ws.send('hello');
    expect(await reply).toBe('a:hello');
    expect(ep.counts().get('a')?.websockets).toBe(1);
    ws.close();
  });
});
